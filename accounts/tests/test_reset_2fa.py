"""`manage.py reset_2fa` and `manage.py rotate_2fa_secrets`: what an operator types for a
person who lost their device, and after changing the encryption key."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.tests.factories import make_user
from accounts.tests.helpers import enable_two_factor
from accounts.totp import secret_decrypt
from admins.tests.factories import make_admin
from config.testing import PASSWORD
from tokens.models import RecoveryCode

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_reset_2fa_turns_a_users_second_factor_off():
    ada = make_user(username="ada", email="ada@example.com")
    enable_two_factor(ada)

    output = _run("reset_2fa", "ADA@example.com")

    ada.refresh_from_db()
    assert (ada.two_factor_enabled, ada.totp_secret, ada.totp_last_step) == (False, "", None)
    assert not RecoveryCode.objects.for_owner(ada).exists()
    assert output == f"Two-factor authentication turned off: user 'ada' (id {ada.pk}).\n"


def test_reset_2fa_admin_turns_an_admins_second_factor_off_and_leaves_a_namesake_user():
    admin = make_admin(username="root")
    user = make_user(username="root")
    enable_two_factor(admin, PASSWORD)
    enable_two_factor(user)

    output = _run("reset_2fa", "root", "--admin")

    admin.refresh_from_db()
    user.refresh_from_db()
    assert admin.two_factor_enabled is False
    assert user.two_factor_enabled is True
    assert RecoveryCode.objects.for_owner(user).count() == 10
    assert "admin 'root'" in output


def test_reset_2fa_on_an_account_without_a_second_factor_says_so():
    make_user(username="ada")

    output = _run("reset_2fa", "ada")

    assert output.startswith("Nothing to turn off")


@pytest.mark.parametrize("args", [("nobody",), ("nobody", "--admin")])
def test_reset_2fa_for_an_unknown_account_fails_and_changes_nothing(args):
    ada = make_user(username="nobody-else")
    enable_two_factor(ada)

    with pytest.raises(CommandError, match=r"No (user|admin) with username or email 'nobody'"):
        _run("reset_2fa", *args)

    ada.refresh_from_db()
    assert ada.two_factor_enabled is True


def test_reset_2fa_a_user_name_with_admin_finds_no_admin():
    make_user(username="ada")

    with pytest.raises(CommandError, match="No admin"):
        _run("reset_2fa", "ada", "--admin")


def test_rotation_re_encrypts_every_secret_with_the_new_key(settings):
    settings.MFA_ENCRYPTION_KEY = "the old key, long and random"
    ada = make_user()
    secret, _ = enable_two_factor(ada)
    ada.refresh_from_db()
    old_stored = ada.totp_secret
    settings.MFA_ENCRYPTION_KEY = "the new key, long and random"
    settings.MFA_ENCRYPTION_KEYS_OLD = ["the old key, long and random"]

    output = _run("rotate_2fa_secrets")

    ada.refresh_from_db()
    assert ada.totp_secret != old_stored
    assert "Re-encrypted 1 TOTP secret(s) of users." in output
    # The old key can go now.
    settings.MFA_ENCRYPTION_KEYS_OLD = []
    assert secret_decrypt(ada.totp_secret) == secret


def test_rotation_without_the_old_key_fails_and_keeps_the_secret(settings):
    settings.MFA_ENCRYPTION_KEY = "the old key, long and random"
    ada = make_user()
    enable_two_factor(ada)
    ada.refresh_from_db()
    stored = ada.totp_secret
    settings.MFA_ENCRYPTION_KEY = "the new key, long and random"

    with pytest.raises(CommandError, match="1 secret"):
        _run("rotate_2fa_secrets")

    ada.refresh_from_db()
    assert ada.totp_secret == stored
