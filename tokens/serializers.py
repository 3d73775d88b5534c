"""How a token is shown: never its secret (except once, at creation) and never its hash."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.api.fields import StrictCharField
from tokens.models import AuthEvent, Token
from tokens.realms import REALMS


class TokenSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="True for the token making this request.")

    class Meta:
        model = Token
        fields: tuple[str, ...] = (
            "id",
            "name",
            "kind",
            "prefix",
            "scopes",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "current",
            "ip",
            "user_agent",
        )
        read_only_fields: tuple[str, ...] = fields
        # Present for login sessions only (see `to_representation`); the OpenAPI document
        # lists them as optional (config.api.schema).
        optional_fields: tuple[str, ...] = ("ip", "user_agent")
        extra_kwargs = {
            "ip": {"help_text": "The client address at login (sessions only)."},
            "user_agent": {"help_text": "The client's User-Agent at login (sessions only)."},
        }

    def get_current(self, token: Token) -> bool:
        current = self.context.get("current_token")
        return current is not None and token.pk == current.pk

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if instance.kind != "session":
            # The client address and agent are recorded for login sessions only.
            data.pop("ip")
            data.pop("user_agent")
        return data


class TokenWithSecretSerializer(TokenSerializer):
    """A new personal access token, with its secret: shown this once, never again."""

    token = serializers.CharField(help_text="The secret. Store it now: it is never shown again.")

    class Meta(TokenSerializer.Meta):
        fields = (*TokenSerializer.Meta.fields, "token")
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=["read", "write"]),
        min_length=1,
        max_length=2,
        help_text='["read"] or ["read", "write"].',
    )
    expires_in_days = serializers.IntegerField(min_value=1, max_value=365, default=90)

    def validate_scopes(self, scopes: list[str]) -> list[str]:
        if "write" in scopes and "read" not in scopes:
            raise serializers.ValidationError('"write" goes with "read": use ["read", "write"].')
        return sorted(set(scopes))


class ActorSerializer(serializers.Serializer):
    realm = serializers.CharField()
    id = serializers.IntegerField()


class AuthEventSerializer(serializers.ModelSerializer):
    """A security event: what happened to which account, done by whom, from where."""

    realm = serializers.ChoiceField(choices=[realm.name for realm in REALMS], read_only=True)
    actor = ActorSerializer(
        read_only=True,
        allow_null=True,
        help_text="The admin who did it (staff actions), else null.",
    )
    details = serializers.DictField(
        read_only=True, help_text="What else the event says; never a secret."
    )

    class Meta:
        model = AuthEvent
        fields: tuple[str, ...] = (
            "id",
            "event",
            "realm",
            "account_id",
            "actor",
            "ip",
            "user_agent",
            "created_at",
            "details",
        )
        read_only_fields: tuple[str, ...] = fields
        extra_kwargs = {
            "account_id": {"help_text": "Null when the login named no account."},
        }
