"""The second factor through the HTTP API, in both realms: enrolment, confirmation, the
two-step login (TOTP and recovery codes, replay, lockout, the `mfa_token`), regeneration
and disable (API.md, "Two-factor authentication")."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AbstractAccount
from accounts.tests.factories import make_user
from accounts.tests.helpers import enable_two_factor, totp_now
from accounts.totp import STEP_SECONDS, code_at, secret_decrypt, time_step
from admins.tests.factories import make_admin
from config.testing import PASSWORD, assert_error, bearer
from tokens.models import AuthEvent, MfaChallenge, RecoveryCode, Token
from tokens.realms import ADMIN, USER, Realm

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Side:
    """One realm's accounts and URLs."""

    realm: Realm
    make: Callable[..., Any]
    password: str
    auth: str
    me: str


SIDES = [
    Side(USER, make_user, PASSWORD, "/api/v1/auth", "/api/v1/users/me"),
    Side(ADMIN, make_admin, PASSWORD, "/api/v1/admin/auth", "/api/v1/admin/me"),
]


@pytest.fixture(params=SIDES, ids=lambda side: side.realm.name)
def side(request: pytest.FixtureRequest) -> Side:
    side: Side = request.param
    return side


@pytest.fixture(autouse=True)
def _generous_limits(settings: Any) -> None:
    """These tests log in many times from one address; the limits have their own tests."""
    settings.RATE_LIMIT_ATTEMPTS = 1000


@pytest.fixture
def clock() -> Iterator[Any]:
    """A stopped clock, one second into a TOTP step; `clock.shift(...)` moves it."""
    with time_machine.travel(datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC), tick=False) as clock:
        yield clock


def next_step(clock: Any) -> None:
    clock.shift(timedelta(seconds=STEP_SECONDS))


def login(api: Any, side: Side, account: Any, password: str | None = None) -> Any:
    return api.post(
        f"{side.auth}/login",
        {"username": account.username, "password": password or side.password},
        format="json",
    )


def challenge(api: Any, side: Side, account: Any) -> str:
    response = login(api, side, account)
    assert response.status_code == 200, response.content
    token: str = response.json()["data"]["mfa_token"]
    return token


def second_step(api: Any, side: Side, mfa_token: str, code: str) -> Any:
    return api.post(f"{side.auth}/login/2fa", {"mfa_token": mfa_token, "code": code}, format="json")


def access(api: Any, side: Side, account: Any) -> str:
    response = login(api, side, account)
    assert response.status_code == 200, response.content
    token: str = response.json()["data"]["access_token"]
    return token


def enrol(api: Any, side: Side, token: str, password: str | None = None) -> Any:
    return api.post(
        f"{side.me}/2fa/totp",
        {"password": password or side.password},
        format="json",
        **bearer(token),
    )


def confirm(api: Any, side: Side, token: str, code: str) -> Any:
    return api.post(f"{side.me}/2fa/totp/confirm", {"code": code}, format="json", **bearer(token))


def state(account: AbstractAccount) -> tuple[Any, ...]:
    """The stored second-factor and lockout state of an account, re-read."""
    account.refresh_from_db()
    return (
        account.two_factor_enabled,
        account.totp_secret,
        account.totp_last_step,
        account.failed_login_attempts,
        account.locked_until,
        RecoveryCode.objects.for_owner(account).count(),
    )


def enabled(side: Side) -> tuple[Any, str, list[str]]:
    account = side.make()
    secret, codes = enable_two_factor(account, side.password)
    return account, secret, codes


# --- Enrolment and confirmation ------------------------------------------------------


def test_enrolment_answers_a_secret_and_its_uri_not_active_until_confirmed(api, side):
    account = side.make(username="ada")
    token = access(api, side, account)

    response = enrol(api, side, token)

    assert response.status_code == 200, response.content
    assert response["Cache-Control"].startswith("no-store")
    data = response.json()["data"]
    assert set(data) == {"secret", "otpauth_uri"}
    assert data["otpauth_uri"].startswith("otpauth://totp/Account%20service:ada?")
    assert f"secret={data['secret']}" in data["otpauth_uri"]
    assert "issuer=Account%20service" in data["otpauth_uri"]
    me = api.get(side.me, **bearer(token)).json()["data"]
    assert me["two_factor_enabled"] is False
    # Not active yet: the password alone still logs in.
    assert "access_token" in login(api, side, account).json()["data"]


def test_the_issuer_is_the_product_name(api, side, settings):
    settings.PRODUCT_NAME = "Acme Accounts"
    token = access(api, side, side.make())

    uri = enrol(api, side, token).json()["data"]["otpauth_uri"]

    assert "issuer=Acme%20Accounts" in uri


def test_enrolment_with_a_wrong_password_is_400_naming_password_and_writes_nothing(api, side):
    account = side.make()
    token = access(api, side, account)
    before = state(account)

    response = enrol(api, side, token, password="not the password")

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"password"}
    assert state(account) == before


@pytest.mark.parametrize("body", [{}, {"password": ""}, {"password": 12}, {"password": None}])
def test_enrolment_with_a_malformed_body_is_400_and_writes_nothing(api, side, body):
    account = side.make()
    token = access(api, side, account)
    before = state(account)

    response = api.post(f"{side.me}/2fa/totp", body, format="json", **bearer(token))

    assert_error(response, 400, "VALIDATION_ERROR")
    assert state(account) == before


def test_enrolment_is_throttled_like_the_password_checks(api, side, settings):
    token = access(api, side, side.make())
    settings.RATE_LIMIT_ATTEMPTS = 2
    for _ in range(2):
        enrol(api, side, token, password="wrong")

    assert_error(enrol(api, side, token), 429, "RATE_LIMITED")


def test_enrolment_needs_a_login_session(api, side):
    account = side.make()
    session = access(api, side, account)
    created = api.post(
        "/api/v1/tokens",
        {"name": "ci", "scopes": ["read", "write"]},
        format="json",
        **bearer(session),
    )
    personal = created.json()["data"]["token"]

    assert_error(enrol(api, side, personal), 403, "INSUFFICIENT_SCOPE")
    assert state(account)[1] == ""


def test_enrolment_needs_a_token(api, side):
    assert_error(
        api.post(f"{side.me}/2fa/totp", {"password": "x"}, format="json"), 401, "NOT_AUTHENTICATED"
    )


def test_the_stored_secret_is_encrypted_never_the_plain_base32(api, side):
    account = side.make()
    token = access(api, side, account)

    secret = enrol(api, side, token).json()["data"]["secret"]

    stored = type(account).objects.values_list("totp_secret", flat=True).get(pk=account.pk)
    assert stored
    assert secret not in stored
    assert secret.lower() not in stored.lower()
    assert secret_decrypt(stored) == secret


def test_enrolling_again_replaces_the_unconfirmed_secret(api, side, clock):
    account = side.make()
    token = access(api, side, account)
    first = enrol(api, side, token).json()["data"]["secret"]

    second = enrol(api, side, token).json()["data"]["secret"]

    assert second != first
    # The first secret's code no longer confirms (unless both agree by chance).
    if totp_now(first) != totp_now(second):
        assert_error(confirm(api, side, token, totp_now(first)), 400, "VALIDATION_ERROR")
    assert confirm(api, side, token, totp_now(second)).status_code == 200


def test_confirmation_turns_the_second_factor_on_with_ten_recovery_codes(api, side, clock):
    account = side.make()
    token = access(api, side, account)
    secret = enrol(api, side, token).json()["data"]["secret"]

    response = confirm(api, side, token, totp_now(secret))

    assert response.status_code == 200, response.content
    assert response["Cache-Control"].startswith("no-store")
    codes = response.json()["data"]["recovery_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert api.get(side.me, **bearer(token)).json()["data"]["two_factor_enabled"] is True
    # Only digests are stored.
    stored = set(RecoveryCode.objects.for_owner(account).values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not stored & set(codes)
    assert not any(code.replace("-", "") in digest for code in codes for digest in stored)


def test_confirmation_with_a_wrong_code_is_400_naming_code_and_writes_nothing(api, side, clock):
    account = side.make()
    token = access(api, side, account)
    secret = enrol(api, side, token).json()["data"]["secret"]
    wrong = f"{(int(totp_now(secret)) + 1) % 1_000_000:06d}"
    before = state(account)

    response = confirm(api, side, token, wrong)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"code"}
    assert state(account) == before


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": 123456}, {"code": "x" * 65}])
def test_confirmation_with_a_malformed_body_is_400_and_writes_nothing(api, side, body):
    account = side.make()
    token = access(api, side, account)
    enrol(api, side, token)
    before = state(account)

    response = api.post(f"{side.me}/2fa/totp/confirm", body, format="json", **bearer(token))

    assert_error(response, 400, "VALIDATION_ERROR")
    assert state(account) == before


def test_confirmation_without_an_enrolment_is_400_and_writes_nothing(api, side):
    account = side.make()
    token = access(api, side, account)
    before = state(account)

    body = assert_error(confirm(api, side, token, "123456"), 400, "VALIDATION_ERROR")

    assert set(body["error"]["details"]) == {"code"}
    assert state(account) == before


def test_enrolment_and_confirmation_are_refused_while_the_second_factor_is_on(api, side, clock):
    account = side.make()
    token = access(api, side, account)
    enable_two_factor(account, side.password)
    before = state(account)

    assert_error(enrol(api, side, token), 400, "VALIDATION_ERROR")
    assert_error(confirm(api, side, token, "123456"), 400, "VALIDATION_ERROR")
    assert state(account) == before


# --- The two-step login --------------------------------------------------------------


def test_a_right_password_answers_a_challenge_and_starts_no_session(api, side, clock):
    account, _, _ = enabled(side)
    before = state(account)

    response = login(api, side, account)

    assert response.status_code == 200, response.content
    assert response["Cache-Control"].startswith("no-store")
    data = response.json()["data"]
    assert set(data) == {"mfa_required", "mfa_token", "expires_in"}
    assert data["mfa_required"] is True
    assert data["expires_in"] == 300
    assert not Token.objects.for_owner(account).exists()
    # Only the digest of the mfa_token is stored.
    assert not MfaChallenge.objects.filter(token_hash=data["mfa_token"]).exists()
    assert MfaChallenge.objects.for_owner(account).count() == 1
    assert state(account) == before


def test_the_challenge_lifetime_comes_from_the_setting(api, side, clock, settings):
    settings.MFA_TOKEN_TTL_SECONDS = 60
    account, _, _ = enabled(side)

    assert login(api, side, account).json()["data"]["expires_in"] == 60


def test_a_wrong_password_on_an_account_with_a_second_factor_is_still_401(api, side, clock):
    account, _, _ = enabled(side)

    assert_error(login(api, side, account, "wrong"), 401, "INVALID_CREDENTIALS")
    assert not MfaChallenge.objects.exists()


def test_a_totp_code_completes_the_login_with_the_token_pair_and_the_account(api, side, clock):
    account, secret, _ = enabled(side)
    mfa_token = challenge(api, side, account)
    next_step(clock)

    response = second_step(api, side, mfa_token, totp_now(secret))

    assert response.status_code == 200, response.content
    assert response["Cache-Control"].startswith("no-store")
    data = response.json()["data"]
    assert set(data) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        side.realm.name,
    }
    assert data[side.realm.name]["id"] == account.pk
    assert data[side.realm.name]["two_factor_enabled"] is True
    me = api.get(side.me, **bearer(data["access_token"]))
    assert me.status_code == 200
    account.refresh_from_db()
    assert account.last_login == timezone.now()
    assert not MfaChallenge.objects.exists()


def test_a_code_of_the_neighbouring_step_is_accepted(api, side, clock):
    account, secret, _ = enabled(side)
    next_step(clock)
    next_step(clock)
    mfa_token = challenge(api, side, account)
    # A phone one step behind.
    code = code_at(secret=secret, step=time_step(timezone.now()) - 1)

    assert second_step(api, side, mfa_token, code).status_code == 200


def test_a_code_two_steps_old_is_refused(api, side, clock):
    account, secret, _ = enabled(side)
    code = code_at(secret=secret, step=time_step(timezone.now()) + 1)
    for _ in range(3):
        next_step(clock)
    mfa_token = challenge(api, side, account)

    assert_error(second_step(api, side, mfa_token, code), 401, "INVALID_CREDENTIALS")


def test_an_accepted_code_is_never_accepted_again(api, side, clock):
    account, secret, _ = enabled(side)
    next_step(clock)
    code = totp_now(secret)
    assert second_step(api, side, challenge(api, side, account), code).status_code == 200

    replay = second_step(api, side, challenge(api, side, account), code)

    assert_error(replay, 401, "INVALID_CREDENTIALS")
    account.refresh_from_db()
    assert account.failed_login_attempts == 1


def test_a_code_of_an_earlier_step_than_the_accepted_one_is_refused(api, side, clock):
    account, secret, _ = enabled(side)
    next_step(clock)
    next_step(clock)
    previous = code_at(secret=secret, step=time_step(timezone.now()) - 1)
    assert (
        second_step(api, side, challenge(api, side, account), totp_now(secret)).status_code == 200
    )

    response = second_step(api, side, challenge(api, side, account), previous)

    assert_error(response, 401, "INVALID_CREDENTIALS")


def test_the_confirming_code_cannot_be_replayed_at_login(api, side, clock):
    account, secret, _ = enabled(side)

    response = second_step(api, side, challenge(api, side, account), totp_now(secret))

    assert_error(response, 401, "INVALID_CREDENTIALS")


def test_a_recovery_code_completes_the_login_once(api, side, clock):
    account, _, codes = enabled(side)

    first = second_step(api, side, challenge(api, side, account), codes[0].upper())

    assert first.status_code == 200, first.content
    assert RecoveryCode.objects.for_owner(account).count() == 9
    again = second_step(api, side, challenge(api, side, account), codes[0])
    assert_error(again, 401, "INVALID_CREDENTIALS")
    assert RecoveryCode.objects.for_owner(account).count() == 9
    # Another unused one still works, typed without its hyphens.
    other = second_step(api, side, challenge(api, side, account), codes[1].replace("-", ""))
    assert other.status_code == 200


def test_another_accounts_recovery_code_is_refused(api, side, clock):
    account, _, _ = enabled(side)
    _, _, others = enabled(side)

    response = second_step(api, side, challenge(api, side, account), others[0])

    assert_error(response, 401, "INVALID_CREDENTIALS")
    assert RecoveryCode.objects.count() == 20


def test_wrong_codes_count_towards_the_lockout_and_the_fifth_locks(api, side, clock, settings):
    account, secret, _ = enabled(side)
    next_step(clock)
    wrong = f"{(int(totp_now(secret)) + 5) % 1_000_000:06d}"
    for attempt in range(1, settings.MAX_LOGIN_ATTEMPTS):
        response = second_step(api, side, challenge(api, side, account), wrong)
        assert_error(response, 401, "INVALID_CREDENTIALS")
        account.refresh_from_db()
        # The right password before each code does not clear the count.
        assert account.failed_login_attempts == attempt

    last = second_step(api, side, challenge(api, side, account), "not-a-recovery-code")

    body = assert_error(last, 423, "ACCOUNT_LOCKED")
    assert body["error"]["details"]["retry_after"] == 30 * 60
    account.refresh_from_db()
    assert account.failed_login_attempts == settings.MAX_LOGIN_ATTEMPTS
    assert account.locked_until == timezone.now() + timedelta(minutes=30)
    assert_error(login(api, side, account), 423, "ACCOUNT_LOCKED")


def test_a_locked_accounts_right_code_is_423(api, side, clock, settings):
    account, secret, _ = enabled(side)
    pending = challenge(api, side, account)
    for _ in range(settings.MAX_LOGIN_ATTEMPTS):
        login(api, side, account, "wrong password")
    next_step(clock)
    before = state(account)

    response = second_step(api, side, pending, totp_now(secret))

    assert_error(response, 423, "ACCOUNT_LOCKED")
    # The code was not used up, and the lock was not extended.
    assert state(account) == before
    assert not Token.objects.for_owner(account).exists()


def test_a_completed_second_step_clears_the_failure_count(api, side, clock):
    account, secret, _ = enabled(side)
    second_step(api, side, challenge(api, side, account), "000000-wrong")
    next_step(clock)

    assert (
        second_step(api, side, challenge(api, side, account), totp_now(secret)).status_code == 200
    )

    account.refresh_from_db()
    assert account.failed_login_attempts == 0


# --- The mfa_token -------------------------------------------------------------------


def test_a_used_mfa_token_is_token_invalid(api, side, clock):
    account, secret, _ = enabled(side)
    mfa_token = challenge(api, side, account)
    next_step(clock)
    assert second_step(api, side, mfa_token, totp_now(secret)).status_code == 200
    next_step(clock)
    before = state(account)

    response = second_step(api, side, mfa_token, totp_now(secret))

    assert_error(response, 401, "TOKEN_INVALID")
    assert response["WWW-Authenticate"] == "Bearer"
    assert state(account) == before


def test_a_wrong_code_uses_the_challenge_up(api, side, clock):
    account, secret, _ = enabled(side)
    mfa_token = challenge(api, side, account)
    next_step(clock)
    assert_error(second_step(api, side, mfa_token, "999999x"), 401, "INVALID_CREDENTIALS")

    response = second_step(api, side, mfa_token, totp_now(secret))

    assert_error(response, 401, "TOKEN_INVALID")
    account.refresh_from_db()
    assert account.failed_login_attempts == 1
    assert account.totp_last_step != time_step(timezone.now())


def test_an_expired_mfa_token_is_token_invalid(api, side, clock):
    account, secret, _ = enabled(side)
    mfa_token = challenge(api, side, account)
    clock.shift(timedelta(seconds=300))
    before = state(account)

    response = second_step(api, side, mfa_token, totp_now(secret))

    assert_error(response, 401, "TOKEN_INVALID")
    assert state(account) == before
    assert not Token.objects.for_owner(account).exists()


def test_an_mfa_token_just_before_its_expiry_still_works(api, side, clock):
    account, secret, _ = enabled(side)
    mfa_token = challenge(api, side, account)
    clock.shift(timedelta(seconds=299))

    assert second_step(api, side, mfa_token, totp_now(secret)).status_code == 200


def test_an_mfa_token_of_the_other_realm_is_token_invalid(api, side, clock):
    account, secret, _ = enabled(side)
    mfa_token = challenge(api, side, account)
    other = next(s for s in SIDES if s.realm is not side.realm)
    next_step(clock)
    before = state(account)

    response = second_step(api, other, mfa_token, totp_now(secret))

    assert_error(response, 401, "TOKEN_INVALID")
    assert state(account) == before
    # Refused in the other realm, it still works in its own.
    assert second_step(api, side, mfa_token, totp_now(secret)).status_code == 200


@pytest.mark.parametrize("mfa_token", ["mfa_made-up", "x", "Bearer abc", "mfa_" + "A" * 43])
def test_a_made_up_mfa_token_is_token_invalid(api, side, clock, mfa_token):
    account, secret, _ = enabled(side)
    challenge(api, side, account)
    next_step(clock)
    before = state(account)

    response = second_step(api, side, mfa_token, totp_now(secret))

    assert_error(response, 401, "TOKEN_INVALID")
    assert state(account) == before
    assert MfaChallenge.objects.count() == 1


def test_the_challenge_of_an_account_blocked_meanwhile_is_token_invalid(api, side, clock):
    account, secret, _ = enabled(side)
    mfa_token = challenge(api, side, account)
    type(account).objects.filter(pk=account.pk).update(is_active=False)
    next_step(clock)

    assert_error(second_step(api, side, mfa_token, totp_now(secret)), 401, "TOKEN_INVALID")
    assert not Token.objects.for_owner(account).exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"mfa_token": "mfa_x"},
        {"code": "123456"},
        {"mfa_token": "", "code": "123456"},
        {"mfa_token": "mfa_x", "code": ""},
        {"mfa_token": ["mfa_x"], "code": "123456"},
        {"mfa_token": "mfa_x", "code": 123456},
        {"mfa_token": "m" * 129, "code": "123456"},
    ],
)
def test_a_malformed_second_step_is_400_and_uses_nothing_up(api, side, clock, body):
    account, _, _ = enabled(side)
    challenge(api, side, account)
    before = state(account)

    response = api.post(f"{side.auth}/login/2fa", body, format="json")

    assert_error(response, 400, "VALIDATION_ERROR")
    assert state(account) == before
    assert MfaChallenge.objects.count() == 1


def test_the_second_step_is_rate_limited_per_address_in_a_group_of_its_own(api, side, settings):
    settings.RATE_LIMIT_ATTEMPTS = 2
    for _ in range(2):
        assert_error(second_step(api, side, "mfa_nope", "123456"), 401, "TOKEN_INVALID")

    response = second_step(api, side, "mfa_nope", "123456")

    body = assert_error(response, 429, "RATE_LIMITED")
    assert int(response["Retry-After"]) == body["error"]["details"]["retry_after"]
    # The login's own limit is untouched.
    assert login(api, side, side.make()).status_code == 200


def test_every_outcome_is_logged_without_a_code_or_token(api, side, clock, caplog):
    account, secret, codes = enabled(side)
    next_step(clock)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="accounts.auth"):
        wrong_token = challenge(api, side, account)
        second_step(api, side, wrong_token, "000000x")
        second_step(api, side, wrong_token, totp_now(secret))
        right_token = challenge(api, side, account)
        second_step(api, side, right_token, codes[0])

    records = [r for r in caplog.records if r.name == "accounts.auth"]
    events = [r.__dict__["event"] for r in records]
    assert events == [
        "mfa_challenge_issued",
        "mfa_challenge_failed",
        "mfa_token_invalid",
        "mfa_challenge_issued",
        "recovery_code_used",
        "login_succeeded",
    ]
    assert {r.__dict__["realm"] for r in records} == {side.realm.name}
    # A used-up challenge is gone, and with it what account it was for.
    assert [r.__dict__["account_id"] for r in records] == [account.pk] * 2 + [None] + [
        account.pk
    ] * 3
    assert records[-1].__dict__["details"]["second_factor"] == "recovery_code"
    for record in records:
        text = record.getMessage() + repr(record.__dict__)
        for secret_text in (wrong_token, right_token, codes[0], secret, totp_now(secret)):
            assert secret_text not in text


# --- Regeneration and disable --------------------------------------------------------


def regenerate(api: Any, side: Side, token: str, code: Any) -> Any:
    return api.post(f"{side.me}/2fa/recovery-codes", {"code": code}, format="json", **bearer(token))


def disable(api: Any, side: Side, token: str, code: Any, password: Any = None) -> Any:
    body = {"password": side.password if password is None else password, "code": code}
    return api.delete(f"{side.me}/2fa", body, format="json", **bearer(token))


def signed_in(api: Any, side: Side, clock: Any) -> tuple[Any, str, list[str], str]:
    """An account with a second factor, its secret, recovery codes and an access token."""
    account = side.make()
    token = access(api, side, account)
    secret, codes = enable_two_factor(account, side.password)
    next_step(clock)
    return account, secret, codes, token


def test_regeneration_answers_ten_new_codes_and_ends_the_old_ones(api, side, clock):
    account, secret, old, token = signed_in(api, side, clock)

    response = regenerate(api, side, token, totp_now(secret))

    assert response.status_code == 200, response.content
    new = response.json()["data"]["recovery_codes"]
    assert len(new) == 10
    assert not set(new) & set(old)
    assert RecoveryCode.objects.for_owner(account).count() == 10
    assert_error(
        second_step(api, side, challenge(api, side, account), old[0]), 401, "INVALID_CREDENTIALS"
    )
    assert second_step(api, side, challenge(api, side, account), new[0]).status_code == 200


@pytest.mark.parametrize("which", ["wrong", "recovery", "replayed"])
def test_regeneration_without_a_current_totp_code_is_400_naming_code(api, side, clock, which):
    account, secret, codes, token = signed_in(api, side, clock)
    regenerate(api, side, token, totp_now(secret)) if which == "replayed" else None
    code = {
        "wrong": f"{(int(totp_now(secret)) + 3) % 1_000_000:06d}",
        "recovery": codes[0],
        "replayed": totp_now(secret),
    }[which]
    hashes = set(RecoveryCode.objects.for_owner(account).values_list("code_hash", flat=True))
    before = state(account)

    body = assert_error(regenerate(api, side, token, code), 400, "VALIDATION_ERROR")

    assert set(body["error"]["details"]) == {"code"}
    assert state(account) == before
    assert (
        set(RecoveryCode.objects.for_owner(account).values_list("code_hash", flat=True)) == hashes
    )


def test_regeneration_without_a_second_factor_is_400(api, side):
    account = side.make()
    token = access(api, side, account)

    body = assert_error(regenerate(api, side, token, "123456"), 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"code"}
    assert not RecoveryCode.objects.exists()


def test_disable_turns_the_second_factor_off(api, side, clock):
    account, secret, _, token = signed_in(api, side, clock)
    pending = challenge(api, side, account)

    response = disable(api, side, token, totp_now(secret))

    assert response.status_code == 200, response.content
    account.refresh_from_db()
    assert (account.two_factor_enabled, account.totp_secret, account.totp_last_step) == (
        False,
        "",
        None,
    )
    assert not RecoveryCode.objects.for_owner(account).exists()
    assert api.get(side.me, **bearer(token)).json()["data"]["two_factor_enabled"] is False
    assert "access_token" in login(api, side, account).json()["data"]
    # A challenge issued before is gone with it.
    assert_error(second_step(api, side, pending, "123456"), 401, "TOKEN_INVALID")


def test_disable_accepts_a_recovery_code(api, side, clock):
    account, _, codes, token = signed_in(api, side, clock)

    assert disable(api, side, token, codes[3]).status_code == 200

    account.refresh_from_db()
    assert account.two_factor_enabled is False


@pytest.mark.parametrize("wrong", ["password", "code"])
def test_disable_with_a_wrong_password_or_code_is_400_naming_it(api, side, clock, wrong):
    account, secret, _, token = signed_in(api, side, clock)
    before = state(account)
    code = "12345x" if wrong == "code" else totp_now(secret)

    response = disable(api, side, token, code, password="nope" if wrong == "password" else None)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {wrong}
    assert state(account) == before


@pytest.mark.parametrize(
    "body", [{}, {"password": "x"}, {"code": "123456"}, {"password": 1, "code": []}]
)
def test_disable_with_a_malformed_body_is_400_and_writes_nothing(api, side, clock, body):
    account, _, _, token = signed_in(api, side, clock)
    before = state(account)

    response = api.delete(f"{side.me}/2fa", body, format="json", **bearer(token))

    assert_error(response, 400, "VALIDATION_ERROR")
    assert state(account) == before


def test_disable_without_a_second_factor_is_400(api, side):
    account = side.make()
    token = access(api, side, account)

    assert_error(disable(api, side, token, "123456"), 400, "VALIDATION_ERROR")


def test_code_checks_are_throttled_per_account(api, side, clock, settings):
    _, secret, _, token = signed_in(api, side, clock)
    settings.RATE_LIMIT_ATTEMPTS = 2
    for _ in range(2):
        regenerate(api, side, token, "000000x")

    assert_error(regenerate(api, side, token, totp_now(secret)), 429, "RATE_LIMITED")
    # From another address too: the per-account limit holds.
    response = api.post(
        f"{side.me}/2fa/recovery-codes",
        {"code": totp_now(secret)},
        format="json",
        REMOTE_ADDR="198.51.100.7",
        **bearer(token),
    )
    assert_error(response, 429, "RATE_LIMITED")


def test_the_account_representation_shows_two_factor_enabled(api, side, clock):
    _, _, _, token = signed_in(api, side, clock)

    assert api.get(side.me, **bearer(token)).json()["data"]["two_factor_enabled"] is True


# --- The OpenAPI document, and an unreadable secret ----------------------------------


def _component(document: dict[str, Any], ref: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return schema


def test_the_schema_describes_both_login_outcomes_as_one_object(api, side):
    document = api.get("/api/schema?format=json").json()
    response = document["paths"][f"{side.auth}/login"]["post"]["responses"]["200"]
    envelope = _component(document, response["content"]["application/json"]["schema"]["$ref"])

    login_response = _component(document, envelope["properties"]["data"]["$ref"])

    properties = login_response["properties"]
    assert {"mfa_required", "mfa_token", "expires_in", "access_token", "refresh_token"} <= set(
        properties
    )
    assert side.realm.name in properties
    # Only what both outcomes have is required.
    assert login_response["required"] == ["expires_in"]
    assert properties["mfa_required"]["type"] == "boolean"


def test_the_schema_describes_the_second_step_and_the_enrolment(api, side):
    paths = api.get("/api/schema?format=json").json()["paths"]

    assert "post" in paths[f"{side.auth}/login/2fa"]
    assert "delete" in paths[f"{side.me}/2fa"]
    for tail in ("totp", "totp/confirm", "recovery-codes"):
        assert "post" in paths[f"{side.me}/2fa/{tail}"], tail


def test_a_secret_no_key_decrypts_is_503_and_counts_nothing(api, side, clock, settings):
    account, secret, _ = enabled(side)
    mfa_token = challenge(api, side, account)
    settings.SECRET_KEY = "a different secret key, long enough to sign"
    next_step(clock)
    before = state(account)

    response = second_step(api, side, mfa_token, totp_now(secret))

    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert state(account) == before


# --- The security log ----------------------------------------------------------------


def test_each_change_to_the_second_factor_is_recorded_with_the_clients_address_and_agent(
    side, clock
):
    agent = "Phone/2.1 (2fa-test)"
    api: Any = APIClient(HTTP_USER_AGENT=agent, REMOTE_ADDR="198.51.100.7")
    account = side.make(username="ada")
    token = access(api, side, account)
    secret = enrol(api, side, token).json()["data"]["secret"]
    assert confirm(api, side, token, totp_now(secret)).status_code == 200
    next_step(clock)
    response = api.post(
        f"{side.me}/2fa/recovery-codes", {"code": totp_now(secret)}, format="json", **bearer(token)
    )
    assert response.status_code == 200
    next_step(clock)
    body = {"password": side.password, "code": totp_now(secret)}
    assert api.delete(f"{side.me}/2fa", body, format="json", **bearer(token)).status_code == 200

    changes = AuthEvent.objects.filter(
        event__in=["two_factor_enabled", "recovery_codes_regenerated", "two_factor_disabled"]
    ).order_by("id")
    assert [(e.event, e.realm, e.account_id, e.ip, e.user_agent) for e in changes] == [
        (event, side.realm.name, account.pk, "198.51.100.7", agent)
        for event in ("two_factor_enabled", "recovery_codes_regenerated", "two_factor_disabled")
    ]
