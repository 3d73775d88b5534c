"""Any password change revokes: the admin API's own password change, the admin site's
password-change page (throttled and counted towards the lockout), the admin site's "set
password" form for another account, and `manage.py changepassword`."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from accounts.tests.factories import make_user
from admins.models import Admin
from admins.tests.factories import make_admin
from admins.tests.helpers import ALIVE, REVOKED, credentials, stored, token_rows, works
from config.testing import PASSWORD, assert_error, bearer, login, login_pair
from tokens.models import AuthEvent, Token
from tokens.realms import ADMIN, USER

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_login_limit")]

URL = "/api/v1/admin/me/password"
ME = "/api/v1/admin/me"
NEW_PASSWORD = "a brand new staff passphrase 7"
SITE_PASSWORD_CHANGE = "/admin/password_change/"


# --- POST /api/v1/admin/me/password --------------------------------------------------


def test_an_admin_changes_their_password_and_every_other_login_ends(api, root):
    old = credentials(api, root)
    session = login_pair(api, ADMIN, "root")

    response = api.post(
        URL,
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
        **bearer(session["access_token"]),
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"success": True, "message": "Password changed", "data": None}
    assert works(api, root, old) == REVOKED
    assert api.get(ME, **bearer(session["access_token"])).status_code == 200
    assert_error(login(api, ADMIN, "root", PASSWORD), 401, "INVALID_CREDENTIALS")
    assert login(api, ADMIN, "root", NEW_PASSWORD).status_code == 200


def test_a_wrong_current_password_changes_nothing(api, root):
    session = login_pair(api, ADMIN, "root")
    before, tokens = stored(root), token_rows()

    response = api.post(
        URL,
        {"current_password": "not my password", "new_password": NEW_PASSWORD},
        format="json",
        **bearer(session["access_token"]),
    )

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["current_password"]
    assert stored(root) == before
    assert token_rows() == tokens


def test_a_new_password_the_validators_refuse_changes_nothing(api, root):
    session = login_pair(api, ADMIN, "root")
    before, tokens = stored(root), token_rows()

    response = api.post(
        URL,
        {"current_password": PASSWORD, "new_password": "12345678"},
        format="json",
        **bearer(session["access_token"]),
    )

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["new_password"]
    assert stored(root) == before
    assert token_rows() == tokens


def test_a_personal_token_cannot_change_the_admins_password(api, root):
    creds = credentials(api, root)
    before, tokens = stored(root), token_rows()

    response = api.post(
        URL,
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
        **bearer(creds["pat"]),
    )

    assert_error(response, 403, "INSUFFICIENT_SCOPE")
    assert stored(root) == before
    assert token_rows() == tokens


def test_a_user_token_is_forbidden_on_the_admins_password(api):
    ada = make_user(username="ada")
    token = login_pair(api, USER, "ada")["access_token"]
    hashed = ada.password

    response = api.post(
        URL,
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
        **bearer(token),
    )

    assert_error(response, 403, "FORBIDDEN")
    ada.refresh_from_db()
    assert ada.password == hashed


def test_the_admins_password_change_is_throttled_like_a_password_check(api, root, settings):
    session = login_pair(api, ADMIN, "root")
    settings.RATE_LIMIT_ATTEMPTS = 2
    wrong = {"current_password": "not my password", "new_password": NEW_PASSWORD}
    for _ in range(2):
        response = api.post(URL, wrong, format="json", **bearer(session["access_token"]))
        assert_error(response, 400, "VALIDATION_ERROR")
    before = stored(root)

    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = api.post(URL, right, format="json", **bearer(session["access_token"]))

    assert_error(response, 429, "RATE_LIMITED")
    assert stored(root) == before


# --- The admin site's own password-change page ---------------------------------------


def _site(admin: Admin) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def _site_change(client: Client, old: str, new: str = NEW_PASSWORD) -> Any:
    return client.post(
        SITE_PASSWORD_CHANGE,
        {"old_password": old, "new_password1": new, "new_password2": new},
    )


def test_the_site_password_change_revokes_every_api_login_of_the_admin(api, root):
    old = credentials(api, root)
    client = _site(root)

    response = _site_change(client, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/admin/password_change/done/"
    assert works(api, root, old) == REVOKED
    # The admin site's own session survives its own change (Django keeps it).
    assert client.get("/admin/").status_code == 200
    assert login(api, ADMIN, "root", NEW_PASSWORD).status_code == 200


def test_a_wrong_old_password_on_the_site_counts_towards_the_lockout(api, root, settings):
    settings.MAX_LOGIN_ATTEMPTS = 3
    old = credentials(api, root)
    client = _site(root)
    hashed = Admin.objects.get(pk=root.pk).password

    for attempt in (1, 2):
        response = _site_change(client, "not my password")
        assert response.status_code == 200
        assert "old password was entered incorrectly" in response.content.decode()
        root.refresh_from_db()
        assert root.failed_login_attempts == attempt
        assert root.locked_until is None

    response = _site_change(client, "not my password")
    assert "locked" in response.content.decode()
    root.refresh_from_db()
    assert root.locked_until is not None

    # Locked: even the right old password is refused, and nothing changes.
    response = _site_change(client, PASSWORD)
    assert response.status_code == 200
    assert "locked" in response.content.decode()
    root.refresh_from_db()
    assert root.password == hashed
    assert works(api, root, old) == ALIVE
    assert_error(login(api, ADMIN, "root", PASSWORD), 423, "ACCOUNT_LOCKED")


def test_the_site_password_change_is_throttled_per_client_ip(api, root, settings):
    settings.RATE_LIMIT_ATTEMPTS = 3
    settings.MAX_LOGIN_ATTEMPTS = 100
    client = _site(root)
    hashed = root.password
    for _ in range(3):
        assert "incorrectly" in _site_change(client, "not my password").content.decode()

    response = _site_change(client, PASSWORD)

    assert response.status_code == 200
    assert "Too many password attempts" in response.content.decode()
    root.refresh_from_db()
    assert root.password == hashed
    assert root.failed_login_attempts == 3


# --- Another account's password: the admin site's "set password" form -----------------


@pytest.mark.parametrize("factory", [make_user, make_admin], ids=["user", "admin"])
def test_setting_another_accounts_password_with_djangos_admin_form_revokes(api, factory):
    account: User | Admin = factory(username="ada")
    old = credentials(api, account)
    form = AdminPasswordChangeForm(
        account, data={"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )

    assert form.is_valid(), form.errors
    form.save()

    assert works(api, account, old) == REVOKED
    account.refresh_from_db()
    assert account.check_password(NEW_PASSWORD)


# --- manage.py changepassword --------------------------------------------------------


def test_changepassword_revokes_every_login_of_the_admin(api, root, monkeypatch, capsys):
    old = credentials(api, root)
    monkeypatch.setattr(
        "django.contrib.auth.management.commands.changepassword.getpass.getpass",
        lambda prompt="": NEW_PASSWORD,
    )

    call_command("changepassword", "root")

    assert works(api, root, old) == REVOKED
    assert login(api, ADMIN, "root", NEW_PASSWORD).status_code == 200
    assert Token.objects.filter(admin=root, revoked_at__isnull=True).count() == 1


def test_changepassword_records_password_changed(root, monkeypatch, capsys):
    monkeypatch.setattr(
        "django.contrib.auth.management.commands.changepassword.getpass.getpass",
        lambda prompt="": NEW_PASSWORD,
    )

    call_command("changepassword", "root")

    event = AuthEvent.objects.get()
    assert (event.event, event.realm, event.account_id, event.actor_id, event.ip) == (
        "password_changed",
        "admin",
        root.pk,
        None,
        None,
    )
    assert event.details == {"via": "changepassword"}
    assert "Password changed successfully" in capsys.readouterr().out


def test_a_saved_account_whose_password_did_not_change_keeps_its_logins(api, root):
    old = credentials(api, root)
    root.name = "Renamed"
    root.save()

    assert works(api, root, old) == ALIVE


def test_setting_a_password_without_saving_it_revokes_nothing(api, root):
    old = credentials(api, root)
    root.set_password(NEW_PASSWORD)
    root.save(update_fields=["name"])

    assert works(api, root, old) == ALIVE


def test_an_unusable_password_revokes_every_login(api):
    old = credentials(api, make_user(username="ada"))
    ada = User.objects.get(username="ada")

    ada.set_unusable_password()
    ada.save()

    assert works(api, ada, old) == REVOKED
    assert_error(login(api, USER, "ada"), 401, "INVALID_CREDENTIALS")
