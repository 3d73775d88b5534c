"""The admin realm's routes, under /api/v1/admin/: the views every realm shares, wired
with the admin realm, and the staff's own viewsets."""

from django.urls import path

from accounts.views import (
    EmailVerifyView,
    LoginSecondFactorView,
    LoginView,
    LogoutView,
    MeViewSet,
    PasswordResetConfirmView,
    PasswordResetView,
    RefreshView,
    SecureAccountView,
)
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
    path(
        "auth/login/2fa",
        LoginSecondFactorView.as_view(realm=ADMIN),
        name="admin-login-2fa",
    ),
    path("auth/refresh", RefreshView.as_view(realm=ADMIN), name="admin-refresh"),
    path("auth/logout", LogoutView.as_view(realm=ADMIN), name="admin-logout"),
    path(
        "auth/password/reset",
        PasswordResetView.as_view(realm=ADMIN),
        name="admin-password-reset",
    ),
    path(
        "auth/password/reset/confirm",
        PasswordResetConfirmView.as_view(realm=ADMIN),
        name="admin-password-reset-confirm",
    ),
    path("auth/email/verify", EmailVerifyView.as_view(realm=ADMIN), name="admin-email-verify"),
    path(
        "auth/secure-account", SecureAccountView.as_view(realm=ADMIN), name="admin-secure-account"
    ),
    path("me", me, name="admin-me"),
    path("me/2fa", MeViewSet.route("two_factor", realm=ADMIN), name="admin-me-2fa"),
    path("me/2fa/totp", MeViewSet.route("totp", realm=ADMIN), name="admin-me-2fa-totp"),
    path(
        "me/2fa/totp/confirm",
        MeViewSet.route("totp_confirm", realm=ADMIN),
        name="admin-me-2fa-totp-confirm",
    ),
    path(
        "me/2fa/recovery-codes",
        MeViewSet.route("recovery_codes", realm=ADMIN),
        name="admin-me-2fa-recovery-codes",
    ),
    path("me/password", MeViewSet.route("password", realm=ADMIN), name="admin-me-password"),
    path(
        "me/email/verify",
        MeViewSet.route("verify", realm=ADMIN),
        name="admin-me-email-verify",
    ),
    path("me/events", MeViewSet.route("events", realm=ADMIN), name="admin-me-events"),
    *router.urls,
]
