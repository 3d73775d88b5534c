"""
The second factor's secrets: TOTP (RFC 6238) and recovery codes.

TOTP is SHA-1, 6 digits, 30-second steps, with one step of clock drift either way, as every
authenticator app expects; pyotp computes the codes. A code names its time step, and the
services store the last step each account had accepted and refuse any code at or before
it, so a code is never accepted twice (`account_second_factor_check`).

**The secret at rest.** A TOTP secret is a shared key: whoever reads it can make every
future code, so it is stored encrypted, and a copy of the database alone reveals nothing.
The encryption is Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`): authenticated,
so a tampered value is refused rather than decrypted to garbage, and with a random IV, so
two accounts with the same secret do not look alike. The key is `MFA_ENCRYPTION_KEY` when
set, else `SECRET_KEY`; either is stretched to a Fernet key by HKDF-SHA256 with a label of
its own, so the key that encrypts secrets is never the key that signs sessions or JWTs, and
any string works as key material. A dedicated key lets the secrets outlive a `SECRET_KEY`
rotation and keeps them safe from whoever holds only the signing key.

Rotation: decryption tries the current key, then each of `MFA_ENCRYPTION_KEYS_OLD` (and,
with no dedicated key, Django's `SECRET_KEY_FALLBACKS`), in order (`MultiFernet`). Set the
new key, list the old one as old, deploy, run `manage.py rotate_2fa_secrets` to re-encrypt
every secret with the new key, then drop the old key.

**Recovery codes** are 16 random characters of an unambiguous base32 alphabet (80 bits),
shown as four groups of four; only their SHA-256 digest is stored. 80 random bits make the
digest as good as a slow hash: there is nothing to guess from a database copy.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import datetime

import pyotp
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from tokens.crypto import digest

STEP_SECONDS = 30
DIGITS = 6
# Steps either side of now that are still accepted (clock drift of the phone).
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# Crockford's base32 without the letters that read like digits: no I, L, O, U.
_RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_RECOVERY_LENGTH = 16
_HKDF_INFO = b"accounts.totp.secret-encryption.v1"


class SecretUnreadable(Exception):
    """A stored TOTP secret no configured key decrypts (a key was dropped too early)."""


def _fernet(material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    """The current key first (it encrypts), then every older key still accepted."""
    dedicated = settings.MFA_ENCRYPTION_KEY
    materials = [dedicated or settings.SECRET_KEY, *settings.MFA_ENCRYPTION_KEYS_OLD]
    if not dedicated:
        materials += list(getattr(settings, "SECRET_KEY_FALLBACKS", []))
    return MultiFernet([_fernet(material) for material in materials if material])


def secret_encrypt(secret: str) -> str:
    return _keys().encrypt(secret.encode()).decode()


def secret_decrypt(stored: str) -> str:
    try:
        return _keys().decrypt(stored.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable() from exc


def secret_reencrypt(stored: str) -> str:
    """The stored value, encrypted with the current key (for key rotation)."""
    try:
        return _keys().rotate(stored.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable() from exc


def new_secret() -> str:
    """A new TOTP secret: 160 random bits in base32, as RFC 4226 recommends for SHA-1."""
    return pyotp.random_base32(length=32)


def provisioning_uri(*, secret: str, account_name: str) -> str:
    """The `otpauth://` URI an authenticator app reads (usually from a QR code)."""
    issuer = settings.PRODUCT_NAME
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def is_totp_code(code: str) -> bool:
    """Whether a code is meant as a TOTP code (six digits) rather than a recovery code."""
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def matching_step(*, secret: str, code: str, now: datetime) -> int | None:
    """The latest time step within the drift window whose code is `code`, or None.

    The latest, so that a code shared by two neighbouring steps (one in a million) burns
    the later one. Every candidate is compared, in constant time.
    """
    if not is_totp_code(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = time_step(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def code_at(*, secret: str, step: int) -> str:
    """The code of one time step (what an authenticator app shows then)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
    return codes


def normalize_recovery_code(code: str) -> str:
    """A recovery code as typed (any case, with or without hyphens and spaces), as stored."""
    return "".join(char for char in code.lower() if char not in "- ")


def recovery_code_digest(code: str) -> str:
    return digest(normalize_recovery_code(code))
