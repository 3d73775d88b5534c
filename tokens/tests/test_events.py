"""The security log: each flow records its event, with the account, the actor, the client's
address and agent; a change that rolls back records nothing; no event ever holds a secret."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import transaction
from django.test import Client as BrowserClient

from accounts.tests.factories import make_user
from admins.tests.factories import make_admin
from config.api.net import Client
from config.testing import PASSWORD, assert_error, bearer, login, login_pair
from tokens.events import event_record
from tokens.models import AuthEvent, EventName, Token
from tokens.realms import ADMIN, USER
from tokens.tests.helpers import session_of

pytestmark = pytest.mark.django_db

WRONG = "not the password"
AGENT = "events-test/1.0"
CLIENT: dict[str, Any] = {"HTTP_USER_AGENT": AGENT, "REMOTE_ADDR": "203.0.113.9"}


@pytest.fixture(autouse=True)
def _generous_limits(settings: Any) -> None:
    settings.RATE_LIMIT_ATTEMPTS = 100


def rows() -> list[tuple[Any, ...]]:
    """(event, realm, account_id, actor_id, ip, user_agent) of every event, oldest first."""
    return list(
        AuthEvent.objects.order_by("id").values_list(
            "event", "realm", "account_id", "actor_id", "ip", "user_agent"
        )
    )


def last() -> AuthEvent:
    return AuthEvent.objects.order_by("-id").first()  # type: ignore[return-value]


# --- Login outcomes ------------------------------------------------------------------


def test_a_login_records_login_succeeded_with_the_clients_address_and_agent(api):
    ada = make_user(username="ada")

    assert login(api, USER, "ada", **CLIENT).status_code == 200

    assert rows() == [("login_succeeded", "user", ada.pk, None, "203.0.113.9", AGENT)]
    assert last().details == {"via": "api"}


def test_a_wrong_password_records_login_failed_although_the_request_answers_401(api):
    ada = make_user(username="ada")

    assert_error(login(api, USER, "ada", WRONG, **CLIENT), 401, "INVALID_CREDENTIALS")

    assert rows() == [("login_failed", "user", ada.pk, None, "203.0.113.9", AGENT)]
    assert last().details == {"via": "api", "reason": "wrong_password"}
    ada.refresh_from_db()
    assert ada.failed_login_attempts == 1  # the failure count survived the 401 as well


def test_a_login_for_an_unknown_account_records_no_account_and_not_the_identifier(api):
    response = login(api, USER, "nobody@example.com", WRONG, **CLIENT)
    assert_error(response, 401, "INVALID_CREDENTIALS")

    assert rows() == [("login_failed", "user", None, None, "203.0.113.9", AGENT)]
    event = last()
    assert event.details == {"via": "api", "reason": "unknown_account"}
    assert "nobody" not in str(event.details)


def test_the_failure_that_locks_records_login_locked_and_a_locked_attempt_too(api, settings):
    settings.MAX_LOGIN_ATTEMPTS = 2
    ada = make_user(username="ada")

    login(api, USER, "ada", WRONG)
    assert_error(login(api, USER, "ada", WRONG), 423, "ACCOUNT_LOCKED")
    assert_error(login(api, USER, "ada", PASSWORD), 423, "ACCOUNT_LOCKED")

    assert [(event, account) for event, _, account, *_ in rows()] == [
        ("login_failed", ada.pk),
        ("login_locked", ada.pk),
        ("login_locked", ada.pk),
    ]
    reasons = list(AuthEvent.objects.order_by("id").values_list("details__reason", flat=True))
    assert reasons == ["wrong_password", "placed", "in_force"]


def test_a_blocked_account_with_the_right_password_records_login_refused_inactive(api):
    ada = make_user(username="ada", is_active=False)

    assert_error(login(api, USER, "ada", **CLIENT), 403, "ACCOUNT_INACTIVE")

    assert rows() == [("login_refused_inactive", "user", ada.pk, None, "203.0.113.9", AGENT)]


def test_an_admin_login_is_recorded_in_the_admin_realm(api):
    root = make_admin(username="root")

    login(api, ADMIN, "root", **CLIENT)

    assert rows() == [("login_succeeded", "admin", root.pk, None, "203.0.113.9", AGENT)]


def test_the_admin_sites_login_form_records_the_login_as_via_the_admin_site():
    root = make_admin(username="root", is_superuser=True)
    browser = BrowserClient(**CLIENT)

    browser.post("/admin/login/", {"username": "root", "password": WRONG})
    browser.post("/admin/login/", {"username": "root", "password": PASSWORD})

    assert [row[:3] for row in rows()] == [
        ("login_failed", "admin", root.pk),
        ("login_succeeded", "admin", root.pk),
    ]
    assert {event.details["via"] for event in AuthEvent.objects.all()} == {"admin_site"}
    assert {event.user_agent for event in AuthEvent.objects.all()} == {AGENT}


# --- Sessions and tokens ----------------------------------------------------------------


def test_logout_records_logout_with_the_session(api):
    ada = make_user(username="ada")
    pair = login_pair(api, USER, "ada")
    AuthEvent.objects.all().delete()

    api.post("/api/v1/auth/logout", **bearer(pair["access_token"]), **CLIENT)

    assert rows() == [("logout", "user", ada.pk, None, "203.0.113.9", AGENT)]
    assert last().details == {"token_id": session_of(pair).pk}


def test_a_reused_refresh_token_records_refresh_reuse_detected_once(api):
    ada = make_user(username="ada")
    pair = login_pair(api, USER, "ada")
    first = pair["refresh_token"]
    api.post("/api/v1/auth/refresh", {"refresh_token": first}, format="json")
    AuthEvent.objects.all().delete()

    for _ in range(2):
        response = api.post(
            "/api/v1/auth/refresh", {"refresh_token": first}, format="json", **CLIENT
        )
        assert_error(response, 401, "TOKEN_INVALID")

    # The second reuse finds the session revoked already: nothing new to record.
    assert rows() == [("refresh_reuse_detected", "user", ada.pk, None, "203.0.113.9", AGENT)]
    assert last().details == {"token_id": session_of(pair).pk}


def test_a_refresh_that_works_records_nothing(api):
    make_user(username="ada")
    pair = login_pair(api, USER, "ada")
    before = rows()

    api.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")

    assert rows() == before


def test_creating_and_revoking_a_token_and_revoking_all_are_recorded(api):
    ada = make_user(username="ada")
    access = login_pair(api, USER, "ada")["access_token"]
    login_pair(api, USER, "ada")
    AuthEvent.objects.all().delete()

    created = api.post(
        "/api/v1/tokens",
        {"name": "ci", "scopes": ["read"]},
        format="json",
        **bearer(access),
        **CLIENT,
    ).json()["data"]
    api.delete(f"/api/v1/tokens/{created['id']}", **bearer(access), **CLIENT)
    api.delete("/api/v1/tokens", **bearer(access), **CLIENT)

    assert rows() == [
        ("token_created", "user", ada.pk, None, "203.0.113.9", AGENT),
        ("token_revoked", "user", ada.pk, None, "203.0.113.9", AGENT),
        ("sessions_revoked", "user", ada.pk, None, "203.0.113.9", AGENT),
    ]
    created_event, revoked_event, all_event = AuthEvent.objects.order_by("id")
    assert created_event.details == {"token_id": created["id"], "name": "ci", "scopes": ["read"]}
    assert revoked_event.details == {"token_id": created["id"], "kind": "personal"}
    assert all_event.details == {"revoked": 1}


def test_revoking_someone_elses_token_is_a_404_and_records_nothing(api):
    make_user(username="ada")
    bob = make_user(username="bob")
    access = login_pair(api, USER, "ada")["access_token"]
    other = login_pair(api, USER, "bob")
    before = rows()

    response = api.delete(f"/api/v1/tokens/{session_of(other).pk}", **bearer(access))

    assert_error(response, 404, "NOT_FOUND")
    assert rows() == before
    assert Token.objects.filter(user=bob, revoked_at__isnull=True).count() == 1


# --- Password changes and deletion ------------------------------------------------------


def test_a_password_change_records_password_changed(api):
    ada = make_user(username="ada")
    access = login_pair(api, USER, "ada")["access_token"]
    AuthEvent.objects.all().delete()

    response = api.post(
        "/api/v1/users/me/password",
        {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        format="json",
        **bearer(access),
        **CLIENT,
    )

    assert response.status_code == 200
    assert rows() == [("password_changed", "user", ada.pk, None, "203.0.113.9", AGENT)]
    assert last().details == {"via": "api"}


def test_a_refused_password_change_rolls_back_and_records_nothing(api):
    make_user(username="ada")
    access = login_pair(api, USER, "ada")["access_token"]
    before = rows()

    response = api.post(
        "/api/v1/users/me/password",
        {"current_password": PASSWORD, "new_password": "123"},
        format="json",
        **bearer(access),
    )

    assert_error(response, 400, "VALIDATION_ERROR")
    assert rows() == before


def test_the_admin_sites_password_form_records_password_changed():
    root = make_admin(username="root", is_superuser=True)
    browser = BrowserClient(**CLIENT)
    browser.force_login(root)

    response = browser.post(
        "/admin/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "another staff passphrase",
            "new_password2": "another staff passphrase",
        },
    )

    assert response.status_code == 302
    assert rows() == [("password_changed", "admin", root.pk, None, "203.0.113.9", AGENT)]
    assert last().details == {"via": "admin_site"}


def test_a_wrong_old_password_on_the_admin_site_is_recorded_as_a_failed_check():
    root = make_admin(username="root", is_superuser=True)
    browser = BrowserClient(**CLIENT)
    browser.force_login(root)

    browser.post(
        "/admin/password_change/",
        {"old_password": WRONG, "new_password1": "x" * 12, "new_password2": "x" * 12},
    )

    assert rows() == [("login_failed", "admin", root.pk, None, "203.0.113.9", AGENT)]
    assert last().details == {"via": "password_check", "reason": "wrong_password"}


def test_deleting_ones_own_account_records_account_deleted_without_an_actor(api):
    ada = make_user(username="ada")
    access = login_pair(api, USER, "ada")["access_token"]
    AuthEvent.objects.all().delete()

    api.delete(
        "/api/v1/users/me", {"password": PASSWORD}, format="json", **bearer(access), **CLIENT
    )

    assert rows() == [("account_deleted", "user", ada.pk, None, "203.0.113.9", AGENT)]


# --- Rollback ------------------------------------------------------------------------------


def test_a_registration_refused_with_409_records_nothing(api):
    make_user(username="ada", email="ada@example.com")
    before = rows()

    response = api.post(
        "/api/v1/auth/register",
        {"username": "ada", "name": "Ada", "email": "x@example.com", "password": PASSWORD},
        format="json",
    )

    assert_error(response, 409, "CONFLICT")
    assert rows() == before


def _record_then_fail(account: Any) -> None:
    with transaction.atomic():
        event_record(event=EventName.PASSWORD_CHANGED, realm=USER, account=account)
        raise RuntimeError("the change failed after its event was written")


def test_an_event_recorded_in_a_transaction_that_rolls_back_is_gone():
    ada = make_user(username="ada")

    with pytest.raises(RuntimeError, match="after its event"):
        _record_then_fail(ada)

    assert rows() == []


def test_requests_never_run_in_one_transaction(settings):
    """A refused login's 401 comes with `set_rollback()`: with ATOMIC_REQUESTS it would undo
    the failure count and the login's event."""
    assert all(not database["ATOMIC_REQUESTS"] for database in settings.DATABASES.values())


# --- The log line ----------------------------------------------------------------------


def test_every_event_writes_its_log_line_from_the_same_call(caplog):
    ada = make_user(username="ada")
    root = make_admin(username="root")

    with caplog.at_level(logging.INFO):
        event_record(
            event=EventName.LOGIN_FAILED,
            realm=USER,
            account=ada,
            client=Client("198.51.100.1", AGENT),
        )
        event_record(event=EventName.ACCOUNT_BLOCKED, realm=USER, account=ada, actor=root)
        event_record(event=EventName.TOKEN_CREATED, realm=ADMIN, account=root)

    lines = [
        (record.name, record.levelname, record.__dict__["event"], record.__dict__["account_id"])
        for record in caplog.records
        if record.name in ("accounts.auth", "admins.audit", "tokens.events")
    ]
    assert lines == [
        ("accounts.auth", "WARNING", "login_failed", ada.pk),
        ("admins.audit", "INFO", "account_blocked", ada.pk),
        ("tokens.events", "INFO", "token_created", root.pk),
    ]
    assert caplog.records[0].getMessage() == (
        f"login_failed realm=user account={ada.pk} actor=- ip=198.51.100.1"
    )


def test_an_unknown_event_name_is_refused():
    with pytest.raises(ValueError, match="login_maybe"):
        event_record(event="login_maybe", realm=USER)  # type: ignore[arg-type]

    assert rows() == []


# --- No secrets ------------------------------------------------------------------------


def test_no_event_holds_a_password_a_token_or_a_hash(api):
    """Every flow that records, then every field of every row, searched for every secret
    the flows handled."""
    ada = make_user(username="ada")
    make_admin(username="root", is_superuser=True)
    new_password = "a brand new passphrase"
    pair = login_pair(api, USER, "ada")
    login(api, USER, "ada", WRONG)
    login(api, USER, WRONG, PASSWORD)  # a password typed as the username
    refreshed = api.post(
        "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json"
    ).json()["data"]
    api.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")
    access = login_pair(api, USER, "ada")["access_token"]
    created = api.post(
        "/api/v1/tokens", {"name": "ci", "scopes": ["read"]}, format="json", **bearer(access)
    ).json()["data"]
    api.delete(f"/api/v1/tokens/{created['id']}", **bearer(access))
    api.post(
        "/api/v1/users/me/password",
        {"current_password": PASSWORD, "new_password": new_password},
        format="json",
        **bearer(access),
    )
    api.post("/api/v1/auth/logout", **bearer(access))
    root_access = login_pair(api, ADMIN, "root")["access_token"]
    api.patch(f"/api/v1/admin/users/{ada.pk}/block", **bearer(root_access))

    secrets = {
        PASSWORD,
        WRONG,
        new_password,
        PASSWORD,
        pair["access_token"],
        pair["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
        access,
        root_access,
        created["token"],
        created["prefix"],
        *Token.objects.values_list("token_hash", flat=True),
        *Token.objects.exclude(refresh_jti="").values_list("refresh_jti", flat=True),
        ada.password,
    }
    events = list(AuthEvent.objects.all())
    assert len({event.event for event in events}) == 8
    for event in events:
        for field in AuthEvent._meta.concrete_fields:
            text = str(getattr(event, field.attname))
            for secret in secrets:
                assert secret not in text, (event.event, field.name)
