"""The admin realm's serializers: the account representations (the fast path of
`AccountSerializer`) answer exactly what DRF's `ModelSerializer` would; the user list's query
parameters and an admin's own profile take only what the document allows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import make_user
from accounts.tests.helpers import plain_drf_twin
from admins.serializers import AdminSerializer, StaffAdminSerializer, StaffUserSerializer
from admins.tests.factories import make_admin
from config.testing import assert_error

pytestmark = pytest.mark.django_db

USERS = "/api/v1/admin/users"


def _locked_fields() -> dict[str, Any]:
    now = timezone.now()
    return {
        "phone": "+14155550100",
        "avatar": "avatars/root.png",
        "failed_login_attempts": 5,
        "locked_until": now + timedelta(minutes=30),
        "last_login": now - timedelta(days=2),
        "deleted_at": now - timedelta(hours=1),
    }


@pytest.mark.parametrize("superuser", [True, False])
def test_an_admins_fast_representation_is_drfs(superuser):
    admin = make_admin(is_superuser=superuser, **_locked_fields())
    admin.refresh_from_db()

    fast = AdminSerializer(admin).data
    plain = plain_drf_twin(AdminSerializer)(admin).data

    assert fast == plain
    assert list(fast) == list(AdminSerializer.Meta.fields)
    assert fast["is_superuser"] is superuser


@pytest.mark.parametrize(
    ("serializer", "make"),
    [(StaffAdminSerializer, make_admin), (StaffUserSerializer, make_user)],
    ids=["admin", "user"],
)
@pytest.mark.parametrize("locked", [True, False])
def test_what_staff_see_is_drfs_including_the_lockout_fields(serializer, make, locked):
    account = make(**(_locked_fields() if locked else {}))
    account.refresh_from_db()
    context = {"now": timezone.now()}

    fast = serializer(account, context=context).data
    plain = plain_drf_twin(serializer)(account, context=context).data

    assert fast == plain
    assert list(fast) == list(serializer.Meta.fields)
    assert fast["is_locked"] is locked


# --- The user list's query parameters (`UserListQuerySerializer`) ------------------------


@pytest.fixture
def ada() -> User:
    return make_user(username="ada", email="ada@example.com", name="Ada", is_active=False)


def _usernames(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(item["username"] for item in response.json()["data"]["items"])


@pytest.mark.parametrize("parameter", ["ordering", "deleted", "is_active", "is_locked"])
def test_a_filter_sent_empty_is_a_validation_error(api, auth, ada, parameter):
    # `?ordering=` and `?deleted=` meant the default, `?is_active=` no filter: values the
    # document does not allow, accepted (schemathesis: schema-violating request accepted).
    response = api.get(USERS, {parameter: ""}, **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {parameter}


@pytest.mark.parametrize("value", ["1", "0", "yes", "True", "null", "on"])
def test_a_boolean_filter_is_true_or_false(api, auth, ada, value):
    response = api.get(USERS, {"is_active": value}, **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"is_active"}


def test_boolean_filters_still_filter_and_are_optional(api, auth, ada):
    make_user(username="bob")

    assert _usernames(api.get(USERS, {"is_active": "false"}, **auth)) == ["ada"]
    assert _usernames(api.get(USERS, {"is_active": "true"}, **auth)) == ["bob"]
    assert _usernames(api.get(USERS, **auth)) == ["ada", "bob"]


def test_an_empty_search_filters_nothing(api, auth, ada):
    # The document said `minLength: 1` while the server took `?search=` as no search.
    assert _usernames(api.get(USERS, {"search": ""}, **auth)) == ["ada"]


def test_a_nul_in_a_search_is_refused_and_documented(api, auth, ada):
    response = api.get(USERS, {"search": "a\x00"}, **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"search"}
    document = api.get("/api/schema?format=json").json()
    (search,) = [
        parameter
        for parameter in document["paths"][USERS]["get"]["parameters"]
        if parameter["name"] == "search"
    ]
    assert search["schema"]["oneOf"][0]["pattern"] == r"^[^\u0000]+$"


# --- An admin's own profile: text fields take strings only --------------------------


@pytest.mark.parametrize("value", [0, True, ["boss"]])
def test_an_admin_name_must_be_a_string(api, auth, root, value):
    response = api.patch("/api/v1/admin/me", {"name": value}, format="json", **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"name"}
