"""The login identifier tables: one namespace of usernames and emails per realm, kept by
the database, whatever path writes the account."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts.models import User, UserIdentifier
from accounts.tests.factories import full_width, make_user
from accounts.tests.mailing import outbox_code
from admins.models import AdminIdentifier
from admins.tests.factories import make_admin
from config.testing import PASSWORD, assert_error, bearer, login, login_pair
from tokens.realms import USER

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"


@pytest.fixture(autouse=True)
def _generous_limits(settings: Any) -> None:
    """These tests register and log in often from one address; the limits have their own
    tests."""
    settings.RATE_LIMIT_ATTEMPTS = 100
    settings.REGISTER_RATE_LIMIT = "1000/h"


def identifiers(account: Any) -> set[str]:
    return set(account.identifiers.values_list("value", flat=True))


def all_identifiers() -> list[tuple[int, str]]:
    return sorted(UserIdentifier.objects.values_list("account_id", "value"))


def _register(api: Any, **fields: str) -> Any:
    body = {"name": "Someone", "password": "a sturdy passphrase 42", **fields}
    return api.post("/api/v1/auth/register", body, format="json")


# --- What the rows hold ------------------------------------------------------------------


def test_an_account_holds_its_folded_username_and_email():
    user = make_user(username=full_width("Ada"), email="Ada.Lovelace@Example.com")

    assert identifiers(user) == {"ada", "ada.lovelace@example.com"}


def test_a_username_equal_to_the_own_email_is_one_row():
    user = make_user(username="Ada@example.com", email="ada@EXAMPLE.com")

    assert identifiers(user) == {"ada@example.com"}


def test_a_registration_through_the_api_writes_the_rows(api):
    response = _register(api, username="Grace", email="Grace@example.com")

    assert response.status_code == 201
    user = User.objects.get(pk=response.json()["data"]["id"])
    assert identifiers(user) == {"grace", "grace@example.com"}


def test_a_save_of_other_fields_leaves_the_rows_alone(django_assert_num_queries):
    user = make_user(username="ada", email="ada@example.com")
    user.name = "Ada L."

    # The account's UPDATE, in a savepoint; no query on the identifier table.
    with django_assert_num_queries(3):
        user.save(update_fields=["name", "updated_at"])

    assert identifiers(user) == {"ada", "ada@example.com"}


# --- The database refuses a clash, whoever writes ----------------------------------------


@pytest.mark.parametrize(
    ("fields", "taken"),
    [
        ({"username": "VICTIM@example.com", "email": "mallory@example.com"}, "victim@example.com"),
        ({"username": "mallory", "email": "Victim"}, "victim"),
        ({"username": full_width("victim"), "email": "mallory@example.com"}, "victim"),
    ],
    ids=["username-as-email", "email-as-username", "full-width-username"],
)
def test_the_database_refuses_a_value_another_account_holds_as_either(fields, taken):
    """A plain `save()`, with no application check before it, still cannot write it."""
    make_user(username="victim", email="victim@example.com")
    before = all_identifiers()

    with pytest.raises(IntegrityError), transaction.atomic():
        User(name="Mallory", **fields).save()

    assert User.objects.count() == 1
    assert all_identifiers() == before
    assert taken in {value for _, value in before}


def test_an_identifier_row_alone_is_refused_by_the_unique_index():
    victim = make_user(username="victim", email="victim@example.com")
    other = make_user(username="other", email="other@example.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        UserIdentifier.objects.create(account=other, value="victim@example.com")

    assert identifiers(victim) == {"victim", "victim@example.com"}


def test_the_manager_turns_a_lost_insert_into_a_field_error():
    """`create_user` writes without asking first; the identifier insert decides and the
    error names the field, as the services' 409 does."""
    make_user(username="victim", email="victim@example.com")

    with pytest.raises(ValidationError) as caught:
        User.objects.create_user(username="mallory", email="Victim", password="x" * 12)

    assert caught.value.message_dict == {"email": ["This email is already taken."]}
    assert User.objects.count() == 1


# --- Changes through the API -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "Victim@Example.com"}, "username"),
        ({"username": full_width("victim@example.com")}, "username"),
        ({"email": "VIC@example.org"}, "email"),
    ],
    ids=["username-as-email", "full-width", "email-as-username"],
)
def test_a_profile_change_to_another_accounts_identifier_is_a_409_writing_nothing(
    api, fields, field
):
    victim = make_user(username="vic@example.org", email="victim@example.com")
    mallory = make_user(username="mallory", email="mallory@example.com")
    token = login_pair(api, USER, "mallory")["access_token"]
    before = all_identifiers()

    body = assert_error(api.patch(ME, fields, format="json", **bearer(token)), 409, "CONFLICT")

    assert list(body["error"]["details"]) == [field]
    mallory.refresh_from_db()
    assert (mallory.username, mallory.email) == ("mallory", "mallory@example.com")
    assert all_identifiers() == before
    assert login(api, USER, "victim@example.com").json()["data"]["user"]["id"] == victim.pk


def _verify(api, address):
    """Use the verification link mailed to `address`."""
    return api.post("/api/v1/auth/email/verify", {"token": outbox_code(address)}, format="json")


def test_identifiers_follow_a_change_and_the_old_values_are_free_again(api):
    ada = make_user(username="ada", email="ada@example.com")
    token = login_pair(api, USER, "ada")["access_token"]

    response = api.patch(
        ME,
        {"username": "countess", "email": "countess@example.com"},
        format="json",
        **bearer(token),
    )

    assert response.status_code == 200
    # The new email is pending: the old one stays the account's until the link is used.
    assert identifiers(ada) == {"countess", "ada@example.com"}
    assert _verify(api, "countess@example.com").status_code == 200
    assert identifiers(ada) == {"countess", "countess@example.com"}
    # The old username and the old email (as a username) may now be taken by others.
    assert _register(api, username="Ada", email="ada2@example.com").status_code == 201
    assert _register(api, username="ADA@example.com", email="ada3@example.com").status_code == 201
    assert login(api, USER, "countess@example.com").json()["data"]["user"]["id"] == ada.pk


def test_swapping_username_and_email_of_one_account_is_allowed(api):
    ada = make_user(username="ada@example.com", email="ada@elsewhere.example")
    token = login_pair(api, USER, "ada@example.com")["access_token"]

    response = api.patch(
        ME,
        {"username": "ada@elsewhere.example", "email": "ada@example.com"},
        format="json",
        **bearer(token),
    )

    assert response.status_code == 200
    assert _verify(api, "ada@example.com").status_code == 200
    assert identifiers(ada) == {"ada@example.com", "ada@elsewhere.example"}
    ada.refresh_from_db()
    assert (ada.username, ada.email) == ("ada@elsewhere.example", "ada@example.com")


def test_a_soft_deleted_account_keeps_its_identifiers(api):
    gone = make_user(username="gone", email="gone@example.com")
    token = login_pair(api, USER, "gone")["access_token"]
    response = api.delete(ME, {"password": PASSWORD}, format="json", **bearer(token))
    assert response.status_code == 200

    gone.refresh_from_db()
    assert gone.deleted_at is not None
    assert identifiers(gone) == {"gone", "gone@example.com"}
    response = _register(api, username="GONE@example.com", email="new@example.com")
    body = assert_error(response, 409, "CONFLICT")
    assert list(body["error"]["details"]) == ["username"]


def test_a_user_and_an_admin_may_share_a_username_and_an_email():
    """The realms are separate namespaces, each with its own table."""
    user = make_user(username="ada", email="ada@example.com")
    admin = make_admin(username="ada@example.com", email="ada")

    assert identifiers(user) == identifiers(admin) == {"ada", "ada@example.com"}
    assert AdminIdentifier.objects.count() == 2


# --- The migrations' backfill ------------------------------------------------------------


# What a migration's RunPython function is given to know the database: SQLite cannot open
# a real schema editor inside the test's transaction, and the backfill reads only this.
SCHEMA_EDITOR = SimpleNamespace(connection=connection)


def _backfill(app: str, migration: str) -> Any:
    return importlib.import_module(f"{app}.migrations.{migration}").backfill


def test_the_backfill_writes_the_rows_of_existing_accounts():
    ada = make_user(username="ada", email="ada@example.com")
    same = make_user(username="Same@example.com", email="same@EXAMPLE.com")
    root = make_admin(username="root", email="root@example.com")
    UserIdentifier.objects.all().delete()
    AdminIdentifier.objects.all().delete()

    _backfill("accounts", "0003_useridentifier")(apps, SCHEMA_EDITOR)
    _backfill("admins", "0003_adminidentifier")(apps, SCHEMA_EDITOR)

    assert identifiers(ada) == {"ada", "ada@example.com"}
    assert identifiers(same) == {"same@example.com"}
    assert identifiers(root) == {"root", "root@example.com"}


def test_the_backfill_stops_naming_the_values_existing_accounts_share():
    victim = make_user(username="victim", email="victim@example.com")
    mallory = make_user(username="mallory", email="mallory@example.com")
    UserIdentifier.objects.all().delete()
    User.objects.filter(pk=mallory.pk).update(username="Victim@Example.com")

    clash = rf"'victim@example.com' \(users {victim.pk} and {mallory.pk}\)"
    with pytest.raises(RuntimeError, match=clash):
        _backfill("accounts", "0003_useridentifier")(apps, SCHEMA_EDITOR)

    assert UserIdentifier.objects.count() == 0
