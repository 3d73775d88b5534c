"""Races on the admin site's add pages, against PostgreSQL: each request on its own
connection, started together (see `accounts/tests/test_concurrency.py`)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User, UserIdentifier
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
