"""The Django admin site's login with a second factor, and the admin realm's policy there:
the code is checked by the API's login service, so its lockout and replay rules hold."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.tests.helpers import enable_two_factor, totp_now
from accounts.totp import STEP_SECONDS
from admins.models import Admin
from admins.tests.factories import make_admin
from config.testing import PASSWORD
from tokens.models import RecoveryCode

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def _generous_limits(settings: Any) -> None:
    settings.RATE_LIMIT_ATTEMPTS = 1000


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC), tick=False) as clock:
        yield clock


@pytest.fixture
def staff(clock: Any) -> tuple[Admin, str, list[str]]:
    """An admin with a second factor; the clock is past the confirming code's step."""
    admin = make_admin(is_superuser=True)
    secret, codes = enable_two_factor(admin, PASSWORD)
    clock.shift(timedelta(seconds=STEP_SECONDS))
    return admin, secret, codes


def site_login(
    client: Client, admin: Admin, code: str | None = None, password: str = PASSWORD
) -> Any:
    data = {"username": admin.username, "password": password}
    if code is not None:
        data["code"] = code
    return client.post(LOGIN, data)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_login_page_has_a_code_field():
    page = Client().get(LOGIN).content.decode()

    assert 'name="code"' in page
    assert 'autocomplete="one-time-code"' in page


def test_an_admin_without_a_second_factor_logs_in_without_a_code():
    admin = make_admin(is_superuser=True)
    client = Client()

    response = site_login(client, admin)

    assert response.status_code == 302
    assert logged_in(client)


def test_an_admin_with_a_second_factor_and_no_code_is_asked_for_one_and_nothing_counts(
    staff, caplog
):
    admin, _, _ = staff
    client = Client()
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="accounts.auth"):
        response = site_login(client, admin)

    events = [r.__dict__["event"] for r in caplog.records if r.name == "accounts.auth"]
    assert events == ["mfa_code_missing"]
    assert response.status_code == 200
    assert "uses two-factor authentication" in response.content.decode()
    assert not logged_in(client)
    admin.refresh_from_db()
    assert admin.failed_login_attempts == 0


def test_an_admin_with_a_second_factor_logs_in_with_a_current_code(staff):
    admin, secret, _ = staff
    client = Client()

    response = site_login(client, admin, totp_now(secret))

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert logged_in(client)
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_on_the_site_counts_towards_the_lockout(staff, settings):
    admin, secret, _ = staff
    client = Client()
    for _ in range(settings.MAX_LOGIN_ATTEMPTS - 1):
        response = site_login(client, admin, "000000x")
        assert "two-factor code is incorrect" in response.content.decode()
    admin.refresh_from_db()
    assert admin.failed_login_attempts == settings.MAX_LOGIN_ATTEMPTS - 1

    response = site_login(client, admin, "000000x")

    assert "This account is locked" in response.content.decode()
    # Locked: the right code is refused too.
    response = site_login(client, admin, totp_now(secret))
    assert "This account is locked" in response.content.decode()
    assert not logged_in(client)


def test_a_code_used_through_the_api_is_refused_on_the_site(api, staff):
    admin, secret, _ = staff
    code = totp_now(secret)
    mfa_token = api.post(
        "/api/v1/admin/auth/login",
        {"username": admin.username, "password": PASSWORD},
        format="json",
    ).json()["data"]["mfa_token"]
    assert (
        api.post(
            "/api/v1/admin/auth/login/2fa", {"mfa_token": mfa_token, "code": code}, format="json"
        ).status_code
        == 200
    )
    client = Client()

    response = site_login(client, admin, code)

    assert "two-factor code is incorrect" in response.content.decode()
    assert not logged_in(client)


def test_a_recovery_code_logs_in_on_the_site_once(staff):
    admin, _, codes = staff
    client = Client()

    assert site_login(client, admin, codes[0]).status_code == 302

    assert RecoveryCode.objects.for_owner(admin).count() == 9
    again = Client()
    site_login(again, admin, codes[0])
    assert not logged_in(again)


def test_a_wrong_password_with_a_right_code_is_the_usual_error(staff):
    admin, secret, _ = staff
    client = Client()

    response = site_login(client, admin, totp_now(secret), password="wrong")

    assert "Please enter the correct" in response.content.decode()
    admin.refresh_from_db()
    assert admin.failed_login_attempts == 1
    # The code was not looked at, so it is still good.
    assert site_login(client, admin, totp_now(secret)).status_code == 302


# --- ADMIN_2FA_REQUIRED on the site --------------------------------------------------


def test_with_the_policy_on_an_admin_without_a_second_factor_is_sent_to_the_instructions(
    settings,
):
    settings.ADMIN_2FA_REQUIRED = True
    admin = make_admin(is_superuser=True)
    client = Client()
    client.force_login(admin)

    for page in ("/admin/", "/admin/accounts/user/", "/admin/password_change/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"] == "/admin/two-factor-required/"
    instructions = client.get("/admin/two-factor-required/")
    assert instructions.status_code == 200
    assert "/api/v1/admin/me/2fa/totp" in instructions.content.decode()
    assert client.post("/admin/logout/").status_code == 200
    assert not logged_in(client)


def test_with_the_policy_on_an_admin_with_a_second_factor_uses_the_site(settings, staff):
    settings.ADMIN_2FA_REQUIRED = True
    admin, _, _ = staff
    client = Client()
    client.force_login(admin)

    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200


def test_with_the_policy_off_an_admin_without_a_second_factor_uses_the_site():
    client = Client()
    client.force_login(make_admin(is_superuser=True))

    assert client.get("/admin/").status_code == 200


def test_the_instructions_page_is_for_staff_only():
    response = Client().get("/admin/two-factor-required/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_locked_admin_with_a_right_code_is_refused(staff, settings):
    admin, secret, _ = staff
    Admin.objects.filter(pk=admin.pk).update(
        failed_login_attempts=settings.MAX_LOGIN_ATTEMPTS,
        locked_until=timezone.now() + timedelta(minutes=30),
    )
    client = Client()

    response = site_login(client, admin, totp_now(secret))

    assert "This account is locked" in response.content.decode()
    assert not logged_in(client)
    admin.refresh_from_db()
    assert admin.totp_last_step is not None
    assert admin.totp_last_step < int(timezone.now().timestamp()) // STEP_SECONDS


def test_the_change_page_shows_two_factor_enabled_read_only(staff):
    admin, _, _ = staff
    client = Client()
    client.force_login(admin)

    page = client.get(f"/admin/admins/admin/{admin.pk}/change/").content.decode()

    assert "Two factor enabled" in page
    assert 'name="two_factor_enabled"' not in page
    assert admin.totp_secret
    assert admin.totp_secret not in page
