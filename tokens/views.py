"""`/api/v1/tokens`: the caller's own sessions and personal access tokens, either realm.

Only a login session may manage tokens: a personal access token cannot mint, list or
revoke tokens, whatever its scopes (403 INSUFFICIENT_SCOPE).
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from config.api.net import client_of
from config.api.parsers import JSON_ONLY
from config.api.responses import APIResponse
from config.api.schema import errors
from config.ratelimit import throttle
from tokens.authentication import BearerAuthentication
from tokens.models import Token
from tokens.permissions import RequiresSession, SecondFactorEnrolledIfRequired
from tokens.realms import account_key
from tokens.serializers import TokenCreateSerializer, TokenSerializer, TokenWithSecretSerializer
from tokens.services import personal_token_create, token_revoke_own, tokens_revoke_others

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class RevokedSerializer(serializers.Serializer):
    revoked = serializers.IntegerField(help_text="How many tokens were revoked.")


class TokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    authentication_classes = [BearerAuthentication]
    permission_classes = [IsAuthenticated, RequiresSession, SecondFactorEnrolledIfRequired]
    # JSON bodies only (API.md): a form cannot say null, a number or a list.
    parser_classes = JSON_ONLY
    serializer_class = TokenSerializer
    lookup_value_regex = r"[0-9]+"
    # Reached by a bearer of either realm; a personal access token is refused.
    error_statuses = {
        403: "A personal access token (managing tokens needs a login session), or an account "
        "without the second factor its realm requires"
    }
    success_messages = {
        "list": "Tokens retrieved",
        "create": "Token created",
        "destroy": "Token revoked",
        "destroy_all": "Other tokens revoked",
    }

    def get_queryset(self) -> Any:
        return Token.objects.for_owner(self.request.user).live().newest_first()

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "current_token": self.request.auth}

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenWithSecretSerializer})
    @errors({429: "Too many tokens created"})
    def create(self, request: Request) -> APIResponse:
        # Per account (realm and id), not per address.
        throttle(
            group="token-create",
            rate=settings.TOKEN_CREATE_RATE_LIMIT,
            key=account_key(request.user),
        )
        serializer = TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, secret = personal_token_create(
            owner=request.user, client=client_of(request), **serializer.validated_data
        )
        data = {
            **TokenSerializer(token, context=self.get_serializer_context()).data,
            "token": secret,
        }
        return APIResponse(data, status=201, headers=NO_STORE)

    @extend_schema(request=None, responses={200: None})
    def destroy(self, request: Request, pk: str) -> APIResponse:
        token_revoke_own(owner=request.user, token_id=int(pk), client=client_of(request))
        return APIResponse(None)

    @extend_schema(
        request=None, responses={200: RevokedSerializer}, operation_id="tokens_revoke_all"
    )
    def destroy_all(self, request: Request) -> APIResponse:
        revoked = tokens_revoke_others(
            owner=request.user, keep=cast(Token, request.auth), client=client_of(request)
        )
        return APIResponse({"revoked": revoked})
