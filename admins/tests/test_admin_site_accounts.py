"""The admin site's account pages: adding a user or an admin (two password fields, the
validators and the API's field rules, through the account services), and setting another
account's password (through the one password setter, so every old token stops working)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from accounts.models import User, UserIdentifier
from accounts.tests.factories import full_width, make_user
from admins.models import Admin, AdminIdentifier
from admins.tests.factories import make_admin
from admins.tests.helpers import (
    ALIVE,
    REVOKED,
    audit_lines,
    capture_audit,
    credentials,
    grant,
    stored,
    token_rows,
    works,
)
from config.testing import assert_error, login
from tokens.realms import ADMIN, USER, realm_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_login_limit")]

USERS = "/admin/accounts/user/"
ADMINS = "/admin/admins/admin/"
NEW_PASSWORD = "a fresh long passphrase 42"


def _add_form(**changes: Any) -> dict[str, Any]:
    data = {
        "username": "grace",
        "name": "Grace Hopper",
        "email": "Grace@Example.com",
        "phone": "",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    return {**data, **changes}


def _errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, response
    return {
        field: list(messages)
        for field, messages in response.context["adminform"].form.errors.items()
    }


def _history(client: Client, account: Any) -> list[tuple[str, str]]:
    """(acting admin, message) of each entry on the account's History page, oldest first."""
    changelist = USERS if isinstance(account, User) else ADMINS
    response = client.get(f"{changelist}{account.pk}/history/")
    assert response.status_code == 200
    return [
        (entry.user.username, entry.get_change_message())
        for entry in response.context["action_list"]
    ]


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- The add pages ----------------------------------------------------------------------


@pytest.mark.parametrize("changelist", [USERS, ADMINS])
def test_the_add_page_has_two_password_fields_and_never_a_hash_field(site, changelist):
    response = site.get(f"{changelist}add/")

    assert response.status_code == 200
    fields = set(response.context["adminform"].form.fields)
    assert {"username", "name", "email", "phone", "password1", "password2"} <= fields
    assert "password" not in fields
    page = response.content.decode()
    assert 'name="password1"' in page
    assert 'name="password2"' in page


def test_a_superuser_adds_a_user_who_can_then_log_in_through_the_api(site, api, root, caplog):
    capture_audit(caplog)

    response = site.post(
        f"{USERS}add/",
        _add_form(username=full_width("grace"), phone="+44 20 7946 0958"),
    )

    user = User.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{USERS}{user.pk}/change/"
    assert (user.username, user.email, user.phone) == (
        "grace",
        "Grace@Example.com",
        "+442079460958",
    )
    assert (user.is_active, user.deleted_at) == (True, None)
    assert set(user.identifiers.values_list("value", flat=True)) == {"grace", "grace@example.com"}
    body = login(api, USER, "grace@example.com", NEW_PASSWORD).json()
    assert body["data"]["user"]["id"] == user.pk
    assert audit_lines(caplog) == [(root.pk, "user_created", user.pk)]
    assert _history(site, user) == [("root", "Added.")]


def test_a_superuser_adds_an_admin_who_can_then_log_in_through_the_api(site, api, root, caplog):
    capture_audit(caplog)

    response = site.post(f"{ADMINS}add/", _add_form(username="staffer"))

    staffer = Admin.objects.get(username="staffer")
    assert response.status_code == 302
    assert response["Location"] == f"{ADMINS}{staffer.pk}/change/"
    assert staffer.is_superuser is False
    response = login(api, ADMIN, "staffer", NEW_PASSWORD)
    assert response.status_code == 200, response.content
    assert response.json()["data"]["admin"]["id"] == staffer.pk
    assert audit_lines(caplog) == [(root.pk, "admin_created", staffer.pk)]
    assert _history(site, staffer) == [("root", "Added.")]
    # The new admin may enter the admin site, too.
    client = Client()
    site_login = {"username": "staffer", "password": NEW_PASSWORD}
    assert client.post("/admin/login/?next=/admin/", site_login).status_code == 302


def test_a_superuser_may_add_a_superuser(site, api):
    site.post(f"{ADMINS}add/", _add_form(username="second", is_superuser="on"))

    assert Admin.objects.get(username="second").is_superuser is True


def test_an_admin_with_the_add_user_permission_adds_users(api):
    clerk = make_admin(username="clerk")
    grant(clerk, "add_user")
    client = Client()
    client.force_login(clerk)

    response = client.post(f"{USERS}add/", _add_form())

    # Without the change permission, "save" does not go on to the new user's page.
    assert response.status_code == 302
    assert "/change/" not in response["Location"]
    assert User.objects.filter(username="grace").exists()
    assert login(api, USER, "grace", NEW_PASSWORD).status_code == 200


TAKEN = [
    ({"username": "ADA"}, "username"),
    ({"username": full_width("ada")}, "username"),
    ({"email": "ADA@example.COM"}, "email"),
    ({"username": "Ada@Example.com"}, "username"),  # another account's email
    ({"email": "bob@example.org"}, "email"),  # another account's username
    ({"phone": "+1 415 555 0123"}, "phone"),
]
TAKEN_IDS = [
    "username-case",
    "username-width",
    "email-case",
    "username-as-email",
    "email-as-username",
    "phone",
]


@pytest.mark.parametrize(("changes", "field"), TAKEN, ids=TAKEN_IDS)
@pytest.mark.parametrize("changelist", [USERS, ADMINS])
def test_the_add_page_refuses_a_taken_identifier_and_writes_nothing(
    site, caplog, changelist, changes, field
):
    factory, identifiers = (
        (make_user, UserIdentifier) if changelist == USERS else (make_admin, AdminIdentifier)
    )
    factory(username="ada", email="ada@example.com", phone="+14155550123")
    factory(username="bob@example.org", email="bob@example.net")
    model = User if changelist == USERS else Admin
    before = (model.objects.count(), list(identifiers.objects.values_list("pk", "value")))
    entries = LogEntry.objects.count()
    capture_audit(caplog)

    response = site.post(f"{changelist}add/", _add_form(**changes))

    errors = _errors(response)
    assert list(errors) == [field]
    assert (model.objects.count(), list(identifiers.objects.values_list("pk", "value"))) == before
    assert LogEntry.objects.count() == entries
    assert audit_lines(caplog) == []


BAD_PASSWORDS = [
    ({"password2": "another long passphrase"}, "password2", "fields didn"),
    ({"password1": "password", "password2": "password"}, "password2", "too common"),
    ({"password1": "short", "password2": "short"}, "password2", "too short"),
    ({"password1": "8675309123", "password2": "8675309123"}, "password2", "entirely numeric"),
    (
        {"password1": "gracehopper1", "password2": "gracehopper1"},
        "password2",
        "too similar",
    ),
    ({"password1": "", "password2": ""}, "password1", "required"),
]
BAD_PASSWORD_IDS = ["mismatch", "common", "short", "numeric", "similar", "missing"]


@pytest.mark.parametrize(("changes", "field", "says"), BAD_PASSWORDS, ids=BAD_PASSWORD_IDS)
@pytest.mark.parametrize("changelist", [USERS, ADMINS])
def test_the_add_page_refuses_a_bad_password_and_writes_nothing(
    site, caplog, changelist, changes, field, says
):
    model = User if changelist == USERS else Admin
    count, entries = model.objects.count(), LogEntry.objects.count()
    capture_audit(caplog)

    response = site.post(f"{changelist}add/", _add_form(username="gracehopper", **changes))

    errors = _errors(response)
    assert field in errors
    assert says in " ".join(errors[field])
    assert model.objects.count() == count
    assert LogEntry.objects.count() == entries
    assert audit_lines(caplog) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": "+1 555"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"username": "no spaces"}, "username"),
        ({"username": "ab"}, "username"),
        ({"name": "bell\x07"}, "name"),
    ],
)
def test_the_add_page_applies_the_apis_field_rules(site, changes, field):
    response = site.post(f"{USERS}add/", _add_form(**changes))

    assert list(_errors(response)) == [field]
    assert not User.objects.exists()


def test_a_non_superuser_may_not_add_an_admin_whatever_their_permissions(root):
    manager = make_admin(username="manager")
    grant(manager, "add_admin", "change_admin", "view_admin")
    client = Client()
    client.force_login(manager)
    count = Admin.objects.count()

    assert client.get(f"{ADMINS}add/").status_code == 403
    assert client.post(f"{ADMINS}add/", _add_form(is_superuser="on")).status_code == 403

    assert Admin.objects.count() == count


def test_an_admin_without_the_add_user_permission_may_not_add_users():
    clerk = make_admin(username="clerk")
    grant(clerk, "view_user", "change_user")
    client = Client()
    client.force_login(clerk)

    assert client.get(f"{USERS}add/").status_code == 403
    assert client.post(f"{USERS}add/", _add_form()).status_code == 403

    assert not User.objects.exists()


# --- Setting another account's password -------------------------------------------------


def _password(account: Any) -> str:
    changelist = USERS if isinstance(account, User) else ADMINS
    return f"{changelist}{account.pk}/password/"


def _change(account: Any) -> str:
    changelist = USERS if isinstance(account, User) else ADMINS
    return f"{changelist}{account.pk}/change/"


@pytest.mark.parametrize("factory", [make_user, make_admin], ids=["user", "admin"])
def test_the_change_page_links_to_the_password_form_and_shows_no_hash(site, factory):
    account = factory(username="ada")

    page = site.get(_change(account)).content.decode()

    assert f'<a href="{_password(account)}">this form</a>' in page
    assert account.password not in page
    assert account.password.split("$")[2] not in page  # not even the salt
    assert 'name="password"' not in page


@pytest.mark.parametrize("factory", [make_user, make_admin], ids=["user", "admin"])
def test_setting_a_password_revokes_every_old_token_and_replaces_the_old_password(
    site, api, root, caplog, factory
):
    account = factory(username="ada")
    old = credentials(api, account)
    another = credentials(api, account)
    realm = realm_of(account)
    capture_audit(caplog)

    page = site.get(_password(account))
    response = site.post(
        _password(account), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}, follow=True
    )

    assert page.status_code == 200
    assert response.redirect_chain == [(_change(account), 302)]
    assert _messages(response) == [
        "Password set. Every session and personal access token of the account was revoked."
    ]
    assert works(api, account, old) == REVOKED
    assert works(api, account, another) == REVOKED
    assert_error(login(api, realm, "ada"), 401, "INVALID_CREDENTIALS")
    assert login(api, realm, "ada", NEW_PASSWORD).status_code == 200
    assert audit_lines(caplog) == [(root.pk, "password_changed", account.pk)]
    assert _history(site, account) == [
        ("root", "Changed password: every session and token revoked.")
    ]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}, "password2"),
        ({"password1": "12345678", "password2": "12345678"}, "password2"),
        ({"password1": "{email}", "password2": "{email}"}, "password2"),
        ({"password1": "", "password2": ""}, "password1"),
    ],
    ids=["mismatch", "weak", "similar-to-email", "empty"],
)
@pytest.mark.parametrize("factory", [make_user, make_admin], ids=["user", "admin"])
def test_a_refused_password_changes_nothing_and_old_tokens_still_work(
    site, api, caplog, factory, data, field
):
    account = factory(username="ada")
    old = credentials(api, account)
    before, tokens, entries = stored(account), token_rows(), LogEntry.objects.count()
    capture_audit(caplog)

    response = site.post(
        _password(account), {key: value.format(email=account.email) for key, value in data.items()}
    )

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert stored(account) == before
    assert token_rows() == tokens
    assert works(api, account, old) == ALIVE
    assert LogEntry.objects.count() == entries
    assert audit_lines(caplog) == []


def test_setting_a_password_needs_the_change_permission(api, caplog):
    viewer = make_admin(username="viewer")
    grant(viewer, "view_user")
    client = Client()
    client.force_login(viewer)
    ada = make_user(username="ada")
    old = credentials(api, ada)
    before, tokens = stored(ada), token_rows()
    capture_audit(caplog)

    page = client.get(_password(ada))
    posted = client.post(_password(ada), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert (page.status_code, posted.status_code) == (403, 403)
    assert stored(ada) == before
    assert token_rows() == tokens
    assert works(api, ada, old) == ALIVE
    assert audit_lines(caplog) == []


def test_only_superusers_set_an_admins_password(api, root):
    manager = make_admin(username="manager")
    grant(manager, "view_admin", "change_admin")
    client = Client()
    client.force_login(manager)
    before = stored(root)

    posted = client.post(_password(root), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert posted.status_code == 403
    assert stored(root) == before


def test_ones_own_password_is_set_on_the_page_that_asks_for_the_current_one(site, root):
    before = stored(root)

    page = site.get(_password(root))
    posted = site.post(_password(root), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert page.status_code == 302
    assert page["Location"] == "/admin/password_change/"
    assert posted["Location"] == "/admin/password_change/"
    assert stored(root) == before


def test_the_password_page_of_an_unknown_account_is_404(site):
    assert site.get(f"{USERS}999999/password/").status_code == 404


# --- The change page --------------------------------------------------------------------


def _change_form(account: Any, **changes: str) -> dict[str, str]:
    data = {"username": account.username, "name": account.name, "email": account.email}
    return {**data, "phone": account.phone or "", **changes}


def test_the_change_page_stores_a_phone_in_e164_and_an_email_nfkc(site):
    ada = make_user(username="ada")

    response = site.post(
        _change(ada),
        _change_form(ada, phone="0044 20 7946 0958", email=full_width("ada") + "@example.com"),
    )

    assert response.status_code == 302
    ada.refresh_from_db()
    assert (ada.phone, ada.email) == ("+442079460958", "ada@example.com")


@pytest.mark.parametrize("phone", ["12345", "+1 555", "not a number"])
def test_the_change_page_refuses_a_bad_phone_by_its_field_and_writes_nothing(site, phone):
    ada = make_user(username="ada", phone="+14155550123")
    before = stored(ada)

    response = site.post(_change(ada), _change_form(ada, phone=phone))

    assert list(_errors(response)) == ["phone"]
    assert stored(ada) == before


@pytest.mark.parametrize("changelist", [USERS, ADMINS])
def test_add_then_set_the_password_then_read_it_all_in_the_history(site, api, changelist):
    """The whole staff story on the site: add an account, which logs in through the API;
    set its password, which ends every old token and the old password; History has both."""
    site.post(f"{changelist}add/", _add_form())
    account = (User if changelist == USERS else Admin).objects.get(username="grace")
    realm = USER if changelist == USERS else ADMIN
    old = credentials(api, account, NEW_PASSWORD)  # the password given on the add page

    site.post(
        _password(account),
        {"password1": "another passphrase 77", "password2": "another passphrase 77"},
    )

    assert works(api, account, old) == REVOKED
    assert_error(login(api, realm, "grace", NEW_PASSWORD), 401, "INVALID_CREDENTIALS")
    assert login(api, realm, "grace", "another passphrase 77").status_code == 200
    assert _history(site, account) == [
        ("root", "Added."),
        ("root", "Changed password: every session and token revoked."),
    ]
