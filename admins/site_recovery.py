"""
Account recovery pages of the Django admin site, for admins: "Forgotten your password?"
(the login page shows the link because the `admin_password_reset` URL exists), the page a
reset mail's link opens, and the "this wasn't me" page of a security notice.

They go through the same services, codes and throttles as the admin realm's API. The
mails' links point here when the operator sets `ADMIN_FRONTEND_URL=<PUBLIC_URL>/admin`
(the default paths `/reset-password` and `/secure-account` are these pages' paths).
A link only opens a page: the code is spent by the form the page posts, never by a GET,
which mail scanners send to every link they see.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts import recovery
from accounts.serializers import PASSWORD_MAX_LENGTH
from accounts.throttling import throttle_password_reset, throttle_token_check
from admins.forms import _site_error
from config.api.exceptions import APIError
from config.api.net import client_ip
from tokens.codes import MAX_CODE_LENGTH
from tokens.realms import ADMIN


class ResetRequestForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)


class ResetConfirmForm(forms.Form):
    new_password1 = forms.CharField(
        label="New password",
        strip=False,
        max_length=PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label="Confirm password",
        strip=False,
        max_length=PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_new_password2(self) -> str:
        first, second = self.cleaned_data.get("new_password1"), self.cleaned_data["new_password2"]
        if first and first != second:
            raise ValidationError("The two password fields did not match.", code="mismatch")
        return str(second)


def _render(request: HttpRequest, template: str, **context: Any) -> TemplateResponse:
    request.current_app = admin.site.name
    return TemplateResponse(request, template, {**admin.site.each_context(request), **context})


def _code(request: HttpRequest) -> str:
    code = request.GET.get("token", "")
    return code if 0 < len(code) <= MAX_CODE_LENGTH else ""


PAGE_METHODS = require_http_methods(["GET", "HEAD", "POST"])


@PAGE_METHODS
@csrf_protect
@never_cache
def password_reset(request: HttpRequest) -> HttpResponse:
    """Ask for a reset link. The page after it says the same, whatever the address."""
    form = ResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            throttle_password_reset(realm=ADMIN, ip=client_ip(request))
        except APIError as exc:
            form.add_error(None, _site_error(exc, "reset requests") or ValidationError(exc.message))
        else:
            recovery.password_reset_request(realm=ADMIN, email=form.cleaned_data["email"])
            return _render(
                request, "registration/password_reset_done.html", title="Password reset sent"
            )
    return _render(
        request, "registration/password_reset_form.html", form=form, title="Password reset"
    )


@PAGE_METHODS
@sensitive_post_parameters("new_password1", "new_password2")
@csrf_protect
@never_cache
def password_reset_confirm(request: HttpRequest) -> HttpResponse:
    """The page a reset mail's link opens (`?token=`): set a new password."""
    code = _code(request)
    form = ResetConfirmForm(request.POST or None)
    if code and request.method == "POST" and form.is_valid():
        try:
            throttle_token_check(realm=ADMIN, ip=client_ip(request))
            recovery.password_reset_confirm(
                realm=ADMIN, code=code, new_password=form.cleaned_data["new_password1"]
            )
        except APIError as exc:
            form.add_error(None, _site_error(exc, "attempts") or ValidationError(exc.message))
        except ValidationError as exc:
            errors = exc.message_dict
            if "token" in errors:
                code = ""
            else:
                form.add_error("new_password2", errors.get("new_password", exc.messages))
        else:
            return _render(
                request,
                "registration/password_reset_complete.html",
                title="Password reset complete",
            )
    return _render(
        request,
        "registration/password_reset_confirm.html",
        form=form,
        validlink=bool(code),
        title="Enter new password",
    )


@PAGE_METHODS
@csrf_protect
@never_cache
def secure_account(request: HttpRequest) -> HttpResponse:
    """The page a security notice's "this wasn't me" link opens (`?token=`)."""
    code = _code(request)
    done = False
    error = ""
    if code and request.method == "POST":
        try:
            throttle_token_check(realm=ADMIN, ip=client_ip(request))
            recovery.account_secure(realm=ADMIN, code=code)
            done = True
        except APIError as exc:
            error = str((_site_error(exc, "attempts") or ValidationError(exc.message)).messages[0])
        except ValidationError:
            code = ""
    return _render(
        request,
        "admins/secure_account.html",
        validlink=bool(code),
        done=done,
        error=error,
        title="Secure your account",
    )
