"""Security notices and "this wasn't me", end to end through a real SMTP server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.mail import Notice
from accounts.notices import account_notify
from accounts.tests.factories import make_user
from accounts.tests.mailing import Mailbox, code_in, link_in, parts, run_worker, task_rows
from config.testing import PASSWORD, assert_error, login, login_pair
from tokens.models import OneTimeCode, Token
from tokens.realms import USER

pytestmark = pytest.mark.django_db

SECURE = "/api/v1/auth/secure-account"
CHANGED = "changed passphrase here"


@pytest.fixture(autouse=True)
def _frontend(settings: Any) -> None:
    settings.FRONTEND_URL = "https://app.example.com/"
    settings.PRODUCT_NAME = "Example Accounts"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def change_password(api: APIClient, username: str) -> dict[str, Any]:
    pair = login_pair(api, USER, username)
    response = api.post(
        "/api/v1/users/me/password",
        {"current_password": PASSWORD, "new_password": CHANGED},
        format="json",
        headers=auth(pair["access_token"]),
    )
    assert response.status_code == 200, response.content
    return pair


def test_a_password_change_mails_a_notice_and_its_link_secures_the_account(
    api: APIClient, smtp: Mailbox
) -> None:
    user = make_user()
    pair = change_password(api, user.username)
    other = login_pair(api, USER, user.username, CHANGED)
    run_worker()
    (notice,) = smtp.to(user.email)
    assert notice["Subject"] == "Your Example Accounts password was changed"
    text, html = parts(notice)
    assert CHANGED not in text + html
    assert link_in(notice).startswith("https://app.example.com/secure-account?token=")

    response = api.post(SECURE, {"token": code_in(notice)}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert not Token.objects.for_owner(user).live().exists()
    for session in (pair, other):
        assert_error(
            api.get("/api/v1/users/me", headers=auth(session["access_token"])), 401, "TOKEN_INVALID"
        )
    assert_error(login(api, USER, user.username, CHANGED), 401, "INVALID_CREDENTIALS")

    # A reset mail follows; its link sets a new password.
    run_worker()
    reset = smtp.to(user.email)[-1]
    assert link_in(reset).startswith("https://app.example.com/reset-password?token=")
    response = api.post(
        "/api/v1/auth/password/reset/confirm",
        {"token": code_in(reset), "new_password": "my very own passphrase"},
        format="json",
    )
    assert response.status_code == 200
    assert login(api, USER, user.username, "my very own passphrase").status_code == 200

    # The secure-account code worked once.
    assert_error(
        api.post(SECURE, {"token": code_in(notice)}, format="json"), 400, "VALIDATION_ERROR"
    )


def test_securing_ends_a_reset_code_someone_else_asked_for(api: APIClient, smtp: Mailbox) -> None:
    user = make_user()
    api.post("/api/v1/auth/password/reset", {"email": user.email}, format="json")
    run_worker()
    attackers_code = code_in(smtp.to(user.email)[-1])
    account_notify(account=user, notice=Notice.PASSWORD_CHANGED)
    run_worker()
    assert (
        api.post(SECURE, {"token": code_in(smtp.to(user.email)[-1])}, format="json").status_code
        == 200
    )
    body = assert_error(
        api.post(
            "/api/v1/auth/password/reset/confirm",
            {"token": attackers_code, "new_password": "attacker passphrase"},
            format="json",
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert "token" in body["error"]["details"]


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": 5}, {"token": "unknown"}])
def test_bad_secure_account_codes_change_nothing(api: APIClient, body: Any) -> None:
    user = make_user()
    pair = login_pair(api, USER, user.username)
    response = api.post(SECURE, body, format="json")
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "token" in body["error"]["details"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert api.get("/api/v1/users/me", headers=auth(pair["access_token"])).status_code == 200
    assert task_rows() == 0


def test_an_expired_secure_account_code_changes_nothing(
    api: APIClient, settings: Any, smtp: Mailbox
) -> None:
    user = make_user()
    account_notify(account=user, notice=Notice.PASSWORD_CHANGED)
    run_worker()
    code = code_in(smtp.to(user.email)[-1])
    later = timezone.now() + timedelta(days=settings.SECURE_ACCOUNT_TIMEOUT_DAYS, seconds=1)
    with time_machine.travel(later):
        assert_error(api.post(SECURE, {"token": code}, format="json"), 400, "VALIDATION_ERROR")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_reset_code_does_not_secure_the_account(api: APIClient, smtp: Mailbox) -> None:
    user = make_user()
    api.post("/api/v1/auth/password/reset", {"email": user.email}, format="json")
    run_worker()
    code = code_in(smtp.to(user.email)[-1])
    assert_error(api.post(SECURE, {"token": code}, format="json"), 400, "VALIDATION_ERROR")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert OneTimeCode.objects.get().used_at is None


def test_secure_account_is_throttled_per_ip(api: APIClient, settings: Any) -> None:
    settings.TOKEN_CHECK_RATE_LIMIT = "1/h"
    assert_error(api.post(SECURE, {"token": "a"}, format="json"), 400, "VALIDATION_ERROR")
    assert_error(api.post(SECURE, {"token": "a"}, format="json"), 429, "RATE_LIMITED")


@pytest.mark.parametrize("notice", list(Notice))
def test_every_notice_has_both_parts_and_a_secure_account_link(
    notice: Notice, mailoutbox: list[Any]
) -> None:
    user = make_user()
    account_notify(account=user, notice=notice)
    run_worker()
    (message,) = mailoutbox
    assert message.to == [user.email]
    assert "Example Accounts" in message.subject
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert "https://app.example.com/secure-account?token=" in message.body
    assert "https://app.example.com/secure-account?token=" in html
    assert "{%" not in message.body + html


def test_a_notice_to_an_account_deleted_since_is_not_sent(mailoutbox: list[Any]) -> None:
    user = make_user()
    account_notify(account=user, notice=Notice.PASSWORD_CHANGED)
    user.deleted_at = timezone.now()
    user.save(update_fields=["deleted_at"])
    run_worker()
    assert mailoutbox == []
    assert OneTimeCode.objects.count() == 0
