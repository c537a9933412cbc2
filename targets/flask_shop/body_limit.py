"""The maximum request body size."""

from common.variant import planted

MAX_BODY_BYTES = 1024 * 1024


def init_app(app) -> None:
    if planted("availability.no-body-limit"):
        # FLAW availability.no-body-limit: MAX_CONTENT_LENGTH is left unset, so Werkzeug reads and
        # parses bodies of any size.
        return
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
