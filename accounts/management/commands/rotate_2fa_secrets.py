"""`manage.py rotate_2fa_secrets`: re-encrypt every stored TOTP secret with the current key.

Run after changing `MFA_ENCRYPTION_KEY` (or `SECRET_KEY`, when there is no dedicated key)
with the old key listed in `MFA_ENCRYPTION_KEYS_OLD`; once it reports no unreadable
secret, the old key can go. Safe to run while the API serves, and more than once.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.services import two_factor_secrets_reencrypt
from tokens.realms import REALMS


class Command(BaseCommand):
    help = "Re-encrypt every TOTP secret with the current MFA_ENCRYPTION_KEY (key rotation)."

    def handle(self, *args: Any, **options: Any) -> None:
        unreadable = 0
        for realm in REALMS:
            done, failed = two_factor_secrets_reencrypt(model=realm.model)
            unreadable += failed
            self.stdout.write(f"Re-encrypted {done} TOTP secret(s) of {realm.title}.")
        if unreadable:
            raise CommandError(
                f"{unreadable} secret(s) could not be decrypted with any configured key: "
                "keep the old key in MFA_ENCRYPTION_KEYS_OLD, or reset_2fa those accounts."
            )
