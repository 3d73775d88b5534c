"""Email verification and confirmed email change in the user realm, end to end: the
registration, the worker, a real SMTP server, the link in the mail, the verification;
`EMAIL_VERIFICATION`'s three settings; and every way a verification must refuse."""

from __future__ import annotations

import importlib
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.mail import EMAIL_VERIFY, PASSWORD_RESET
from accounts.models import User
from accounts.tests.factories import make_user
from accounts.tests.mailing import (
    Mailbox,
    code_in,
    link_in,
    outbox_code,
    parts,
    run_worker,
    task_rows,
)
from admins.tests.factories import make_admin
from config.testing import (
    PASSWORD,
    assert_error,
    bearer,
    login,
    login_pair,
    needs_row_locking,
    run_together,
)
from tokens.codes import code_issue
from tokens.models import OneTimeCode, Token
from tokens.realms import USER

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
VERIFY = "/api/v1/auth/email/verify"
ME = "/api/v1/users/me"
RESEND = "/api/v1/users/me/email/verify"


@pytest.fixture(autouse=True)
def _frontend(settings: Any) -> None:
    settings.PRODUCT_NAME = "Example Accounts"
    settings.PUBLIC_URL = "https://api.example.com"
    settings.FRONTEND_URL = "https://app.example.com"
    settings.ADMIN_FRONTEND_URL = "https://staff.example.com"
    settings.RATE_LIMIT_ATTEMPTS = 100


def auth(token: str) -> Any:
    """The bearer header, as keyword arguments of the test client's methods."""
    return bearer(token)


def register(api: APIClient, username: str = "ada", email: str = "ada@example.com") -> Any:
    body = {"username": username, "name": "Ada", "email": email, "password": PASSWORD}
    return api.post(REGISTER, body, format="json")


def verify(api: APIClient, code: str) -> Any:
    return api.post(VERIFY, {"token": code}, format="json")


def change_email(api: APIClient, token: str, email: str) -> None:
    response = api.patch(ME, {"email": email}, format="json", **auth(token))
    assert response.status_code == 200, response.content


def state(user: User) -> tuple[str, bool, str | None]:
    user.refresh_from_db()
    return user.email, user.email_verified, user.pending_email


def verified_user(**fields: Any) -> User:
    return make_user(email_verified=True, **fields)


# --- Registration ------------------------------------------------------------------------


def test_registration_mails_a_link_by_smtp_that_verifies_the_address(
    api: APIClient, smtp: Mailbox
) -> None:
    response = register(api)
    assert response.status_code == 201
    data = response.json()["data"]
    assert (data["email_verified"], data["pending_email"]) == (False, None)
    assert smtp.messages == []  # the request only enqueued
    assert task_rows() == 1
    run_worker()

    (message,) = smtp.to("ada@example.com")
    assert "Example Accounts" in message["Subject"]
    text, html = parts(message)
    assert PASSWORD not in text + html
    link = link_in(message)
    assert link.startswith("https://app.example.com/verify-email?token=")
    code = code_in(message)
    user = User.objects.get(username="ada")
    assert OneTimeCode.objects.get(user=user).sent_to == "ada@example.com"

    response = verify(api, code)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["message"] == "Email verified"
    assert body["data"]["id"] == user.pk
    assert (body["data"]["email_verified"], body["data"]["pending_email"]) == (True, None)
    assert state(user) == ("ada@example.com", True, None)

    # Used: a second use is refused and changes nothing.
    before = user.updated_at
    body = assert_error(verify(api, code), 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["token"]
    user.refresh_from_db()
    assert user.updated_at == before


def test_with_none_a_registration_mails_nothing_and_logins_never_ask(
    api: APIClient, settings: Any, smtp: Mailbox
) -> None:
    settings.EMAIL_VERIFICATION = "none"
    assert register(api).status_code == 201
    assert task_rows() == 0
    run_worker()
    assert smtp.messages == []
    assert login(api, USER, "ada").status_code == 200
    assert User.objects.get(username="ada").email_verified is False


def test_with_optional_an_unverified_account_logs_in(api: APIClient, settings: Any) -> None:
    settings.EMAIL_VERIFICATION = "optional"
    assert register(api).status_code == 201
    response = login(api, USER, "ada")
    assert response.status_code == 200
    assert response.json()["data"]["user"]["email_verified"] is False


# --- Mandatory: the login refusal --------------------------------------------------------


def test_with_mandatory_a_right_password_on_an_unverified_account_is_403_and_no_session(
    api: APIClient, settings: Any, smtp: Mailbox
) -> None:
    settings.EMAIL_VERIFICATION = "mandatory"
    assert register(api).status_code == 201
    run_worker()
    user = User.objects.get(username="ada")

    body = assert_error(login(api, USER, "ada"), 403, "EMAIL_NOT_VERIFIED")
    assert "access_token" not in str(body)
    assert not Token.objects.for_owner(user).exists()
    user.refresh_from_db()
    assert user.last_login is None
    # A wrong password is still a 401: the refusal only follows a right one.
    assert_error(login(api, USER, "ada", "wrong password"), 401, "INVALID_CREDENTIALS")

    # The refusal mailed a new link (the first may be lost): it verifies, then login works.
    run_worker()
    first, second = smtp.to("ada@example.com")
    assert verify(api, code_in(first)).status_code == 400  # ended by the newer one
    assert verify(api, code_in(second)).status_code == 200
    assert login(api, USER, "ada").status_code == 200
    assert Token.objects.for_owner(user).count() == 1


def test_with_mandatory_refused_logins_mail_at_most_the_resend_limit(
    api: APIClient, settings: Any
) -> None:
    settings.EMAIL_VERIFICATION = "mandatory"
    settings.EMAIL_VERIFY_RESEND_RATE_LIMIT = "2/h"
    user = make_user()
    for _ in range(4):
        assert_error(login(api, USER, user.username), 403, "EMAIL_NOT_VERIFIED")
    assert task_rows() == 2
    assert not Token.objects.for_owner(user).exists()


def test_with_mandatory_a_verified_account_logs_in(api: APIClient, settings: Any) -> None:
    settings.EMAIL_VERIFICATION = "mandatory"
    user = verified_user()
    assert login(api, USER, user.username).status_code == 200


def test_with_mandatory_a_blocked_unverified_account_is_still_told_it_is_blocked(
    api: APIClient, settings: Any
) -> None:
    settings.EMAIL_VERIFICATION = "mandatory"
    user = make_user(is_active=False)
    assert_error(login(api, USER, user.username), 403, "ACCOUNT_INACTIVE")
    assert task_rows() == 0


# --- Codes that do not work --------------------------------------------------------------


def _unknown(user: User) -> str:
    return "x" * 43


def _expired(user: User) -> str:
    code = code_issue(account=user, purpose=EMAIL_VERIFY.purpose, sent_to=user.email)
    OneTimeCode.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    return code


def _used(user: User) -> str:
    code = code_issue(account=user, purpose=EMAIL_VERIFY.purpose, sent_to=user.email)
    OneTimeCode.objects.filter(user=user).update(used_at=timezone.now())
    return code


def _reset_code(user: User) -> str:
    return code_issue(account=user, purpose=PASSWORD_RESET.purpose, sent_to=user.email)


def _admins_code(user: User) -> str:
    admin = make_admin(email=user.email)
    return code_issue(account=admin, purpose=EMAIL_VERIFY.purpose, sent_to=admin.email)


def _too_long(user: User) -> str:
    return "x" * 129


@pytest.mark.parametrize(
    "make_code",
    [_unknown, _expired, _used, _reset_code, _admins_code, _too_long],
    ids=["unknown", "expired", "used", "other-purpose", "other-realm", "too-long"],
)
def test_a_code_that_does_not_work_is_400_and_changes_nothing(
    api: APIClient, make_code: Any
) -> None:
    user = make_user(email="ada@example.com")
    code = make_code(user)
    codes_before = list(OneTimeCode.objects.values_list("pk", "used_at"))
    body = assert_error(verify(api, code), 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["token"]
    assert state(user) == ("ada@example.com", False, None)
    assert list(OneTimeCode.objects.values_list("pk", "used_at")) == codes_before


def test_a_code_expires_after_its_lifetime(api: APIClient, settings: Any) -> None:
    user = make_user()
    code = code_issue(account=user, purpose=EMAIL_VERIFY.purpose, sent_to=user.email)
    later = timezone.now() + timedelta(hours=settings.EMAIL_VERIFY_TIMEOUT_HOURS, seconds=1)
    with time_machine.travel(later):
        assert_error(verify(api, code), 400, "VALIDATION_ERROR")
    assert state(user)[1] is False
    assert OneTimeCode.objects.get(user=user).used_at is None


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": None}, {"token": 5}])
def test_a_missing_or_malformed_token_is_400(api: APIClient, body: dict[str, Any]) -> None:
    user = make_user()
    response = api.post(VERIFY, body, format="json")
    assert list(assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]) == ["token"]
    assert state(user)[1] is False


@pytest.mark.parametrize("change", ["blocked", "deleted"])
def test_a_code_of_an_account_blocked_or_deleted_since_is_refused(
    api: APIClient, change: str
) -> None:
    user = make_user()
    code = code_issue(account=user, purpose=EMAIL_VERIFY.purpose, sent_to=user.email)
    if change == "blocked":
        User.objects.filter(pk=user.pk).update(is_active=False)
    else:
        User.objects.filter(pk=user.pk).update(deleted_at=timezone.now())
    assert_error(verify(api, code), 400, "VALIDATION_ERROR")
    assert state(user)[1] is False
    assert OneTimeCode.objects.get(user=user).used_at is None


def test_a_code_mailed_to_an_earlier_address_verifies_nothing(api: APIClient) -> None:
    user = make_user(email="old@example.com")
    code = code_issue(account=user, purpose=EMAIL_VERIFY.purpose, sent_to="old@example.com")
    # Staff changed the address since: the link went to an address the account lost.
    user.email = "new@example.com"
    user.save()
    assert_error(verify(api, code), 400, "VALIDATION_ERROR")
    assert state(user) == ("new@example.com", False, None)


def test_verification_is_throttled_per_ip(api: APIClient, settings: Any) -> None:
    settings.TOKEN_CHECK_RATE_LIMIT = "2/h"
    user = make_user()
    for _ in range(2):
        assert_error(verify(api, "x" * 43), 400, "VALIDATION_ERROR")
    code = code_issue(account=user, purpose=EMAIL_VERIFY.purpose, sent_to=user.email)
    assert_error(verify(api, code), 429, "RATE_LIMITED")
    assert state(user)[1] is False
    assert OneTimeCode.objects.get(user=user).used_at is None


@needs_row_locking
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_verifications_with_one_code_exactly_one_wins() -> None:
    user = make_user(email="ada@example.com")
    user.pending_email = "ada@new.example"
    user.save()
    code = code_issue(account=user, purpose=EMAIL_VERIFY.purpose, sent_to="ada@new.example")
    responses = run_together(2, lambda client, i: verify(client, code))
    assert sorted(response.status_code for response in responses) == [200, 400]
    assert state(user) == ("ada@new.example", True, None)
    assert set(user.identifiers.values_list("value", flat=True)) == {
        user.username,
        "ada@new.example",
    }


# --- Confirmed email change --------------------------------------------------------------


def test_email_change_mails_the_new_address_a_link_and_the_old_one_a_notice(
    api: APIClient, smtp: Mailbox
) -> None:
    user = verified_user(username="ada", email="ada@example.com")
    token = login_pair(api, USER, "ada")["access_token"]

    response = api.patch(ME, {"email": "Ada@New.example"}, format="json", **auth(token))
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["email"], data["email_verified"], data["pending_email"]) == (
        "ada@example.com",
        True,
        "Ada@New.example",
    )
    assert state(user) == ("ada@example.com", True, "Ada@New.example")
    # Until the link is used, the old address is the login and the new one is nobody's.
    assert login(api, USER, "ada@example.com").status_code == 200
    assert_error(login(api, USER, "ada@new.example"), 401, "INVALID_CREDENTIALS")
    run_worker()

    (link_mail,) = smtp.to("Ada@New.example")
    assert link_in(link_mail).startswith("https://app.example.com/verify-email?token=")
    (notice,) = smtp.to("ada@example.com")
    assert "change" in notice["Subject"]
    assert link_in(notice).startswith("https://app.example.com/secure-account?token=")
    code = code_in(link_mail)
    assert code not in "".join(parts(notice))

    response = verify(api, code)
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["email"], data["email_verified"], data["pending_email"]) == (
        "Ada@New.example",
        True,
        None,
    )
    assert state(user) == ("Ada@New.example", True, None)
    assert set(user.identifiers.values_list("value", flat=True)) == {"ada", "ada@new.example"}
    assert login(api, USER, "ADA@new.example").status_code == 200
    assert_error(login(api, USER, "ada@example.com"), 401, "INVALID_CREDENTIALS")
    # The old address is free again.
    assert register(api, "someone", "ada@example.com").status_code == 201


def test_email_change_to_a_taken_address_is_409_and_changes_nothing(api: APIClient) -> None:
    make_user(username="grace", email="grace@example.com")
    user = verified_user(username="ada", email="ada@example.com")
    token = login_pair(api, USER, "ada")["access_token"]
    response = api.patch(ME, {"email": "GRACE@example.com"}, format="json", **auth(token))
    body = assert_error(response, 409, "CONFLICT")
    assert list(body["error"]["details"]) == ["email"]
    assert state(user) == ("ada@example.com", True, None)
    assert task_rows() == 0


def test_email_change_to_another_accounts_username_is_409(api: APIClient) -> None:
    make_user(username="grace@example.com", email="g@example.com")
    user = verified_user(username="ada", email="ada@example.com")
    token = login_pair(api, USER, "ada")["access_token"]
    response = api.patch(ME, {"email": "grace@example.com"}, format="json", **auth(token))
    assert_error(response, 409, "CONFLICT")
    assert state(user) == ("ada@example.com", True, None)
    assert task_rows() == 0


def test_an_address_taken_meanwhile_is_400_at_verification_and_changes_nothing(
    api: APIClient,
) -> None:
    user = verified_user(username="ada", email="ada@example.com")
    token = login_pair(api, USER, "ada")["access_token"]
    change_email(api, token, "ada@new.example")
    code = outbox_code("ada@new.example")
    # Nothing reserved the pending address: someone registers with it meanwhile.
    assert register(api, "thief", "ADA@new.example").status_code == 201
    thief = User.objects.get(username="thief")

    body = assert_error(verify(api, code), 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["token"]
    assert "Another account uses this address" in body["error"]["details"]["token"][0]
    assert state(user) == ("ada@example.com", True, "ada@new.example")
    assert set(user.identifiers.values_list("value", flat=True)) == {"ada", "ada@example.com"}
    # The code is left unused: nothing at all changed ...
    assert OneTimeCode.objects.get(user=user, purpose=EMAIL_VERIFY.purpose).used_at is None
    # ... so once the address is free again, the same link completes the change.
    thief.email = "thief@example.com"
    thief.save()
    assert verify(api, code).status_code == 200
    assert state(user) == ("ada@new.example", True, None)


def test_a_second_change_request_replaces_the_pending_one(api: APIClient) -> None:
    user = verified_user(username="ada", email="ada@example.com")
    token = login_pair(api, USER, "ada")["access_token"]
    change_email(api, token, "first@example.com")
    first = outbox_code("first@example.com")
    change_email(api, token, "second@example.com")
    assert state(user) == ("ada@example.com", True, "second@example.com")

    # Before the worker sends the second link, the first one is still a live code, but it
    # was mailed to an address the account no longer waits for.
    assert_error(verify(api, first), 400, "VALIDATION_ERROR")
    assert state(user) == ("ada@example.com", True, "second@example.com")

    second = outbox_code("second@example.com")
    assert not OneTimeCode.objects.filter(user=user, sent_to="first@example.com").exists()
    assert verify(api, second).status_code == 200
    assert state(user) == ("second@example.com", True, None)


def test_an_old_verification_link_cannot_verify_a_newer_address(api: APIClient) -> None:
    assert register(api).status_code == 201
    registration_code = outbox_code("ada@example.com")
    user = User.objects.get(username="ada")
    token = login_pair(api, USER, "ada")["access_token"]
    change_email(api, token, "ada@new.example")

    # The registration's link verifies the address it was mailed to, and nothing else.
    assert verify(api, registration_code).status_code == 200
    assert state(user) == ("ada@example.com", True, "ada@new.example")


def test_asking_for_the_current_address_again_cancels_the_pending_change(
    api: APIClient,
) -> None:
    user = verified_user(username="ada", email="ada@example.com")
    token = login_pair(api, USER, "ada")["access_token"]
    change_email(api, token, "ada@new.example")
    code = outbox_code("ada@new.example")
    response = api.patch(ME, {"email": "ADA@example.com"}, format="json", **auth(token))
    assert response.status_code == 200
    assert response.json()["data"]["pending_email"] is None
    # The same address in another case is no change to confirm: applied, still verified.
    assert state(user) == ("ADA@example.com", True, None)
    assert_error(verify(api, code), 400, "VALIDATION_ERROR")
    assert state(user) == ("ADA@example.com", True, None)


# --- Resend ------------------------------------------------------------------------------


def test_resend_mails_a_new_link_to_the_unverified_address(api: APIClient, smtp: Mailbox) -> None:
    assert register(api).status_code == 201
    run_worker()
    token = login_pair(api, USER, "ada")["access_token"]
    response = api.post(RESEND, **auth(token))
    assert response.status_code == 202, response.content
    assert response.json() == {
        "success": True,
        "message": "A verification link is on its way",
        "data": None,
    }
    run_worker()
    first, second = smtp.to("ada@example.com")
    assert_error(verify(api, code_in(first)), 400, "VALIDATION_ERROR")
    assert verify(api, code_in(second)).status_code == 200


def test_resend_goes_to_the_pending_address(api: APIClient, smtp: Mailbox) -> None:
    user = verified_user(username="ada", email="ada@example.com")
    token = login_pair(api, USER, "ada")["access_token"]
    change_email(api, token, "ada@new.example")
    assert api.post(RESEND, **auth(token)).status_code == 202
    run_worker()
    assert len(smtp.to("ada@new.example")) == 2
    assert len(smtp.to("ada@example.com")) == 1  # the change's notice only
    assert verify(api, code_in(smtp.to("ada@new.example")[-1])).status_code == 200
    assert state(user) == ("ada@new.example", True, None)


def test_resend_with_nothing_to_verify_is_400_and_mails_nothing(api: APIClient) -> None:
    user = verified_user()
    token = login_pair(api, USER, user.username)["access_token"]
    body = assert_error(api.post(RESEND, **auth(token)), 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["email"]
    assert task_rows() == 0


def test_resend_is_throttled_per_account(api: APIClient, settings: Any) -> None:
    settings.EMAIL_VERIFY_RESEND_RATE_LIMIT = "2/h"
    user = make_user()
    token = login_pair(api, USER, user.username)["access_token"]
    for _ in range(2):
        assert api.post(RESEND, **auth(token)).status_code == 202
    assert_error(api.post(RESEND, **auth(token)), 429, "RATE_LIMITED")
    assert task_rows() == 2


def test_resend_needs_the_account(api: APIClient) -> None:
    assert_error(api.post(RESEND), 401, "NOT_AUTHENTICATED")
    assert task_rows() == 0


def test_resend_with_a_read_only_token_is_refused(api: APIClient) -> None:
    user = make_user()
    session = login_pair(api, USER, user.username)["access_token"]
    pat = api.post(
        "/api/v1/tokens", {"name": "ro", "scopes": ["read"]}, format="json", **auth(session)
    ).json()["data"]["token"]
    assert_error(api.post(RESEND, **auth(pat)), 403, "INSUFFICIENT_SCOPE")
    assert task_rows() == 0


# --- The representation and the migration ------------------------------------------------


def test_me_shows_the_verification_state_in_one_query(
    api: APIClient, django_assert_num_queries: Any
) -> None:
    user = make_user()
    token = login_pair(api, USER, user.username)["access_token"]
    with django_assert_num_queries(1):
        data = api.get(ME, **auth(token)).json()["data"]
    assert (data["email_verified"], data["pending_email"]) == (False, None)


@pytest.mark.parametrize("app", ["accounts", "admins"])
def test_the_migration_counts_every_existing_account_as_verified(app: str) -> None:
    migration = importlib.import_module(f"{app}.migrations.0005_email_verification")
    factory: Any = make_user if app == "accounts" else make_admin
    model = type(factory())
    factory()
    model.objects.update(email_verified=False)

    migration.existing_accounts_verified(apps, SimpleNamespace(connection=connection))

    assert set(model.objects.values_list("email_verified", flat=True)) == {True}
    # New accounts start unverified.
    assert factory().email_verified is False
