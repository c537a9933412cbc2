"""Signing in and creating accounts.

Two sign-ins share one credential check and one token:
- `POST /session?username=..&password=..`, the mobile app's: credentials in the query string (as
  the spec declares them), and a wrong password is a 200 with `{"status": "fail"}` because the app
  only ever reads the envelope;
- `POST /oauth/token`, an RFC 6749 password grant for third-party clients (form body, 400
  `invalid_grant` on bad credentials).
The limiter (more than 5 failures for one username within 60 s -> 429 with Retry-After) keeps its
counters in PostgreSQL (`auth_failures`), keyed by the username as sent, never by a header.
"""

import math

from common.passwords import hash_password, password_problem, verify_password
from common.variant import planted
from connexion_clinic import db
from connexion_clinic.envelope import Fail, reply, success
from connexion_clinic.security import TOKEN_TTL_SECONDS, USER_COLUMNS, issue_token, user_json

SIGN_IN_LIMIT, SIGN_IN_WINDOW = 5, 60
_UNKNOWN_USER_HASH = hash_password("no account has this password")


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__("too many failed sign-in attempts")
        self.retry_after = retry_after


def check_credentials(username: str, password: str) -> dict | None:
    """The account when the password is right, else None; unknown users take as long as wrong passwords."""
    user = db.query_one(f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = %s", (username,))
    if user is None:
        verify_password(password, _UNKNOWN_USER_HASH)
        return None
    return user if verify_password(password, user.pop("password_hash")) else None


def limited_check(username: str, password: str) -> dict | None:
    """`check_credentials` behind the per-username limiter; raises Throttled past the limit.

    A transaction-scoped advisory lock serialises attempts on one key, so a parallel burst is
    counted exactly like a sequential one.
    """
    key = "user:" + username[:64]
    with db.conn().transaction():
        db.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
        recent = db.query_one(
            "SELECT count(*) AS n, extract(epoch FROM now() - min(failed_at)) AS age FROM auth_failures"
            " WHERE key = %s AND failed_at > now() - make_interval(secs => %s)",
            (key, SIGN_IN_WINDOW),
        )
        if recent["n"] >= SIGN_IN_LIMIT:
            raise Throttled(max(1, math.ceil(SIGN_IN_WINDOW - float(recent["age"]))))
        user = check_credentials(username, password)
        if user is None:
            db.execute("INSERT INTO auth_failures (key) VALUES (%s)", (key,))
        else:
            db.execute("DELETE FROM auth_failures WHERE key = %s", (key,))
    return user


def create_session(username: str, password: str):
    if not planted("auth.credentials-in-url"):
        # The fix for passwords in URLs: the query-string sign-in is closed (the OAuth form,
        # which carries the password in the body, stays), with the same failure envelope.
        return reply({"status": "fail", "message": "credentials in the URL are not accepted; use POST /oauth/token"})
    # FLAW auth.credentials-in-url: the mobile sign-in takes the password as a query parameter,
    # so every sign-in writes it into access logs, proxies and history.
    if planted("auth.login-throttling"):
        # FLAW auth.login-throttling: the mobile sign-in predates the limiter and was never moved
        # onto it (the OAuth endpoint was): passwords can be tried as fast as the server answers.
        user = check_credentials(username, password)
    else:
        try:
            user = limited_check(username, password)
        except Throttled as exc:
            raise Fail(429, "too many failed sign-in attempts; try again later",
                       {"Retry-After": str(exc.retry_after)}) from None
    if user is None:
        return reply({"status": "fail", "message": "invalid credentials"})
    return success({"token": issue_token(user), "expiresIn": TOKEN_TTL_SECONDS, "user": user_json(user)})


def oauth_token(body: dict):
    # grant_type is constrained to "password" by the spec; connexion answers anything else with 400.
    try:
        user = limited_check(body["username"], body["password"])
    except Throttled as exc:
        answer = {"error": "invalid_request", "error_description": "too many failed sign-in attempts"}
        return reply(answer, 429, {"Retry-After": str(exc.retry_after)})
    if user is None:
        return reply({"error": "invalid_grant", "error_description": "invalid username or password"}, 400)
    token = issue_token(user)
    answer = {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_TTL_SECONDS}
    return reply(answer, 200, {"Cache-Control": "no-store"})


def register(body: dict):
    # The spec has already checked the username's alphabet and length and the e-mail's shape.
    username, password, email = body["username"], body["password"], body["email"]
    problem = password_problem(username, password)
    if problem is not None:
        raise Fail(400, problem)
    row = db.query_one(
        "INSERT INTO users (username, email, full_name, password_hash) VALUES (%s, %s, %s, %s)"
        f" ON CONFLICT (username) DO NOTHING RETURNING {USER_COLUMNS}",
        (username, email, body.get("fullName", ""), hash_password(password)),
    )
    if row is None:
        raise Fail(409, "that username is taken")
    return success(user_json(row), 201)
