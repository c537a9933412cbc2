"""Password hashing with the standard library's scrypt, so both apps verify the same seeded hashes.

Stored as `scrypt:<n>:<r>:<p>$<salt>$<hex digest>`, the layout Werkzeug's generate_password_hash uses,
so an exposed hash looks like what a real Flask/FastAPI app would leak.

`legacy_md5` is the unsalted MD5 a legacy app stores (32 hex characters, nothing else); only the
vulnerable builds call it, behind their own `planted("auth.password-storage")` guard. verify_password
accepts both layouts, as an app halfway through a hash migration would.
"""

import hashlib
import hmac
import re
import secrets
import string

# Cheap enough that a scan logging in hundreds of times is not slowed down, still a real KDF.
_N, _R, _P = 2**14, 8, 1


_SALT_ALPHABET = string.ascii_letters + string.digits
_MD5_HEX = re.compile(r"[0-9a-f]{32}")

MIN_LENGTH = 8
# A small deny-list of the passwords that top every breach corpus and still pass a length rule.
COMMON_PASSWORDS = frozenset(
    {
        "password", "password1", "password12", "password123", "passw0rd", "p@ssw0rd",
        "12345678", "123456789", "1234567890", "11111111", "00000000", "87654321", "12341234",
        "qwertyui", "qwertyuiop", "qwerty12", "qwerty123", "1q2w3e4r", "1qaz2wsx", "asdfghjk",
        "iloveyou", "sunshine", "princess", "football", "baseball", "superman", "trustno1",
        "welcome1", "letmein1", "abc12345", "abcd1234", "admin123", "changeme", "whatever",
    }
)


def _digest(password: str, salt: str, n: int, r: int, p: int) -> str:
    return hashlib.scrypt(
        password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p
    ).hex()


def legacy_md5(password: str) -> str:
    """Unsalted MD5 hex digest: the storage of a legacy app (never call it from a secure path)."""
    return hashlib.md5(password.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = "".join(secrets.choice(_SALT_ALPHABET) for _ in range(16))
    return f"scrypt:{_N}:{_R}:{_P}${salt}${_digest(password, salt, _N, _R, _P)}"


def verify_password(password: str, stored: str) -> bool:
    if _MD5_HEX.fullmatch(stored):
        return hmac.compare_digest(legacy_md5(password), stored)
    try:
        method, salt, digest_hex = stored.split("$")
        scheme, n, r, p = method.split(":")
        if scheme != "scrypt":
            return False
        digest = _digest(password, salt, int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(digest, digest_hex)


def password_problem(username: str, password: str) -> str | None:
    """Why `password` is not acceptable for `username` (the registration policy), or None."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters."
    if password.casefold() == username.casefold():
        return "password must not be the username."
    if password.casefold() in COMMON_PASSWORDS:
        return "password is too common; choose another."
    return None
