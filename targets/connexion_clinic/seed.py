"""Schema and seed data of the clinic target; serve.py hands both to common.database.create.

Every id is a fixed UUID (listed in targets/README.md) because tests rely on them. The passwords are
the shops' so one set of scanner identities works on every target.
"""

from pathlib import Path

import psycopg

from common.passwords import hash_password

SCHEMA = Path(__file__).with_name("schema.sql")

ALICE = "0f93e4b1-5f4c-43be-a5c0-b7af800b9695"
BOB = "c250db1c-1a0d-4fe4-bbfb-4f83de4a1794"
ADMIN = "9950a975-981d-4c09-9d51-f093d545bd34"

USERS = [
    # (id, username, password, email, full name, role)
    (ALICE, "alice", "Alice-pass-1234", "alice@example.com", "Alice Anderson", "customer"),
    (BOB, "bob", "Bob-pass-1234", "bob@example.com", "Bob Brown", "customer"),
    (ADMIN, "admin", "Admin-pass-1234", "admin@example.com", "Clinic Manager", "admin"),
]

CLINICS = [
    # (id, name, street, city, postcode, phone, opening hours)
    ("52467b4e-b7c1-417e-a996-45f4da1a7f01", "Harbourside Vets", "4 Anchor Road", "Bristol", "BS1 5TT",
     "+44 117 496 0700", "Mon-Fri 08:00-19:00, Sat 09:00-13:00"),
    ("0f74ba74-a8ed-497e-a2df-a7dd6dacb388", "Headingley Animal Clinic", "61 Otley Road", "Leeds", "LS6 3AA",
     "+44 113 496 0711", "Mon-Sat 08:30-18:00"),
    ("beafd63c-eea1-4e75-8392-c19d9cf01cc0", "Minster Emergency Vets", "2 Lord Mayor's Walk", "York", "YO31 7HB",
     "+44 1904 496 0722", "24 hours"),
]

VETS = [
    # (id, clinic id, full name, specialty)
    ("050ff2ad-48a5-433b-ad7f-16a5d5f8589e", CLINICS[0][0], "Dr Priya Shah", "small animals"),
    ("aacd774e-9397-4d4e-a2f7-63c84f7e3b78", CLINICS[0][0], "Dr Tom Okafor", "dentistry"),
    ("3ab45c6b-8cf9-4c94-b422-55f66263706a", CLINICS[1][0], "Dr Helen Marsh", "exotics"),
    ("5cefe802-f260-4ae6-b7c2-bf2c8cf7aa79", CLINICS[2][0], "Dr Sam Lindqvist", "emergency care"),
]

PETS = [
    # (id, owner id, name, species, breed, birth date, microchip)
    ("368c9b9f-9de0-452d-b1a9-19881fd56e5f", ALICE, "Rex", "dog", "Border Collie", "2019-04-12", "826097100451234"),
    ("e56f3773-3b63-43b4-8013-7d859ef908c6", ALICE, "Misty", "cat", "British Shorthair", "2021-09-03", "826097100455678"),
    ("8269c017-f3e7-4f48-824d-4b64b26bfa47", BOB, "Biscuit", "rabbit", "Netherland Dwarf", "2022-02-20", ""),
    ("25ae9ecf-1870-4f30-982a-ab2060ded29f", BOB, "Nala", "dog", "Labrador", "2018-11-30", "826097100459012"),
    ("39d518b2-259a-4fe7-8df6-bd3e4f7c2811", ADMIN, "Pepper", "parrot", "African Grey", "2015-06-01", ""),
    ("21ff7e95-fbc4-4b2b-974e-9d32e29981d6", ADMIN, "Juno", "cat", "Maine Coon", "2020-01-15", "826097100453456"),
]

APPOINTMENTS = [
    # (id, pet id, vet id, starts at, reason, status)
    ("134bb260-28ec-4856-b8ca-963c0319892d", PETS[0][0], VETS[0][0], "2026-03-02T09:30:00Z", "Annual vaccination", "done"),
    ("0ee2b520-0cf1-443e-9110-0b3ed35f251f", PETS[1][0], VETS[1][0], "2026-12-14T15:00:00Z", "Dental check", "booked"),
    ("801cb84e-0239-46d4-8875-3f638e0e5dbc", PETS[2][0], VETS[2][0], "2026-12-09T11:15:00Z", "Nail trim and weigh-in",
     "booked"),
    ("73a08fd0-fe3a-4236-ac0a-62f8f3675187", PETS[3][0], VETS[3][0], "2026-05-21T22:40:00Z", "Ate a sock", "done"),
]

NOTES = [
    # (id, owner id, pet id or None, title, body)
    ("1abb98cf-202b-48cb-9934-f17a0a9c827b", ALICE, PETS[0][0], "Rex medication",
     "Half a tablet of meloxicam with breakfast until the 20th."),
    ("f625fe4e-d978-4cb9-a300-f07c7fe3233d", ALICE, None, "Questions for the vet",
     "Ask about a senior diet for Misty and the flea treatment schedule."),
    ("c700f484-e3c3-49ec-a6f3-9a423e9f87b2", BOB, PETS[2][0], "Biscuit diet",
     "Hay all day, pellets once, no more carrots than one a week."),
    ("8c1100e3-6ce3-4642-986c-3f04446b4931", BOB, None, "Insurance",
     "Policy renewal due in March; claim form for the sock incident sent."),
]

REMINDERS = [
    # (id, owner id, created by, message, due on)
    ("5d1f7c0a-3c55-4d5e-9a0b-6f0f3b7e2a11", ALICE, ADMIN, "Rex: rabies booster", "2027-03-02"),
    ("b3e6a1d2-8f4e-4c3b-9d7a-2e5c1f0a9b22", BOB, BOB, "Nala: worming tablet", "2027-01-15"),
]

NOTICES = [
    # (id, title, body, posted by)
    ("a7c2e9f0-1b3d-4e5f-8a6b-7c8d9e0f1a33", "Harbourside closed on 24 December",
     "Harbourside Vets closes at noon on Christmas Eve; Minster Emergency Vets is open 24 hours.", ADMIN),
    ("c4d5e6f7-2a3b-4c5d-9e8f-0a1b2c3d4e44", "Kennel cough vaccine campaign",
     "Intranasal kennel cough vaccines at half price in January at every clinic.", ADMIN),
]


def seed(conn: psycopg.Connection) -> None:
    with conn.cursor() as cur:
        for user_id, username, password, email, full_name, role in USERS:
            cur.execute(
                "INSERT INTO users (id, username, email, full_name, password_hash, role) VALUES (%s, %s, %s, %s, %s, %s)",
                (user_id, username, email, full_name, hash_password(password), role),
            )
        cur.executemany(
            "INSERT INTO clinics (id, name, street, city, postcode, phone, opening_hours)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            CLINICS,
        )
        cur.executemany("INSERT INTO vets (id, clinic_id, full_name, specialty) VALUES (%s, %s, %s, %s)", VETS)
        cur.executemany(
            "INSERT INTO pets (id, owner_id, name, species, breed, birth_date, microchip)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            PETS,
        )
        cur.executemany(
            "INSERT INTO appointments (id, pet_id, vet_id, starts_at, reason, status) VALUES (%s, %s, %s, %s, %s, %s)",
            APPOINTMENTS,
        )
        cur.executemany("INSERT INTO notes (id, owner_id, pet_id, title, body) VALUES (%s, %s, %s, %s, %s)", NOTES)
        cur.executemany(
            "INSERT INTO reminders (id, owner_id, created_by, message, due_on) VALUES (%s, %s, %s, %s, %s)", REMINDERS
        )
        cur.executemany("INSERT INTO notices (id, title, body, posted_by) VALUES (%s, %s, %s, %s)", NOTICES)
