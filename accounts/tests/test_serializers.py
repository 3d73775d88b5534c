"""The user realm's serializers: the fast account representation
(`AccountSerializer.to_representation`, which skips DRF's field objects) answers exactly what
DRF's `ModelSerializer` would, and the text fields a request sends take strings only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.serializers import UserSerializer
from accounts.tests.factories import make_user
from accounts.tests.helpers import plain_drf_twin
from config.testing import PASSWORD, assert_error, bearer
from tokens.services import session_start

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"
REGISTER = "/api/v1/auth/register"


def _both(serializer: Any, account: Any) -> tuple[Any, Any]:
    fast = serializer(account).data
    plain = plain_drf_twin(serializer)(account).data
    return fast, plain


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"phone": "+14155550123", "avatar": "avatars/ada.png", "is_active": False},
    ],
    ids=["plain", "phone-avatar-blocked"],
)
def test_a_users_fast_representation_is_drfs(fields):
    user = make_user(**fields)
    user.refresh_from_db()

    fast, plain = _both(UserSerializer, user)

    assert fast == plain
    assert list(fast) == list(plain) == list(UserSerializer.Meta.fields)
    assert isinstance(fast["created_at"], str)
    assert fast["created_at"].endswith("Z")


def test_datetimes_are_formatted_as_drf_formats_them_with_and_without_microseconds():
    user = make_user()
    for moment in (
        datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC),
        # Another offset: both answer it in UTC.
        timezone.now().astimezone(timezone.get_fixed_timezone(timedelta(hours=5, minutes=30))),
    ):
        User.objects.filter(pk=user.pk).update(created_at=moment)
        user.refresh_from_db()
        user.updated_at = moment

        fast, plain = _both(UserSerializer, user)

        assert (fast["created_at"], fast["updated_at"]) == (
            plain["created_at"],
            plain["updated_at"],
        )


# --- Text fields take strings only (`StrictCharField`) -----------------------------------


@pytest.fixture
def ada() -> User:
    return make_user(username="ada", email="ada@example.com", name="Ada")


@pytest.fixture
def auth(ada: User) -> dict[str, str]:
    return bearer(session_start(owner=ada, ip="127.0.0.1", user_agent="test")["access_token"])


@pytest.mark.parametrize("field", ["username", "name", "email"])
@pytest.mark.parametrize("value", [0, 12345, 1.5])
def test_a_number_is_not_a_string_in_a_profile_update(api, ada, auth, field, value):
    # DRF's CharField turned the JSON number 0 into the name "0" (schemathesis: a
    # schema-violating request accepted).
    response = api.patch(ME, {field: value}, format="json", **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {field}
    ada.refresh_from_db()
    assert (ada.username, ada.name, ada.email) == ("ada", "Ada", "ada@example.com")


@pytest.mark.parametrize("field", ["username", "name", "email", "password", "phone"])
def test_a_number_is_not_a_string_in_a_registration(api, field):
    response = api.post(
        REGISTER,
        {
            "username": "grace",
            "name": "Grace",
            "email": "grace@example.com",
            "password": PASSWORD,
            field: 4155550123,
        },
        format="json",
    )

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in body["error"]["details"]
    assert not User.objects.filter(username="grace").exists()


def test_a_number_is_not_a_refresh_token(api):
    response = api.post("/api/v1/auth/refresh", {"refresh_token": 12345}, format="json")

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"refresh_token"}
