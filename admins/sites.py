"""The Django admin site, for admins: its login and password-change forms go through the
account services, so the site shares the API's rate limits, lockout and revocation."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.auth.views import PasswordChangeView
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

from admins.forms import AdminLoginForm, AdminSitePasswordChangeForm


class _PasswordChangeView(PasswordChangeView):
    """Django's view, handing the request to the form (for the throttle and the client IP)."""

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}


class AccountsAdminSite(admin.AdminSite):
    site_header = "Accounts administration"
    site_title = "Accounts administration"
    login_form = AdminLoginForm

    def password_change(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        """Django's password-change page with the project's form: throttled, and each wrong
        old password counted towards the admin's lockout."""
        request.current_app = self.name
        view = _PasswordChangeView.as_view(
            form_class=AdminSitePasswordChangeForm,
            success_url=reverse("admin:password_change_done", current_app=self.name),
            extra_context={**self.each_context(request), **(extra_context or {})},
        )
        return cast(TemplateResponse, view(request))
