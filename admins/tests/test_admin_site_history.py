"""Every staff action, from the admin site or the API, is in the account's History (Django's
`LogEntry`) with a readable message, beside its audit line; an action that changes nothing
records nothing and says so. The changelists show one status per account."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import formats, timezone

from accounts.models import User
from accounts.tests.factories import make_user
from admins.models import Admin
from admins.tests.factories import make_admin
from admins.tests.helpers import (
    admin_token,
    audit_lines,
    capture_audit,
    site_action,
    site_messages,
    stored,
)
from config.testing import bearer
from tokens.services import session_start

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_login_limit")]

USERS = "/admin/accounts/user/"
ADMINS = "/admin/admins/admin/"
API_USERS = "/api/v1/admin/users"
API_ADMINS = "/api/v1/admin/admins"
LOCK = {"failed_login_attempts": 5, "locked_until": timezone.now() + timedelta(hours=1)}

BLOCKED = "Blocked: every session and token revoked."
DELETED = "Deleted (soft: the row is kept): every session and token revoked."


def _history(client: Client, account: Any) -> list[tuple[str, str]]:
    """(acting admin, message) of each entry on the account's History page, oldest first."""
    changelist = USERS if isinstance(account, User) else ADMINS
    response = client.get(f"{changelist}{account.pk}/history/")
    assert response.status_code == 200
    page = response.content.decode()
    entries = [
        (entry.user.username, entry.get_change_message())
        for entry in response.context["action_list"]
    ]
    for _, message in entries:
        assert message in page
    return entries


# --- The admin site's actions -------------------------------------------------------------

SITE_ACTIONS = [
    ("block_users", {}, BLOCKED),
    ("activate_users", {"is_active": False}, "Activated."),
    ("unlock", LOCK, "Unlocked."),
    ("unlock", {"failed_login_attempts": 2}, "Cleared 2 failed login attempts."),
    ("delete_users", {}, DELETED),
    ("restore_users", {"deleted_at": timezone.now()}, "Restored."),
    ("revoke_tokens", {}, "Revoked 2 tokens (sessions and personal access tokens)."),
]


@pytest.mark.parametrize(("action", "state", "message"), SITE_ACTIONS)
def test_each_site_action_on_a_user_is_in_its_history(site, root, caplog, action, state, message):
    ada = make_user(username="ada", **state)
    for _ in range(2):
        session_start(owner=ada, ip="127.0.0.1", user_agent="test")
    capture_audit(caplog)

    site_action(site, USERS, action, ada)

    assert _history(site, ada) == [("root", message)]
    assert len(audit_lines(caplog)) == 1
    # And in the acting admin's "Recent actions".
    entry = LogEntry.objects.get()
    assert (entry.user_id, entry.object_id, entry.object_repr) == (root.pk, str(ada.pk), str(ada))
    assert f'href="{USERS}{ada.pk}/change/"' in site.get("/admin/").content.decode()


@pytest.mark.parametrize(
    ("action", "state", "message"),
    [
        ("block_admins", {}, BLOCKED),
        ("activate_admins", {"is_active": False}, "Activated."),
        ("unlock", LOCK, "Unlocked."),
        ("revoke_tokens", {}, "Revoked 1 token (sessions and personal access tokens)."),
    ],
)
def test_each_site_action_on_an_admin_is_in_its_history(site, action, state, message):
    staffer = make_admin(username="staffer", **state)
    session_start(owner=staffer, ip="127.0.0.1", user_agent="test")

    site_action(site, ADMINS, action, staffer)

    assert _history(site, staffer) == [("root", message)]


def test_editing_on_the_change_page_is_in_the_history_and_the_audit_log(site, root, caplog):
    ada = make_user(username="ada", email="ada@example.com")
    form = {"username": "ada", "name": "Countess", "email": "ada@example.com", "phone": ""}
    capture_audit(caplog)

    assert site.post(f"{USERS}{ada.pk}/change/", form).status_code == 302

    assert _history(site, ada) == [("root", "Changed Name.")]
    assert audit_lines(caplog) == [(root.pk, "account_updated", ada.pk)]


# --- The API's staff actions --------------------------------------------------------------

API_ACTIONS = [
    ("patch", "block", {}, BLOCKED),
    ("patch", "activate", {"is_active": False}, "Activated."),
    ("patch", "unlock", LOCK, "Unlocked."),
    ("patch", "restore", {"deleted_at": timezone.now()}, "Restored."),
    ("delete", "", {}, DELETED),
    ("delete", "tokens", {}, "Revoked 2 tokens (sessions and personal access tokens)."),
]


@pytest.mark.parametrize(("method", "action", "state", "message"), API_ACTIONS)
def test_each_api_staff_action_on_a_user_is_in_its_history(
    site, api, root, method, action, state, message
):
    ada = make_user(username="ada", **state)
    for _ in range(2):
        session_start(owner=ada, ip="127.0.0.1", user_agent="test")
    url = f"{API_USERS}/{ada.pk}" + (f"/{action}" if action else "")

    response = getattr(api, method)(url, **bearer(admin_token(api, root)))

    assert response.status_code == 200, response.content
    assert _history(site, ada) == [("root", message)]


def test_an_api_update_is_in_the_history_with_the_fields_it_changed(site, api, root):
    ada = make_user(username="ada")

    response = api.patch(
        f"{API_USERS}/{ada.pk}",
        {"name": "Countess", "email": "countess@example.com"},
        format="json",
        **bearer(admin_token(api, root)),
    )

    assert response.status_code == 200, response.content
    assert _history(site, ada) == [("root", "Changed Name and Email.")]


def test_api_admin_management_is_in_the_admins_history(site, api, root):
    token = bearer(admin_token(api, root))
    created = api.post(
        API_ADMINS,
        {
            "username": "staffer",
            "name": "Staffer",
            "email": "staffer@example.com",
            "password": "a long staff passphrase 9",
        },
        format="json",
        **token,
    )
    assert created.status_code == 201, created.content
    staffer = Admin.objects.get(username="staffer")

    api.patch(f"{API_ADMINS}/{staffer.pk}", {"is_superuser": True}, format="json", **token)
    api.patch(f"{API_ADMINS}/{staffer.pk}/block", **token)

    assert _history(site, staffer) == [
        ("root", "Added."),
        ("root", "Changed Superuser status."),
        ("root", BLOCKED),
    ]


# --- Actions that change nothing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "action", "state"),
    [
        ("patch", "block", {"is_active": False}),
        ("patch", "activate", {}),
        ("patch", "unlock", {}),
        ("patch", "restore", {}),
        ("delete", "", {"deleted_at": timezone.now() - timedelta(days=1)}),
        ("delete", "tokens", {}),
    ],
)
def test_an_api_action_that_changes_nothing_records_nothing(
    api, root, caplog, method, action, state
):
    ada = make_user(username="ada", **state)
    before = stored(ada)
    token = bearer(admin_token(api, root))
    capture_audit(caplog)

    response = getattr(api, method)(
        f"{API_USERS}/{ada.pk}" + (f"/{action}" if action else ""), **token
    )

    assert response.status_code == 200, response.content
    assert stored(ada) == before
    assert not LogEntry.objects.exists()
    assert audit_lines(caplog) == []


@pytest.mark.parametrize(
    ("action", "states", "message"),
    [
        ("unlock", [LOCK, {"is_active": False}], "1 unlocked, 1 was not locked."),
        ("block_users", [{}, {}, {"is_active": False}], "2 blocked, 1 was already blocked."),
        ("activate_users", [{"is_active": False}, {}], "1 activated, 1 was already active."),
        (
            "delete_users",
            [{}, {"deleted_at": timezone.now()}, {"deleted_at": timezone.now()}],
            "1 deleted, 2 were already deleted.",
        ),
        (
            "restore_users",
            [{"deleted_at": timezone.now()}, {}, {}],
            "1 restored, 2 were not deleted.",
        ),
    ],
)
def test_each_action_says_what_it_changed_and_what_it_left(site, action, states, message):
    users = [make_user(**state) for state in states]

    response = site_action(site, USERS, action, *users)

    assert site_messages(response) == [("success", message)]
    changed = int(message.split()[0])
    assert LogEntry.objects.count() == changed


def test_an_action_that_changes_nothing_is_a_warning(site):
    ada = make_user(username="ada")

    response = site_action(site, USERS, "unlock", ada)

    assert site_messages(response) == [("warning", "0 unlocked, 1 was not locked.")]
    assert not LogEntry.objects.exists()


def test_revoke_tokens_says_how_many_tokens_of_how_many_accounts(site):
    ada, bob, eve = (make_user(username=name) for name in ("ada", "bob", "eve"))
    for owner in (ada, ada, bob):
        session_start(owner=owner, ip="127.0.0.1", user_agent="test")

    response = site_action(site, USERS, "revoke_tokens", ada, bob, eve)

    assert site_messages(response) == [
        ("success", "Revoked 3 tokens of 2 accounts; 1 has no live token.")
    ]
    assert _history(site, eve) == []


# --- One status -------------------------------------------------------------------------


def test_the_changelists_show_one_status_per_account(site, root):
    make_user(username="fine")
    make_user(username="blocked", is_active=False)
    make_user(username="locked", **LOCK)
    make_user(username="expired", locked_until=timezone.now() - timedelta(minutes=1))
    make_user(username="gone", deleted_at=timezone.now())
    make_user(username="both", is_active=False, **LOCK)

    response = site.get(USERS)

    rows = {row.username: row for row in response.context["cl"].result_list}
    status = response.context["cl"].model_admin.status
    assert {name: status(row) for name, row in rows.items()} == {
        "fine": "Active",
        "blocked": "Blocked",
        "locked": f"Locked until {_local(rows['locked'].locked_until)}",
        "expired": "Active",
        "gone": "Deleted",
        "both": f"Blocked, locked until {_local(rows['both'].locked_until)}",
    }
    page = response.content.decode()
    assert '<th scope="col" class="column-status">' in page
    for column in ("is_active", "locked_until", "deleted_at"):
        assert f"column-{column}" not in page
    admins = site.get(ADMINS).content.decode()
    assert '<td class="field-status">Active</td>' in admins


def _local(moment: Any) -> str:
    return str(formats.localize(timezone.localtime(moment)))


def test_the_change_page_shows_the_status_and_says_how_to_block(site):
    ada = make_user(username="ada", is_active=False)

    page = site.get(f"{USERS}{ada.pk}/change/").content.decode()

    assert '<div class="readonly">Blocked</div>' in page
    assert "Unset to block" not in page
    assert "run the Block or Activate action" in page


def test_the_locked_filter_treats_an_expired_lock_as_unlocked(site):
    make_user(username="locked", **LOCK)
    make_user(username="expired", locked_until=timezone.now() - timedelta(minutes=1))

    def listed(query: str) -> set[str]:
        return {row.username for row in site.get(f"{USERS}{query}").context["cl"].result_list}

    assert listed("?locked=yes") == {"locked"}
    assert listed("?locked=no") == {"expired"}
