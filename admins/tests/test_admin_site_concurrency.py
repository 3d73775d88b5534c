"""Races on the admin site's add pages, against PostgreSQL: each request on its own
connection, started together (see `accounts/tests/test_concurrency.py`)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User, UserIdentifier
from accounts.tests.factories import make_user
from admins.models import Admin
from admins.tests.factories import make_admin
from config.testing import needs_row_locking, run_together

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_row_locking,
]

PASSWORD = "a sturdy passphrase 42"


def test_of_two_racing_adds_of_one_identifier_one_wins_and_the_other_gets_a_form_error():
    """One takes `x@example.com` as a username, the other as an email: exactly one account
    is created, and the loser sees the form again with the error, never a server error."""
    root = make_admin(username="root", is_superuser=True)
    forms = [
        {"username": "x@example.com", "name": "X", "email": "first@example.com"},
        {"username": "second", "name": "Y", "email": "X@example.com"},
    ]

    def add(client: Any, index: int) -> Any:
        client.force_login(root)
        data = {**forms[index], "phone": "", "password1": PASSWORD, "password2": PASSWORD}
        return client.post("/admin/accounts/user/add/", data)

    responses = run_together(2, add)

    assert sorted(response.status_code for response in responses) == [200, 302]
    loser = next(response for response in responses if response.status_code == 200)
    errors = loser.context["adminform"].form.errors
    assert list(errors) in (["username"], ["email"])
    assert "already taken" in str(errors)
    assert User.objects.count() == 1
    assert sorted(UserIdentifier.objects.values_list("value", flat=True)) in (
        ["first@example.com", "x@example.com"],
        ["second", "x@example.com"],
    )
    assert Admin.objects.count() == 1


def test_of_two_racing_changes_to_one_identifier_one_wins_and_the_other_gets_a_form_error():
    """Two users' change pages save the same new email at once: the database refuses the
    second (its identifier index), and the loser sees the form again with the error,
    never a server error, and keeps its own address."""
    root = make_admin(username="root", is_superuser=True)
    users = [make_user(username=f"user{n}", email=f"user{n}@example.com") for n in range(2)]

    def change(client: Any, index: int) -> Any:
        client.force_login(root)
        user = users[index]
        data = {"username": user.username, "name": user.name, "email": "Both@Example.com"}
        return client.post(f"/admin/accounts/user/{user.pk}/change/", {**data, "phone": ""})

    for _ in range(5):
        responses = run_together(2, change)

        assert sorted(response.status_code for response in responses) == [200, 302]
        loser = next(response for response in responses if response.status_code == 200)
        errors = loser.context["adminform"].form.errors
        assert list(errors) == ["email"]
        assert "already taken" in str(errors)
        emails = sorted(User.objects.values_list("email", flat=True))
        assert emails in (
            ["Both@Example.com", "user1@example.com"],
            ["Both@Example.com", "user0@example.com"],
        )
        assert UserIdentifier.objects.filter(value="both@example.com").count() == 1
        # Back to the start for the next round.
        for user in users:
            fresh = User.objects.get(pk=user.pk)
            fresh.email = user.email
            fresh.save()
