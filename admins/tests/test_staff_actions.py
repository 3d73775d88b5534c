"""Block, activate and unlock through the staff API (`/api/v1/admin/users/{id}/...` and
`/api/v1/admin/admins/{id}/...`): one action, the same answer and the same effect on an
account of either realm. What only one realm has (deleting and restoring users, the
superuser rules) is tested in `test_users_api.py` and `test_admins_api.py`."""

from __future__ import annotations

from typing import Any

import pytest

from admins.tests.helpers import audit_lines, capture_audit
from config.testing import assert_error, bearer, login, login_pair
from tokens.realms import ADMIN, USER, Realm
from tokens.tests.factories import make_account

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_login_limit")]

# Where staff manage each realm's accounts, and where an account reads itself.
STAFF_URL = {USER: "/api/v1/admin/users", ADMIN: "/api/v1/admin/admins"}
ME = {USER: "/api/v1/users/me", ADMIN: "/api/v1/admin/me"}
WRONG = "not the password"
REALMS = pytest.mark.parametrize("realm", [USER, ADMIN], ids=str)


def _detail(realm: Realm, account: Any) -> str:
    return f"{STAFF_URL[realm]}/{account.pk}"


@REALMS
def test_block_ends_the_accounts_session_at_once_and_refuses_their_login(
    api, auth, root, caplog, realm
):
    account = make_account(realm, username="ada")
    session = login_pair(api, realm, "ada")
    capture_audit(caplog)

    response = api.patch(f"{_detail(realm, account)}/block", **auth)

    assert response.status_code == 200
    assert response.json()["data"]["is_active"] is False
    account.refresh_from_db()
    assert account.is_active is False
    assert_error(api.get(ME[realm], **bearer(session["access_token"])), 401, "TOKEN_INVALID")
    refresh = {"refresh_token": session["refresh_token"]}
    assert_error(
        api.post(f"/api/v1/{realm.url_prefix}auth/refresh", refresh, format="json"),
        401,
        "TOKEN_INVALID",
    )
    assert_error(login(api, realm, "ada"), 403, "ACCOUNT_INACTIVE")
    assert audit_lines(caplog) == [(root.pk, "account_blocked", account.pk)]


@REALMS
def test_activate_lets_a_blocked_account_log_in_again(api, auth, root, caplog, realm):
    blocked = make_account(realm, username="blocked", is_active=False)
    capture_audit(caplog)

    response = api.patch(f"{_detail(realm, blocked)}/activate", **auth)

    assert response.status_code == 200
    assert response.json()["data"]["is_active"] is True
    assert login(api, realm, "blocked").status_code == 200
    assert audit_lines(caplog) == [(root.pk, "account_activated", blocked.pk)]


@REALMS
def test_unlock_lets_an_account_locked_by_wrong_passwords_log_in(api, auth, root, caplog, realm):
    account = make_account(realm, username="ada")
    for _ in range(5):
        login(api, realm, "ada", WRONG)
    assert_error(login(api, realm, "ada"), 423, "ACCOUNT_LOCKED")
    capture_audit(caplog)

    response = api.patch(f"{_detail(realm, account)}/unlock", **auth)

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["failed_login_attempts"], data["locked_until"], data["is_locked"]) == (
        0,
        None,
        False,
    )
    account.refresh_from_db()
    assert (account.failed_login_attempts, account.locked_until) == (0, None)
    assert login(api, realm, "ada").status_code == 200
    assert audit_lines(caplog) == [(root.pk, "account_unlocked", account.pk)]
