"""How new passwords are checked and stored, and how stored ones are verified.

Seeded accounts carry scrypt hashes (common/passwords.py), whose verification also accepts a bare
32-hex-digit MD5 digest: the legacy format the vulnerable build still writes.
"""

from common.passwords import hash_password, legacy_md5, password_problem, verify_password
from common.variant import planted


def hash_for_storage(password: str) -> str:
    if planted("auth.password-storage"):
        # FLAW auth.password-storage: new accounts (and reset passwords) are stored the way the
        # old PHP shop did it, as an unsalted MD5 hex digest: fast to brute-force, equal passwords
        # give equal hashes, and lookup tables reverse common ones instantly.
        return legacy_md5(password)
    return hash_password(password)


def check_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored` (scrypt, or a legacy bare MD5 digest)."""
    return verify_password(password, stored)


def policy_problem(username: str, password: str) -> str | None:
    """Why `password` is not acceptable for `username`, or None. The length is also a schema rule
    (schemas.NewPassword), so the generated spec documents it."""
    if planted("auth.weak-password-policy"):
        # FLAW auth.weak-password-policy: any non-empty password is taken ("abc", "password",
        # the username itself): the sign-up form's old rule, kept so as not to annoy customers.
        return None
    return password_problem(username, password)
