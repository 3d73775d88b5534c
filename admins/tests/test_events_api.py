"""Staff actions in the security log (actor = the admin, through the API and the admin
site), and /api/v1/admin/events: every event, newest first, filtered, paginated, for
superusers and admins with `tokens.view_authevent`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import make_user
from admins.models import Admin
from admins.tests.factories import make_admin
from admins.tests.helpers import admin_token, grant, user_token
from config.api.net import Client
from config.testing import assert_error, bearer, login_pair
from tokens.events import event_record
from tokens.models import AuthEvent, EventName, Token
from tokens.realms import ADMIN, USER

pytestmark = pytest.mark.django_db

URL = "/api/v1/admin/events"
AGENT = "staff-console/2.0"
CLIENT: dict[str, Any] = {"HTTP_USER_AGENT": AGENT, "REMOTE_ADDR": "192.0.2.7"}
EVENT_FIELDS = {
    "id",
    "event",
    "realm",
    "account_id",
    "actor",
    "ip",
    "user_agent",
    "created_at",
    "details",
}


@pytest.fixture(autouse=True)
def _generous_login_limit(settings: Any) -> None:
    settings.RATE_LIMIT_ATTEMPTS = 100


@pytest.fixture
def root() -> Admin:
    return make_admin(username="root", is_superuser=True)


@pytest.fixture
def auth(api: Any, root: Admin) -> dict[str, str]:
    headers = bearer(admin_token(api, root))
    AuthEvent.objects.all().delete()  # the login's own event
    return headers


def staff_rows() -> list[tuple[Any, ...]]:
    """(event, realm, account_id, actor, ip, user_agent) of every event with an actor."""
    return [
        (event.event, event.realm, event.account_id, event.actor, event.ip, event.user_agent)
        for event in AuthEvent.objects.filter(actor_id__isnull=False).order_by("id")
    ]


# --- Staff actions through the API ------------------------------------------------------


def test_each_staff_action_on_a_user_is_recorded_with_the_admin_as_actor(api, root, auth):
    ada = make_user(username="ada")
    base = f"/api/v1/admin/users/{ada.pk}"
    actor = {"realm": "admin", "id": root.pk}
    # Something for each action to change (an action that changes nothing records nothing):
    # a lock in force, and (below) a live session.
    type(ada).objects.filter(pk=ada.pk).update(
        failed_login_attempts=5, locked_until=timezone.now() + timedelta(minutes=5)
    )

    api.patch(base, {"name": "Ada L."}, format="json", **auth, **CLIENT)
    for action in ("block", "activate", "unlock"):
        api.patch(f"{base}/{action}", **auth, **CLIENT)
    login_pair(APIClient(), USER, "ada")
    api.delete(f"{base}/tokens", **auth, **CLIENT)
    api.delete(base, **auth, **CLIENT)
    api.patch(f"{base}/restore", **auth, **CLIENT)

    names = [
        "account_updated",
        "account_blocked",
        "account_activated",
        "account_unlocked",
        "sessions_revoked",
        "account_deleted",
        "account_restored",
    ]
    assert staff_rows() == [(name, "user", ada.pk, actor, "192.0.2.7", AGENT) for name in names]
    assert AuthEvent.objects.get(event="account_updated").details == {"fields": ["name"]}


def test_admin_management_records_created_promoted_demoted_and_updated(api, root, auth):
    created = api.post(
        "/api/v1/admin/admins",
        {
            "username": "staffer",
            "name": "Staffer",
            "email": "staffer@example.com",
            "password": "a long staff passphrase",
        },
        format="json",
        **auth,
        **CLIENT,
    ).json()["data"]
    target = f"/api/v1/admin/admins/{created['id']}"
    api.patch(target, {"is_superuser": True}, format="json", **auth, **CLIENT)
    api.patch(target, {"is_superuser": False, "name": "S."}, format="json", **auth, **CLIENT)
    api.patch(f"{target}/block", **auth, **CLIENT)

    assert [(row[0], row[2]) for row in staff_rows()] == [
        ("admin_created", created["id"]),
        ("admin_promoted", created["id"]),
        ("account_updated", created["id"]),
        ("admin_demoted", created["id"]),
        ("account_blocked", created["id"]),
    ]
    assert {row[1] for row in staff_rows()} == {"admin"}
    assert AuthEvent.objects.get(event="admin_created").details == {"is_superuser": False}


def test_a_staff_change_refused_with_409_records_nothing(api, root, auth):
    make_user(username="taken")
    ada = make_user(username="ada")

    response = api.patch(
        f"/api/v1/admin/users/{ada.pk}", {"username": "taken"}, format="json", **auth
    )

    assert_error(response, 409, "CONFLICT")
    assert AuthEvent.objects.count() == 0


def test_a_refused_self_demotion_records_nothing(api, root, auth):
    make_admin(is_superuser=True)

    response = api.patch(
        f"/api/v1/admin/admins/{root.pk}", {"is_superuser": False}, format="json", **auth
    )

    assert_error(response, 403, "FORBIDDEN")
    assert AuthEvent.objects.count() == 0


# --- Staff actions through the admin site --------------------------------------------------


def test_the_admin_sites_actions_record_the_same_events_with_the_browsers_address(root):
    ada = make_user(username="ada")
    browser = BrowserClient(**CLIENT)
    browser.force_login(root)

    browser.post("/admin/accounts/user/", {"action": "block_users", "_selected_action": [ada.pk]})

    assert staff_rows() == [
        ("account_blocked", "user", ada.pk, {"realm": "admin", "id": root.pk}, "192.0.2.7", AGENT)
    ]


def test_revoking_selected_tokens_on_the_admin_site_records_each_with_the_admin(root, api):
    ada = make_user(username="ada")
    staffer = make_admin(username="staffer")
    login_pair(api, USER, "ada")
    admin_token(api, staffer)
    AuthEvent.objects.all().delete()
    rows = list(Token.objects.order_by("pk"))
    browser = BrowserClient(**CLIENT)
    browser.force_login(root)

    browser.post(
        "/admin/tokens/token/",
        {"action": "revoke_selected_tokens", "_selected_action": [row.pk for row in rows]},
    )

    actor = {"realm": "admin", "id": root.pk}
    assert sorted(staff_rows(), key=str) == sorted(
        [
            ("token_revoked", "user", ada.pk, actor, "192.0.2.7", AGENT),
            ("token_revoked", "admin", staffer.pk, actor, "192.0.2.7", AGENT),
        ],
        key=str,
    )
    assert {event.details["token_id"] for event in AuthEvent.objects.all()} == {
        row.pk for row in rows
    }


def test_an_edit_on_the_admin_sites_change_page_is_recorded_with_the_fields(root):
    ada = make_user(username="ada", name="Ada")
    browser = BrowserClient(**CLIENT)
    browser.force_login(root)
    page = f"/admin/accounts/user/{ada.pk}/change/"
    form = {"username": "ada", "name": "Ada Lovelace", "email": ada.email, "phone": ""}

    response = browser.post(page, form)
    browser.post(page, {**form, "name": "Ada Lovelace"})  # nothing changed: no event

    assert response.status_code == 302
    assert staff_rows() == [
        ("account_updated", "user", ada.pk, {"realm": "admin", "id": root.pk}, "192.0.2.7", AGENT)
    ]
    assert AuthEvent.objects.get().details == {"fields": ["name"], "via": "admin_site"}


def test_the_admin_site_lists_events_read_only_with_filters(root):
    ada = make_user(username="ada")
    event_record(event=EventName.LOGIN_FAILED, realm=USER, account=ada, client=Client("1.2.3.4"))
    event_record(event=EventName.LOGOUT, realm=USER, account=ada)
    browser = BrowserClient()
    browser.force_login(root)

    listing = browser.get("/admin/tokens/authevent/")
    filtered = browser.get("/admin/tokens/authevent/", {"event__exact": "logout"})
    event = AuthEvent.objects.get(event="login_failed")
    page = browser.get(f"/admin/tokens/authevent/{event.pk}/change/")
    delete = browser.get(f"/admin/tokens/authevent/{event.pk}/delete/")

    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 2
    assert filtered.context["cl"].result_count == 1
    assert page.status_code == 200
    assert b"1.2.3.4" in page.content
    assert b'name="event"' not in page.content  # read-only: no form field
    assert delete.status_code == 403
    assert browser.get("/admin/tokens/authevent/add/").status_code == 403


def test_a_users_change_page_shows_their_recent_events(root):
    ada = make_user(username="ada")
    bob = make_user(username="bob")
    event_record(event=EventName.LOGIN_FAILED, realm=USER, account=ada, client=Client("1.2.3.4"))
    event_record(event=EventName.LOGIN_FAILED, realm=USER, account=bob, client=Client("5.6.7.8"))
    event_record(event=EventName.LOGIN_FAILED, realm=ADMIN, client=Client("9.9.9.9"))
    browser = BrowserClient()
    browser.force_login(root)

    page = browser.get(f"/admin/accounts/user/{ada.pk}/change/").content.decode()

    assert "Recent security events" in page
    assert "1.2.3.4" in page
    assert "5.6.7.8" not in page
    assert "9.9.9.9" not in page


def test_an_admins_change_page_shows_their_recent_events(root):
    staffer = make_admin(username="staffer")
    event_record(event=EventName.ACCOUNT_BLOCKED, realm=ADMIN, account=staffer, actor=root)
    browser = BrowserClient()
    browser.force_login(root)

    page = browser.get(f"/admin/admins/admin/{staffer.pk}/change/").content.decode()

    assert "account_blocked" in page
    assert f"admin {root.pk}" in page


def test_recent_events_are_hidden_without_the_view_permission():
    clerk = make_admin(username="clerk")
    grant(clerk, "view_user", "change_user")
    ada = make_user(username="ada")
    event_record(event=EventName.LOGIN_FAILED, realm=USER, account=ada, client=Client("1.2.3.4"))
    browser = BrowserClient()
    browser.force_login(clerk)

    page = browser.get(f"/admin/accounts/user/{ada.pk}/change/")

    assert page.status_code == 200
    assert b"Recent security events" not in page.content
    assert b"1.2.3.4" not in page.content


# --- GET /api/v1/admin/events ---------------------------------------------------------


def _list(api: Any, auth: dict[str, str], **params: Any) -> dict[str, Any]:
    response = api.get(URL, params, **auth)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    assert body["message"] == "Events retrieved"
    return body["data"]


def test_the_list_is_every_event_newest_first_in_the_envelope(api, root, auth):
    ada = make_user(username="ada")
    first = event_record(event=EventName.LOGIN_FAILED, realm=USER, client=Client("1.2.3.4", "x"))
    second = event_record(event=EventName.ACCOUNT_BLOCKED, realm=USER, account=ada, actor=root)

    data = _list(api, auth)

    assert (data["count"], data["total"], data["page"], data["pages"]) == (2, 2, 1, 1)
    assert [item["id"] for item in data["items"]] == [second.pk, first.pk]
    blocked, failed = data["items"]
    assert set(blocked) == EVENT_FIELDS
    assert blocked["actor"] == {"realm": "admin", "id": root.pk}
    assert (failed["account_id"], failed["actor"], failed["ip"], failed["user_agent"]) == (
        None,
        None,
        "1.2.3.4",
        "x",
    )
    assert failed["created_at"].endswith("Z")


def test_events_of_one_instant_are_ordered_by_id(api, auth):
    now = timezone.now()
    made = [event_record(event=EventName.LOGOUT, realm=USER) for _ in range(3)]
    AuthEvent.objects.update(created_at=now)

    assert [item["id"] for item in _list(api, auth)["items"]] == [e.pk for e in reversed(made)]


@pytest.fixture
def varied(root: Admin) -> dict[str, Any]:
    """Events of both realms, several names, two addresses, one actor, three times."""
    ada, bob = make_user(username="ada"), make_user(username="bob")
    staffer = make_admin(username="staffer")
    now = timezone.now()
    made = {
        "ada_failed": event_record(
            event=EventName.LOGIN_FAILED, realm=USER, account=ada, client=Client("10.0.0.1")
        ),
        "ada_locked": event_record(
            event=EventName.LOGIN_LOCKED, realm=USER, account=ada, client=Client("10.0.0.1")
        ),
        "bob_ok": event_record(
            event=EventName.LOGIN_SUCCEEDED, realm=USER, account=bob, client=Client("2001:db8::1")
        ),
        "bob_blocked": event_record(
            event=EventName.ACCOUNT_BLOCKED, realm=USER, account=bob, actor=root
        ),
        "staffer_ok": event_record(event=EventName.LOGIN_SUCCEEDED, realm=ADMIN, account=staffer),
    }
    ages = {"ada_failed": 3, "ada_locked": 2, "bob_ok": 1, "bob_blocked": 1, "staffer_ok": 0}
    for name, days in ages.items():
        AuthEvent.objects.filter(pk=made[name].pk).update(created_at=now - timedelta(days=days))
    return {"now": now, "ada": ada, "bob": bob, "staffer": staffer, "root": root, **made}


def _ids(data: dict[str, Any]) -> set[int]:
    return {item["id"] for item in data["items"]}


def test_each_filter_narrows_the_list(api, auth, varied):
    v = varied
    ada_events = {v["ada_failed"].pk, v["ada_locked"].pk}
    ada_query = {"realm": "user", "account_id": v["ada"].pk}
    assert _ids(_list(api, auth, **ada_query)) == ada_events
    assert _ids(_list(api, auth, realm="admin")) == {v["staffer_ok"].pk}
    # An account id alone matches that id in either realm.
    assert v["staffer_ok"].pk in _ids(_list(api, auth, account_id=v["staffer"].pk))
    assert _ids(_list(api, auth, ip="2001:db8::1")) == {v["bob_ok"].pk}
    assert _ids(_list(api, auth, ip="2001:DB8:0::1")) == {v["bob_ok"].pk}  # any spelling
    assert _ids(_list(api, auth, actor_id=v["root"].pk)) == {v["bob_blocked"].pk}
    since = (v["now"] - timedelta(days=1, hours=1)).isoformat()
    until = (v["now"] - timedelta(hours=1)).isoformat()
    assert _ids(_list(api, auth, since=since, until=until)) == {
        v["bob_ok"].pk,
        v["bob_blocked"].pk,
    }


def test_the_event_filter_repeats(api, auth, varied):
    response = api.get(f"{URL}?event=login_failed&event=login_locked", **auth)

    assert response.status_code == 200
    assert _ids(response.json()["data"]) == {varied["ada_failed"].pk, varied["ada_locked"].pk}


def test_until_before_since_is_an_empty_range(api, auth, varied):
    data = _list(api, auth, since="2026-11-27T00:00:00Z", until="2026-11-26T00:00:00Z")

    assert (data["items"], data["total"]) == ([], 0)


def test_a_timestamp_with_z_is_accepted(api, auth, varied):
    since = (varied["now"] - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert _ids(_list(api, auth, since=since)) == {varied["staffer_ok"].pk}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("event=login_maybe", "event"),
        ("event=login_failed&event=nope", "event"),
        ("event=", "event"),
        ("realm=staff", "realm"),
        ("realm=", "realm"),
        ("since=yesterday", "since"),
        ("since=2026-13-01T00:00:00Z", "since"),
        ("until=", "until"),
        ("until=2026-11-26T25:00:00Z", "until"),
        ("since=0001-01-01T00:00:00%2B05:00", "since"),  # before year 1 in UTC
        ("until=9999-12-31T23:59:59-05:00", "until"),  # after year 9999 in UTC
        ("account_id=abc", "account_id"),
        ("account_id=0", "account_id"),
        ("account_id=", "account_id"),
        ("account_id=99999999999999999999999", "account_id"),
        ("actor_id=-1", "actor_id"),
        ("ip=300.1.1.1", "ip"),
        ("ip=0", "ip"),
        ("ip=%2010.0.0.1", "ip"),
        ("ip=", "ip"),
        ("page=0", "page"),
        ("page_size=x", "page_size"),
    ],
)
def test_a_bad_filter_is_a_validation_error_naming_it(api, auth, query, field):
    event_record(event=EventName.LOGOUT, realm=USER)
    before = AuthEvent.objects.count()

    body = assert_error(api.get(f"{URL}?{query}", **auth), 400, "VALIDATION_ERROR")

    assert field in body["error"]["details"]
    assert AuthEvent.objects.count() == before  # a read writes nothing


def test_pages_of_the_list(api, auth):
    for _ in range(5):
        event_record(event=EventName.LOGOUT, realm=USER)

    first = _list(api, auth, page_size=2)
    last_page = _list(api, auth, page_size=2, page=3)
    past = _list(api, auth, page_size=2, page=9)

    assert (first["count"], first["total"], first["pages"]) == (2, 5, 3)
    assert last_page["count"] == 1
    assert (past["items"], past["total"]) == ([], 5)


def _list_queries(api: Any, auth: dict[str, str], page_size: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        data = _list(api, auth, page_size=page_size, realm="user", event="logout")
    assert data["count"] == page_size
    return len(captured.captured_queries)


def test_the_list_costs_the_same_queries_for_2_or_60_events_a_page(api, auth):
    for _ in range(60):
        event_record(event=EventName.LOGOUT, realm=USER, client=Client("10.0.0.1", "agent"))

    assert _list_queries(api, auth, 2) == _list_queries(api, auth, 60) == 3


# --- Who may read it --------------------------------------------------------------------


def test_an_admin_with_the_view_permission_may_read_the_log(api):
    clerk = make_admin(username="clerk")
    grant(clerk, "view_authevent")
    event_record(event=EventName.LOGOUT, realm=USER)

    response = api.get(URL, **bearer(admin_token(api, clerk)))

    assert response.status_code == 200
    assert response.json()["data"]["total"] == 2  # the logout and the clerk's login


def test_an_admin_without_the_permission_is_forbidden(api):
    clerk = make_admin(username="clerk")
    grant(clerk, "view_user", "view_token")

    assert_error(api.get(URL, **bearer(admin_token(api, clerk))), 403, "FORBIDDEN")


def test_a_user_token_is_forbidden(api):
    make_user(username="ada")

    assert_error(api.get(URL, **bearer(user_token(api, "ada"))), 403, "FORBIDDEN")


def test_without_a_token_the_list_is_401(api):
    assert_error(api.get(URL), 401, "NOT_AUTHENTICATED")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_log_cannot_be_written_through_the_api(api, auth, method):
    event = event_record(event=EventName.LOGOUT, realm=USER)

    response = getattr(api, method)(URL, {"event": "login_failed"}, format="json", **auth)
    detail = getattr(api, method)(f"{URL}/{event.pk}", format="json", **auth)

    assert response.status_code in (403, 405)
    assert detail.status_code in (404, 405)
    assert list(AuthEvent.objects.values_list("event", flat=True)) == ["logout"]
