from typing import Any

from rest_framework import generics

from users.serializers import UserSerializer


class MeView(generics.RetrieveAPIView):
    """`GET /me`: the authenticated user (authentication and permission are the defaults)."""

    serializer_class = UserSerializer

    def get_object(self) -> Any:
        return self.request.user
