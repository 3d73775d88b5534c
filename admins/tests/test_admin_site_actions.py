"""The Django admin site's actions change the same state the API does, its token pages never
show a secret, and its login page goes through the admin realm's lockout and rate limit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import make_user
from admins.models import Admin
from admins.tests.factories import make_admin
from admins.tests.helpers import (
    audit_lines,
    capture_audit,
    grant,
    site_action,
    site_messages,
    stored,
    token_rows,
)
from config.testing import PASSWORD, assert_error, bearer, login, login_pair
from tokens.models import Token
from tokens.realms import ADMIN, USER
from tokens.services import session_start
from tokens.tests.factories import make_account

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_login_limit")]

USERS = "/admin/accounts/user/"
ADMINS = "/admin/admins/admin/"
TOKENS = "/admin/tokens/token/"
WRONG = "not the password"


# --- The actions both realms have --------------------------------------------------------

# Each realm's changelist, its block and activate actions, and where its accounts read
# themselves through the API.
CHANGELIST = {USER: USERS, ADMIN: ADMINS}
BLOCK = {USER: "block_users", ADMIN: "block_admins"}
ACTIVATE = {USER: "activate_users", ADMIN: "activate_admins"}
ME = {USER: "/api/v1/users/me", ADMIN: "/api/v1/admin/me"}
REALMS = pytest.mark.parametrize("realm", [USER, ADMIN], ids=str)


@REALMS
def test_block_revokes_the_accounts_session_and_refuses_their_login(site, api, root, caplog, realm):
    ada = make_account(realm, username="ada")
    bob = make_account(realm, username="bob")
    session = login_pair(api, realm, "ada")
    bystander = login_pair(api, realm, "bob")
    capture_audit(caplog)

    response = site_action(site, CHANGELIST[realm], BLOCK[realm], ada)

    assert response.status_code == 200
    assert site_messages(response) == [("success", "1 blocked.")]
    ada.refresh_from_db()
    assert ada.is_active is False
    assert_error(api.get(ME[realm], **bearer(session["access_token"])), 401, "TOKEN_INVALID")
    assert_error(login(api, realm, "ada"), 403, "ACCOUNT_INACTIVE")
    assert api.get(ME[realm], **bearer(bystander["access_token"])).status_code == 200
    bob.refresh_from_db()
    assert bob.is_active is True
    assert audit_lines(caplog) == [(root.pk, "account_blocked", ada.pk)]


@REALMS
def test_activate_lets_blocked_accounts_log_in_again(site, api, root, caplog, realm):
    blocked = [make_account(realm, username=f"blocked{n}", is_active=False) for n in range(2)]
    capture_audit(caplog)

    site_action(site, CHANGELIST[realm], ACTIVATE[realm], *blocked)

    for account in blocked:
        account.refresh_from_db()
        assert account.is_active is True
        assert login(api, realm, account.username).status_code == 200
    assert sorted(audit_lines(caplog)) == sorted(
        (root.pk, "account_activated", a.pk) for a in blocked
    )


@REALMS
def test_unlock_clears_the_failure_count_and_the_lock(site, api, root, caplog, realm):
    ada = make_account(realm, username="ada")
    for _ in range(5):
        login(api, realm, "ada", WRONG)
    ada.refresh_from_db()
    assert ada.locked_until is not None
    capture_audit(caplog)

    site_action(site, CHANGELIST[realm], "unlock", ada)

    ada.refresh_from_db()
    assert (ada.failed_login_attempts, ada.locked_until) == (0, None)
    assert login(api, realm, "ada").status_code == 200
    assert audit_lines(caplog) == [(root.pk, "account_unlocked", ada.pk)]


@REALMS
def test_revoke_tokens_ends_every_session_of_the_selected_accounts(site, api, root, caplog, realm):
    ada, bob = make_account(realm, username="ada"), make_account(realm, username="bob")
    sessions = [login_pair(api, realm, "ada"), login_pair(api, realm, "ada")]
    bystander = login_pair(api, realm, "bob")
    capture_audit(caplog)

    site_action(site, CHANGELIST[realm], "revoke_tokens", ada)

    for session in sessions:
        assert_error(api.get(ME[realm], **bearer(session["access_token"])), 401, "TOKEN_INVALID")
    assert api.get(ME[realm], **bearer(bystander["access_token"])).status_code == 200
    ada.refresh_from_db()
    assert ada.is_active is True
    assert Token.objects.for_owner(bob).live().count() == 1
    assert audit_lines(caplog) == [(root.pk, "sessions_revoked", ada.pk)]


# --- User actions ------------------------------------------------------------------------


def test_delete_users_soft_deletes_and_restore_users_undoes_it(site, api, root, caplog):
    ada = make_user(username="ada")
    session = login_pair(api, USER, "ada")
    capture_audit(caplog)

    site_action(site, USERS, "delete_users", ada)

    ada.refresh_from_db()
    assert ada.deleted_at is not None
    assert User.objects.filter(pk=ada.pk).exists()
    assert_error(
        api.get("/api/v1/users/me", **bearer(session["access_token"])), 401, "TOKEN_INVALID"
    )
    assert_error(login(api, USER, "ada"), 401, "INVALID_CREDENTIALS")

    site_action(site, USERS, "restore_users", ada)

    ada.refresh_from_db()
    assert ada.deleted_at is None
    assert login(api, USER, "ada").status_code == 200
    assert audit_lines(caplog) == [
        (root.pk, "account_deleted", ada.pk),
        (root.pk, "account_restored", ada.pk),
    ]


@pytest.mark.parametrize(
    ("changelist", "permission", "action"),
    [
        (USERS, "view_user", "block_users"),
        (USERS, "view_user", "activate_users"),
        (USERS, "view_user", "delete_users"),
        (USERS, "view_user", "restore_users"),
        (USERS, "view_user", "unlock"),
        (USERS, "view_user", "revoke_tokens"),
    ],
)
def test_an_admin_who_may_only_view_cannot_run_an_action(caplog, changelist, permission, action):
    """The contract: reading needs the view permission, changing the change permission,
    in the admin site as in the API."""
    viewer = make_admin(username="viewer")
    grant(viewer, permission)
    client = Client()
    client.force_login(viewer)
    # A locked account with a live session: every action would change something visible.
    locked = {"failed_login_attempts": 5, "locked_until": timezone.now() + timedelta(hours=1)}
    factory = make_user if changelist == USERS else make_admin
    target = factory(username="target", **locked)
    session_start(owner=target, ip="127.0.0.1", user_agent="test")
    before, tokens_before = stored(target), token_rows()
    capture_audit(caplog)

    assert client.get(changelist).status_code == 200
    site_action(client, changelist, action, target)

    assert stored(target) == before
    assert token_rows() == tokens_before
    assert audit_lines(caplog) == []


# --- Admin actions -----------------------------------------------------------------------


def test_blocking_yourself_through_the_action_is_refused_and_changes_nothing(
    site, api, root, caplog
):
    make_admin(username="other", is_superuser=True)
    session = login_pair(api, ADMIN, "root")
    before, tokens_before = stored(root), token_rows()
    capture_audit(caplog)

    response = site_action(site, ADMINS, "block_admins", root)

    assert response.status_code == 200
    messages = site_messages(response)
    assert messages == [("error", "root: You cannot block yourself."), ("warning", "0 blocked.")]
    assert stored(root) == before
    assert token_rows() == tokens_before
    assert audit_lines(caplog) == []
    assert api.get("/api/v1/admin/me", **bearer(session["access_token"])).status_code == 200
    assert site.get(ADMINS).status_code == 200


def test_blocking_yourself_among_others_blocks_only_the_others(site, root):
    staffer = make_admin(username="staffer")

    response = site_action(site, ADMINS, "block_admins", root, staffer)

    assert site_messages(response) == [
        ("error", "root: You cannot block yourself."),
        ("success", "1 blocked."),
    ]
    root.refresh_from_db()
    staffer.refresh_from_db()
    assert (root.is_active, staffer.is_active) == (True, False)


def test_only_superusers_manage_admins_on_the_site(caplog):
    """As in the API: Django's admin permissions on `Admin` do not make a manager; a
    non-superuser cannot open the admin pages nor run their actions."""
    root = make_admin(username="root", is_superuser=True)
    manager = make_admin(username="manager")
    grant(manager, "view_admin", "change_admin")
    client = Client()
    client.force_login(manager)
    before = stored(root)
    capture_audit(caplog)

    listing = client.get(ADMINS)
    response = site_action(client, ADMINS, "block_admins", root)

    assert listing.status_code == 403
    assert response.status_code == 403
    assert stored(root) == before
    assert audit_lines(caplog) == []


@pytest.mark.parametrize(
    ("action", "logged_as", "state"),
    [
        ("block_admins", "account_blocked", {"is_active": True}),
        ("activate_admins", "account_activated", {"is_active": False}),
        ("unlock", "account_unlocked", {"locked_until": timezone.now() + timedelta(hours=1)}),
        ("revoke_tokens", "sessions_revoked", {}),
    ],
)
def test_each_admin_action_writes_one_audit_line_per_admin(
    site, root, caplog, action, logged_as, state
):
    """One staff action on one admin is one line in the audit log, as in the API."""
    staffer = make_admin(username="staffer", **state)
    session_start(owner=staffer, ip="127.0.0.1", user_agent="test")  # a token to revoke
    capture_audit(caplog)

    site_action(site, ADMINS, action, staffer)

    assert audit_lines(caplog) == [(root.pk, logged_as, staffer.pk)]


# --- Tokens ------------------------------------------------------------------------------


def test_the_token_changelist_lists_sessions_of_both_realms_without_secrets(site, api):
    make_user(username="ada")
    login_pair(api, USER, "ada")
    make_admin(username="staffer")
    login_pair(api, ADMIN, "staffer")

    response = site.get(TOKENS)

    assert response.status_code == 200
    page = response.content.decode()
    rows = list(Token.objects.all())
    assert len(rows) == 2
    for row in rows:
        assert f"{TOKENS}{row.pk}/change/" in page
        assert row.token_hash not in page
        assert row.refresh_jti not in page
    assert f"{TOKENS}add/" not in page


def test_the_token_change_page_is_read_only_and_never_shows_a_secret(site, api):
    make_user(username="ada")
    pair = login_pair(api, USER, "ada")
    row = Token.objects.get()
    before = token_rows()

    page = site.get(f"{TOKENS}{row.pk}/change/")
    posted = site.post(f"{TOKENS}{row.pk}/change/", {"name": "renamed", "revoked_at": ""})

    assert page.status_code == 200
    text = page.content.decode()
    assert row.token_hash not in text
    assert row.refresh_jti not in text
    assert pair["access_token"] not in text
    assert pair["refresh_token"] not in text
    assert 'name="token_hash"' not in text
    assert 'name="name"' not in text  # every field is read-only
    assert posted.status_code == 403  # view only: there is no change form to post
    assert token_rows() == before


def test_revoke_selected_tokens_revokes_only_those(site, api):
    make_user(username="ada")
    first, second = login_pair(api, USER, "ada"), login_pair(api, USER, "ada")
    rows = list(Token.objects.order_by("pk"))

    response = site_action(site, TOKENS, "revoke_selected_tokens", rows[0])

    assert site_messages(response) == [("success", "1 revoked.")]
    assert_error(api.get("/api/v1/users/me", **bearer(first["access_token"])), 401, "TOKEN_INVALID")
    assert api.get("/api/v1/users/me", **bearer(second["access_token"])).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"{TOKENS}add/",
        f"{USERS}{{user}}/delete/",
        f"{ADMINS}{{admin}}/delete/",
        f"{TOKENS}{{token}}/delete/",
    ],
)
def test_there_is_no_delete_for_users_admins_or_tokens_nor_an_add_for_tokens(site, api, root, path):
    user = make_user(username="ada")
    login_pair(api, USER, "ada")
    token = Token.objects.get()
    url = path.format(user=user.pk, admin=root.pk, token=token.pk)
    before = (User.objects.count(), Admin.objects.count(), token_rows())

    assert site.get(url).status_code == 403
    assert site.post(url, {"post": "yes"}).status_code == 403

    assert (User.objects.count(), Admin.objects.count(), token_rows()) == before


@pytest.mark.parametrize("changelist", [USERS, ADMINS, TOKENS])
def test_the_bulk_delete_action_is_not_offered(site, changelist, root):
    user = make_user(username="ada")
    session_start(owner=user, ip="127.0.0.1", user_agent="test")
    selected = {USERS: user, ADMINS: root, TOKENS: Token.objects.get()}[changelist]
    before = (stored(user), stored(root), token_rows())

    page = site.get(changelist).content.decode()
    site_action(site, changelist, "delete_selected", selected)

    assert 'value="delete_selected"' not in page
    assert (stored(user), stored(root), token_rows()) == before


# --- Admin site login --------------------------------------------------------------------


def _site_login(client: Client, username: str, password: str) -> Any:
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_five_wrong_passwords_on_the_site_lock_the_admin_and_then_even_the_right_one_fails(api):
    staffer = make_admin(username="staffer")
    client = Client()
    for _ in range(5):
        assert _site_login(client, "staffer", WRONG).status_code == 200

    staffer.refresh_from_db()
    assert staffer.failed_login_attempts == 5
    assert staffer.locked_until is not None
    assert staffer.locked_until > timezone.now() + timedelta(minutes=29)

    response = _site_login(client, "staffer", PASSWORD)

    assert response.status_code == 200
    assert "locked" in response.content.decode()
    assert "_auth_user_id" not in client.session
    body = assert_error(login(api, ADMIN, "staffer"), 423, "ACCOUNT_LOCKED")
    assert body["error"]["details"]["retry_after"] > 0
    assert Token.objects.count() == 0


def test_a_successful_site_login_resets_the_failure_count():
    staffer = make_admin(username="staffer")
    client = Client()
    _site_login(client, "staffer", WRONG)

    response = _site_login(client, "STAFFER", PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staffer.pk)
    staffer.refresh_from_db()
    assert (staffer.failed_login_attempts, staffer.locked_until) == (0, None)


def test_site_login_attempts_count_in_the_admin_realms_rate_limit(api, settings):
    settings.RATE_LIMIT_ATTEMPTS = 2
    staffer = make_admin(username="staffer")
    make_user(username="ada")
    client = Client()
    for _ in range(2):
        _site_login(client, "staffer", WRONG)

    response = _site_login(client, "staffer", PASSWORD)

    assert response.status_code == 200
    assert "Too many login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    staffer.refresh_from_db()
    assert staffer.failed_login_attempts == 2
    assert_error(login(api, ADMIN, "staffer"), 429, "RATE_LIMITED")
    assert login(api, USER, "ada").status_code == 200


# --- The account's own page: the actions that apply to it --------------------------------


def _buttons(client: Client, changelist: str, account: Any) -> list[str]:
    response = client.get(f"{changelist}{account.pk}/change/")
    assert response.status_code == 200
    return [label for _, label in response.context["account_actions"]]


def test_an_accounts_page_offers_only_the_actions_that_apply_to_it(site):
    fine = make_user(username="fine")
    session_start(owner=fine, ip="127.0.0.1", user_agent="test")
    troubled = make_user(
        username="troubled",
        is_active=False,
        deleted_at=timezone.now(),
        failed_login_attempts=5,
        locked_until=timezone.now() + timedelta(hours=1),
    )

    assert _buttons(site, USERS, fine) == ["Block", "Soft-delete", "Revoke every token"]
    assert _buttons(site, USERS, troubled) == ["Unlock", "Activate", "Restore"]
    page = site.get(f"{USERS}{fine.pk}/change/").content.decode()
    assert f'action="{USERS}{fine.pk}/actions/block_users/"' in page


def test_an_admins_page_offers_the_admin_actions(site):
    staffer = make_admin(username="staffer", is_active=False)

    assert _buttons(site, ADMINS, staffer) == ["Activate"]


def test_a_button_runs_its_action_on_that_account_and_comes_back(site, api, root, caplog):
    ada = make_user(username="ada")
    session = login_pair(api, USER, "ada")
    capture_audit(caplog)

    response = site.post(f"{USERS}{ada.pk}/actions/block_users/", follow=True)

    assert response.redirect_chain == [(f"{USERS}{ada.pk}/change/", 302)]
    assert site_messages(response) == [("success", "1 blocked.")]
    ada.refresh_from_db()
    assert ada.is_active is False
    assert_error(
        api.get("/api/v1/users/me", **bearer(session["access_token"])), 401, "TOKEN_INVALID"
    )
    assert audit_lines(caplog) == [(root.pk, "account_blocked", ada.pk)]
    # Back on the page, which now offers what applies to a blocked user with no live token.
    assert response.context["account_actions"] == [
        ("activate_users", "Activate"),
        ("delete_users", "Soft-delete"),
    ]


def test_a_button_for_yourself_is_refused_like_the_action(site, root):
    make_admin(username="other", is_superuser=True)
    before = stored(root)

    response = site.post(f"{ADMINS}{root.pk}/actions/block_admins/", follow=True)

    assert site_messages(response) == [
        ("error", "root: You cannot block yourself."),
        ("warning", "0 blocked."),
    ]
    assert stored(root) == before


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "actions/block_users/", 405),
        ("post", "actions/delete_selected/", 404),
        ("post", "actions/block_admins/", 404),
        ("post", "actions/nothing/", 404),
    ],
)
def test_an_action_url_runs_only_that_accounts_own_actions_by_post(site, method, path, status):
    ada = make_user(username="ada")
    session_start(owner=ada, ip="127.0.0.1", user_agent="test")
    before, tokens = stored(ada), token_rows()

    response = getattr(site, method)(f"{USERS}{ada.pk}/{path}")

    assert response.status_code == status
    assert stored(ada) == before
    assert token_rows() == tokens


def test_an_admin_who_may_only_view_gets_no_buttons_and_cannot_post_them(caplog):
    viewer = make_admin(username="viewer")
    grant(viewer, "view_user")
    client = Client()
    client.force_login(viewer)
    ada = make_user(username="ada")
    before = stored(ada)
    capture_audit(caplog)

    assert _buttons(client, USERS, ada) == []
    assert client.post(f"{USERS}{ada.pk}/actions/block_users/").status_code == 403

    assert stored(ada) == before
    assert audit_lines(caplog) == []


def test_revoking_selected_tokens_says_what_changed_and_is_in_each_owners_history(
    site, api, root, caplog
):
    ada, bob = make_user(username="ada"), make_user(username="bob")
    login_pair(api, USER, "ada"), login_pair(api, USER, "ada"), login_pair(api, USER, "bob")
    ada_first, ada_second, bob_only = Token.objects.order_by("pk")
    site_action(site, TOKENS, "revoke_selected_tokens", ada_first)
    earlier = LogEntry.objects.get()
    capture_audit(caplog)
    caplog.clear()

    response = site_action(site, TOKENS, "revoke_selected_tokens", ada_first, ada_second, bob_only)

    assert site_messages(response) == [("success", "2 revoked, 1 was already revoked.")]
    assert not Token.objects.live().exists()
    assert sorted(audit_lines(caplog)) == [
        (root.pk, "token_revoked", ada.pk),
        (root.pk, "token_revoked", bob.pk),
    ]
    history = {
        entry.object_id: entry.get_change_message()
        for entry in LogEntry.objects.exclude(pk=earlier.pk)
    }
    assert earlier.get_change_message() == f"Revoked Login session {ada_first.pk}."
    assert history[str(ada.pk)] == f"Revoked Login session {ada_second.pk}."
    assert history[str(bob.pk)] == f"Revoked Login session {bob_only.pk}."
