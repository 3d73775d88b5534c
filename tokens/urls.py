"""Routes of /api/v1/tokens."""

from django.urls import path

from tokens.views import TokenViewSet

urlpatterns = [
    path(
        "tokens",
        TokenViewSet.as_view({"get": "list", "post": "create", "delete": "revoke_all"}),
        name="tokens",
    ),
    path("tokens/<int:pk>", TokenViewSet.as_view({"delete": "destroy"}), name="token-detail"),
]
