"""Helpers for the user realm's tests."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from accounts.services import two_factor_confirm, two_factor_enrol
from accounts.totp import code_at, time_step
from config.api.net import Client
from config.testing import PASSWORD

# What the API shows of a user to the user themself.
USER_FIELDS = {
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
}


def plain_drf_twin(fast: type[serializers.ModelSerializer]) -> type[serializers.ModelSerializer]:
    """A plain DRF `ModelSerializer` with `fast`'s model, `Meta.fields` and method fields,
    but DRF's own `to_representation`: what a fast representation must equal."""
    methods = {
        name: serializers.SerializerMethodField()
        for name, field in fast._declared_fields.items()
        if isinstance(field, serializers.SerializerMethodField)
    }
    getters = {f"get_{name}": getattr(fast, f"get_{name}") for name in methods}
    meta = type("Meta", (), {"model": fast.Meta.model, "fields": fast.Meta.fields})
    return type(
        f"Plain{fast.__name__}",
        (serializers.ModelSerializer,),
        {**methods, **getters, "Meta": meta},
    )


def totp_now(secret: str) -> str:
    """The code an authenticator app with `secret` shows now."""
    return code_at(secret=secret, step=time_step(timezone.now()))


def enable_two_factor(account: Any, password: str = PASSWORD) -> tuple[str, list[str]]:
    """Turn on an account's second factor as its holder would (enrol, confirm with the
    current code); the secret and the recovery codes. The confirming code's step is used
    up: a login needs a code of a later step (move the clock on by `STEP_SECONDS`)."""
    client = Client("127.0.0.1")
    secret, _ = two_factor_enrol(account=account, password=password, client=client)
    codes = two_factor_confirm(account=account, code=totp_now(secret), client=client)
    return secret, codes
