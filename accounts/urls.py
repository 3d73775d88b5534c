"""The user realm's routes, under /api/v1/."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("auth/register", views.RegisterView.as_view(), name="register"),
    path("auth/login", views.LoginView.as_view(), name="login"),
    path("auth/refresh", views.RefreshView.as_view(), name="refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="logout"),
    path("users/me", views.MeView.as_view(), name="me"),
    path("users/me/password", views.PasswordView.as_view(), name="me-password"),
    path("users/me/avatar", views.AvatarView.as_view(), name="me-avatar"),
]
