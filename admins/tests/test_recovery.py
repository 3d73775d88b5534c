"""Account recovery for admins: the admin realm's API, the admin site's "Forgotten your
password?" pages and "this wasn't me" page, staff sending a reset, and the site's own
password change mailing a notice. Mails go through a real SMTP server."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from rest_framework.test import APIClient

from accounts.tests.factories import make_user
from accounts.tests.mailing import Mailbox, code_in, link_in, parts, run_worker
from admins.models import Admin
from admins.tests.factories import make_admin
from admins.tests.helpers import audit_lines, capture_audit, grant
from config.testing import PASSWORD, assert_error, login
from tokens.models import OneTimeCode
from tokens.realms import ADMIN, USER

pytestmark = pytest.mark.django_db

RESET = "/api/v1/admin/auth/password/reset"
CONFIRM = "/api/v1/admin/auth/password/reset/confirm"
NEW_PASSWORD = "a fresh staff passphrase"


@pytest.fixture(autouse=True)
def _frontend(settings: Any) -> None:
    settings.PUBLIC_URL = "https://api.example.com"
    settings.FRONTEND_URL = "https://app.example.com"
    # The admin site's own pages, as the README tells an operator to set it.
    settings.ADMIN_FRONTEND_URL = "https://api.example.com/admin"
    settings.ALLOWED_HOSTS = ["api.example.com", "testserver"]
    settings.RATE_LIMIT_ATTEMPTS = 100


def test_admin_reset_through_the_api_links_to_the_admin_frontend(
    api: APIClient, smtp: Mailbox
) -> None:
    admin = make_admin()
    assert api.post(RESET, {"email": admin.email}, format="json").status_code == 202
    run_worker()
    (message,) = smtp.to(admin.email)
    assert link_in(message).startswith("https://api.example.com/admin/reset-password?token=")
    code = code_in(message)
    response = api.post(CONFIRM, {"token": code, "new_password": NEW_PASSWORD}, format="json")
    assert response.status_code == 200
    assert login(api, ADMIN, admin.username, NEW_PASSWORD).status_code == 200
    assert_error(
        api.post(CONFIRM, {"token": code, "new_password": NEW_PASSWORD}, format="json"),
        400,
        "VALIDATION_ERROR",
    )


def test_a_user_code_never_works_for_admins(api: APIClient, smtp: Mailbox) -> None:
    user = make_user()
    api.post("/api/v1/auth/password/reset", {"email": user.email}, format="json")
    run_worker()
    code = code_in(smtp.to(user.email)[-1])
    body = assert_error(
        api.post(CONFIRM, {"token": code, "new_password": NEW_PASSWORD}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert "token" in body["error"]["details"]
    assert OneTimeCode.objects.get().used_at is None
    assert login(api, USER, user.username).status_code == 200


def test_the_same_address_in_the_other_realm_gets_no_admin_mail(
    api: APIClient, smtp: Mailbox
) -> None:
    make_user(email="shared@example.com")
    assert api.post(RESET, {"email": "shared@example.com"}, format="json").status_code == 202
    run_worker()
    assert smtp.messages == []


def test_the_login_page_links_to_the_forgotten_password_page() -> None:
    response = Client().get("/admin/login/")
    assert b'href="/admin/password-reset"' in response.content


def test_forgotten_password_pages_reset_an_admins_password(smtp: Mailbox) -> None:
    admin = make_admin()
    browser = Client()
    page = browser.get("/admin/password-reset")
    assert page.status_code == 200
    done = browser.post("/admin/password-reset", {"email": admin.email.upper()})
    unknown = browser.post("/admin/password-reset", {"email": "nobody@example.com"})
    assert done.status_code == unknown.status_code == 200
    assert done.content == unknown.content
    run_worker()
    (message,) = smtp.to(admin.email)
    link = link_in(message)
    path = link.removeprefix("https://api.example.com")
    assert path.startswith("/admin/reset-password?token=")

    # Opening the link (as a mail scanner would) spends nothing.
    assert browser.get(path).status_code == 200
    assert OneTimeCode.objects.get().used_at is None

    refused = browser.post(path, {"new_password1": "12345678", "new_password2": "12345678"})
    assert refused.status_code == 200
    assert refused.context["form"].errors
    assert OneTimeCode.objects.get().used_at is None

    complete = browser.post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert complete.status_code == 200
    assert b"Password reset complete" in complete.content
    admin.refresh_from_db()
    assert admin.check_password(NEW_PASSWORD)

    again = browser.post(
        path, {"new_password1": "another one here", "new_password2": "another one here"}
    )
    assert again.context["validlink"] is False
    admin.refresh_from_db()
    assert admin.check_password(NEW_PASSWORD)


def test_the_site_password_change_mails_a_notice_whose_page_secures_the_account(
    smtp: Mailbox, api: APIClient
) -> None:
    admin = make_admin()
    browser = Client()
    browser.force_login(admin)
    response = browser.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    run_worker()
    (notice,) = smtp.to(admin.email)
    text, _html = parts(notice)
    assert NEW_PASSWORD not in text
    path = link_in(notice).removeprefix("https://api.example.com")
    assert path.startswith("/admin/secure-account?token=")

    page = Client().get(path)
    assert page.status_code == 200
    assert page.context["validlink"] is True
    admin.refresh_from_db()
    assert admin.check_password(NEW_PASSWORD)  # a GET changes nothing

    secured = Client().post(path)
    assert secured.context["done"] is True
    admin.refresh_from_db()
    assert not admin.has_usable_password()
    run_worker()
    assert link_in(smtp.to(admin.email)[-1]).startswith(
        "https://api.example.com/admin/reset-password?token="
    )


@pytest.mark.parametrize("path", ["/admin/secure-account?token=nope", "/admin/secure-account"])
def test_a_bad_secure_account_link_changes_nothing(path: str) -> None:
    admin = make_admin()
    response = Client().post(path)
    assert response.status_code == 200
    assert response.context["validlink"] is False
    admin.refresh_from_db()
    assert admin.check_password(PASSWORD)


def test_staff_send_a_password_reset_without_seeing_the_code(
    root: Admin, smtp: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    user = make_user()
    site = Client()
    site.force_login(root)
    capture_audit(caplog)
    response = site.post(
        "/admin/accounts/user/",
        {"action": "send_password_reset", "_selected_action": [user.pk]},
        follow=True,
    )
    assert response.status_code == 200
    messages = [str(message) for message in get_messages(response.wsgi_request)]
    assert "1 mailed a reset link." in messages
    assert audit_lines(caplog) == [(root.pk, "password_reset_requested", user.pk)]
    run_worker()
    (message,) = smtp.to(user.email)
    code = code_in(message)
    assert link_in(message).startswith("https://app.example.com/reset-password?token=")
    assert code.encode() not in response.content


def test_superusers_send_a_password_reset_to_admins(root: Admin, smtp: Mailbox) -> None:
    other = make_admin()
    site = Client()
    site.force_login(root)
    site.post(
        "/admin/admins/admin/",
        {"action": "send_password_reset", "_selected_action": [other.pk]},
        follow=True,
    )
    run_worker()
    assert link_in(smtp.to(other.email)[-1]).startswith(
        "https://api.example.com/admin/reset-password?token="
    )


def test_staff_without_change_permission_cannot_send_a_reset(smtp: Mailbox) -> None:
    viewer = make_admin()
    grant(viewer, "view_user")
    user = make_user()
    site = Client()
    site.force_login(viewer)
    site.post(
        "/admin/accounts/user/",
        {"action": "send_password_reset", "_selected_action": [user.pk]},
        follow=True,
    )
    run_worker()
    assert smtp.messages == []
