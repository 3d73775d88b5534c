"""/api/v1/users/me/events and /api/v1/admin/me/events: an account's own security events,
newest first, paginated; a read that writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import make_user
from admins.tests.factories import make_admin
from admins.tests.helpers import admin_token
from config.testing import assert_error, bearer, login, login_pair
from tokens.events import event_record
from tokens.models import AuthEvent, EventName, Token
from tokens.realms import ADMIN, USER
from tokens.services import personal_token_create

pytestmark = pytest.mark.django_db

URL = "/api/v1/users/me/events"
ADMIN_URL = "/api/v1/admin/me/events"
WRONG = "not the password"


@pytest.fixture(autouse=True)
def _generous_login_limit(settings: Any) -> None:
    settings.RATE_LIMIT_ATTEMPTS = 100


def test_a_user_sees_their_own_events_newest_first(api):
    ada = make_user(username="ada")
    bob = make_user(username="bob")
    login(api, USER, "ada", WRONG, HTTP_USER_AGENT="phone")
    login(api, USER, "bob", WRONG)
    access = login_pair(api, USER, "ada")["access_token"]
    # An admin with Ada's id is someone else.
    AuthEvent.objects.create(event=EventName.LOGOUT, realm=ADMIN.name, account_id=ada.pk)
    assert bob.pk != ada.pk

    response = api.get(URL, **bearer(access))

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Events retrieved"
    items = body["data"]["items"]
    assert [(item["event"], item["account_id"], item["realm"]) for item in items] == [
        ("login_succeeded", ada.pk, "user"),
        ("login_failed", ada.pk, "user"),
    ]
    assert items[1]["user_agent"] == "phone"
    assert items[1]["details"] == {"via": "api", "reason": "wrong_password"}


def test_an_admin_sees_their_own_events(api):
    root = make_admin(username="root")
    other = make_admin(username="other")
    event_record(event=EventName.ACCOUNT_BLOCKED, realm=ADMIN, account=other, actor=root)
    access = admin_token(api, root)

    response = api.get(ADMIN_URL, **bearer(access))

    assert response.status_code == 200
    items = response.json()["data"]["items"]
    assert [(item["event"], item["account_id"]) for item in items] == [("login_succeeded", root.pk)]


def test_the_list_is_paginated(api):
    ada = make_user(username="ada")
    for _ in range(5):
        event_record(event=EventName.LOGOUT, realm=USER, account=ada)
    access = login_pair(api, USER, "ada")["access_token"]

    data = api.get(URL, {"page_size": 2, "page": 3}, **bearer(access)).json()["data"]

    assert (data["count"], data["total"], data["page"], data["pages"]) == (2, 6, 3, 3)
    assert_error(api.get(URL, {"page": "x"}, **bearer(access)), 400, "VALIDATION_ERROR")


def _queries(api: Any, access: str, page_size: int) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(URL, {"page_size": page_size}, **bearer(access))
    assert response.json()["data"]["count"] == page_size
    return len(captured.captured_queries), [q["sql"] for q in captured.captured_queries]


def test_reading_ones_events_costs_three_queries_whatever_the_page_size_and_writes_nothing(
    api,
):
    ada = make_user(username="ada")
    for _ in range(40):
        event_record(event=EventName.LOGOUT, realm=USER, account=ada)
    access = login_pair(api, USER, "ada")["access_token"]
    before = AuthEvent.objects.count()

    small, small_sql = _queries(api, access, 2)
    large, large_sql = _queries(api, access, 40)

    # The bearer lookup, the count and the page.
    assert small == large == 3
    assert all(sql.startswith("SELECT") for sql in small_sql + large_sql)
    assert AuthEvent.objects.count() == before


def test_a_personal_token_with_read_may_list_the_events(api):
    ada = make_user(username="ada")
    _, secret = personal_token_create(owner=ada, name="ci", scopes=["read"], expires_in_days=1)

    response = api.get(URL, **bearer(secret))

    assert response.status_code == 200
    assert [item["event"] for item in response.json()["data"]["items"]] == ["token_created"]


def test_another_realms_token_is_forbidden_and_no_token_is_401(api):
    root = make_admin(username="root")
    make_user(username="ada")

    assert_error(api.get(URL, **bearer(admin_token(api, root))), 403, "FORBIDDEN")
    user_access = login_pair(api, USER, "ada")["access_token"]
    assert_error(api.get(ADMIN_URL, **bearer(user_access)), 403, "FORBIDDEN")
    assert_error(api.get(URL), 401, "NOT_AUTHENTICATED")
    assert Token.objects.count() == 2
