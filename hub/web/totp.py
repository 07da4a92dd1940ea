"""The second factor: TOTP codes (RFC 6238, 30-second steps, 6 digits, pyotp) and recovery codes.

Recovery codes are random (80 bits, 16 base32 characters shown in groups of four); each is kept
as its SHA-256 only (a random 80-bit code needs no slow hash) and works once.
"""

from __future__ import annotations

import hashlib
import secrets

import pyotp

RECOVERY_CODES = 10
ISSUER = "Parcours Hub"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read and typed by people


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code, or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def verify_code(secret: str, code: str) -> bool:
    """True for the current code, or the one just before or after (clock drift)."""
    code = "".join(code.split())
    return len(code) == 6 and code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=1)


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    return codes


def hash_recovery_code(code: str) -> str:
    normalised = "".join(c for c in code.upper() if c.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()
