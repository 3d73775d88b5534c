"""Password reset in the user realm, end to end: the request, the worker, a real SMTP
server, the link in the mail, the confirm; and every way it must refuse."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import make_user
from accounts.tests.mailing import Mailbox, code_in, link_in, parts, run_worker, task_rows
from config.testing import (
    PASSWORD,
    assert_error,
    login,
    login_pair,
    needs_row_locking,
    run_together,
)
from tokens.models import OneTimeCode, Token
from tokens.realms import USER

pytestmark = pytest.mark.django_db

RESET = "/api/v1/auth/password/reset"
CONFIRM = "/api/v1/auth/password/reset/confirm"
NEW_PASSWORD = "a brand new passphrase"


def ask(api: APIClient, email: str, **extra: Any) -> Any:
    return api.post(RESET, {"email": email}, format="json", **extra)


def confirm(api: APIClient, code: str, password: str = NEW_PASSWORD) -> Any:
    return api.post(CONFIRM, {"token": code, "new_password": password}, format="json")


def reset_code(api: APIClient, mailbox: Mailbox, email: str) -> str:
    assert ask(api, email).status_code == 202
    run_worker()
    return code_in(mailbox.to(email)[-1])


@pytest.fixture(autouse=True)
def _frontend(settings: Any) -> None:
    settings.PRODUCT_NAME = "Example Accounts"
    settings.PUBLIC_URL = "https://api.example.com"
    settings.FRONTEND_URL = "https://app.example.com"
    settings.ADMIN_FRONTEND_URL = "https://staff.example.com"


def test_reset_link_arrives_by_smtp_and_sets_the_password_once(
    api: APIClient, smtp: Mailbox
) -> None:
    user = make_user(email="ada@example.com")
    session = login_pair(api, USER, user.username)
    pat = api.post(
        "/api/v1/tokens",
        {"name": "ci", "scopes": ["read"]},
        format="json",
        headers={"Authorization": f"Bearer {session['access_token']}"},
    ).json()["data"]["token"]

    response = ask(api, "ADA@example.com")
    assert response.status_code == 202
    assert smtp.messages == []  # the request only enqueued
    run_worker()

    (message,) = smtp.to("ada@example.com")
    assert "Example Accounts" in message["Subject"]
    text, html = parts(message)
    assert "Example Accounts" in text
    assert "Example Accounts" in html
    link = link_in(message)
    assert link.startswith("https://app.example.com/reset-password?token=")
    code = code_in(message)
    assert len(code) >= 43  # 256 bits, URL-safe base64
    # Only the digest is stored.
    assert not OneTimeCode.objects.filter(code_hash=code).exists()
    for secret in (PASSWORD, session["access_token"], session["refresh_token"], pat):
        assert secret not in text
        assert secret not in html

    assert confirm(api, code).status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not Token.objects.for_owner(user).live().exists()
    assert login(api, USER, user.username, NEW_PASSWORD).status_code == 200

    body = assert_error(confirm(api, code, "yet another passphrase"), 400, "VALIDATION_ERROR")
    assert "token" in body["error"]["details"]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_completed_reset_mails_a_notice_with_a_secure_account_link(
    api: APIClient, smtp: Mailbox
) -> None:
    user = make_user()
    code = reset_code(api, smtp, user.email)
    assert confirm(api, code).status_code == 200
    run_worker()
    notice = smtp.to(user.email)[-1]
    assert "reset" in notice["Subject"]
    assert link_in(notice).startswith("https://app.example.com/secure-account?token=")


def test_reset_clears_the_lockout(api: APIClient, settings: Any, smtp: Mailbox) -> None:
    user = make_user()
    for _ in range(settings.MAX_LOGIN_ATTEMPTS):
        login(api, USER, user.username, "wrong password")
    api.credentials()
    user.refresh_from_db()
    assert user.locked_until is not None
    from conftest import clear_cache

    clear_cache()  # the per-IP login limit, not the lockout
    assert confirm(api, reset_code(api, smtp, user.email)).status_code == 200
    user.refresh_from_db()
    assert (user.failed_login_attempts, user.locked_until) == (0, None)
    assert login(api, USER, user.username, NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize("state", ["existing", "unknown", "deleted", "blocked"])
def test_request_answers_the_same_for_every_address(
    api: APIClient, smtp: Mailbox, state: str
) -> None:
    user = make_user(email="grace@example.com")
    if state == "unknown":
        User.objects.filter(pk=user.pk).update(email="someone-else@example.com")
    elif state == "deleted":
        User.objects.filter(pk=user.pk).update(deleted_at=timezone.now())
    elif state == "blocked":
        User.objects.filter(pk=user.pk).update(is_active=False)
    response = ask(api, "grace@example.com")
    assert response.status_code == 202
    assert response.json() == {
        "success": True,
        "message": "If an account has this address, a reset link is on its way",
        "data": None,
    }
    assert task_rows() == 1
    run_worker()
    assert len(smtp.messages) == (1 if state == "existing" else 0)
    assert OneTimeCode.objects.count() == (1 if state == "existing" else 0)


def test_per_ip_limit_is_a_429(api: APIClient, settings: Any) -> None:
    settings.PASSWORD_RESET_RATE_LIMIT = "2/h"
    assert ask(api, "a@example.com").status_code == 202
    assert ask(api, "b@example.com").status_code == 202
    body = assert_error(ask(api, "c@example.com"), 429, "RATE_LIMITED")
    assert body["error"]["details"]["retry_after"] > 0
    assert task_rows() == 2


def test_per_address_cap_is_silent_and_ends_no_earlier_code(
    api: APIClient, settings: Any, smtp: Mailbox
) -> None:
    settings.PASSWORD_RESET_EMAIL_LIMIT = "2/h"
    user = make_user()
    reset_code(api, smtp, user.email)
    second = reset_code(api, smtp, user.email)
    response = ask(api, user.email)
    assert response.status_code == 202
    run_worker()
    assert len(smtp.to(user.email)) == 2
    # The third request issued nothing and ended nothing: the second link still works.
    assert OneTimeCode.objects.count() == 1
    assert confirm(api, second).status_code == 200


def test_a_new_code_ends_the_older_one(api: APIClient, smtp: Mailbox) -> None:
    user = make_user()
    first = reset_code(api, smtp, user.email)
    second = reset_code(api, smtp, user.email)
    assert_error(confirm(api, first), 400, "VALIDATION_ERROR")
    assert confirm(api, second).status_code == 200


def test_refused_password_keeps_the_code_usable(api: APIClient, smtp: Mailbox) -> None:
    user = make_user(username="margaret")
    code = reset_code(api, smtp, user.email)
    body = assert_error(confirm(api, code, "12345678"), 400, "VALIDATION_ERROR")
    assert "new_password" in body["error"]["details"]
    body = assert_error(confirm(api, code, "margaret1"), 400, "VALIDATION_ERROR")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert OneTimeCode.objects.get().used_at is None
    assert confirm(api, code).status_code == 200


def _assert_refused(api: APIClient, code: str, user: User) -> None:
    body = assert_error(confirm(api, code), 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["token"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_unknown_code_is_refused(api: APIClient) -> None:
    user = make_user()
    _assert_refused(api, "not-a-code-we-ever-sent", user)
    _assert_refused(api, "x" * 129, user)


def test_expired_code_is_refused(api: APIClient, settings: Any, smtp: Mailbox) -> None:
    user = make_user()
    code = reset_code(api, smtp, user.email)
    later = timezone.now() + timedelta(minutes=settings.PASSWORD_RESET_TIMEOUT_MINUTES, seconds=1)
    with time_machine.travel(later):
        _assert_refused(api, code, user)
    assert OneTimeCode.objects.get().used_at is None


def test_code_of_another_purpose_is_refused(api: APIClient, smtp: Mailbox) -> None:
    user = make_user()
    # A password change mails a notice whose code is for securing the account.
    pair = login_pair(api, USER, user.username)
    api.post(
        "/api/v1/users/me/password",
        {"current_password": PASSWORD, "new_password": "changed passphrase"},
        format="json",
        headers={"Authorization": f"Bearer {pair['access_token']}"},
    )
    run_worker()
    secure_code = code_in(smtp.to(user.email)[-1])
    body = assert_error(confirm(api, secure_code), 400, "VALIDATION_ERROR")
    assert "token" in body["error"]["details"]
    user.refresh_from_db()
    assert user.check_password("changed passphrase")


def test_code_of_the_other_realm_is_refused(api: APIClient, smtp: Mailbox) -> None:
    from admins.tests.factories import make_admin

    admin = make_admin()
    assert (
        api.post(
            "/api/v1/admin/auth/password/reset", {"email": admin.email}, format="json"
        ).status_code
        == 202
    )
    run_worker()
    code = code_in(smtp.to(admin.email)[-1])
    body = assert_error(confirm(api, code), 400, "VALIDATION_ERROR")
    assert "token" in body["error"]["details"]
    assert OneTimeCode.objects.get().used_at is None


def test_code_of_an_account_blocked_since_is_refused(api: APIClient, smtp: Mailbox) -> None:
    user = make_user()
    code = reset_code(api, smtp, user.email)
    User.objects.filter(pk=user.pk).update(is_active=False)
    _assert_refused(api, code, user)


def test_confirm_is_throttled_per_ip(api: APIClient, settings: Any) -> None:
    settings.TOKEN_CHECK_RATE_LIMIT = "2/h"
    user = make_user()
    for _ in range(2):
        assert_error(confirm(api, "nope"), 400, "VALIDATION_ERROR")
    assert_error(confirm(api, "nope"), 429, "RATE_LIMITED")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "not an address"}, {"email": 7}, {"email": ["a@example.com"]}],
)
def test_malformed_request_is_a_400_and_enqueues_nothing(api: APIClient, body: Any) -> None:
    response = api.post(RESET, body, format="json")
    assert_error(response, 400, "VALIDATION_ERROR")
    assert task_rows() == 0


def test_links_ignore_the_request_host(api: APIClient, settings: Any, smtp: Mailbox) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com", "other.example.com"]
    user = make_user()
    response = ask(
        api, user.email, HTTP_HOST="other.example.com", HTTP_X_FORWARDED_HOST="evil.example"
    )
    assert response.status_code == 202
    run_worker()
    link = link_in(smtp.to(user.email)[-1])
    assert link.startswith("https://app.example.com/reset-password?token=")
    text, html = parts(smtp.to(user.email)[-1])
    assert "evil.example" not in text + html
    assert "other.example.com" not in text + html


@needs_row_locking
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_confirms_exactly_one_wins() -> None:
    from accounts.mail import PASSWORD_RESET
    from tokens.codes import code_issue

    user = make_user()
    code = code_issue(account=user, purpose=PASSWORD_RESET.purpose)
    passwords = ["first new passphrase", "second new passphrase"]
    responses = run_together(2, lambda client, i: confirm(client, code, passwords[i]))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 400]
    winner = next(i for i, r in enumerate(responses) if r.status_code == 200)
    user.refresh_from_db()
    assert user.check_password(passwords[winner])
    assert DBTaskResult.objects.count() == 1  # one notice


def test_request_runs_the_same_queries_for_known_and_unknown_addresses(api: APIClient) -> None:
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    make_user(email="known@example.com")
    statements = []
    for email in ("known@example.com", "unknown@example.com"):
        with CaptureQueriesContext(conn) as queries:
            assert ask(api, email).status_code == 202
        # Only the task's id and the address differ between the two.
        statements.append([query["sql"].split(" VALUES")[0] for query in queries.captured_queries])
    assert statements[0] == statements[1]
    assert len(statements[0]) == 1
