"""The real URLconf plus a few views that exist only to exercise the envelope."""

from django.db import OperationalError
from django.urls import path
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import User
from config.api.responses import APIResponse
from config.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


class ProbeSerializer(serializers.Serializer):
    email = serializers.EmailField()
    age = serializers.IntegerField(min_value=0)


class ProbeView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> APIResponse:
        return APIResponse({"hello": "world"}, message="Probe retrieved")

    def post(self, request: Request) -> APIResponse:
        serializer = ProbeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return APIResponse(serializer.validated_data, message="Probe created", status=201)


class UserListSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("id", "username")


class ProbeListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = UserListSerializer
    queryset = User.objects.order_by("id")


class BrokenView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> APIResponse:
        raise RuntimeError("secret internal detail: SELECT password FROM accounts_user")


class DatabaseDownView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> APIResponse:
        raise OperationalError("connection to server at 127.0.0.1 port 1 failed")


urlpatterns = [
    *urlpatterns,
    path("api/v1/_probe/database-down", DatabaseDownView.as_view()),
    path("api/v1/_probe", ProbeView.as_view()),
    path("api/v1/_probe/list", ProbeListView.as_view()),
    path("api/v1/_probe/broken", BrokenView.as_view()),
]
