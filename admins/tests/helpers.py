"""Helpers for the admin realm's tests: logging in on either realm, and what a refused
request must leave untouched (an account's stored fields, every token row, the audit log)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from accounts.models import AbstractAccount
from accounts.tests.factories import PASSWORD as USER_PASSWORD
from accounts.tests.helpers import bearer, login_pair
from admins.models import Admin
from admins.tests.factories import PASSWORD
from tokens.models import Token

ADMIN_LOGIN = "/api/v1/admin/auth/login"

# What the API shows of an admin to the admin themself, and of a user to an admin.
ADMIN_FIELDS = {
    "id",
    "username",
    "name",
    "email",
    "phone",
    "avatar_url",
    "is_active",
    "email_verified",
    "pending_email",
    "is_superuser",
    "two_factor_enabled",
    "created_at",
    "updated_at",
}
LOCKOUT_FIELDS = {"failed_login_attempts", "locked_until", "is_locked", "last_login", "deleted_at"}
STAFF_USER_FIELDS = {
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
    *LOCKOUT_FIELDS,
}

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


def admin_login(api: APIClient, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return api.post(
        ADMIN_LOGIN, {"username": username, "password": password}, format="json", **extra
    )


def admin_pair(api: APIClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = admin_login(api, username, password)
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()["data"]
    return data


def admin_token(api: APIClient, admin: Admin) -> str:
    """The access token of a new login session of `admin`."""
    access: str = admin_pair(api, admin.username)["access_token"]
    return access


def user_token(api: APIClient, username: str) -> str:
    access: str = login_pair(api, username, USER_PASSWORD)["access_token"]
    return access


def credentials(
    api: APIClient, account: AbstractAccount, password: str | None = None
) -> dict[str, str]:
    """A new login session's access and refresh tokens, and a read+write personal token
    (logging in with `password`, else the factories' password)."""
    if isinstance(account, Admin):
        pair = admin_pair(api, account.username, password or PASSWORD)
    else:
        pair = login_pair(api, account.username, password or USER_PASSWORD)
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
    prefix = "/api/v1/admin" if isinstance(account, Admin) else "/api/v1"
    me = f"{prefix}/me" if isinstance(account, Admin) else f"{prefix}/users/me"
    access: Any = bearer(creds["access"])
    pat: Any = bearer(creds["pat"])
    return {
        "access": api.get(me, **access).status_code,
        "pat": api.get(me, **pat).status_code,
        "refresh": api.post(
            f"{prefix}/auth/refresh", {"refresh_token": creds["refresh"]}, format="json"
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
