"""The clinic catalogue (clinics public, vets for any signed-in owner) and the readiness probe.

Shared with every caller by design: the same clinics and vets for everyone, in both builds.
"""

from connexion_clinic import db
from connexion_clinic.envelope import Fail, camel, parse_uuid, success

CLINIC_COLUMNS = "id, name, street, city, postcode, phone, opening_hours"
VET_COLUMNS = "id, clinic_id, full_name, specialty"


def health():
    db.query_one("SELECT 1 AS ok")
    return success({"service": "vet-clinic", "healthy": True})


def list_clinics(city: str | None = None):
    if city:
        rows = db.query(f"SELECT {CLINIC_COLUMNS} FROM clinics WHERE city ILIKE %s ORDER BY name", (city,))
    else:
        rows = db.query(f"SELECT {CLINIC_COLUMNS} FROM clinics ORDER BY name")
    return success([camel(r) for r in rows])


def get_clinic(clinic_id: str):
    clinic_id = parse_uuid(clinic_id, "clinic")
    row = db.query_one(f"SELECT {CLINIC_COLUMNS} FROM clinics WHERE id = %s", (clinic_id,))
    if row is None:
        raise Fail(404, "clinic not found")
    vets = db.query(f"SELECT {VET_COLUMNS} FROM vets WHERE clinic_id = %s ORDER BY full_name", (clinic_id,))
    return success({**camel(row), "vets": [camel(v) for v in vets]})


def list_vets(clinic_id: str | None = None):
    if clinic_id is not None:
        rows = db.query(
            f"SELECT {VET_COLUMNS} FROM vets WHERE clinic_id = %s ORDER BY full_name",
            (parse_uuid(clinic_id, "clinic"),),
        )
    else:
        rows = db.query(f"SELECT {VET_COLUMNS} FROM vets ORDER BY full_name")
    return success([camel(r) for r in rows])


def get_vet(vet_id: str):
    row = db.query_one(f"SELECT {VET_COLUMNS} FROM vets WHERE id = %s", (parse_uuid(vet_id, "vet"),))
    if row is None:
        raise Fail(404, "vet not found")
    return success(camel(row))
