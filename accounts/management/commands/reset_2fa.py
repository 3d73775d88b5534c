"""`manage.py reset_2fa <username-or-email> [--admin]`: turn an account's second factor off."""

from __future__ import annotations

from typing import Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import AbstractAccount
from accounts.services import two_factor_reset
from tokens.realms import ADMIN, USER


class Command(BaseCommand):
    help = (
        "Turn off the second factor of an account (a user, or an admin with --admin) whose "
        "holder lost the device and the recovery codes: the TOTP secret, the recovery codes "
        "and pending login challenges are deleted. Check who is asking first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", help="Username or email address.")
        parser.add_argument("--admin", action="store_true", help="An admin, not a user.")

    def handle(self, *args: Any, **options: Any) -> None:
        realm = ADMIN if options["admin"] else USER
        model = cast(type[AbstractAccount], realm.model)
        label = str(model._meta.verbose_name)
        account = model.objects.by_login(options["account"]).first()
        if account is None:
            raise CommandError(f"No {label} with username or email {options['account']!r}.")
        was_on = two_factor_reset(account=account)
        state = (
            "Two-factor authentication turned off"
            if was_on
            else "Nothing to turn off (two-factor authentication was not on)"
        )
        self.stdout.write(f"{state}: {label} {account.username!r} (id {account.pk}).")
