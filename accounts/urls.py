"""The user realm's routes, under /api/v1/."""

from django.urls import path

from accounts import views
from tokens.realms import USER

me = views.MeViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "put": "update", "delete": "destroy"},
    realm=USER,
)

urlpatterns = [
    path("auth/register", views.RegisterView.as_view(), name="register"),
    path("auth/login", views.LoginView.as_view(realm=USER), name="login"),
    path("auth/refresh", views.RefreshView.as_view(realm=USER), name="refresh"),
    path("auth/logout", views.LogoutView.as_view(realm=USER), name="logout"),
    path("users/me", me, name="me"),
    path("users/me/password", views.MeViewSet.route("password", realm=USER), name="me-password"),
    path("users/me/avatar", views.MeViewSet.route("avatar", realm=USER), name="me-avatar"),
    path("users/me/events", views.MeViewSet.route("events", realm=USER), name="me-events"),
]
