"""Secrets and their digests. Only the SHA-256 digest of a secret is ever stored."""

from __future__ import annotations

import hashlib
import secrets


def digest(secret: str) -> str:
    """The hex SHA-256 of a secret: what the `token_hash` column holds and is looked up by.

    A lookup by digest through a unique index leaks nothing useful by its timing: an
    attacker can choose secrets but not their digests' prefixes.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def new_session_key() -> str:
    """The random key naming a login session (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)
