"""/api/v1/admin/users: staff find, inspect, change, block, unlock, delete and restore users,
with the model permissions the admin site would need, and an audit line for each change."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import full_width, make_user
from accounts.tests.images import image_bytes, upload
from admins.tests.factories import make_admin
from admins.tests.helpers import (
    STAFF_USER_FIELDS,
    admin_token,
    audit_lines,
    capture_audit,
    grant,
    stored,
    token_rows,
)
from config.testing import PASSWORD, assert_error, bearer, login, login_pair
from tokens.models import Token
from tokens.realms import USER
from tokens.tests.helpers import SESSION_ONLY, TOKEN_FIELDS, claims

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_login_limit")]

URL = "/api/v1/admin/users"
WRONG = "not the password"
LIST_FIELDS = {"items", "count", "total", "page", "page_size", "pages"}


@pytest.fixture
def ada() -> User:
    return make_user(username="ada", email="ada@example.com", name="Ada", phone="+14155550123")


def _detail(user: User) -> str:
    return f"{URL}/{user.pk}"


def _items(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return items


def _usernames(response: Any) -> list[str]:
    return [item["username"] for item in _items(response)]


def _staff(api: Any, *codenames: str) -> dict[str, str]:
    """The bearer header of a non-superuser admin holding exactly these permissions."""
    admin = make_admin()
    grant(admin, *codenames)
    return bearer(admin_token(api, admin))


# --- List --------------------------------------------------------------------------------


def test_list_answers_the_list_envelope_with_the_admin_view_of_each_user(api, auth, ada):
    locked = make_user(
        username="locked", failed_login_attempts=5, locked_until=timezone.now() + timedelta(hours=1)
    )

    response = api.get(URL, **auth)

    assert response.status_code == 200
    body = response.json()
    assert (body["success"], body["message"]) == (True, "Users retrieved")
    data = body["data"]
    assert set(data) == LIST_FIELDS
    assert (data["count"], data["total"], data["page"], data["page_size"], data["pages"]) == (
        2,
        2,
        1,
        20,
        1,
    )
    by_name = {item["username"]: item for item in data["items"]}
    assert all(set(item) == STAFF_USER_FIELDS for item in data["items"])
    assert by_name["ada"]["phone"] == "+14155550123"
    assert (by_name["ada"]["is_locked"], by_name["ada"]["failed_login_attempts"]) == (False, 0)
    assert (by_name["locked"]["is_locked"], by_name["locked"]["failed_login_attempts"]) == (True, 5)
    assert by_name["locked"]["locked_until"].endswith("Z")
    assert by_name["ada"]["deleted_at"] is None
    assert "password" not in response.content.decode()
    assert locked.password not in response.content.decode()


def test_list_is_newest_first_by_default(api, auth):
    older, newer = make_user(), make_user()
    User.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=1))

    assert _usernames(api.get(URL, **auth)) == [newer.username, older.username]


@pytest.fixture
def searchable() -> dict[str, User]:
    return {
        "alice": make_user(username="alice", name="Alice", email="a@example.com"),
        "bob": make_user(username="bob", name="Robert Wonderland", email="b@example.com"),
        "carol": make_user(username="carol", name="Carol", email="carol@Mail.ORG"),
        "dave": make_user(
            username="dave", name="Dave", email="d@example.com", phone="+14155550142"
        ),
    }


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ALIC", ["alice"]),
        ("wonderLAND", ["bob"]),
        ("mail.org", ["carol"]),
        ("5550142", ["dave"]),
        ("example.com", ["alice", "bob", "dave"]),
        ("nothing-like-it", []),
    ],
)
def test_search_is_case_insensitive_contains_over_username_name_email_and_phone(
    api, auth, searchable, term, expected
):
    response = api.get(URL, {"search": term}, **auth)

    assert sorted(_usernames(response)) == expected
    assert response.json()["data"]["total"] == len(expected)


def test_is_active_filter(api, auth):
    active = make_user(username="active")
    blocked = make_user(username="blocked", is_active=False)

    assert _usernames(api.get(URL, {"is_active": "true"}, **auth)) == [active.username]
    assert _usernames(api.get(URL, {"is_active": "false"}, **auth)) == [blocked.username]


def test_is_locked_filter_treats_an_expired_lock_as_unlocked(api, auth):
    now = timezone.now()
    make_user(username="locked", locked_until=now + timedelta(minutes=10))
    make_user(username="expired", locked_until=now - timedelta(minutes=10))
    make_user(username="never")

    assert _usernames(api.get(URL, {"is_locked": "true"}, **auth)) == ["locked"]
    unlocked = api.get(URL, {"is_locked": "false"}, **auth)
    assert sorted(_usernames(unlocked)) == ["expired", "never"]


@pytest.mark.parametrize(
    ("deleted", "expected"),
    [(None, ["kept"]), ("exclude", ["kept"]), ("include", ["gone", "kept"]), ("only", ["gone"])],
)
def test_deleted_filter(api, auth, deleted, expected):
    make_user(username="kept")
    make_user(username="gone", deleted_at=timezone.now())
    query = {} if deleted is None else {"deleted": deleted}

    assert sorted(_usernames(api.get(URL, query, **auth))) == expected


@pytest.fixture
def ordered() -> list[User]:
    """Three users in a different order for every sortable field."""
    now = timezone.now()
    rows = [
        ("carol", "b@example.com", 1, 3),
        ("alice", "c@example.com", 3, 1),
        ("bob", "a@example.com", 2, 2),
    ]
    users = []
    for username, email, days_ago, hours_ago in rows:
        user = make_user(username=username, email=email)
        User.objects.filter(pk=user.pk).update(
            created_at=now - timedelta(days=days_ago), last_login=now - timedelta(hours=hours_ago)
        )
        user.refresh_from_db()
        users.append(user)
    return users


@pytest.mark.parametrize("field", ["id", "username", "email", "created_at", "last_login"])
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_ordering_by_each_allowed_field_both_ways(api, auth, ordered, field, descending):
    expected = [
        user.username
        for user in sorted(ordered, key=lambda u: getattr(u, field), reverse=descending)
    ]

    response = api.get(URL, {"ordering": f"-{field}" if descending else field}, **auth)

    assert _usernames(response) == expected


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("ordering", "password"),
        ("ordering", "-password"),
        ("is_active", "maybe"),
        ("is_locked", "perhaps"),
        ("deleted", "all"),
        ("page", "abc"),
        ("page", "0"),
        ("page_size", "-5"),
    ],
)
def test_an_invalid_list_parameter_is_a_validation_error_naming_it(
    api, auth, ada, parameter, value
):
    response = api.get(URL, {parameter: value}, **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert parameter in body["error"]["details"]
    assert ada.password not in response.content.decode()


def test_a_page_past_the_end_is_empty_with_the_right_total(api, auth):
    for _ in range(3):
        make_user()

    response = api.get(URL, {"page": 5, "page_size": 2}, **auth)

    data = response.json()["data"]
    assert (data["items"], data["count"], data["total"]) == ([], 0, 3)
    assert (data["page"], data["page_size"], data["pages"]) == (5, 2, 2)


def test_pages_split_the_list_without_overlap(api, auth):
    for _ in range(5):
        make_user()

    pages = [api.get(URL, {"page": n, "page_size": 2}, **auth).json()["data"] for n in (1, 2, 3)]

    assert [page["count"] for page in pages] == [2, 2, 1]
    ids = [item["id"] for page in pages for item in page["items"]]
    assert sorted(ids) == sorted(User.objects.values_list("pk", flat=True))


def test_page_size_is_capped_at_one_hundred(api, auth):
    for _ in range(101):
        make_user()

    data = api.get(URL, {"page_size": 1000000}, **auth).json()["data"]

    assert (data["page_size"], data["count"], data["total"], data["pages"]) == (100, 100, 101, 2)


def _list_queries(api: Any, auth: dict[str, str], max_queries: Any) -> int:
    """How many queries the fully filtered list takes (at most 3, or the check fails)."""
    query = "page_size=100&search=user&is_active=true&is_locked=false&ordering=-username"
    with max_queries(3), CaptureQueriesContext(connection) as captured:
        response = api.get(f"{URL}?{query}", **auth)
    assert response.status_code == 200
    assert response.json()["data"]["total"] == User.objects.count()
    return len(captured.captured_queries)


def test_the_filtered_list_costs_the_same_few_queries_for_5_or_120_users(
    api, auth, django_assert_max_num_queries
):
    for _ in range(5):
        make_user()
    small = _list_queries(api, auth, django_assert_max_num_queries)
    for _ in range(115):
        make_user()

    large = _list_queries(api, auth, django_assert_max_num_queries)

    assert large == small


# --- Retrieve ----------------------------------------------------------------------------


def test_get_one_user_answers_the_admin_view(api, auth, ada, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = api.get(_detail(ada), **auth)

    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == STAFF_USER_FIELDS
    assert (data["id"], data["username"], data["email"]) == (ada.pk, "ada", "ada@example.com")


def test_a_soft_deleted_user_is_retrievable(api, auth):
    gone = make_user(deleted_at=timezone.now())

    response = api.get(_detail(gone), **auth)

    assert response.status_code == 200
    assert response.json()["data"]["deleted_at"].endswith("Z")


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", "/999999"),
        ("get", "/abc"),
        ("patch", "/999999"),
        ("delete", "/999999"),
        ("patch", "/999999/block"),
        ("get", "/999999/tokens"),
    ],
)
def test_an_unknown_user_is_a_404_envelope(api, auth, caplog, method, suffix):
    capture_audit(caplog)

    assert_error(getattr(api, method)(f"{URL}{suffix}", **auth), 404, "NOT_FOUND")

    assert audit_lines(caplog) == []


# --- Update ------------------------------------------------------------------------------


def test_update_changes_the_profile_and_ignores_fields_no_client_may_set(
    api, auth, ada, root, caplog
):
    capture_audit(caplog)
    body = {
        "username": "Adaline",
        "name": "Ada Lovelace",
        "email": "lovelace@example.com",
        "phone": "+1 415 555 0199",
        "is_active": False,
        "failed_login_attempts": 3,
        "deleted_at": "2020-01-01T00:00:00Z",
        "id": 999,
    }

    response = api.patch(_detail(ada), body, format="json", **auth)

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert set(data) == STAFF_USER_FIELDS
    assert (data["username"], data["name"], data["email"], data["phone"]) == (
        "Adaline",
        "Ada Lovelace",
        "lovelace@example.com",
        "+14155550199",
    )
    ada.refresh_from_db()
    assert (ada.username, ada.email, ada.phone) == (
        "Adaline",
        "lovelace@example.com",
        "+14155550199",
    )
    assert (ada.is_active, ada.failed_login_attempts, ada.deleted_at) == (True, 0, None)
    assert audit_lines(caplog) == [(root.pk, "account_updated", ada.pk)]


# PUT takes PATCH's body and answers as PATCH does: the cases here run through PATCH; these
# show the PUT route reaches the same update, for a success and for a refusal.
def test_put_is_a_partial_update_too(api, auth, ada, root, caplog):
    capture_audit(caplog)

    response = api.put(_detail(ada), {"name": "Put Name"}, format="json", **auth)

    assert response.status_code == 200, response.content
    assert set(response.json()["data"]) == STAFF_USER_FIELDS
    ada.refresh_from_db()
    assert (ada.name, ada.email) == ("Put Name", "ada@example.com")
    assert audit_lines(caplog) == [(root.pk, "account_updated", ada.pk)]


def test_put_refuses_what_patch_refuses_and_changes_nothing(api, auth, ada, caplog):
    capture_audit(caplog)
    before = stored(ada)

    response = api.put(_detail(ada), {"email": "not-an-email"}, format="json", **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["email"]
    assert stored(ada) == before
    assert audit_lines(caplog) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "BOB"),
        ("username", full_width("bob")),
        ("email", "BOB@example.COM"),
        ("phone", "+1 (415) 555-0177"),
    ],
)
def test_update_with_a_value_another_user_holds_is_409_naming_the_field(
    api, auth, ada, caplog, field, value
):
    make_user(username="bob", email="bob@example.com", phone="+14155550177")
    capture_audit(caplog)
    before = stored(ada)

    response = api.patch(_detail(ada), {field: value}, format="json", **auth)

    body = assert_error(response, 409, "CONFLICT")
    assert body["error"]["details"] == {field: [f"This {field} is already taken."]}
    assert stored(ada) == before
    assert audit_lines(caplog) == []


def test_update_to_a_username_only_an_admin_holds_is_fine(api, auth, ada):
    make_admin(username="staffer")

    response = api.patch(_detail(ada), {"username": "staffer"}, format="json", **auth)

    assert response.status_code == 200
    ada.refresh_from_db()
    assert ada.username == "staffer"


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("username", "no spaces"), ("name", ""), ("phone", "12")],
)
def test_update_with_an_invalid_value_is_a_validation_error(api, auth, ada, field, value):
    before = stored(ada)

    response = api.patch(_detail(ada), {field: value}, format="json", **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in body["error"]["details"]
    assert stored(ada) == before


def _files(settings: Any) -> list[Path]:
    return sorted(path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file())


def test_a_multipart_update_sets_the_avatar_and_json_null_removes_it(
    api, auth, ada, settings, django_capture_on_commit_callbacks
):
    response = api.patch(
        _detail(ada),
        {"avatar": upload(image_bytes("PNG")), "name": "Ada L."},
        format="multipart",
        **auth,
    )

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["name"] == "Ada L."
    assert data["avatar_url"] is not None
    (stored_file,) = _files(settings)
    assert data["avatar_url"].endswith(stored_file.name)
    ada.refresh_from_db()
    assert ada.avatar.name == stored_file.name

    with django_capture_on_commit_callbacks(execute=True):
        removed = api.patch(_detail(ada), {"avatar": None}, format="json", **auth)

    assert removed.status_code == 200, removed.content
    assert removed.json()["data"]["avatar_url"] is None
    ada.refresh_from_db()
    assert ada.avatar.name == ""
    assert _files(settings) == []


@pytest.mark.parametrize("other_fields", [{}, {"name": "Changed"}], ids=["alone", "with-name"])
def test_an_avatar_that_is_not_an_image_refuses_the_whole_update_and_writes_nothing(
    api, auth, ada, settings, caplog, other_fields
):
    capture_audit(caplog)
    before = stored(ada)

    response = api.patch(
        _detail(ada),
        {"avatar": upload(b"<html>hello</html>", name="a.png"), **other_fields},
        format="multipart",
        **auth,
    )

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "avatar" in body["error"]["details"]
    assert stored(ada) == before
    assert _files(settings) == []
    assert audit_lines(caplog) == []


# --- Delete, restore (block, activate and unlock: test_staff_actions.py) -----------------


def test_delete_soft_deletes_revokes_tokens_and_refuses_login(api, auth, ada, root, caplog):
    session = login_pair(api, USER, "ada")
    capture_audit(caplog)

    response = api.delete(_detail(ada), **auth)

    assert response.status_code == 200
    assert response.json()["data"]["deleted_at"].endswith("Z")
    ada.refresh_from_db()
    assert ada.deleted_at is not None
    assert User.objects.filter(pk=ada.pk).exists()
    assert not Token.objects.for_owner(ada).live().exists()
    assert_error(
        api.get("/api/v1/users/me", **bearer(session["access_token"])), 401, "TOKEN_INVALID"
    )
    assert_error(login(api, USER, "ada"), 401, "INVALID_CREDENTIALS")
    assert _usernames(api.get(URL, **auth)) == []
    assert audit_lines(caplog) == [(root.pk, "account_deleted", ada.pk)]


def test_restore_lets_a_soft_deleted_user_log_in_again(api, auth, ada, root, caplog):
    capture_audit(caplog)
    api.delete(_detail(ada), **auth)
    caplog.clear()

    response = api.patch(f"{_detail(ada)}/restore", **auth)

    assert response.status_code == 200
    assert response.json()["data"]["deleted_at"] is None
    ada.refresh_from_db()
    assert ada.deleted_at is None
    assert login(api, USER, "ada").status_code == 200
    assert _usernames(api.get(URL, **auth)) == ["ada"]
    assert audit_lines(caplog) == [(root.pk, "account_restored", ada.pk)]


# --- A user's tokens ---------------------------------------------------------------------


def test_tokens_lists_that_users_sessions_and_never_a_hash(api, auth, ada):
    first = login_pair(api, USER, "ada")
    login_pair(api, USER, "ada")
    make_user(username="other")
    login_pair(api, USER, "other")

    response = api.get(f"{_detail(ada)}/tokens", **auth)

    items = _items(response)
    assert len(items) == 2
    assert response.json()["data"]["total"] == 2
    assert all(set(item) >= TOKEN_FIELDS | SESSION_ONLY for item in items)
    assert all(item["kind"] == "session" and item["current"] is False for item in items)
    assert {item["id"] for item in items} == set(
        Token.objects.for_owner(ada).values_list("pk", flat=True)
    )
    text = response.content.decode()
    assert "token_hash" not in text
    assert "refresh_jti" not in text
    for row in Token.objects.all():
        assert row.token_hash not in text
        assert row.refresh_jti not in text
    assert first["access_token"] not in text
    assert claims(first["access_token"])["sid"] not in text


def test_revoking_a_users_tokens_ends_all_their_sessions_at_once(api, auth, ada, root, caplog):
    sessions = [login_pair(api, USER, "ada") for _ in range(2)]
    make_user(username="other")
    other = login_pair(api, USER, "other")
    capture_audit(caplog)

    response = api.delete(f"{_detail(ada)}/tokens", **auth)

    assert response.status_code == 200
    assert response.json()["data"] == {"revoked": 2}
    for session in sessions:
        assert_error(
            api.get("/api/v1/users/me", **bearer(session["access_token"])), 401, "TOKEN_INVALID"
        )
    assert api.get("/api/v1/users/me", **bearer(other["access_token"])).status_code == 200
    assert audit_lines(caplog) == [(root.pk, "sessions_revoked", ada.pk)]
    assert login(api, USER, "ada").status_code == 200


def test_view_user_alone_may_not_list_a_users_tokens(api, ada):
    headers = _staff(api, "view_user")
    login_pair(api, USER, "ada")
    tokens_before = token_rows()

    response = api.get(f"{_detail(ada)}/tokens", **headers)

    assert_error(response, 403, "FORBIDDEN")
    assert "127.0.0.1" not in response.content.decode()
    assert token_rows() == tokens_before


def test_view_token_alone_may_not_list_a_users_tokens(api, ada):
    headers = _staff(api, "view_token")
    login_pair(api, USER, "ada")

    assert_error(api.get(f"{_detail(ada)}/tokens", **headers), 403, "FORBIDDEN")


def test_view_user_and_view_token_may_list_a_users_tokens(api, ada):
    headers = _staff(api, "view_user", "view_token")
    login_pair(api, USER, "ada")

    response = api.get(f"{_detail(ada)}/tokens", **headers)

    items = _items(response)
    assert response.status_code == 200
    assert [item["id"] for item in items] == list(
        Token.objects.for_owner(ada).values_list("pk", flat=True)
    )
    assert items[0]["ip"] == "127.0.0.1"


def test_change_user_alone_may_not_revoke_a_users_tokens(api, ada, caplog):
    headers = _staff(api, "view_user", "change_user", "view_token")
    session = login_pair(api, USER, "ada")
    tokens_before = token_rows()
    capture_audit(caplog)

    response = api.delete(f"{_detail(ada)}/tokens", **headers)

    assert_error(response, 403, "FORBIDDEN")
    assert token_rows() == tokens_before
    assert audit_lines(caplog) == []
    assert api.get("/api/v1/users/me", **bearer(session["access_token"])).status_code == 200


def test_change_token_alone_may_not_revoke_a_users_tokens(api, ada):
    headers = _staff(api, "change_token")
    login_pair(api, USER, "ada")
    tokens_before = token_rows()

    assert_error(api.delete(f"{_detail(ada)}/tokens", **headers), 403, "FORBIDDEN")

    assert token_rows() == tokens_before


def test_change_user_and_change_token_may_revoke_a_users_tokens(api, ada, caplog):
    staff = make_admin()
    grant(staff, "change_user", "change_token")
    headers = bearer(admin_token(api, staff))
    session = login_pair(api, USER, "ada")
    capture_audit(caplog)

    response = api.delete(f"{_detail(ada)}/tokens", **headers)

    assert response.status_code == 200
    assert response.json()["data"] == {"revoked": 1}
    assert_error(
        api.get("/api/v1/users/me", **bearer(session["access_token"])), 401, "TOKEN_INVALID"
    )
    assert audit_lines(caplog) == [(staff.pk, "sessions_revoked", ada.pk)]


def test_a_superuser_needs_no_token_permission_to_list_or_revoke(api, auth, ada):
    login_pair(api, USER, "ada")

    listed = api.get(f"{_detail(ada)}/tokens", **auth)
    revoked = api.delete(f"{_detail(ada)}/tokens", **auth)

    assert listed.status_code == 200
    assert len(_items(listed)) == 1
    assert revoked.status_code == 200
    assert revoked.json()["data"] == {"revoked": 1}


def test_a_user_without_sessions_has_an_empty_token_list(api, auth, ada):
    response = api.get(f"{_detail(ada)}/tokens", **auth)

    assert _items(response) == []
    assert response.json()["data"]["total"] == 0


# --- Permissions -------------------------------------------------------------------------


def _refused_requests(user: User) -> list[tuple[str, str]]:
    return [
        ("patch", _detail(user)),
        ("put", _detail(user)),
        ("patch", f"{_detail(user)}/block"),
        ("patch", f"{_detail(user)}/activate"),
        ("patch", f"{_detail(user)}/unlock"),
        ("patch", f"{_detail(user)}/restore"),
        ("delete", _detail(user)),
        ("delete", f"{_detail(user)}/tokens"),
    ]


def _send(api: Any, method: str, url: str, headers: dict[str, str]) -> Any:
    if method == "get":
        return api.get(url, **headers)
    return getattr(api, method)(url, {"name": "Changed by staff"}, format="json", **headers)


def test_an_admin_without_permissions_is_forbidden_everywhere_and_changes_nothing(api, ada, caplog):
    headers = _staff(api)
    login_pair(api, USER, "ada")
    before, tokens_before = stored(ada), token_rows()
    capture_audit(caplog)

    reads = [("get", URL), ("get", _detail(ada)), ("get", f"{_detail(ada)}/tokens")]
    for method, url in [*reads, *_refused_requests(ada)]:
        assert_error(_send(api, method, url, headers), 403, "FORBIDDEN")

    assert stored(ada) == before
    assert token_rows() == tokens_before
    assert audit_lines(caplog) == []


def test_view_user_permission_may_read_but_not_change(api, ada, caplog):
    headers = _staff(api, "view_user")
    login_pair(api, USER, "ada")
    before, tokens_before = stored(ada), token_rows()
    capture_audit(caplog)

    assert _usernames(api.get(URL, **headers)) == ["ada"]
    assert api.get(_detail(ada), **headers).json()["data"]["id"] == ada.pk
    for method, url in _refused_requests(ada):
        assert_error(_send(api, method, url, headers), 403, "FORBIDDEN")

    assert stored(ada) == before
    assert token_rows() == tokens_before
    assert audit_lines(caplog) == []


def test_view_user_permission_through_a_group_may_read(api, ada):
    staff = make_admin()
    readers = Group.objects.create(name="readers")
    readers.permissions.add(Permission.objects.get(codename="view_user"))
    staff.groups.add(readers)
    headers = bearer(admin_token(api, staff))

    assert _usernames(api.get(URL, **headers)) == ["ada"]
    assert api.get(_detail(ada), **headers).status_code == 200
    assert_error(api.patch(f"{_detail(ada)}/block", **headers), 403, "FORBIDDEN")
    ada.refresh_from_db()
    assert ada.is_active is True


def test_view_and_change_permissions_may_read_and_change(api, ada, caplog):
    staff = make_admin()
    grant(staff, "view_user", "change_user")
    headers = bearer(admin_token(api, staff))
    capture_audit(caplog)

    assert _usernames(api.get(URL, **headers)) == ["ada"]
    updated = api.patch(_detail(ada), {"name": "Renamed"}, format="json", **headers)
    blocked = api.patch(f"{_detail(ada)}/block", **headers)

    assert updated.status_code == 200
    assert blocked.status_code == 200
    ada.refresh_from_db()
    assert (ada.name, ada.is_active) == ("Renamed", False)
    assert audit_lines(caplog) == [
        (staff.pk, "account_updated", ada.pk),
        (staff.pk, "account_blocked", ada.pk),
    ]


def test_permissions_of_other_models_do_not_count(api, ada):
    headers = _staff(api, "view_admin", "change_admin", "view_token")

    assert_error(api.get(URL, **headers), 403, "FORBIDDEN")


def test_a_user_token_is_forbidden_here(api, ada):
    token = login_pair(api, USER, "ada", PASSWORD)["access_token"]
    before = stored(ada)

    assert_error(api.patch(f"{_detail(ada)}/block", **bearer(token)), 403, "FORBIDDEN")

    assert stored(ada) == before


def test_no_token_is_not_authenticated(api, ada):
    assert_error(api.get(URL), 401, "NOT_AUTHENTICATED")
