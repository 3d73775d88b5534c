"""Races against the real database: simultaneous requests, each on its own connection.

The contract promises exact answers under concurrency (an exact failure count, one winner
among duplicate registrations or refreshes). These tests start the requests together
behind a barrier, each thread with its own client and its own database connection.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import make_user
from accounts.tests.helpers import login, login_pair, run_together
from tokens.tests.helpers import claims, session_of

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises every write; the races need PostgreSQL's row locking",
    ),
]

PASSWORD = "a sturdy passphrase 42"


def codes(responses: list[Any]) -> Counter[tuple[int, str | None]]:
    """How many responses had each (status, error.code)."""
    return Counter(
        (r.status_code, r.json().get("error", {}).get("code") if r.status_code >= 400 else None)
        for r in responses
    )


def test_concurrent_wrong_passwords_are_counted_exactly_and_lock_the_account(settings):
    settings.RATE_LIMIT_ATTEMPTS = 1000
    user = make_user()

    responses = run_together(20, lambda client, _: login(client, user.username, "wrong password"))

    statuses = [r.status_code for r in responses]
    assert set(codes(responses)) <= {(401, "INVALID_CREDENTIALS"), (423, "ACCOUNT_LOCKED")}
    user.refresh_from_db()
    assert user.failed_login_attempts == settings.MAX_LOGIN_ATTEMPTS
    assert user.locked_until is not None
    assert user.locked_until > timezone.now()
    assert 423 in statuses
    # At most MAX - 1 answers are 401, not exactly: a failure counted before the lock
    # may read the row back after the locking failure committed, and then answers 423.
    assert statuses.count(401) <= settings.MAX_LOGIN_ATTEMPTS - 1
    # Locked means locked: the right password is refused too.
    assert login(APIClient(), user.username).status_code == 423


def test_concurrent_registrations_of_one_username_make_one_account(settings):
    settings.REGISTER_RATE_LIMIT = "1000/h"

    def register(client: APIClient, index: int) -> Any:
        body = {
            "username": "racer",
            "name": "Racer",
            "email": f"racer{index}@example.com",
            "password": PASSWORD,
        }
        return client.post("/api/v1/auth/register", body, format="json")

    responses = run_together(10, register)

    assert codes(responses) == {(201, None): 1, (409, "CONFLICT"): 9}
    for response in responses:
        if response.status_code == 409:
            assert list(response.json()["error"]["details"]) == ["username"]
    assert User.objects.filter(username__iexact="racer").count() == 1


def test_concurrent_refreshes_with_one_token_have_one_winner():
    user = make_user()
    pair = login_pair(APIClient(), user.username)

    responses = run_together(
        10,
        lambda client, _: client.post(
            "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json"
        ),
    )

    assert codes(responses) == {(200, None): 1, (401, "TOKEN_INVALID"): 9}
    (winner,) = (r.json()["data"] for r in responses if r.status_code == 200)
    # Exactly one rotation happened: the row names the winner's refresh token.
    session = session_of(pair)
    assert session.refresh_jti == claims(winner["refresh_token"])["jti"]
    # Each loser presented a token the winner had already rotated away, which the contract
    # treats as reuse: the session is revoked, the winner's new pair included.
    assert session.revoked_at is not None
