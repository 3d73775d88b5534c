"""The Django admin site, for admins: its login and password-change forms go through the
account services, so the site shares the API's rate limits, lockout, second factor and
revocation, and the admin realm's second-factor policy holds on every page."""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any, cast

from django.contrib import admin
from django.contrib.auth.views import PasswordChangeView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from admins.forms import AdminLoginForm, AdminSitePasswordChangeForm
from tokens.realms import ADMIN


class _PasswordChangeView(PasswordChangeView):
    """Django's view, handing the request to the form (for the throttle and the client IP)."""

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}


# Views an admin without a second factor may still reach while the policy requires one.
_OPEN_WITHOUT_SECOND_FACTOR = frozenset({"logout", "two_factor_required", "i18n_javascript"})


class AccountsAdminSite(admin.AdminSite):
    site_header = "Accounts administration"
    site_title = "Accounts administration"
    login_form = AdminLoginForm
    # Django's login page with the second factor's code field.
    login_template = "admins/login.html"

    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Any:
        """Django's wrapper (staff only), and, while the admin realm requires a second
        factor (`ADMIN_2FA_REQUIRED`), every page but logout sends an admin without one to
        the enrolment instructions, as the API answers MFA_ENROLLMENT_REQUIRED."""
        inner = super().admin_view(view, cacheable)
        if getattr(view, "__name__", "") in _OPEN_WITHOUT_SECOND_FACTOR:
            return inner

        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = cast(Any, request.user)
            if (
                self.has_permission(request)
                and ADMIN.second_factor_required()
                and not user.two_factor_enabled
            ):
                return redirect("admin:two_factor_required", permanent=False)
            return cast(HttpResponse, inner(request, *args, **kwargs))

        return update_wrapper(guarded, inner)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "two-factor-required/",
                self.admin_view(self.two_factor_required),
                name="two_factor_required",
            ),
            *super().get_urls(),
        ]

    def two_factor_required(self, request: HttpRequest) -> TemplateResponse:
        """How to enrol a second factor (through the admin API)."""
        request.current_app = self.name
        context = {
            **self.each_context(request),
            "title": "Two-factor authentication required",
            "api_prefix": f"/api/v1/{ADMIN.url_prefix}",
        }
        return TemplateResponse(request, "admins/two_factor_required.html", context)

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
