"""`manage.py unlock_account <username-or-email> [--admin]`, or `--all`: clear lockouts
(each recorded as `account_unlocked`, `details.via` "unlock_account")."""

from __future__ import annotations

from typing import Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import AbstractAccount
from accounts.services import account_unlock_by_operator, accounts_unlock_all
from tokens.realms import ADMIN, USER


class Command(BaseCommand):
    help = "Unlock an account locked by failed logins (a user, or an admin with --admin)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", nargs="?", help="Username or email address.")
        parser.add_argument("--admin", action="store_true", help="Unlock an admin, not a user.")
        parser.add_argument("--all", action="store_true", help="Unlock every locked account.")

    def handle(self, *args: Any, **options: Any) -> None:
        realm = ADMIN if options["admin"] else USER
        model = cast(type[AbstractAccount], realm.model)
        label = str(model._meta.verbose_name)
        if options["all"]:
            if options["account"]:
                raise CommandError("Give an account or --all, not both.")
            count = accounts_unlock_all(model=model)
            self.stdout.write(f"Unlocked {count} {label if count == 1 else label + 's'}.")
            return
        if not options["account"]:
            raise CommandError("Give the username or email of the account, or --all.")
        account = model.objects.by_login(options["account"]).first()
        if account is None:
            raise CommandError(f"No {label} with username or email {options['account']!r}.")
        was_locked = account.is_locked() or account.failed_login_attempts > 0
        account_unlock_by_operator(account=account)
        state = "Unlocked" if was_locked else "Reset (it was not locked)"
        self.stdout.write(f"{state}: {label} {account.username!r} (id {account.pk}).")
