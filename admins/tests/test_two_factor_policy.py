"""`ADMIN_2FA_REQUIRED`: an admin without a confirmed second factor may log in, but only
reach `/admin/me` (GET, PATCH), its enrolment under `/admin/me/2fa…` and logout; every
other admin endpoint (and `/api/v1/tokens`, and the password change) is 403
MFA_ENROLLMENT_REQUIRED."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from accounts.tests.factories import make_user
from accounts.tests.helpers import enable_two_factor, totp_now
from admins.tests.factories import make_admin
from admins.tests.helpers import stored, token_rows, user_token
from config.testing import PASSWORD, assert_error, bearer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _generous_limits(settings: Any) -> None:
    settings.RATE_LIMIT_ATTEMPTS = 1000


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC), tick=False) as clock:
        yield clock


def admin_session(api: Any) -> tuple[Any, str]:
    admin = make_admin(is_superuser=True)
    response = api.post(
        "/api/v1/admin/auth/login",
        {"username": admin.username, "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 200, response.content
    return admin, response.json()["data"]["access_token"]


# Every admin endpoint the policy closes, with a request that would otherwise succeed
# or answer something other than 403 MFA_ENROLLMENT_REQUIRED.
CLOSED = [
    ("get", "/api/v1/admin/users", None),
    ("get", "/api/v1/admin/users/{user}", None),
    ("patch", "/api/v1/admin/users/{user}", {"name": "Changed"}),
    ("patch", "/api/v1/admin/users/{user}/block", None),
    ("patch", "/api/v1/admin/users/{user}/unlock", None),
    ("delete", "/api/v1/admin/users/{user}", None),
    ("get", "/api/v1/admin/users/{user}/tokens", None),
    ("delete", "/api/v1/admin/users/{user}/tokens", None),
    ("get", "/api/v1/admin/admins", None),
    ("post", "/api/v1/admin/admins", {"username": "x1", "name": "X", "email": "x1@example.com"}),
    ("get", "/api/v1/admin/admins/{admin}", None),
    ("get", "/api/v1/tokens", None),
    ("post", "/api/v1/tokens", {"name": "ci", "scopes": ["read"]}),
    ("delete", "/api/v1/tokens", None),
    (
        "post",
        "/api/v1/admin/me/password",
        {"current_password": PASSWORD, "new_password": "n3w pass phrase"},
    ),
]


@pytest.mark.parametrize(("method", "path", "body"), CLOSED)
def test_with_the_policy_on_every_other_admin_endpoint_is_mfa_enrollment_required(
    api, settings, method, path, body
):
    settings.ADMIN_2FA_REQUIRED = True
    admin, token = admin_session(api)
    user = make_user()
    url = path.format(user=user.pk, admin=admin.pk)
    before = (stored(admin), stored(user), token_rows())

    response = getattr(api, method)(url, body, format="json", **bearer(token))

    body = assert_error(response, 403, "MFA_ENROLLMENT_REQUIRED")
    assert "second factor" in body["error"]["message"]
    assert (stored(admin), stored(user), token_rows()) == before


def test_with_the_policy_on_the_profile_the_enrolment_and_logout_stay_open(api, settings, clock):
    settings.ADMIN_2FA_REQUIRED = True
    _, token = admin_session(api)

    assert api.get("/api/v1/admin/me", **bearer(token)).status_code == 200
    patched = api.patch("/api/v1/admin/me", {"name": "New"}, format="json", **bearer(token))
    assert patched.status_code == 200
    enrolled = api.post(
        "/api/v1/admin/me/2fa/totp", {"password": PASSWORD}, format="json", **bearer(token)
    )
    assert enrolled.status_code == 200
    secret = enrolled.json()["data"]["secret"]
    confirmed = api.post(
        "/api/v1/admin/me/2fa/totp/confirm",
        {"code": totp_now(secret)},
        format="json",
        **bearer(token),
    )
    assert confirmed.status_code == 200
    # Enrolled: everything opens, in the same session.
    assert api.get("/api/v1/admin/users", **bearer(token)).status_code == 200
    assert api.post("/api/v1/admin/auth/logout", **bearer(token)).status_code == 200


def test_with_the_policy_on_logout_stays_open(api, settings):
    settings.ADMIN_2FA_REQUIRED = True
    _, token = admin_session(api)

    assert api.post("/api/v1/admin/auth/logout", **bearer(token)).status_code == 200


def test_with_the_policy_on_an_enrolled_admin_is_not_held_back(api, settings, clock):
    settings.ADMIN_2FA_REQUIRED = True
    admin, token = admin_session(api)
    enable_two_factor(admin, PASSWORD)

    assert api.get("/api/v1/admin/users", **bearer(token)).status_code == 200
    assert api.get("/api/v1/tokens", **bearer(token)).status_code == 200


def test_with_the_policy_off_an_admin_without_a_second_factor_reaches_everything(api):
    _, token = admin_session(api)

    assert api.get("/api/v1/admin/users", **bearer(token)).status_code == 200
    assert api.get("/api/v1/admin/admins", **bearer(token)).status_code == 200
    assert api.get("/api/v1/tokens", **bearer(token)).status_code == 200


def test_the_policy_does_not_touch_users(api, settings):
    settings.ADMIN_2FA_REQUIRED = True
    user = make_user()
    token = user_token(api, user.username)

    assert api.get("/api/v1/users/me", **bearer(token)).status_code == 200
    assert api.get("/api/v1/tokens", **bearer(token)).status_code == 200


def test_with_the_policy_on_a_user_token_on_an_admin_endpoint_is_still_forbidden(api, settings):
    settings.ADMIN_2FA_REQUIRED = True
    token = user_token(api, make_user().username)

    assert_error(api.get("/api/v1/admin/users", **bearer(token)), 403, "FORBIDDEN")


def test_with_the_policy_on_an_unenrolled_admin_can_still_log_in(api, settings):
    settings.ADMIN_2FA_REQUIRED = True

    admin, token = admin_session(api)

    me = api.get("/api/v1/admin/me", **bearer(token)).json()["data"]
    assert (me["id"], me["two_factor_enabled"]) == (admin.pk, False)
