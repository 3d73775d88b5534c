"""Races on the second factor against PostgreSQL: concurrent wrong codes are counted
exactly, and a TOTP code, a recovery code or an `mfa_token` used by several requests at
once lets exactly one of them in (see test_concurrency.py for the pattern)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import make_user
from accounts.tests.helpers import enable_two_factor, totp_now
from accounts.totp import STEP_SECONDS
from config.testing import login, needs_row_locking, run_together
from tokens.models import RecoveryCode, Token
from tokens.realms import USER

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_row_locking,
]

SECOND_STEP = "/api/v1/auth/login/2fa"


def codes(responses: list[Any]) -> Counter[tuple[int, str | None]]:
    """How many responses had each (status, error.code)."""
    return Counter(
        (r.status_code, r.json().get("error", {}).get("code") if r.status_code >= 400 else None)
        for r in responses
    )


@pytest.fixture(autouse=True)
def _generous_limits(settings: Any) -> None:
    settings.RATE_LIMIT_ATTEMPTS = 1000


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC), tick=False) as clock:
        yield clock


def challenges(username: str, count: int) -> list[str]:
    client = APIClient()
    return [login(client, USER, username).json()["data"]["mfa_token"] for _ in range(count)]


def second_step(client: APIClient, mfa_token: str, code: str) -> Any:
    return client.post(SECOND_STEP, {"mfa_token": mfa_token, "code": code}, format="json")


def test_concurrent_wrong_codes_are_counted_exactly_and_lock_the_account(settings, clock):
    user = make_user()
    enable_two_factor(user)
    tokens = challenges(user.username, 12)

    responses = run_together(12, lambda client, i: second_step(client, tokens[i], "000000x"))

    assert set(codes(responses)) <= {(401, "INVALID_CREDENTIALS"), (423, "ACCOUNT_LOCKED")}
    statuses = [r.status_code for r in responses]
    assert 423 in statuses
    assert statuses.count(401) <= settings.MAX_LOGIN_ATTEMPTS - 1
    user.refresh_from_db()
    assert user.failed_login_attempts == settings.MAX_LOGIN_ATTEMPTS
    assert user.locked_until == timezone.now() + timedelta(minutes=30)


def test_exactly_max_concurrent_wrong_codes_lock_the_account(settings, clock):
    user = make_user()
    enable_two_factor(user)
    tokens = challenges(user.username, settings.MAX_LOGIN_ATTEMPTS)

    run_together(len(tokens), lambda client, i: second_step(client, tokens[i], "000000x"))

    user.refresh_from_db()
    assert user.failed_login_attempts == settings.MAX_LOGIN_ATTEMPTS
    assert user.is_locked()


def test_one_totp_code_used_at_once_lets_exactly_one_login_in(clock):
    user = make_user()
    secret, _ = enable_two_factor(user)
    clock.shift(timedelta(seconds=STEP_SECONDS))
    # One fewer replays than lock the account: each replay counts as a wrong code.
    tokens = challenges(user.username, 5)
    code = totp_now(secret)

    responses = run_together(5, lambda client, i: second_step(client, tokens[i], code))

    assert codes(responses) == {(200, None): 1, (401, "INVALID_CREDENTIALS"): 4}
    assert Token.objects.for_owner(user).count() == 1


def test_one_recovery_code_used_at_once_lets_exactly_one_login_in(clock):
    user = make_user()
    _, recovery = enable_two_factor(user)
    tokens = challenges(user.username, 5)

    responses = run_together(5, lambda client, i: second_step(client, tokens[i], recovery[0]))

    assert codes(responses) == {(200, None): 1, (401, "INVALID_CREDENTIALS"): 4}
    assert RecoveryCode.objects.for_owner(user).count() == 9


def test_one_mfa_token_used_at_once_is_used_once(clock):
    user = make_user()
    _, recovery = enable_two_factor(user)
    (token,) = challenges(user.username, 1)

    responses = run_together(6, lambda client, i: second_step(client, token, recovery[i]))

    assert codes(responses) == {(200, None): 1, (401, "TOKEN_INVALID"): 5}
    # Only the winner's recovery code was used up.
    assert RecoveryCode.objects.for_owner(user).count() == 9
