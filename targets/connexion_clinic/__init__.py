"""The veterinary clinic: a spec-first API (connexion 3, FlaskApp) on PostgreSQL through raw psycopg.

`openapi.yaml` is the source of truth: connexion routes each operation to the function its
`operationId` names, checks parameters and bodies against it, and enforces its `security`
(both schemes resolve the same JWT, connexion_clinic/security.py). The API lives under the
spec's relative server URL, /api/v2, which also serves the document at /api/v2/openapi.json.

The variant (MB_VARIANT) is read when the modules are imported; serve.py sets it first.
"""

import os
from pathlib import Path

import yaml
from connexion import FlaskApp
from connexion.options import SwaggerUIOptions

from common import variant
from common.variant import planted
from connexion_clinic import db, envelope, security
from connexion_clinic.headers import HardeningHeaders

SPEC = Path(__file__).with_name("openapi.yaml")
SECURED = [{"bearerAuth": []}, {"oauth2": []}]


def _specification() -> dict:
    spec = yaml.safe_load(SPEC.read_text())
    if planted("auth.missing-authentication"):
        # FLAW auth.missing-authentication: reminder e-mails link to the appointment page, which
        # had to open without signing in, so `{}` (no credentials) became one of the operation's
        # security alternatives; the handler then serves whoever the path names.
        spec["paths"]["/users/{username}/appointments/{appointmentId}"]["get"]["security"] = [*SECURED, {}]
    return spec


def _root_health():
    # Liveness for the orchestrator (and serve.py's callers), outside the versioned API.
    return {"status": "ok"}


def create_app(database_url: str, secret_key: str):
    variant.current()  # fail fast on a missing or misspelt MB_VARIANT
    if planted("auth.jwt-weak-secret"):
        # FLAW auth.jwt-weak-secret: the token code was copied from connexion's JWT example and the
        # deployment never set CLINIC_JWT_SECRET, so tokens are signed with the example's key.
        secret_key = os.environ.get("CLINIC_JWT_SECRET", "change_this")
    security.configure(secret_key)
    # No Swagger UI: its assets are an optional extra (connexion[swagger-ui]); the JSON stays served.
    app = FlaskApp(__name__, pythonic_params=True, swagger_ui_options=SwaggerUIOptions(swagger_ui=False))
    app.app.config["DATABASE_URL"] = database_url
    db.init_app(app.app)
    envelope.init_app(app.app)
    app.add_api(_specification())
    app.add_url_rule("/health", "root_health", _root_health)
    if planted("transport.security-headers"):
        # FLAW transport.security-headers: no hardening headers on any answer (and uvicorn's own
        # `server: uvicorn` header, see serve.py).
        return app
    return HardeningHeaders(app)
