"""The admin site's change forms keep the one namespace of login identifiers: a username
may not be another account's email (nor an email another's username), in any case or
width, and a refused form writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import UserIdentifier
from accounts.tests.factories import full_width, make_user
from admins.models import Admin, AdminIdentifier
from admins.tests.factories import make_admin
from admins.tests.helpers import stored
from config.testing import login
from tokens.realms import ADMIN, USER

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_login_limit")]

REFUSED = [
    ({"username": "Victim@Example.com"}, "username"),
    ({"username": full_width("VICTIM") + "@example.com"}, "username"),
    ({"email": "VIC@example.org"}, "email"),
]
REFUSED_IDS = ["username-as-email", "full-width-username", "email-as-username"]


def _form(account: Any, **changes: str) -> dict[str, Any]:
    """The change form as the page sends it: every editable field, with `changes`."""
    data: dict[str, Any] = {
        "username": account.username,
        "name": account.name,
        "email": account.email,
        "phone": account.phone or "",
    }
    if isinstance(account, Admin):
        data["groups"] = []
        data["user_permissions"] = []
    return {**data, **changes}


def _rows(model: Any) -> list[tuple[int, str]]:
    return sorted(model.objects.values_list("account_id", "value"))


@pytest.mark.parametrize(("changes", "field"), REFUSED, ids=REFUSED_IDS)
def test_the_user_change_form_refuses_another_users_identifier_and_writes_nothing(
    site, api, changes, field
):
    victim = make_user(username="vic@example.org", email="victim@example.com")
    mallory = make_user(username="mallory", email="mallory@example.com")
    before, rows = stored(mallory), _rows(UserIdentifier)

    response = site.post(f"/admin/accounts/user/{mallory.pk}/change/", _form(mallory, **changes))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {field: [f"This {field} is already taken."]}
    assert stored(mallory) == before
    assert _rows(UserIdentifier) == rows
    assert login(api, USER, "victim@example.com").json()["data"]["user"]["id"] == victim.pk


@pytest.mark.parametrize(("changes", "field"), REFUSED, ids=REFUSED_IDS)
def test_the_admin_change_form_refuses_another_admins_identifier_and_writes_nothing(
    site, api, changes, field
):
    victim = make_admin(username="vic@example.org", email="victim@example.com")
    mallory = make_admin(username="mallory", email="mallory@example.com")
    before, rows = stored(mallory), _rows(AdminIdentifier)

    response = site.post(f"/admin/admins/admin/{mallory.pk}/change/", _form(mallory, **changes))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {field: [f"This {field} is already taken."]}
    assert stored(mallory) == before
    assert _rows(AdminIdentifier) == rows
    assert login(api, ADMIN, "victim@example.com").json()["data"]["admin"]["id"] == victim.pk


def test_a_username_taken_as_a_username_is_reported_once(site):
    make_user(username="victim", email="victim@example.com")
    mallory = make_user(username="mallory", email="mallory@example.com")

    response = site.post(
        f"/admin/accounts/user/{mallory.pk}/change/", _form(mallory, username="VICTIM")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "username": ["This username is already taken."]
    }


def test_a_change_through_the_form_moves_the_identifiers(site, api):
    ada = make_user(username="ada", email="ada@example.com")
    changes = {"username": "countess", "email": "Countess@example.com"}

    response = site.post(f"/admin/accounts/user/{ada.pk}/change/", _form(ada, **changes))

    assert response.status_code == 302
    ada.refresh_from_db()
    assert (ada.username, ada.email) == ("countess", "Countess@example.com")
    assert set(ada.identifiers.values_list("value", flat=True)) == {
        "countess",
        "countess@example.com",
    }
    assert login(api, USER, "countess@example.com").status_code == 200
    # The old email is free again, as anyone's username.
    assert make_user(username="ada@example.com").pk != ada.pk
