"""Serializers of the admin realm: admins as they see themselves, users and admins as
staff see them, and what staff may send."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.serializers import (
    AccountSerializer,
    ProfileUpdateSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from admins.models import Admin

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


class AdminTokenPairSerializer(TokenPairSerializer):
    admin = AdminSerializer()


class UserListQuerySerializer(serializers.Serializer):
    """The filters of GET /admin/users; anything outside them is a VALIDATION_ERROR."""

    ORDERINGS = ("id", "username", "email", "created_at", "last_login")

    search = serializers.CharField(required=False, max_length=254)
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)
    is_locked = serializers.BooleanField(required=False, allow_null=True, default=None)
    deleted = serializers.ChoiceField(
        choices=("exclude", "include", "only"), required=False, default="exclude"
    )
    ordering = serializers.ChoiceField(
        choices=[*ORDERINGS, *(f"-{field}" for field in ORDERINGS)],
        required=False,
        default="-created_at",
    )
