"""POST /api/v1/auth/register: the field rules, conflicts, parsing and the rate limit."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from accounts.models import User
from accounts.tests.factories import PASSWORD, full_width, make_user
from accounts.tests.helpers import assert_error, login
from admins.tests.factories import make_admin
from tokens.models import Token

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/register"
USER_FIELDS = {
    "id",
    "username",
    "name",
    "email",
    "phone",
    "avatar_url",
    "is_active",
    "email_verified",
    "pending_email",
    "two_factor_enabled",
    "created_at",
    "updated_at",
}
ISO_8601_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")


def _body(**fields: Any) -> dict[str, Any]:
    body = {
        "username": "adalovelace",
        "name": "Ada Lovelace",
        "email": "quartzmonkey@example.com",
        "password": PASSWORD,
    }
    body.update(fields)
    return body


def _register(api: Any, **fields: Any) -> Any:
    return api.post(URL, _body(**fields), format="json")


def _passphrase(length: int) -> str:
    """A passphrase no validator objects to, whose every prefix differs from it."""
    words = "staple horse battery correct nine lanterns over quiet harbours "
    text = (words * (length // len(words) + 1))[: length - 1]
    return text + "Z"


def _assert_nothing_written(users_before: int = 0) -> None:
    assert User.objects.count() == users_before
    assert not Token.objects.exists()


# --- Success ---------------------------------------------------------------------------


def test_register_answers_201_with_exactly_the_user_fields(api):
    response = _register(api, username="Ada", email="Ada@Example.COM", phone="+14155550123")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == USER_FIELDS
    user = User.objects.get()
    assert data["id"] == user.pk
    assert data["username"] == "Ada"
    assert data["email"] == "Ada@Example.COM"
    assert data["name"] == "Ada Lovelace"
    assert data["phone"] == "+14155550123"
    assert data["avatar_url"] is None
    assert data["is_active"] is True
    assert ISO_8601_UTC.match(data["created_at"]), data["created_at"]
    assert ISO_8601_UTC.match(data["updated_at"]), data["updated_at"]


def test_register_never_returns_the_password_or_its_hash(api):
    response = _register(api)

    assert response.status_code == 201
    user = User.objects.get()
    text = response.content.decode()
    assert "password" not in text
    assert PASSWORD not in text
    assert user.password not in text
    assert user.password != PASSWORD
    assert user.check_password(PASSWORD)


def test_register_keeps_username_and_email_in_the_case_typed(api):
    response = _register(api, username="AdaLovelace", email="Quartz.Monkey@Example.COM")

    assert response.status_code == 201
    user = User.objects.get()
    assert (user.username, user.email) == ("AdaLovelace", "Quartz.Monkey@Example.COM")


def test_registered_user_logs_in_by_username_or_email_in_any_case(api):
    assert _register(api, username="Ada", email="Ada@Example.com").status_code == 201

    assert login(api, "ADA").status_code == 200
    assert login(api, "ada@example.COM").status_code == 200


def test_register_creates_the_row_with_its_defaults(api):
    response = _register(api)

    assert response.status_code == 201
    user = User.objects.get()
    assert user.is_active is True
    assert user.failed_login_attempts == 0
    assert user.locked_until is None
    assert user.deleted_at is None
    assert user.phone is None
    assert not Token.objects.exists()


# --- Username ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "username",
    ["abc", "a" * 150, "a.b+c-d_e@f", "Ærøskøbing", "123"],
    ids=["three", "150", "punctuation", "unicode-letters", "digits"],
)
def test_register_accepts_every_username_the_rules_allow(api, username):
    response = _register(api, username=username)

    assert response.status_code == 201, response.content
    assert User.objects.get().username == username


@pytest.mark.parametrize(
    "username",
    ["ab", "a" * 151, "ada lovelace", "ada!", "", "   ", "ada/x", None],
    ids=["too-short", "too-long", "space", "bang", "empty", "blank", "slash", "null"],
)
def test_register_refuses_a_username_that_breaks_the_rules(api, username):
    body = assert_error(_register(api, username=username), 400, "VALIDATION_ERROR")

    assert list(body["error"]["details"]) == ["username"]
    _assert_nothing_written()


def test_register_stores_a_full_width_username_nfkc_normalised(api):
    response = _register(api, username=full_width("ada"))

    assert response.status_code == 201
    assert response.json()["data"]["username"] == "ada"
    assert User.objects.get().username == "ada"


def test_username_may_equal_an_admins_because_the_realms_are_separate(api):
    make_admin(username="adalovelace", email="quartzmonkey@example.com")

    response = _register(api, username="adalovelace", email="quartzmonkey@example.com")

    assert response.status_code == 201, response.content
    assert User.objects.get().username == "adalovelace"


# --- Email ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "ada@", "@example.com", "ada@@example.com", "ada@example", "", None],
)
def test_register_refuses_an_invalid_email(api, email):
    body = assert_error(_register(api, email=email), 400, "VALIDATION_ERROR")

    assert list(body["error"]["details"]) == ["email"]
    _assert_nothing_written()


# --- Phone ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+14155550123", "+14155550123"),
        ("+1 415 555 0123", "+14155550123"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("0044 20 7946 0958", "+442079460958"),
        ("  +44 20 7946 0958  ", "+442079460958"),
    ],
)
def test_register_normalises_the_phone_to_e164(api, typed, stored):
    response = _register(api, phone=typed)

    assert response.status_code == 201, response.content
    assert response.json()["data"]["phone"] == stored
    assert User.objects.get().phone == stored


@pytest.mark.parametrize(
    "phone",
    ["12345", "415 555 0123", "+1 555", "phone", "+999 1234567", "+1" + "5" * 40],
    ids=["short", "no-country-code", "too-few-digits", "letters", "no-such-country", "long"],
)
def test_register_refuses_an_invalid_phone(api, phone):
    body = assert_error(_register(api, phone=phone), 400, "VALIDATION_ERROR")

    assert list(body["error"]["details"]) == ["phone"]
    _assert_nothing_written()


@pytest.mark.parametrize("phone", ["", None, "   "], ids=["empty", "null", "blank"])
def test_register_treats_an_empty_or_null_phone_as_none(api, phone):
    response = _register(api, phone=phone)

    assert response.status_code == 201, response.content
    assert response.json()["data"]["phone"] is None
    assert User.objects.get().phone is None


def test_several_users_may_register_without_a_phone(api):
    first = _register(api, username="ada", email="ada@example.com", phone="")
    second = _register(api, username="bob", email="bob@example.com", phone=None)
    third = _register(api, username="cyd", email="cyd@example.com")

    assert first.status_code == 201, first.content
    assert second.status_code == 201, second.content
    assert third.status_code == 201, third.content
    assert list(User.objects.values_list("phone", flat=True)) == [None, None, None]


# --- Password ---------------------------------------------------------------------------


@pytest.mark.parametrize("length", [64, 200, 1024])
def test_register_accepts_a_long_passphrase_and_it_logs_in(api, length):
    password = _passphrase(length)

    response = _register(api, password=password)

    assert response.status_code == 201, response.content
    assert login(api, "adalovelace", password).status_code == 200


def test_a_long_password_is_never_truncated_by_the_production_hasher(api, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    password = _passphrase(200)
    assert _register(api, password=password).status_code == 201
    assert User.objects.get().password.startswith("argon2")

    assert_error(login(api, "adalovelace", password[:199]), 401, "INVALID_CREDENTIALS")
    assert login(api, "adalovelace", password).status_code == 200


def test_a_password_keeps_its_surrounding_whitespace(api):
    password = f"  {PASSWORD}  "
    assert _register(api, password=password).status_code == 201

    assert_error(login(api, "adalovelace", PASSWORD), 401, "INVALID_CREDENTIALS")
    assert login(api, "adalovelace", password).status_code == 200


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("xq7#Lp2", "This password is too short. It must contain at least 8 characters."),
        ("password", "This password is too common."),
        ("12345678901", "This password is entirely numeric."),
        ("adalovelace", "The password is too similar to the username."),
        ("quartzmonkey", "The password is too similar to the email."),
        ("x" * 1025, "Ensure this field has no more than 1024 characters."),
    ],
    ids=["short", "common", "numeric", "like-username", "like-email", "over-1024"],
)
def test_register_refuses_a_weak_password(api, password, message):
    body = assert_error(_register(api, password=password), 400, "VALIDATION_ERROR")

    details = body["error"]["details"]
    assert list(details) == ["password"]
    assert message in details["password"]
    _assert_nothing_written()


def test_register_never_echoes_a_refused_password(api):
    response = _register(api, password="adalovelace")

    assert_error(response, 400, "VALIDATION_ERROR")
    assert "adalovelace" not in str(response.json()["error"]["details"]["password"])


# --- Name -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["", "   ", "Ada\x00", "Ada\u202e", "Ada\x07Lovelace", "Ada\nLovelace", "a" * 151, None],
    ids=["empty", "blank", "nul", "rtl-override", "bell", "newline", "151", "null"],
)
def test_register_refuses_an_invalid_name(api, name):
    body = assert_error(_register(api, name=name), 400, "VALIDATION_ERROR")

    assert list(body["error"]["details"]) == ["name"]
    _assert_nothing_written()


@pytest.mark.parametrize("name", ["A", "a" * 150, "Ada Lovelace-Byron", "Ада Лавлейс"])
def test_register_accepts_a_name_of_1_to_150_characters(api, name):
    response = _register(api, name=name)

    assert response.status_code == 201, response.content
    assert User.objects.get().name == name


# --- Missing fields ---------------------------------------------------------------------


def test_register_with_an_empty_body_names_every_required_field(api):
    body = assert_error(api.post(URL, {}, format="json"), 400, "VALIDATION_ERROR")

    assert set(body["error"]["details"]) == {"username", "name", "email", "password"}
    _assert_nothing_written()


@pytest.mark.parametrize("missing", ["username", "name", "email", "password"])
def test_register_names_the_missing_field(api, missing):
    fields = _body()
    del fields[missing]

    body = assert_error(api.post(URL, fields, format="json"), 400, "VALIDATION_ERROR")

    assert list(body["error"]["details"]) == [missing]
    _assert_nothing_written()


# --- Fields a client may not set ---------------------------------------------------------


def test_register_ignores_fields_a_client_may_not_set(api):
    response = _register(
        api,
        id=987654,
        is_active=False,
        is_superuser=True,
        is_staff=True,
        failed_login_attempts=99,
        locked_until="2099-01-01T00:00:00Z",
        deleted_at="2020-01-01T00:00:00Z",
        created_at="2000-01-01T00:00:00Z",
        last_login="2000-01-01T00:00:00Z",
    )

    assert response.status_code == 201, response.content
    user = User.objects.get()
    assert user.pk != 987654
    assert user.is_active is True
    assert user.failed_login_attempts == 0
    assert user.locked_until is None
    assert user.deleted_at is None
    assert user.last_login is None
    assert user.created_at.year >= 2025
    assert not hasattr(user, "is_superuser")
    assert response.json()["data"]["is_active"] is True
    assert login(api, "adalovelace").status_code == 200


# --- Conflicts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "taken"),
    [
        ({"username": "ADA"}, {"username"}),
        ({"username": "Ada"}, {"username"}),
        ({"username": full_width("ada")}, {"username"}),
        ({"username": full_width("ADA")}, {"username"}),
        ({"email": "ADA@EXAMPLE.COM"}, {"email"}),
        ({"phone": "+1 (415) 555-0123"}, {"phone"}),
        ({"phone": "0014155550123"}, {"phone"}),
        ({"username": "Ada", "email": "ada@Example.com"}, {"username", "email"}),
        (
            {"username": "ada", "email": "ada@example.com", "phone": "+14155550123"},
            {"username", "email", "phone"},
        ),
    ],
    ids=[
        "username-upper",
        "username-title",
        "username-full-width",
        "username-full-width-upper",
        "email-upper",
        "phone-formatted",
        "phone-00-prefix",
        "username-and-email",
        "all-three",
    ],
)
def test_register_answers_409_naming_each_taken_field(api, fields, taken):
    existing = make_user(username="ada", email="ada@example.com", phone="+14155550123")

    body = assert_error(_register(api, **fields), 409, "CONFLICT")

    details = body["error"]["details"]
    assert set(details) == taken
    for field in taken:
        assert details[field] == [f"This {field} is already taken."]
    assert User.objects.count() == 1
    assert not Token.objects.exists()
    before = (existing.username, existing.email, existing.phone, existing.password)
    existing.refresh_from_db()
    assert (existing.username, existing.email, existing.phone, existing.password) == before


def test_username_of_a_soft_deleted_user_stays_taken(api):
    make_user(username="ada", email="ada@example.com", deleted_at=datetime(2025, 1, 1, tzinfo=UTC))

    body = assert_error(_register(api, username="Ada"), 409, "CONFLICT")

    assert list(body["error"]["details"]) == ["username"]
    assert User.objects.count() == 1


# --- Parsing ----------------------------------------------------------------------------


def test_register_refuses_malformed_json(api):
    response = api.post(URL, '{"username": "ada", ', content_type="application/json")

    assert_error(response, 400, "PARSE_ERROR")
    _assert_nothing_written()


def test_register_refuses_an_unsupported_content_type(api):
    response = api.post(URL, "username=ada&name=Ada", content_type="text/plain")

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    _assert_nothing_written()


def test_register_refuses_a_json_body_that_is_not_an_object(api):
    response = api.post(URL, '["ada"]', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["success"] is False
    _assert_nothing_written()


def test_register_accepts_multipart_form_data(api):
    response = api.post(URL, _body(), format="multipart")

    assert response.status_code == 201, response.content
    assert User.objects.get().username == "adalovelace"


# --- Rate limit -------------------------------------------------------------------------


def test_register_is_rate_limited_per_client_ip(api, settings):
    settings.REGISTER_RATE_LIMIT = "2/m"
    # Frozen, so that the two-per-minute window cannot roll over between requests.
    with time_machine.travel(datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC), tick=False):
        assert _register(api, username="ada", email="ada@example.com").status_code == 201
        assert _register(api, username="bob", email="bob@example.com").status_code == 201

        third = api.post(
            URL,
            _body(username="cyd", email="cyd@example.com"),
            format="json",
            HTTP_X_FORWARDED_FOR="203.0.113.9",  # ignored: no trusted proxy is configured
        )
        from_elsewhere = api.post(
            URL,
            _body(username="dee", email="dee@example.com"),
            format="json",
            REMOTE_ADDR="198.51.100.7",
        )

    body = assert_error(third, 429, "RATE_LIMITED")
    retry_after = body["error"]["details"]["retry_after"]
    assert int(third["Retry-After"]) == retry_after
    assert 1 <= retry_after <= 60
    assert not User.objects.filter(username="cyd").exists()
    assert from_elsewhere.status_code == 201, from_elsewhere.content
    assert User.objects.count() == 3


def test_refused_registrations_count_towards_the_rate_limit(api, settings):
    settings.REGISTER_RATE_LIMIT = "2/m"
    with time_machine.travel(datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC), tick=False):
        assert _register(api, username="ab").status_code == 400
        assert _register(api, username="ab").status_code == 400
        response = _register(api)

    assert_error(response, 429, "RATE_LIMITED")
    _assert_nothing_written()


# --- Collisions beyond ASCII ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        ({"username": "Ærøskøbing"}, {"username": "ærøskøbing"}, "username"),
        ({"username": "Ωmega"}, {"username": "ωmega"}, "username"),
        ({"email": "ada@bær.example"}, {"email": "ada@BÆR.example"}, "email"),
    ],
    ids=["username-latin", "username-greek", "email-domain"],
)
def test_non_ascii_case_variants_collide(api, first, second, field):
    make_user(**{"username": "first", "email": "first@example.com", **first})

    body = assert_error(
        _register(api, **{"username": "second", "email": "second@example.com", **second}),
        409,
        "CONFLICT",
    )

    assert list(body["error"]["details"]) == [field]
    assert User.objects.count() == 1


def test_a_non_ascii_username_logs_in_in_any_case(api):
    assert _register(api, username="Ærøskøbing").status_code == 201

    assert login(api, "ærøskøbing").status_code == 200
    assert login(api, "ÆRØSKØBING").status_code == 200


def test_full_width_email_variant_collides_with_an_existing_email(api):
    make_user(username="ada", email="ada@" + full_width("example") + ".com")

    body = assert_error(_register(api, email="ADA@example.com"), 409, "CONFLICT")

    assert list(body["error"]["details"]) == ["email"]
    assert User.objects.count() == 1


def test_a_user_registered_with_a_full_width_email_logs_in_by_that_email(api):
    email = "ada@" + full_width("example") + ".com"
    assert _register(api, email=email).status_code == 201

    assert login(api, email).status_code == 200


def test_a_username_may_not_be_another_accounts_email(api, settings):
    """Logins match usernames and emails alike: `victim@example.com` as someone else's
    username would capture the victim's logins by email."""
    settings.REGISTER_RATE_LIMIT = "1000/h"
    make_user(username="victim", email="victim@example.com")

    response = api.post(
        "/api/v1/auth/register",
        {
            "username": "VICTIM@example.com",
            "name": "Attacker",
            "email": "attacker@example.com",
            "password": "a sturdy passphrase 42",
        },
        format="json",
    )

    body = assert_error(response, 409, "CONFLICT")
    assert set(body["error"]["details"]) == {"username"}
    assert User.objects.count() == 1


def test_an_email_may_not_be_another_accounts_username(api, settings):
    settings.REGISTER_RATE_LIMIT = "1000/h"
    make_user(username="carol@example.com", email="carol@elsewhere.example")

    response = api.post(
        "/api/v1/auth/register",
        {
            "username": "dave",
            "name": "Dave",
            "email": "Carol@example.com",
            "password": "a sturdy passphrase 42",
        },
        format="json",
    )

    body = assert_error(response, 409, "CONFLICT")
    assert set(body["error"]["details"]) == {"email"}
    assert User.objects.count() == 1
