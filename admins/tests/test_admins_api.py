"""/api/v1/admin/admins: superusers list, create, change, block, activate and unlock admins;
nobody blocks or demotes themself, and the last active superuser stays one."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import make_user
from admins.models import Admin, AdminIdentifier
from admins.tests.factories import make_admin
from admins.tests.helpers import (
    ADMIN_FIELDS,
    LOCKOUT_FIELDS,
    admin_token,
    audit_lines,
    capture_audit,
    grant,
    stored,
    token_rows,
)
from config.testing import assert_error, bearer, login, login_pair, needs_row_locking, run_together
from tokens.realms import ADMIN

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_login_limit")]

URL = "/api/v1/admin/admins"
ME = "/api/v1/admin/me"
WRONG = "not the password"
RACE_ROUNDS = 8
NEW = {
    "username": "newbie",
    "name": "New Admin",
    "email": "newbie@example.com",
    "password": "a long staff passphrase 7",
}


@pytest.fixture
def staffer() -> Admin:
    return make_admin(username="staffer", email="staffer@example.com", name="Staffer")


def _detail(admin: Admin) -> str:
    return f"{URL}/{admin.pk}"


# --- List and retrieve -------------------------------------------------------------------


def test_list_shows_every_admin_with_the_lockout_fields(api, auth, root, staffer):
    response = api.get(URL, **auth)

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["total"], data["count"], data["page"]) == (2, 2, 1)
    assert [item["id"] for item in data["items"]] == [root.pk, staffer.pk]
    assert all(set(item) == ADMIN_FIELDS | LOCKOUT_FIELDS for item in data["items"])
    assert [item["is_superuser"] for item in data["items"]] == [True, False]
    assert root.password not in response.content.decode()


def test_get_one_admin(api, auth, staffer):
    response = api.get(_detail(staffer), **auth)

    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == ADMIN_FIELDS | LOCKOUT_FIELDS
    assert (data["id"], data["username"], data["is_locked"]) == (staffer.pk, "staffer", False)


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", "/999999"),
        ("patch", "/999999"),
        ("patch", "/999999/block"),
        ("patch", "/999999/activate"),
        ("patch", "/999999/unlock"),
    ],
)
def test_an_unknown_admin_is_a_404_envelope(api, auth, caplog, method, suffix):
    capture_audit(caplog)

    assert_error(getattr(api, method)(f"{URL}{suffix}", **auth), 404, "NOT_FOUND")

    assert audit_lines(caplog) == []


# --- Create ------------------------------------------------------------------------------


def test_create_makes_an_admin_who_can_log_in(api, auth, root, caplog):
    capture_audit(caplog)

    response = api.post(URL, NEW, format="json", **auth)

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert set(data) == ADMIN_FIELDS | LOCKOUT_FIELDS
    assert (data["username"], data["is_superuser"], data["is_active"]) == ("newbie", False, True)
    assert NEW["password"] not in response.content.decode()
    created = Admin.objects.get(username="newbie")
    assert created.check_password(NEW["password"])
    assert audit_lines(caplog) == [(root.pk, "admin_created", created.pk)]
    logged_in = login(api, ADMIN, "NEWBIE", NEW["password"])
    assert logged_in.status_code == 200
    assert logged_in.json()["data"]["admin"]["id"] == created.pk


def test_create_honours_is_superuser(api, auth):
    response = api.post(URL, {**NEW, "is_superuser": True}, format="json", **auth)

    assert response.status_code == 201
    assert response.json()["data"]["is_superuser"] is True
    created = Admin.objects.get(username="newbie")
    assert created.is_superuser is True
    token = login_pair(api, ADMIN, "newbie", NEW["password"])["access_token"]
    assert api.get(URL, **bearer(token)).status_code == 200


def test_create_ignores_fields_no_client_may_set(api, auth):
    body = {**NEW, "is_active": False, "failed_login_attempts": 4, "deleted_at": "2020-01-01"}

    response = api.post(URL, body, format="json", **auth)

    assert response.status_code == 201
    created = Admin.objects.get(username="newbie")
    assert (created.is_active, created.failed_login_attempts, created.deleted_at) == (True, 0, None)


@pytest.mark.parametrize(
    "password", ["password", "Ab1!xyz", "12345678901234", "newbie123", "Newbie@example.com"]
)
def test_create_checks_the_password_with_the_validators(api, auth, caplog, password):
    capture_audit(caplog)
    tokens_before = token_rows()

    response = api.post(URL, {**NEW, "password": password}, format="json", **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "password" in body["error"]["details"]
    assert not Admin.objects.filter(username="newbie").exists()
    assert token_rows() == tokens_before
    assert audit_lines(caplog) == []


@pytest.mark.parametrize("missing", ["username", "name", "email", "password"])
def test_create_without_a_required_field_is_a_validation_error(api, auth, missing):
    body = {key: value for key, value in NEW.items() if key != missing}

    response = api.post(URL, body, format="json", **auth)

    assert missing in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert Admin.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"), [("username", "STAFFER"), ("email", "Staffer@Example.COM")]
)
def test_create_with_a_taken_username_or_email_is_409(api, auth, staffer, caplog, field, value):
    capture_audit(caplog)

    response = api.post(URL, {**NEW, field: value}, format="json", **auth)

    body = assert_error(response, 409, "CONFLICT")
    assert body["error"]["details"] == {field: [f"This {field} is already taken."]}
    assert Admin.objects.count() == 2
    assert audit_lines(caplog) == []


def test_create_with_a_username_only_a_user_holds_is_fine(api, auth):
    make_user(username="newbie", email="newbie@example.com")

    response = api.post(URL, NEW, format="json", **auth)

    assert response.status_code == 201


# --- Update ------------------------------------------------------------------------------


def test_patch_updates_an_admins_profile(api, auth, root, staffer, caplog):
    capture_audit(caplog)
    body = {"name": "Staff Member", "email": "member@example.com", "phone": "+14155550111"}

    response = api.patch(_detail(staffer), body, format="json", **auth)

    assert response.status_code == 200, response.content
    staffer.refresh_from_db()
    assert (staffer.name, staffer.email, staffer.phone) == (
        "Staff Member",
        "member@example.com",
        "+14155550111",
    )
    assert response.json()["data"]["name"] == "Staff Member"
    assert audit_lines(caplog) == [(root.pk, "account_updated", staffer.pk)]


def test_patch_with_a_username_another_admin_holds_is_409(api, auth, root, staffer):
    before = stored(staffer)

    response = api.patch(_detail(staffer), {"username": "ROOT"}, format="json", **auth)

    body = assert_error(response, 409, "CONFLICT")
    assert body["error"]["details"] == {"username": ["This username is already taken."]}
    assert stored(staffer) == before


def test_patch_with_an_invalid_email_is_a_validation_error(api, auth, staffer):
    before = stored(staffer)

    response = api.patch(_detail(staffer), {"email": "nope"}, format="json", **auth)

    assert "email" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert stored(staffer) == before


def test_patch_promotes_an_admin_to_superuser(api, auth, staffer):
    response = api.patch(_detail(staffer), {"is_superuser": True}, format="json", **auth)

    assert response.status_code == 200
    assert response.json()["data"]["is_superuser"] is True
    staffer.refresh_from_db()
    assert staffer.is_superuser is True
    assert api.get(URL, **bearer(admin_token(api, staffer))).status_code == 200


def test_patch_demotes_another_superuser_who_then_loses_admin_management(api, auth):
    other = make_admin(username="other", is_superuser=True)
    other_token = admin_token(api, other)

    response = api.patch(_detail(other), {"is_superuser": False}, format="json", **auth)

    assert response.status_code == 200
    other.refresh_from_db()
    assert other.is_superuser is False
    assert_error(api.get(URL, **bearer(other_token)), 403, "FORBIDDEN")


# PUT takes PATCH's body and answers as PATCH does: the cases here run through PATCH; these
# show the PUT route reaches the same update, for a success and for a refusal.
def test_put_is_a_partial_update_too(api, auth, staffer):
    response = api.put(_detail(staffer), {"name": "Put Name"}, format="json", **auth)

    assert response.status_code == 200
    staffer.refresh_from_db()
    assert (staffer.name, staffer.email) == ("Put Name", "staffer@example.com")


def test_put_refuses_what_patch_refuses_and_changes_nothing(api, auth, staffer, caplog):
    capture_audit(caplog)
    before = stored(staffer)

    response = api.put(_detail(staffer), {"email": "not-an-email"}, format="json", **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["email"]
    assert stored(staffer) == before
    assert audit_lines(caplog) == []


# --- Block (what both realms share: test_staff_actions.py) -------------------------------


def test_a_superuser_may_block_another_superuser(api, auth):
    other = make_admin(username="other", is_superuser=True)

    response = api.patch(f"{_detail(other)}/block", **auth)

    assert response.status_code == 200
    other.refresh_from_db()
    assert other.is_active is False


# --- Who may do it -----------------------------------------------------------------------


def test_a_non_superuser_admin_is_forbidden_everywhere_even_with_admin_permissions(
    api, root, staffer, caplog
):
    grant(staffer, "view_admin", "add_admin", "change_admin")
    token = admin_token(api, staffer)
    root_session = login_pair(api, ADMIN, "root")
    before, tokens_before = stored(root), token_rows()
    capture_audit(caplog)
    requests = [
        ("get", URL, None),
        ("post", URL, NEW),
        ("get", _detail(root), None),
        ("patch", _detail(root), {"name": "Hijacked", "is_superuser": False}),
        ("put", _detail(root), {"name": "Hijacked"}),
        ("patch", f"{_detail(root)}/block", None),
        ("patch", f"{_detail(root)}/activate", None),
        ("patch", f"{_detail(root)}/unlock", None),
        ("patch", _detail(staffer), {"is_superuser": True}),
    ]

    for method, url, body in requests:
        response = getattr(api, method)(url, body, format="json", **bearer(token))
        assert_error(response, 403, "FORBIDDEN")

    assert stored(root) == before
    staffer.refresh_from_db()
    assert staffer.is_superuser is False
    assert token_rows() == tokens_before
    assert Admin.objects.count() == 2
    assert audit_lines(caplog) == []
    assert api.get(ME, **bearer(root_session["access_token"])).status_code == 200


def _pat(api: Any, auth: dict[str, str], scopes: list[str]) -> str:
    """A personal access token of the caller of `auth`, made through the API."""
    response = api.post("/api/v1/tokens", {"name": "ci", "scopes": scopes}, format="json", **auth)
    assert response.status_code == 201, response.content
    secret: str = response.json()["data"]["token"]
    return secret


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "", {**NEW, "is_superuser": True}),
        ("patch", "/{staffer}", {"name": "Promoted", "is_superuser": True}),
        ("put", "/{staffer}", {"name": "Promoted", "is_superuser": True}),
        ("patch", "/{staffer}/block", None),
        ("patch", "/{blocked}/activate", None),
        ("patch", "/{locked}/unlock", None),
    ],
)
def test_a_write_scope_personal_token_cannot_write_admins(
    api, auth, root, staffer, method, path, body, caplog
):
    blocked = make_admin(username="blocked", email="blocked@example.com", is_active=False)
    locked = make_admin(username="locked", email="locked@example.com", failed_login_attempts=5)
    targets = {"staffer": staffer, "blocked": blocked, "locked": locked}
    pat = _pat(api, auth, ["read", "write"])
    before = {name: stored(admin) for name, admin in targets.items()}
    tokens_before = token_rows()
    capture_audit(caplog)

    url = URL + path.format(**{name: admin.pk for name, admin in targets.items()})
    response = getattr(api, method)(url, body, format="json", **bearer(pat))

    assert_error(response, 403, "INSUFFICIENT_SCOPE")
    assert {name: stored(admin) for name, admin in targets.items()} == before
    assert Admin.objects.count() == 4
    assert not Admin.objects.filter(username=NEW["username"]).exists()
    assert token_rows() == tokens_before
    assert audit_lines(caplog) == []


def test_a_read_scope_personal_token_still_reads_admins(api, auth, root, staffer):
    pat = _pat(api, auth, ["read"])

    listed = api.get(URL, **bearer(pat))
    detail = api.get(_detail(staffer), **bearer(pat))

    assert listed.status_code == 200
    assert listed.json()["data"]["total"] == 2
    assert detail.status_code == 200
    assert detail.json()["data"]["id"] == staffer.pk


def test_a_login_session_of_the_same_superuser_still_writes_admins(api, auth, root, staffer):
    _pat(api, auth, ["read", "write"])

    response = api.patch(f"{_detail(staffer)}/block", **auth)

    assert response.status_code == 200
    assert stored(staffer)["is_active"] is False


def test_an_admin_cannot_block_themself(api, auth, root, caplog):
    make_admin(username="other", is_superuser=True)
    before, tokens_before = stored(root), token_rows()
    capture_audit(caplog)

    response = api.patch(f"{_detail(root)}/block", **auth)

    assert_error(response, 403, "FORBIDDEN")
    assert stored(root) == before
    assert token_rows() == tokens_before
    assert audit_lines(caplog) == []
    assert api.get(ME, **auth).status_code == 200


def test_an_admin_cannot_demote_themself(api, auth, root, caplog):
    make_admin(username="other", is_superuser=True)
    before = stored(root)
    capture_audit(caplog)

    response = api.patch(
        _detail(root), {"is_superuser": False, "name": "Renamed"}, format="json", **auth
    )

    assert_error(response, 403, "FORBIDDEN")
    assert stored(root) == before
    assert audit_lines(caplog) == []


def test_an_admin_may_change_their_own_profile_through_the_admins_endpoint(api, auth, root):
    response = api.patch(
        _detail(root), {"name": "Renamed", "is_superuser": True}, format="json", **auth
    )

    assert response.status_code == 200
    root.refresh_from_db()
    assert (root.name, root.is_superuser) == ("Renamed", True)


def test_with_the_other_superuser_blocked_the_last_one_can_neither_block_nor_demote_itself(
    api, auth, root
):
    blocked = make_admin(username="blocked", is_superuser=True, is_active=False)
    before = stored(root)

    assert_error(api.patch(f"{_detail(root)}/block", **auth), 403, "FORBIDDEN")
    demoted = api.patch(_detail(root), {"is_superuser": False}, format="json", **auth)

    assert_error(demoted, 403, "FORBIDDEN")
    assert stored(root) == before
    assert Admin.objects.filter(is_superuser=True, is_active=True).get() == root
    assert stored(blocked)["is_active"] is False


def test_the_blocked_superuser_can_be_demoted_and_activated_by_the_last_active_one(api, auth, root):
    blocked = make_admin(username="blocked", is_superuser=True, is_active=False)

    demoted = api.patch(_detail(blocked), {"is_superuser": False}, format="json", **auth)
    activated = api.patch(f"{_detail(blocked)}/activate", **auth)

    assert (demoted.status_code, activated.status_code) == (200, 200)
    blocked.refresh_from_db()
    assert (blocked.is_superuser, blocked.is_active) == (False, True)


@pytest.mark.django_db(transaction=True)
@needs_row_locking
@pytest.mark.parametrize("action", ["demote", "block"])
def test_two_superusers_turning_on_each_other_at_once_leave_one_active_superuser(action):
    """Through the API the last-superuser guard is reached only by a race: the only two
    superusers demote (or block) each other at the same moment, each having passed the
    superuser check. Exactly one must win and the other be refused, never with a 500. A
    race does not always interleave, so it is run a few times."""
    first = make_admin(username="first", is_superuser=True)
    second = make_admin(username="second", is_superuser=True)
    client = APIClient()

    for _ in range(RACE_ROUNDS):
        Admin.objects.filter(pk__in=[first.pk, second.pk]).update(is_superuser=True, is_active=True)
        tokens = [admin_token(client, first), admin_token(client, second)]

        def turn(api: Any, index: int, tokens: list[str] = tokens) -> Any:
            url, auth = _detail([second, first][index]), bearer(tokens[index])
            if action == "block":
                return api.patch(f"{url}/block", **auth)
            return api.patch(url, {"is_superuser": False}, format="json", **auth)

        responses = run_together(2, turn)

        outcomes = sorted(
            (r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else None)
            for r in responses
        )
        # The loser is refused by the guard, or (had the winner already committed) by the
        # superuser check, or finds its session revoked by the block.
        assert outcomes[0] == (200, None), outcomes
        assert outcomes[1] in {(403, "FORBIDDEN"), (401, "TOKEN_INVALID")}, outcomes
        assert Admin.objects.filter(is_superuser=True, is_active=True).count() == 1


@pytest.mark.django_db(transaction=True)
@needs_row_locking
def test_two_admins_created_at_once_with_one_value_as_username_and_as_email_make_one():
    """The admin realm's identifier table decides, as the user realm's does: exactly one
    201, and a 409 naming the field for the other."""
    root = make_admin(username="root", is_superuser=True)
    auth = bearer(admin_token(APIClient(), root))

    for round_ in range(RACE_ROUNDS):
        value = f"x{round_}@ex.com"
        bodies = [
            {**NEW, "username": value, "email": f"a{round_}@elsewhere.example"},
            {**NEW, "username": f"staffer{round_}", "email": value.upper()},
        ]

        def create(api: Any, index: int, bodies: list[dict[str, str]] = bodies) -> Any:
            return api.post(URL, bodies[index], format="json", **auth)

        responses = run_together(2, create)

        outcomes = sorted(
            (r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else None)
            for r in responses
        )
        assert outcomes == [(201, None), (409, "CONFLICT")], outcomes
        loser = [r.status_code for r in responses].index(409)
        assert list(responses[loser].json()["error"]["details"]) == [["username", "email"][loser]]
        assert Admin.objects.by_login(value).count() == 1
    assert Admin.objects.count() == 1 + RACE_ROUNDS
    assert AdminIdentifier.objects.count() == 2 * (1 + RACE_ROUNDS)
