"""Races against the real database: simultaneous requests, each on its own connection.

The contract promises exact answers under concurrency (an exact failure count, one winner
among duplicate registrations or refreshes). These tests start the requests together
behind a barrier, each thread with its own client and its own database connection.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from accounts.models import User, UserIdentifier
from accounts.tests.factories import make_user
from config.testing import bearer, login, login_pair, needs_row_locking, run_together
from tokens.realms import USER
from tokens.tests.helpers import claims, session_of

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_row_locking,
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

    responses = run_together(
        20, lambda client, _: login(client, USER, user.username, "wrong password")
    )

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
    assert login(APIClient(), USER, user.username).status_code == 423


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
    # A registration that lost at the database rolled back with its verification mail's
    # task: one task, the winner's.
    (task,) = DBTaskResult.objects.all()
    winner = User.objects.get(username__iexact="racer")
    assert task.args_kwargs["kwargs"]["account_id"] == winner.pk
    assert task.args_kwargs["kwargs"]["to"] == winner.email


IDENTIFIER_RACE_ROUNDS = 10


def test_a_username_and_an_email_registered_at_once_as_one_value_make_one_account(settings):
    """One registration takes `xN@ex.com` as its username, the other as its email: the
    identifier table's unique index lets exactly one in, and the other gets a 409 naming
    the field. A race does not always interleave, so it is run a few times."""
    settings.REGISTER_RATE_LIMIT = "1000/h"

    for round_ in range(IDENTIFIER_RACE_ROUNDS):
        value = f"x{round_}@ex.com"
        bodies = [
            {"username": value, "email": f"a{round_}@elsewhere.example"},
            {"username": f"racer{round_}", "email": value.upper()},
        ]

        def register(client: APIClient, index: int, bodies: list[dict[str, str]] = bodies) -> Any:
            body = {**bodies[index], "name": "Racer", "password": PASSWORD}
            return client.post("/api/v1/auth/register", body, format="json")

        responses = run_together(2, register)

        assert codes(responses) == {(201, None): 1, (409, "CONFLICT"): 1}, codes(responses)
        winner, loser = sorted(range(2), key=lambda i: responses[i].status_code)
        taken = ["username", "email"][loser]
        assert list(responses[loser].json()["error"]["details"]) == [taken]
        (account,) = User.objects.by_login(value)
        assert account.pk == responses[winner].json()["data"]["id"]
        expected = {field.lower() for field in bodies[winner].values()}
        assert set(account.identifiers.values_list("value", flat=True)) == expected
    assert User.objects.count() == IDENTIFIER_RACE_ROUNDS
    assert UserIdentifier.objects.count() == 2 * IDENTIFIER_RACE_ROUNDS


def test_a_username_change_and_a_registration_taking_one_value_at_once_have_one_winner(settings):
    """The profile update's side of the race: its check passes, the other insert commits
    first, and the update's identifier insert fails; the answer is a 409, not a 500."""
    settings.REGISTER_RATE_LIMIT = "1000/h"
    settings.RATE_LIMIT_ATTEMPTS = 1000
    mover = make_user(username="mover", email="mover@example.com")
    token = login_pair(APIClient(), USER, "mover")["access_token"]

    for round_ in range(IDENTIFIER_RACE_ROUNDS):
        value = f"y{round_}@ex.com"

        def race(client: Any, index: int, value: str = value, n: int = round_) -> Any:
            if index == 0:
                change = {"username": value}
                return client.patch("/api/v1/users/me", change, format="json", **bearer(token))
            body = {"username": f"newcomer{n}", "name": "N", "email": value, "password": PASSWORD}
            return client.post("/api/v1/auth/register", body, format="json")

        responses = run_together(2, race)

        outcome = codes(responses)
        assert outcome[(409, "CONFLICT")] == 1, outcome
        assert outcome[(200, None)] + outcome[(201, None)] == 1, outcome
        loser = next(r for r in responses if r.status_code == 409)
        assert list(loser.json()["error"]["details"]) in (["username"], ["email"])
        assert UserIdentifier.objects.filter(value=value).count() == 1
    mover.refresh_from_db()
    held = set(mover.identifiers.values_list("value", flat=True))
    assert held == {mover.username.lower(), "mover@example.com"}


def test_concurrent_refreshes_with_one_token_have_one_winner():
    user = make_user()
    pair = login_pair(APIClient(), USER, user.username)

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
