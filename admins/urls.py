"""The admin realm's routes, under /api/v1/admin/: the views every realm shares, wired
with the admin realm, and the staff's own viewsets."""

from django.urls import path

from accounts.views import LoginView, LogoutView, MeViewSet, RefreshView
from admins import views
from config.api.routers import Router
from tokens.realms import ADMIN

router = Router()
router.register("users", views.UserAdminViewSet, basename="admin-user")
router.register("admins", views.AdminAdminViewSet, basename="admin-admin")
router.register("events", views.EventAdminViewSet, basename="admin-event")

me = MeViewSet.as_view({"get": "retrieve", "patch": "partial_update"}, realm=ADMIN)

urlpatterns = [
    path("auth/login", LoginView.as_view(realm=ADMIN), name="admin-login"),
    path("auth/refresh", RefreshView.as_view(realm=ADMIN), name="admin-refresh"),
    path("auth/logout", LogoutView.as_view(realm=ADMIN), name="admin-logout"),
    path("me", me, name="admin-me"),
    path("me/password", MeViewSet.route("password", realm=ADMIN), name="admin-me-password"),
    path("me/events", MeViewSet.route("events", realm=ADMIN), name="admin-me-events"),
    *router.urls,
]
