"""Serializers of the admin realm: admins as they see themselves, users and admins as
staff see them, and what staff may send."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from accounts.serializers import (
    AccountSerializer,
    FormBlankMixin,
    ProfileUpdateSerializer,
    RegisterSerializer,
    UserSerializer,
)
from admins.models import Admin
from tokens.models import EventName
from tokens.realms import REALMS

LOCKOUT_FIELDS = ("failed_login_attempts", "locked_until", "is_locked", "last_login", "deleted_at")


class LockoutFieldsMixin(serializers.Serializer):
    is_locked = serializers.SerializerMethodField()

    @extend_schema_field(serializers.BooleanField())
    def get_is_locked(self, account: Any) -> bool:
        return bool(account.is_locked(self.context.get("now") or timezone.now()))


class AdminSerializer(AccountSerializer):
    """An admin as the admin sees themself."""

    class Meta(AccountSerializer.Meta):
        model = Admin
        fields = (*AccountSerializer.Meta.fields, "is_superuser")
        read_only_fields = fields


class StaffAdminSerializer(LockoutFieldsMixin, AdminSerializer):
    """An admin as a superuser sees them."""

    class Meta(AdminSerializer.Meta):
        fields = (*AdminSerializer.Meta.fields, *LOCKOUT_FIELDS)
        read_only_fields = fields


class StaffUserSerializer(LockoutFieldsMixin, UserSerializer):
    """A user as staff see them."""

    class Meta(UserSerializer.Meta):
        fields = (*UserSerializer.Meta.fields, *LOCKOUT_FIELDS)
        read_only_fields = fields


class StaffUserUpdateSerializer(ProfileUpdateSerializer):
    """What staff may change on a user: the profile fields, and the avatar (null removes it)."""

    avatar = serializers.FileField(required=False, allow_null=True)


class AdminCreateSerializer(RegisterSerializer):
    # DRF removes a parent's field set to None: admins are created without an avatar.
    avatar = None  # type: ignore[assignment]
    is_superuser = serializers.BooleanField(default=False)


class AdminUpdateSerializer(ProfileUpdateSerializer):
    is_superuser = serializers.BooleanField(required=False)


class QueryChoiceField(FormBlankMixin, serializers.ChoiceField):
    """`?ordering=` (sent, but empty) is not one of the choices: a 400, not the default."""


class QueryBooleanField(FormBlankMixin, serializers.BooleanField):
    """`true` or `false`; absent means no filter. Anything else, `?is_active=` (sent
    empty) and DRF's other spellings (`1`, `yes`, `null`...) included, is a 400."""

    default_empty_html = empty  # absent from the query string: the filter is left out

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> bool:
        if data not in ("true", "false"):
            self.fail("invalid", input=data)
        return data == "true"


class UserListQuerySerializer(serializers.Serializer):
    """The filters of GET /admin/users; anything outside them is a VALIDATION_ERROR."""

    ORDERINGS = ("id", "username", "email", "created_at", "last_login")

    # `?search=` (an empty search box) filters nothing.
    search = serializers.CharField(required=False, allow_blank=True, max_length=254)
    is_active = QueryBooleanField()
    is_locked = QueryBooleanField()
    deleted = QueryChoiceField(
        choices=("exclude", "include", "only"), required=False, default="exclude"
    )
    ordering = QueryChoiceField(
        choices=[*ORDERINGS, *(f"-{field}" for field in ORDERINGS)],
        required=False,
        default="-created_at",
    )


class QueryIntegerField(FormBlankMixin, serializers.IntegerField):
    """An id: 1 up to the largest the id columns hold (a larger one would make the database
    fail, not match nothing); `?account_id=` (sent, but empty) is a 400, not "no filter"."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(**kwargs)


class QueryDateTimeField(FormBlankMixin, serializers.DateTimeField):
    """An ISO 8601 timestamp (`2026-11-26T10:00:00Z`); without a zone it is UTC."""


@extend_schema_field(
    {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
    component_name=None,
)
class QueryIPField(FormBlankMixin, serializers.IPAddressField):
    """An IPv4 or IPv6 address, as written (untrimmed, as the documented formats say);
    anything else would make PostgreSQL's `inet` fail."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class EventListQuerySerializer(serializers.Serializer):
    """The filters of GET /admin/events; an unknown event name, realm or a bad timestamp
    is a VALIDATION_ERROR."""

    realm = QueryChoiceField(choices=[realm.name for realm in REALMS], required=False)
    account_id = QueryIntegerField(required=False)
    # Repeatable: `?event=login_failed&event=login_locked`.
    event = serializers.ListField(
        child=serializers.ChoiceField(choices=EventName.values), required=False
    )
    ip = QueryIPField(required=False)
    actor_id = QueryIntegerField(required=False)
    since = QueryDateTimeField(required=False)
    # `until` before `since` is an empty range, not an error: a rule across two parameters
    # that the OpenAPI document could not state.
    until = QueryDateTimeField(required=False)
