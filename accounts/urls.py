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
    path(
        "auth/login/2fa",
        views.LoginSecondFactorView.as_view(realm=USER),
        name="login-2fa",
    ),
    path("auth/refresh", views.RefreshView.as_view(realm=USER), name="refresh"),
    path("auth/logout", views.LogoutView.as_view(realm=USER), name="logout"),
    path("auth/password/reset", views.PasswordResetView.as_view(realm=USER), name="password-reset"),
    path(
        "auth/password/reset/confirm",
        views.PasswordResetConfirmView.as_view(realm=USER),
        name="password-reset-confirm",
    ),
    path("auth/email/verify", views.EmailVerifyView.as_view(realm=USER), name="email-verify"),
    path("auth/secure-account", views.SecureAccountView.as_view(realm=USER), name="secure-account"),
    path("users/me", me, name="me"),
    path("users/me/2fa", views.MeViewSet.route("two_factor", realm=USER), name="me-2fa"),
    path("users/me/2fa/totp", views.MeViewSet.route("totp", realm=USER), name="me-2fa-totp"),
    path(
        "users/me/2fa/totp/confirm",
        views.MeViewSet.route("totp_confirm", realm=USER),
        name="me-2fa-totp-confirm",
    ),
    path(
        "users/me/2fa/recovery-codes",
        views.MeViewSet.route("recovery_codes", realm=USER),
        name="me-2fa-recovery-codes",
    ),
    path("users/me/password", views.MeViewSet.route("password", realm=USER), name="me-password"),
    path(
        "users/me/email/verify",
        views.MeViewSet.route("verify", realm=USER),
        name="me-email-verify",
    ),
    path("users/me/avatar", views.MeViewSet.route("avatar", realm=USER), name="me-avatar"),
    path("users/me/events", views.MeViewSet.route("events", realm=USER), name="me-events"),
]
