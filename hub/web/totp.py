"""The second factor: TOTP codes (RFC 6238, 30-second steps, 6 digits, pyotp) and recovery codes.

Each code works once (its time step is recorded). Recovery codes are random (80 bits, 16 base32 characters shown in groups of four); each is kept
as its SHA-256 only (a random 80-bit code needs no slow hash) and works once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time

import pyotp

RECOVERY_CODES = 10
ISSUER = "Parcours Hub"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read and typed by people


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code, or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (RFC 6238's T) whose code ``code`` is: the current one, or the one just
    before or after (clock drift); None when it is none of them. A step is used once (the store's
    ``use_totp_step``): a code seen over a shoulder cannot be typed again."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = totp.timecode(dt.datetime.fromtimestamp(now, dt.timezone.utc))
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    return codes


def hash_recovery_code(code: str) -> str:
    normalised = "".join(c for c in code.upper() if c.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()
