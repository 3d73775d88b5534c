"""Login: credentials, lockout, rate limits and what gets logged."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import make_user
from config.testing import PASSWORD, assert_error, login
from tokens.models import Token
from tokens.realms import USER

pytestmark = pytest.mark.django_db

WRONG = "not the password"


@pytest.fixture
def bob() -> User:
    return make_user(username="bob", email="bob@example.com")


@pytest.fixture(autouse=True)
def _generous_rate_limit(settings):
    """Lockout tests make more attempts than the per-IP limit allows."""
    settings.RATE_LIMIT_ATTEMPTS = 100


def _refresh(user: User) -> User:
    user.refresh_from_db()
    return user


def test_login_answers_the_token_pair_and_the_user(api, bob):
    response = login(api, USER, "bob")

    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "user",
    }
    assert data["user"]["id"] == bob.pk
    assert data["refresh_expires_in"] == 14 * 24 * 3600
    session = Token.objects.get()
    assert (session.kind, session.user_id, session.ip) == ("session", bob.pk, "127.0.0.1")
    assert _refresh(bob).last_login is not None


def test_login_uses_at_most_four_queries_besides_the_session_and_event_inserts(api, bob):
    with CaptureQueriesContext(connection) as captured:
        response = login(api, USER, "bob")

    assert response.status_code == 200
    # The savepoints exist only because the test runs inside a transaction; in production
    # the event's transaction is a BEGIN and a COMMIT.
    statements = [
        query["sql"]
        for query in captured.captured_queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    assert len(statements) <= 6, statements


@pytest.mark.parametrize(
    ("identifier", "password", "status"),
    [
        ("bob", PASSWORD, 200),
        ("bob", WRONG, 401),
        ("nobody", WRONG, 401),
        ("nobody", PASSWORD, 401),
    ],
)
def test_every_login_attempt_computes_exactly_one_hash(
    api, argon2_hashes, identifier, password, status
):
    """An unknown account costs what a wrong password costs (Django ticket #20760)."""
    make_user(username="bob", email="bob@example.com")
    argon2_hashes.clear()

    assert login(api, USER, identifier, password).status_code == status

    assert len(argon2_hashes) == 1


def test_a_locked_account_still_computes_exactly_one_hash(api, argon2_hashes):
    make_user(username="bob", locked_until=timezone.now() + timedelta(minutes=5))
    argon2_hashes.clear()

    assert_error(login(api, USER, "bob"), 423, "ACCOUNT_LOCKED")

    assert len(argon2_hashes) == 1


def test_soft_deleted_account_is_invalid_credentials(api, bob):
    bob.deleted_at = timezone.now()
    bob.save()

    assert_error(login(api, USER, "bob"), 401, "INVALID_CREDENTIALS")
    assert Token.objects.count() == 0


def test_blocked_account_with_the_right_password_is_account_inactive(api, bob):
    bob.is_active = False
    bob.save()

    assert_error(login(api, USER, "bob"), 403, "ACCOUNT_INACTIVE")
    assert Token.objects.count() == 0


def test_blocked_account_with_a_wrong_password_is_invalid_credentials(api, bob):
    bob.is_active = False
    bob.save()

    assert_error(login(api, USER, "bob", WRONG), 401, "INVALID_CREDENTIALS")


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "bob"}, {"password": PASSWORD}, {"username": "", "password": PASSWORD}],
)
def test_missing_fields_are_validation_errors(api, bob, body):
    response = api.post("/api/v1/auth/login", body, format="json")

    assert_error(response, 400, "VALIDATION_ERROR")
    assert Token.objects.count() == 0
    assert _refresh(bob).failed_login_attempts == 0


def test_attempts_one_to_four_are_401_and_the_fifth_locks(api, bob):
    for attempt in range(1, 5):
        assert_error(login(api, USER, "bob", WRONG), 401, "INVALID_CREDENTIALS")
        assert _refresh(bob).failed_login_attempts == attempt

    body = assert_error(login(api, USER, "bob", WRONG), 423, "ACCOUNT_LOCKED")

    bob = _refresh(bob)
    assert bob.failed_login_attempts == 5
    assert bob.locked_until is not None
    assert bob.locked_until > timezone.now() + timedelta(minutes=29)
    details = body["error"]["details"]
    assert details["locked_until"].endswith("Z")
    assert 29 * 60 < details["retry_after"] <= 30 * 60


def test_locked_account_refuses_the_right_password_too_and_the_lock_is_not_extended(api, bob):
    for _ in range(5):
        login(api, USER, "bob", WRONG)
    locked_until = _refresh(bob).locked_until

    assert_error(login(api, USER, "bob"), 423, "ACCOUNT_LOCKED")
    assert_error(login(api, USER, "bob", WRONG), 423, "ACCOUNT_LOCKED")

    bob = _refresh(bob)
    assert bob.locked_until == locked_until
    assert bob.failed_login_attempts == 5
    assert Token.objects.count() == 0


def test_after_the_lock_time_a_correct_login_works_and_resets(api, bob):
    for _ in range(5):
        login(api, USER, "bob", WRONG)

    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        response = login(api, USER, "bob")

    assert response.status_code == 200
    bob = _refresh(bob)
    assert (bob.failed_login_attempts, bob.locked_until) == (0, None)


def test_after_the_lock_time_counting_starts_again_from_zero(api, bob):
    for _ in range(5):
        login(api, USER, "bob", WRONG)

    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert_error(login(api, USER, "bob", WRONG), 401, "INVALID_CREDENTIALS")
        bob = _refresh(bob)
        assert (bob.failed_login_attempts, bob.locked_until) == (1, None)


def test_four_failures_then_success_then_four_failures_is_not_locked(api, bob):
    for _ in range(4):
        login(api, USER, "bob", WRONG)
    assert login(api, USER, "bob").status_code == 200
    assert _refresh(bob).failed_login_attempts == 0
    for _ in range(4):
        assert_error(login(api, USER, "bob", WRONG), 401, "INVALID_CREDENTIALS")

    assert _refresh(bob).locked_until is None
    assert login(api, USER, "bob").status_code == 200


def test_username_in_any_case_and_email_share_one_counter(api, bob):
    for identifier in ("bob", "BOB", "bob@example.com", "Bob@Example.COM"):
        assert_error(login(api, USER, identifier, WRONG), 401, "INVALID_CREDENTIALS")

    assert_error(login(api, USER, "bOb", WRONG), 423, "ACCOUNT_LOCKED")
    assert _refresh(bob).failed_login_attempts == 5


def test_lockout_threshold_and_duration_come_from_settings(api, bob, settings):
    settings.MAX_LOGIN_ATTEMPTS = 2
    settings.LOCKOUT_DURATION_MINUTES = 1

    assert_error(login(api, USER, "bob", WRONG), 401, "INVALID_CREDENTIALS")
    body = assert_error(login(api, USER, "bob", WRONG), 423, "ACCOUNT_LOCKED")

    assert body["error"]["details"]["retry_after"] <= 60


def test_login_events_are_logged_with_account_and_ip_never_the_password(api, bob, caplog):
    with caplog.at_level(logging.INFO, logger="accounts.auth"):
        login(api, USER, "bob")
        login(api, USER, "bob", WRONG)
        login(api, USER, "nobody", WRONG)
        for _ in range(4):
            login(api, USER, "bob", WRONG)

    auth_records = [record for record in caplog.records if record.name == "accounts.auth"]
    events = [record.event for record in auth_records]
    assert events[:3] == ["login_succeeded", "login_failed", "login_failed"]
    assert "login_locked" in events
    for record in caplog.records:
        text = record.getMessage()
        assert PASSWORD not in text
        assert WRONG not in text
        assert "bob@example.com" not in text
    succeeded = auth_records[0]
    assert (succeeded.account_id, succeeded.ip, succeeded.realm) == (bob.pk, "127.0.0.1", "user")


# --- Rate limits ---------------------------------------------------------------------


def test_the_attempt_after_the_limit_is_429_with_retry_after(api, bob, settings):
    settings.RATE_LIMIT_ATTEMPTS = 3
    for _ in range(3):
        login(api, USER, "nobody", WRONG)

    response = login(api, USER, "bob")

    body = assert_error(response, 429, "RATE_LIMITED")
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 15 * 60
    assert body["error"]["details"]["retry_after"] == retry_after
    assert Token.objects.count() == 0


def test_a_rate_limited_attempt_does_not_touch_the_account(api, bob, settings):
    settings.RATE_LIMIT_ATTEMPTS = 1
    login(api, USER, "nobody", WRONG)

    assert_error(login(api, USER, "bob", WRONG), 429, "RATE_LIMITED")

    assert _refresh(bob).failed_login_attempts == 0


def test_successful_logins_count_too(api, bob, settings):
    settings.RATE_LIMIT_ATTEMPTS = 2
    assert login(api, USER, "bob").status_code == 200
    assert login(api, USER, "bob").status_code == 200

    assert_error(login(api, USER, "bob"), 429, "RATE_LIMITED")


def test_a_spoofed_forwarded_for_does_not_help_without_trusted_proxies(api, bob, settings):
    settings.RATE_LIMIT_ATTEMPTS = 2
    for n in range(2):
        login(api, USER, "bob", WRONG, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")

    response = login(api, USER, "bob", HTTP_X_FORWARDED_FOR="10.0.0.99")

    assert_error(response, 429, "RATE_LIMITED")


def test_clients_behind_a_trusted_proxy_are_limited_separately(api, bob, settings):
    settings.RATE_LIMIT_ATTEMPTS = 2
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    for _ in range(2):
        login(api, USER, "nobody", WRONG, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert_error(login(api, USER, "bob", HTTP_X_FORWARDED_FOR="198.51.100.7"), 429, "RATE_LIMITED")

    response = login(api, USER, "bob", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert response.status_code == 200
    assert Token.objects.get().ip == "203.0.113.9"


def test_the_limit_lifts_when_the_window_has_passed(api, bob, settings):
    settings.RATE_LIMIT_ATTEMPTS = 1
    settings.RATE_LIMIT_WINDOW_MINUTES = 1
    login(api, USER, "bob")
    assert_error(login(api, USER, "bob"), 429, "RATE_LIMITED")

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert login(api, USER, "bob").status_code == 200


def test_rate_limited_login_answers_503_when_the_cache_is_down(api, bob, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }

    body = assert_error(login(api, USER, "bob"), 503, "SERVICE_UNAVAILABLE")

    assert "cache" in body["error"]["details"]
    assert Token.objects.count() == 0
    assert _refresh(bob).last_login is None
