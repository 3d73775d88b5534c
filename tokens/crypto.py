"""Secrets and their digests. Only the SHA-256 digest of a secret is ever stored.

A personal access token reads `pat_<30 base62 characters><6 base62 characters>`: 178 bits
from `secrets`, then the CRC32 of those characters. The fixed prefix lets secret scanners
recognise a leaked token; the checksum lets a typo or a made-up token be refused offline,
before any database query.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import zlib

PERSONAL_PREFIX = "pat_"
_ALPHABET = string.digits + string.ascii_letters  # base62
_RANDOM_LENGTH = 30  # 30 * log2(62) = 178 bits
_CHECKSUM_LENGTH = 6  # 62**6 > 2**32
PERSONAL_LENGTH = len(PERSONAL_PREFIX) + _RANDOM_LENGTH + _CHECKSUM_LENGTH
# What a token list shows to recognise a token: the fixed prefix and 4 random characters.
DISPLAY_PREFIX_LENGTH = len(PERSONAL_PREFIX) + 4


def digest(secret: str) -> str:
    """The hex SHA-256 of a secret: what the `token_hash` column holds and is looked up by.

    A lookup by digest through a unique index leaks nothing useful by its timing: an
    attacker can choose secrets but not their digests' prefixes.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def new_session_key() -> str:
    """The random key naming a login session (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(_ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode()), _CHECKSUM_LENGTH)


def new_personal_token() -> str:
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
    return f"{PERSONAL_PREFIX}{random_part}{_checksum(random_part)}"


def is_personal_token(credential: str) -> bool:
    """Whether a credential is meant as a personal access token (by its prefix alone)."""
    return credential.startswith(PERSONAL_PREFIX)


def personal_token_is_well_formed(token: str) -> bool:
    """Length, alphabet and checksum: no query is spent on a token that fails these."""
    if len(token) != PERSONAL_LENGTH or not token.startswith(PERSONAL_PREFIX):
        return False
    body = token[len(PERSONAL_PREFIX) :]
    if any(char not in _ALPHABET for char in body):
        return False
    random_part, checksum = body[:_RANDOM_LENGTH], body[_RANDOM_LENGTH:]
    return hmac.compare_digest(checksum, _checksum(random_part))
