"""The admin realm's routes, under /api/v1/admin/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from admins import views

router = SimpleRouter(trailing_slash=False)
router.register("users", views.UserAdminViewSet, basename="admin-user")
router.register("admins", views.AdminAdminViewSet, basename="admin-admin")

urlpatterns = [
    path("auth/login", views.AdminLoginView.as_view(), name="admin-login"),
    path("auth/refresh", views.AdminRefreshView.as_view(), name="admin-refresh"),
    path("auth/logout", views.AdminLogoutView.as_view(), name="admin-logout"),
    path("me", views.AdminMeView.as_view(), name="admin-me"),
    path("me/password", views.AdminPasswordView.as_view(), name="admin-me-password"),
    *router.urls,
]
