"""How a token is shown: never its secret (except once, at creation) and never its hash."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tokens.models import Token


class TokenSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="True for the token making this request.")

    class Meta:
        model = Token
        fields = (
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
        read_only_fields = fields

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
