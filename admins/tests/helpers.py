"""Helpers for the admin realm's tests: logging in on either realm, and what a refused
request must leave untouched (an account's stored fields, every token row, the audit log)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import AbstractAccount
from accounts.tests.helpers import USER_FIELDS
from admins.models import Admin
from config.testing import PASSWORD, bearer, login_pair
from tokens.models import Token
from tokens.realms import ADMIN, USER, realm_of

# What the API shows of an admin to the admin themself, and of a user to an admin.
ADMIN_FIELDS = {*USER_FIELDS, "is_superuser"}
LOCKOUT_FIELDS = {"failed_login_attempts", "locked_until", "is_locked", "last_login", "deleted_at"}
STAFF_USER_FIELDS = {*USER_FIELDS, *LOCKOUT_FIELDS}

_STORED = (
    "username",
    "name",
    "email",
    "phone",
    "avatar",
    "is_active",
    "email_verified",
    "pending_email",
    "failed_login_attempts",
    "locked_until",
    "last_login",
    "deleted_at",
    "updated_at",
    "password",
)


def admin_token(api: APIClient, admin: Admin) -> str:
    """The access token of a new login session of `admin`."""
    access: str = login_pair(api, ADMIN, admin.username)["access_token"]
    return access


def user_token(api: APIClient, username: str) -> str:
    access: str = login_pair(api, USER, username)["access_token"]
    return access


def credentials(
    api: APIClient, account: AbstractAccount, password: str | None = None
) -> dict[str, str]:
    """A new login session's access and refresh tokens, and a read+write personal token
    (logging in with `password`, else the factories' password)."""
    pair = login_pair(api, realm_of(account), account.username, password or PASSWORD)
    headers: Any = bearer(pair["access_token"])
    created = api.post(
        "/api/v1/tokens", {"name": "script", "scopes": ["read", "write"]}, format="json", **headers
    )
    assert created.status_code == 201, created.content
    return {
        "access": pair["access_token"],
        "refresh": pair["refresh_token"],
        "pat": created.json()["data"]["token"],
    }


def works(api: APIClient, account: AbstractAccount, creds: dict[str, str]) -> dict[str, int]:
    """The status each of `credentials`' tokens gets now."""
    prefix = f"/api/v1/{realm_of(account).url_prefix}"
    me = f"{prefix}me" if isinstance(account, Admin) else f"{prefix}users/me"
    access: Any = bearer(creds["access"])
    pat: Any = bearer(creds["pat"])
    return {
        "access": api.get(me, **access).status_code,
        "pat": api.get(me, **pat).status_code,
        "refresh": api.post(
            f"{prefix}auth/refresh", {"refresh_token": creds["refresh"]}, format="json"
        ).status_code,
    }


REVOKED = {"access": 401, "pat": 401, "refresh": 401}
ALIVE = {"access": 200, "pat": 200, "refresh": 200}


def stored(account: AbstractAccount) -> dict[str, Any]:
    """Every stored field a request could change, re-read from the database."""
    account.refresh_from_db()
    values = {field: getattr(account, field) for field in _STORED}
    values["avatar"] = account.avatar.name
    values["is_superuser"] = getattr(account, "is_superuser", None)
    return values


def token_rows() -> list[tuple[Any, ...]]:
    """Every token row, with the columns a revocation or a refresh would change."""
    return list(
        Token.objects.order_by("pk").values_list(
            "pk", "user_id", "admin_id", "revoked_at", "refresh_jti", "expires_at"
        )
    )


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str, int]]:
    """(actor_id, event, account_id) of each line the admin audit log wrote."""
    # The fields come in as the record's `extra`, which LogRecord's type does not know.
    return [
        (record.__dict__["actor_id"], record.__dict__["event"], record.__dict__["account_id"])
        for record in caplog.records
        if record.name == "admins.audit"
    ]


def capture_audit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="admins.audit")


def grant(admin: Admin, *codenames: str) -> None:
    """Give a non-superuser admin model permissions directly (not through a group)."""
    admin.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


def site_action(client: Client, changelist: str, action: str, *accounts: Any) -> Any:
    """Run an admin site changelist action on the selected rows, following the redirect back."""
    data = {"action": action, "_selected_action": [account.pk for account in accounts]}
    return client.post(changelist, data, follow=True)


def site_messages(response: Any) -> list[tuple[str, str]]:
    """(level, text) of each message the admin site showed after `response`."""
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]
