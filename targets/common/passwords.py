"""Password hashing with the standard library's scrypt, so both apps verify the same seeded hashes.

Stored as `scrypt:<n>:<r>:<p>$<salt>$<hex digest>`, the layout Werkzeug's generate_password_hash uses,
so an exposed hash looks like what a real Flask/FastAPI app would leak.
"""

import hashlib
import hmac
import secrets
import string

# Cheap enough that a scan logging in hundreds of times is not slowed down, still a real KDF.
_N, _R, _P = 2**14, 8, 1


_SALT_ALPHABET = string.ascii_letters + string.digits


def _digest(password: str, salt: str, n: int, r: int, p: int) -> str:
    return hashlib.scrypt(
        password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p
    ).hex()


def hash_password(password: str) -> str:
    salt = "".join(secrets.choice(_SALT_ALPHABET) for _ in range(16))
    return f"scrypt:{_N}:{_R}:{_P}${salt}${_digest(password, salt, _N, _R, _P)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        method, salt, digest_hex = stored.split("$")
        scheme, n, r, p = method.split(":")
        if scheme != "scrypt":
            return False
        digest = _digest(password, salt, int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(digest, digest_hex)
