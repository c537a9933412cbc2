"""Failed-attempt limiters (sign-in, reset codes), kept in PostgreSQL's `auth_failures` table.

The secure build runs two gunicorn workers, so the counters cannot live in process memory. Attempts
on one key are serialised with a transaction-scoped advisory lock: a burst sent in parallel is
counted exactly as one sent in sequence, and concurrent successful sign-ins only queue briefly.
Only failures are stored; a success clears the key.
"""

import math

from flask_shop import db
from flask_shop.errors import ApiError


def limited(key: str, attempt, *, limit: int, window: int, failures: tuple[int, ...], message: str):
    """Return `attempt()` unless `limit` failures on `key` lie within the last `window` seconds (429).

    An ApiError whose status is in `failures` raised by `attempt` is recorded against `key` and
    re-raised; a normal return deletes the key's failures. Writes done by `attempt` share the
    transaction, so a refused attempt never leaves half its work behind.
    """
    failure = None
    with db.conn().transaction():
        db.query_one("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
        recent = db.query_one(
            "SELECT count(*) AS n, extract(epoch FROM now() - min(failed_at)) AS age FROM auth_failures"
            " WHERE key = %s AND failed_at > now() - make_interval(secs => %s)",
            (key, window),
        )
        if recent["n"] >= limit:
            retry_after = max(1, math.ceil(window - float(recent["age"])))
            raise ApiError(429, "too_many_attempts", message, {"Retry-After": str(retry_after)})
        try:
            result = attempt()
        except ApiError as exc:
            if exc.status not in failures:
                raise
            failure = exc
            db.execute("DELETE FROM auth_failures WHERE key = %s AND failed_at < now() - interval '1 day'", (key,))
            db.execute("INSERT INTO auth_failures (key) VALUES (%s)", (key,))
        else:
            db.execute("DELETE FROM auth_failures WHERE key = %s", (key,))
    if failure is not None:
        raise failure
    return result
