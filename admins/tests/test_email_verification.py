"""Email verification in the admin realm: admins made by a superuser or `createsuperuser`
count as verified; an admin's own email change waits for its link (to the admin
frontend); `mandatory` refuses an unverified admin on the API and on the admin site; and
staff change a user's address at once, unverified (the API and the admin site)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.mail import EMAIL_VERIFY
from accounts.models import User
from accounts.tests.factories import make_user
from accounts.tests.mailing import Mailbox, code_in, link_in, run_worker, task_rows
from admins.models import Admin
from admins.tests.factories import make_admin
from admins.tests.helpers import admin_token
from config.testing import PASSWORD, assert_error, bearer, login
from tokens.codes import code_issue
from tokens.models import OneTimeCode, Token
from tokens.realms import ADMIN

pytestmark = pytest.mark.django_db

VERIFY = "/api/v1/admin/auth/email/verify"
USER_VERIFY = "/api/v1/auth/email/verify"
ME = "/api/v1/admin/me"
RESEND = "/api/v1/admin/me/email/verify"
SITE_LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def _frontend(settings: Any) -> None:
    settings.FRONTEND_URL = "https://app.example.com"
    settings.ADMIN_FRONTEND_URL = "https://staff.example.com"
    settings.RATE_LIMIT_ATTEMPTS = 100


@pytest.fixture
def root() -> Admin:
    return make_admin(username="root", email="root@example.com", is_superuser=True)


def auth(token: str) -> Any:
    return bearer(token)


def state(account: Any) -> tuple[str, bool, str | None]:
    account.refresh_from_db()
    return account.email, account.email_verified, account.pending_email


# --- Admins made by a superuser count as verified ---------------------------------------


def test_an_admin_created_by_a_superuser_through_the_api_is_verified(
    api: APIClient, root: Admin
) -> None:
    body = {"username": "second", "name": "S", "email": "second@example.com"}
    response = api.post(
        "/api/v1/admin/admins",
        {**body, "password": "a long staff passphrase"},
        format="json",
        **auth(admin_token(api, root)),
    )
    assert response.status_code == 201, response.content
    assert response.json()["data"]["email_verified"] is True
    assert Admin.objects.get(username="second").email_verified is True
    assert task_rows() == 0  # no verification mail


def test_an_admin_created_on_the_admin_site_add_page_is_verified(root: Admin) -> None:
    site = Client()
    site.force_login(root)
    password = "a fresh long passphrase 42"
    response = site.post(
        "/admin/admins/admin/add/",
        {
            "username": "third",
            "name": "T",
            "email": "third@example.com",
            "phone": "",
            "password1": password,
            "password2": password,
        },
    )
    assert response.status_code == 302
    assert Admin.objects.get(username="third").email_verified is True
    assert task_rows() == 0


def test_createsuperuser_makes_a_verified_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_NAME", "Site admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long staff passphrase")
    call_command("createsuperuser", "--noinput", verbosity=0)
    assert Admin.objects.get().email_verified is True
    assert task_rows() == 0


def test_a_user_created_on_the_admin_site_is_mailed_a_link(root: Admin) -> None:
    site = Client()
    site.force_login(root)
    password = "a fresh long passphrase 42"
    response = site.post(
        "/admin/accounts/user/add/",
        {
            "username": "grace",
            "name": "G",
            "email": "grace@example.com",
            "phone": "",
            "password1": password,
            "password2": password,
        },
    )
    assert response.status_code == 302
    # Staff typed the address for someone: nobody has shown it is right yet.
    assert User.objects.get(username="grace").email_verified is False
    assert task_rows() == 1


# --- An admin's own email change -----------------------------------------------------------


def test_an_admins_email_change_links_to_the_admin_frontend(
    api: APIClient, root: Admin, smtp: Mailbox
) -> None:
    token = admin_token(api, root)
    response = api.patch(ME, {"email": "root@new.example"}, format="json", **auth(token))
    assert response.status_code == 200, response.content
    assert response.json()["data"]["pending_email"] == "root@new.example"
    assert state(root) == ("root@example.com", False, "root@new.example")
    run_worker()
    (link_mail,) = smtp.to("root@new.example")
    assert link_in(link_mail).startswith("https://staff.example.com/verify-email?token=")
    (notice,) = smtp.to("root@example.com")
    assert link_in(notice).startswith("https://staff.example.com/secure-account?token=")
    code = code_in(link_mail)

    # A code of the admin realm never works in the user realm.
    refused = api.post(USER_VERIFY, {"token": code}, format="json")
    body = assert_error(refused, 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["token"]
    assert state(root) == ("root@example.com", False, "root@new.example")

    response = api.post(VERIFY, {"token": code}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["email"], data["email_verified"], data["is_superuser"]) == (
        "root@new.example",
        True,
        True,
    )
    assert state(root) == ("root@new.example", True, None)
    assert login(api, ADMIN, "root@new.example").status_code == 200


def test_a_user_code_never_works_for_admins(api: APIClient) -> None:
    user = make_user(email="same@example.com")
    admin = make_admin(email="same@example.com")
    code = code_issue(account=user, purpose=EMAIL_VERIFY.purpose, sent_to=user.email)
    assert_error(api.post(VERIFY, {"token": code}, format="json"), 400, "VALIDATION_ERROR")
    assert state(admin) == ("same@example.com", False, None)
    assert OneTimeCode.objects.get(user=user).used_at is None


def test_an_admin_asks_for_a_new_link(api: APIClient, smtp: Mailbox) -> None:
    admin = make_admin()
    token = admin_token(api, admin)
    assert api.post(RESEND, **auth(token)).status_code == 202
    run_worker()
    (message,) = smtp.to(admin.email)
    assert api.post(VERIFY, {"token": code_in(message)}, format="json").status_code == 200
    assert state(admin)[1] is True
    body = assert_error(api.post(RESEND, **auth(token)), 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["email"]


# --- Mandatory ----------------------------------------------------------------------------


def test_with_mandatory_an_unverified_admin_gets_403_and_no_session(
    api: APIClient, settings: Any
) -> None:
    settings.EMAIL_VERIFICATION = "mandatory"
    admin = make_admin()
    assert_error(login(api, ADMIN, admin.username), 403, "EMAIL_NOT_VERIFIED")
    assert not Token.objects.for_owner(admin).exists()
    verified = make_admin(email_verified=True)
    assert login(api, ADMIN, verified.username).status_code == 200


def test_with_mandatory_the_admin_site_says_why_and_starts_no_session(settings: Any) -> None:
    settings.EMAIL_VERIFICATION = "mandatory"
    admin = make_admin(username="staffer")
    client = Client()
    response = client.post(SITE_LOGIN, {"username": "staffer", "password": PASSWORD})
    assert response.status_code == 200  # the form again, with the reason
    page = response.content.decode()
    assert "email address is not verified yet" in page
    assert "A verification link has been mailed to it" in page
    assert "_auth_user_id" not in client.session
    assert not Token.objects.for_owner(admin).exists()
    assert task_rows() == 1  # the new link

    Admin.objects.filter(pk=admin.pk).update(email_verified=True)
    response = client.post(SITE_LOGIN, {"username": "staffer", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(admin.pk)


# --- Staff change an address at once, unverified -------------------------------------------


def test_staff_change_a_users_email_at_once_unverified(api: APIClient, root: Admin) -> None:
    user = make_user(email="ada@example.com", email_verified=True, pending_email="ada@x.example")
    response = api.patch(
        f"/api/v1/admin/users/{user.pk}",
        {"email": "ada@new.example"},
        format="json",
        **auth(admin_token(api, root)),
    )
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["email"], data["email_verified"], data["pending_email"]) == (
        "ada@new.example",
        False,
        None,
    )
    assert state(user) == ("ada@new.example", False, None)
    assert set(user.identifiers.values_list("value", flat=True)) == {
        user.username,
        "ada@new.example",
    }
    assert task_rows() == 0


def test_staff_change_of_a_users_other_fields_keeps_the_verification(
    api: APIClient, root: Admin
) -> None:
    user = make_user(email="ada@example.com", email_verified=True)
    response = api.patch(
        f"/api/v1/admin/users/{user.pk}",
        {"name": "Ada L.", "email": "ada@example.com"},
        format="json",
        **auth(admin_token(api, root)),
    )
    assert response.status_code == 200
    assert state(user) == ("ada@example.com", True, None)


def test_the_admin_site_change_form_applies_an_email_at_once_unverified(root: Admin) -> None:
    user = make_user(username="ada", email="ada@example.com", email_verified=True)
    site = Client()
    site.force_login(root)
    page = site.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Email verified" in page
    assert "Pending email" in page
    response = site.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {"username": "ada", "name": user.name, "email": "ada@new.example", "phone": ""},
    )
    assert response.status_code == 302
    assert state(user) == ("ada@new.example", False, None)

    # Another field alone keeps the address verified.
    User.objects.filter(pk=user.pk).update(email_verified=True)
    site.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {"username": "ada", "name": "Ada L.", "email": "ada@new.example", "phone": ""},
    )
    assert state(user) == ("ada@new.example", True, None)
