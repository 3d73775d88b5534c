"""`manage.py unlock_account`: what an operator types to clear a lockout."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import AbstractAccount, User
from accounts.tests.factories import make_user
from admins.models import Admin
from admins.tests.factories import make_admin
from tokens.models import AuthEvent

pytestmark = pytest.mark.django_db


def _lock(account: AbstractAccount, minutes: int = 30) -> None:
    type(account).objects.filter(pk=account.pk).update(
        failed_login_attempts=5, locked_until=timezone.now() + timedelta(minutes=minutes)
    )


def _unlock(*args: str) -> str:
    out = io.StringIO()
    call_command("unlock_account", *args, stdout=out)
    return out.getvalue()


def _state(account: AbstractAccount) -> tuple[int, Any]:
    account.refresh_from_db()
    return account.failed_login_attempts, account.locked_until


@pytest.mark.parametrize("given", ["ada", "ADA", "Ada", "ada@example.com", "Ada@EXAMPLE.com"])
def test_unlock_account_unlocks_a_user_by_username_or_email_in_any_case(given):
    ada = make_user(username="ada", email="ada@example.com")
    _lock(ada)

    output = _unlock(given)

    assert _state(ada) == (0, None)
    assert "Unlocked" in output
    assert "'ada'" in output
    assert f"id {ada.pk}" in output
    assert "user" in output


def test_unlock_account_clears_failed_attempts_of_an_account_that_is_not_locked():
    ada = make_user(username="ada", email="ada@example.com")
    User.objects.filter(pk=ada.pk).update(failed_login_attempts=3)

    output = _unlock("ada")

    assert _state(ada) == (0, None)
    assert "'ada'" in output


def test_unlock_account_says_so_when_there_was_nothing_to_unlock():
    ada = make_user(username="ada", email="ada@example.com")

    output = _unlock("ada")

    assert _state(ada) == (0, None)
    assert "'ada'" in output
    assert "not locked" in output


def test_unlock_account_touches_no_one_else():
    ada = make_user(username="ada", email="ada@example.com")
    bob = make_user(username="bob", email="bob@example.com")
    _lock(ada)
    _lock(bob)
    bob_before = _state(bob)

    _unlock("ada")

    assert _state(ada) == (0, None)
    assert _state(bob) == bob_before


def test_unlock_account_with_admin_unlocks_the_admin_and_not_the_namesake_user():
    admin = make_admin(username="ada", email="ada@example.com")
    user = make_user(username="ada", email="ada@example.com")
    _lock(admin)
    _lock(user)
    user_before = _state(user)

    output = _unlock("ada", "--admin")

    assert _state(admin) == (0, None)
    assert _state(user) == user_before
    assert "admin" in output
    assert f"id {admin.pk}" in output


def test_unlock_account_without_admin_leaves_the_namesake_admin_locked():
    admin = make_admin(username="ada", email="ada@example.com")
    user = make_user(username="ada", email="ada@example.com")
    _lock(admin)
    _lock(user)
    admin_before = _state(admin)

    _unlock("ADA@example.com")

    assert _state(user) == (0, None)
    assert _state(admin) == admin_before


def test_unlock_account_all_unlocks_every_locked_user_and_says_how_many():
    locked = [make_user(), make_user(), make_user()]
    for user in locked:
        _lock(user)
    free = make_user()
    admin = make_admin()
    _lock(admin)
    admin_before = _state(admin)

    output = _unlock("--all")

    assert all(_state(user) == (0, None) for user in locked)
    assert _state(free) == (0, None)
    assert _state(admin) == admin_before
    assert "Unlocked 3 users." in output


def test_unlock_account_all_says_one_in_the_singular():
    _lock(make_user())

    assert "Unlocked 1 user." in _unlock("--all")


def test_unlock_account_all_with_nothing_locked_says_zero():
    make_user()

    assert "Unlocked 0 users." in _unlock("--all")


def test_unlock_account_all_with_admin_unlocks_every_locked_admin_only():
    admins = [make_admin(), make_admin()]
    for admin in admins:
        _lock(admin)
    user = make_user()
    _lock(user)
    user_before = _state(user)

    output = _unlock("--all", "--admin")

    assert all(_state(admin) == (0, None) for admin in admins)
    assert _state(user) == user_before
    assert "Unlocked 2 admins." in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody",), "No user with username or email 'nobody'."),
        (("nobody@example.com",), "No user with username or email 'nobody@example.com'."),
        (("ada", "--admin"), "No admin with username or email 'ada'."),
    ],
)
def test_unlock_account_for_an_unknown_account_is_a_command_error(args, message):
    ada = make_user(username="ada", email="ada@example.com")
    _lock(ada)
    before = _state(ada)

    with pytest.raises(CommandError) as error:
        _unlock(*args)

    assert str(error.value) == message
    assert _state(ada) == before


def test_unlock_account_with_an_account_and_all_is_a_command_error():
    ada = make_user(username="ada")
    _lock(ada)
    before = _state(ada)

    with pytest.raises(CommandError, match="not both"):
        _unlock("ada", "--all")

    assert _state(ada) == before


def test_unlock_account_with_neither_an_account_nor_all_is_a_command_error():
    ada = make_user(username="ada")
    _lock(ada)
    before = _state(ada)

    with pytest.raises(CommandError, match="--all"):
        _unlock()

    assert _state(ada) == before
    assert Admin.objects.count() == 0


def test_unlock_account_run_by_an_operator_exits_non_zero_for_an_unknown_account(tmp_path: Path):
    # A fresh database of its own: the subprocess cannot see the test database, and must
    # not depend on whatever the project's own database holds.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'operator.sqlite3'}",
    }
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(Path(django_settings.BASE_DIR) / "manage.py")]
    migrate = subprocess.run(  # noqa: S603 (a fixed command line, no shell)
        [*manage, "migrate", "-v", "0"], env=env, capture_output=True, text=True, check=False
    )
    assert migrate.returncode == 0, migrate.stderr

    result = subprocess.run(  # noqa: S603 (a fixed command line, no shell)
        [*manage, "unlock_account", "nobody"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=django_settings.BASE_DIR,
    )

    assert result.returncode != 0
    assert "No user with username or email 'nobody'." in result.stderr
    assert "Traceback" not in result.stderr


def test_unlock_account_records_account_unlocked_without_an_actor():
    ada = make_user(username="ada", email="ada@example.com")
    _lock(ada)

    _unlock("ada")

    event = AuthEvent.objects.get()
    assert (event.event, event.realm, event.account_id, event.actor_id) == (
        "account_unlocked",
        "user",
        ada.pk,
        None,
    )
    assert event.details == {"via": "unlock_account"}


def test_unlock_account_all_records_one_event_per_account_it_unlocked():
    ada, bob = make_user(), make_user()
    make_user()  # not locked: no event
    _lock(ada)
    _lock(bob)

    _unlock("--all")

    assert sorted(AuthEvent.objects.values_list("event", "account_id")) == sorted(
        [("account_unlocked", ada.pk), ("account_unlocked", bob.pk)]
    )
