"""
The Django admin site as a staff tool: users and admins, searchable and filterable, added
with two password fields, their passwords set through a form of their own, and every
change going through the staff services (`admins.services`), which revoke tokens as the
API does and record each action in the audit log and the account's History. The lockout
fields are read-only, and a password hash is never on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast

from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.db.models import QuerySet
from django.forms import Form
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from accounts.models import AbstractAccount, AccountQuerySet, User
from admins import services as staff
from admins.forms import (
    AccountChangeForm,
    AccountCreationForm,
    AccountPasswordForm,
    AdminAddForm,
    UserAddForm,
)
from admins.models import Admin
from config.api.exceptions import APIError, Conflict
from config.api.net import Client, client_of
from tokens.admin import AccountEventsMixin
from tokens.models import Token
from tokens.realms import REALMS


class LockedFilter(admin.SimpleListFilter):
    title = "locked"
    parameter_name = "locked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Locked"), ("no", "Not locked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        accounts = cast(AccountQuerySet, queryset)
        if self.value() == "yes":
            return accounts.locked()
        if self.value() == "no":
            return accounts.unlocked()
        return queryset


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Not deleted"), ("yes", "Deleted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        accounts = cast(AccountQuerySet, queryset)
        if self.value() == "yes":
            return accounts.deleted()
        if self.value() == "no":
            return accounts.active()
        return queryset


def account_status(account: AbstractAccount) -> str:
    """What an account can do now, in one column: Active, Blocked, Locked until <time> or
    Deleted (several when several hold: "Blocked, locked until ...")."""
    states = []
    if account.is_deleted:
        states.append("Deleted")
    if not account.is_active:
        states.append("Blocked")
    if account.is_locked() and account.locked_until is not None:
        until = formats.localize(timezone.localtime(account.locked_until))
        states.append(f"{'l' if states else 'L'}ocked until {until}")
    return ", ".join(states) or "Active"


class AccountAdmin(AccountEventsMixin, admin.ModelAdmin):
    """What both realms' admin pages share."""

    list_display = ["id", "username", "name", "email", "phone", "status", "created_at"]
    list_display_links = ("id", "username")
    list_filter = ["is_active", "two_factor_enabled", LockedFilter, DeletedFilter]
    search_fields = ("username", "name", "email", "phone")
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    list_per_page = 50
    form = AccountChangeForm
    add_form: type[AccountCreationForm]
    change_password_form = AccountPasswordForm
    # Django's own add page for accounts with passwords (its "save" goes on to the change page).
    add_form_template = "admin/auth/user/add_form.html"
    change_form_template = "admin/admins/account_change_form.html"
    # Blocking and activation go through actions, which revoke tokens as the API does.
    # Avatars are read-only here: uploads go through the API, which checks and re-encodes
    # them (a file saved by this form would skip all of that).
    # The second factor is turned on by its holder and off by them or `reset_2fa`.
    readonly_fields = [
        "password_form",
        "status",
        "avatar",
        "is_active",
        "email_verified",
        "pending_email",
        "two_factor_enabled",
        "failed_login_attempts",
        "locked_until",
        "last_login",
        "created_at",
        "updated_at",
        "deleted_at",
        # The latest security events of the account (tokens.admin.AccountEventsMixin).
        "recent_events",
    ]
    profile_fields = ("username", "name", "email", "phone")
    fieldsets = [
        (None, {"fields": (*profile_fields, "password_form", "avatar")}),
        (
            "Status",
            {
                "fields": (
                    "status",
                    "is_active",
                    "email_verified",
                    "pending_email",
                    "two_factor_enabled",
                    "failed_login_attempts",
                    "locked_until",
                )
            },
        ),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at", "deleted_at")}),
        ("Security log", {"fields": ("recent_events",)}),
    ]
    add_fieldsets: ClassVar[Any] = [
        (None, {"classes": ("wide",), "fields": (*profile_fields, "password1", "password2")})
    ]

    @admin.display(description="status")
    def status(self, account: AbstractAccount) -> str:
        return account_status(account)

    @admin.display(description="password")
    def password_form(self, account: AbstractAccount) -> str:
        # Never the hash, nor Django's summary of it: only the way to set a new one.
        url = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_password",
            args=[account.pk],
        )
        return format_html(
            "Raw passwords are not stored, so there is no way to see this password, but "
            'you can set a new one using <a href="{}">this form</a>. Setting it ends every '
            "session and personal access token of the account.",
            url,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Accounts are soft-deleted (an action), never lost.
        return False

    # --- The add page: Django's UserAdmin, created through the services -------------------

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.has_perm("tokens.view_authevent"):
            return fieldsets
        # An event shows the client's address, as a session row does.
        return [(name, options) for name, options in fieldsets if name != "Security log"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else super().get_readonly_fields(request, obj)

    def get_form(self, request: Any, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def save_form(self, request: Any, form: Any, change: Any) -> Any:
        if change:
            return super().save_form(request, form, change)
        # The service creates the account (its identifier rows, the conflict rules and the
        # record in the audit log and the History), so there is nothing left to save.
        return cast(AccountCreationForm, form).create(actor=cast(Admin, request.user))

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except Conflict:
            # Lost a race on the add or change page: another account took the username,
            # email or phone between the form's check and the write (the view's
            # transaction is rolled back). Once more, the form's check sees the winner and
            # says so.
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: Any, obj: Any, form: Any, change: Any) -> None:
        if change:
            if "email" in form.changed_data:
                # Staff change an address at once, as the API's staff update does: nobody
                # has shown that it is right, and a pending self-service change is void.
                obj.email_verified, obj.pending_email = False, None
            try:
                super().save_model(request, obj, form, change)
            except IntegrityError:
                unique = {field: getattr(obj, field) for field in ("username", "email", "phone")}
                if not type(obj).objects.conflicts(exclude_pk=obj.pk, **unique):
                    raise
                raise Conflict("Already taken") from None

    def save_related(self, request: Any, form: Any, formsets: Any, change: Any) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    def log_addition(self, request: Any, obj: Any, message: Any) -> LogEntry:
        # The creating service recorded the addition already.
        entry: LogEntry = LogEntry.objects.filter(
            content_type__app_label=obj._meta.app_label,
            content_type__model=obj._meta.model_name,
            object_id=str(obj.pk),
        ).latest("pk")
        return entry

    def response_add(self, request: Any, obj: Any, post_url_continue: Any = None) -> Any:
        # As Django's UserAdmin: "Save" goes on to the new account's page, where the rest
        # (an admin's groups and permissions) is set.
        if "_addanother" not in request.POST and self.has_change_permission(request, obj):
            request.POST = request.POST.copy()
            request.POST["_continue"] = 1
        return super().response_add(request, obj, post_url_continue)

    # --- An account's own URLs: its password page and its action buttons ------------------

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<id>/password/",
                self.admin_site.admin_view(self.account_password),
                name=f"{self.opts.app_label}_{self.opts.model_name}_password",
            ),
            path(
                "<id>/actions/<name>/",
                self.admin_site.admin_view(self.account_action),
                name=f"{self.opts.app_label}_{self.opts.model_name}_action",
            ),
            *super().get_urls(),
        ]

    # --- The account's own page: the actions that apply to it, as buttons ----------------

    def page_actions(self, request: HttpRequest, account: AbstractAccount) -> list[Any]:
        """(name, label) of each action this admin may run that applies to `account`."""
        allowed = self.get_actions(request)
        return [
            (name, label)
            for name, (label, applies) in PAGE_ACTIONS.items()
            if name in allowed and applies(account)
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        account = self.get_object(request, unquote(object_id))
        actions = self.page_actions(request, account) if account is not None else []
        extra_context = {**(extra_context or {}), "account_actions": actions}
        return super().change_view(request, object_id, form_url, extra_context)

    def account_action(self, request: HttpRequest, id: str, name: str) -> HttpResponse:
        """Run one changelist action on this one account (its page's buttons), then come
        back to the page: the same action, permission and messages as from the list."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        account = self.get_object(request, unquote(id))
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        action = self.get_actions(request).get(name) if name in PAGE_ACTIONS else None
        if account is None or action is None:
            raise Http404("No such account or action.")
        run = action[0]
        run(self, request, self.get_queryset(request).filter(pk=account.pk))
        return HttpResponseRedirect(
            reverse(
                f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[account.pk],
            )
        )

    # --- The password page: Django's UserAdmin.user_change_password -----------------------

    @method_decorator(sensitive_post_parameters())
    def account_password(self, request: HttpRequest, id: str) -> HttpResponse:
        account = self.get_object(request, unquote(id))
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        if account is None:
            raise Http404(f"No {self.opts.verbose_name} with id {id}.")
        if isinstance(account, Admin) and account.pk == request.user.pk:
            # One's own password changes on the site's password page, which asks for the
            # current one: a session cookie alone must not be enough to set it.
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:password_change"))
        form: Form = self.change_password_form(account, request.POST or None)
        if request.method == "POST" and form.is_valid():
            cast(AccountPasswordForm, form).save(actor=cast(Admin, request.user))
            self.message_user(
                request,
                "Password set. Every session and personal access token of the account was revoked.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse(
                    f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
                    args=[account.pk],
                )
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Set password: {account}",
            "form": form,
            "opts": self.opts,
            "original": account,
            "is_popup": False,
            "add": False,
            "change": True,
            "has_view_permission": True,
            "has_add_permission": False,
            "has_change_permission": True,
            "has_delete_permission": False,
            "has_editable_inline_admin_formsets": False,
            "has_absolute_url": False,
            "save_as": False,
            "show_save": True,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/admins/account_password.html", context)


Change = Callable[[Admin, Any, Client], bool]


def _tally(changed: int, done: str, unchanged: int, skipped: str) -> str:
    """ "2 blocked, 1 was already blocked." """
    text = f"{changed} {done}"
    if unchanged:
        text += f", {unchanged} {'was' if unchanged == 1 else 'were'} {skipped}"
    return text + "."


def _account_action(name: str, description: str, change: Change, *, done: str, skipped: str) -> Any:
    """An admin-site action that runs one staff service (the same the API runs, record
    included) on each selected account, and says what changed and what did not."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        actor, client = cast(Admin, request.user), client_of(request)
        changed = unchanged = 0
        for account in queryset:
            try:
                if change(actor, account, client):
                    changed += 1
                else:
                    unchanged += 1
            except APIError as exc:
                modeladmin.message_user(
                    request, f"{account.username}: {exc.message}", level=messages.ERROR
                )
        level = messages.SUCCESS if changed else messages.WARNING
        modeladmin.message_user(request, _tally(changed, done, unchanged, skipped), level=level)

    action.__name__ = name  # the admin site names an action after its function
    return admin.action(permissions=["change"], description=description)(action)


unlock = _account_action(
    "unlock",
    "Unlock selected accounts",
    lambda actor, account, client: staff.staff_unlock(actor=actor, account=account, client=client),
    done="unlocked",
    skipped="not locked",
)
block_users = _account_action(
    "block_users",
    "Block selected users (revokes their tokens)",
    lambda actor, account, client: staff.staff_set_active(
        actor=actor, account=account, active=False, client=client
    ),
    done="blocked",
    skipped="already blocked",
)
activate_users = _account_action(
    "activate_users",
    "Activate selected users",
    lambda actor, account, client: staff.staff_set_active(
        actor=actor, account=account, active=True, client=client
    ),
    done="activated",
    skipped="already active",
)
delete_users = _account_action(
    "delete_users",
    "Soft-delete selected users (revokes their tokens)",
    lambda actor, account, client: staff.staff_delete(actor=actor, account=account, client=client),
    done="deleted",
    skipped="already deleted",
)
restore_users = _account_action(
    "restore_users",
    "Restore selected deleted users",
    lambda actor, account, client: staff.staff_restore(actor=actor, account=account, client=client),
    done="restored",
    skipped="not deleted",
)
block_admins = _account_action(
    "block_admins",
    "Block selected admins (revokes their tokens)",
    lambda actor, account, client: staff.admin_set_active(
        actor=actor, target=account, active=False, client=client
    ),
    done="blocked",
    skipped="already blocked",
)
activate_admins = _account_action(
    "activate_admins",
    "Activate selected admins",
    lambda actor, account, client: staff.admin_set_active(
        actor=actor, target=account, active=True, client=client
    ),
    done="activated",
    skipped="already active",
)
send_password_reset = _account_action(
    "send_password_reset",
    "Send a password reset mail",
    lambda actor, account, client: staff.staff_send_password_reset(
        actor=actor, account=account, client=client
    ),
    done="mailed a reset link",
    skipped="blocked or deleted, so not mailed",
)


@admin.action(permissions=["change"], description="Revoke every token of the selected accounts")
def revoke_tokens(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> None:
    actor, client = cast(Admin, request.user), client_of(request)
    revoked = accounts = without = 0
    for account in queryset:
        count = staff.staff_revoke_tokens(actor=actor, account=account, client=client)
        revoked, accounts, without = revoked + count, accounts + bool(count), without + (not count)
    text = f"Revoked {revoked} token{'s' if revoked != 1 else ''}"
    if accounts:
        text += f" of {accounts} account{'s' if accounts != 1 else ''}"
    if without:
        text += f"; {without} {'has' if without == 1 else 'have'} no live token"
    level = messages.SUCCESS if revoked else messages.WARNING
    modeladmin.message_user(request, text + ".", level=level)


def _has_live_tokens(account: AbstractAccount) -> bool:
    return Token.objects.for_owner(account).live().exists()


# The actions an account's own page offers as buttons, each only where it applies to that
# account as it is now (a blocked account is offered Activate, not Block).
PAGE_ACTIONS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "unlock": ("Unlock", lambda account: account.is_locked() or account.failed_login_attempts > 0),
    "block_users": ("Block", lambda account: account.is_active),
    "activate_users": ("Activate", lambda account: not account.is_active),
    "delete_users": ("Soft-delete", lambda account: not account.is_deleted),
    "restore_users": ("Restore", lambda account: account.is_deleted),
    "block_admins": ("Block", lambda account: account.is_active),
    "activate_admins": ("Activate", lambda account: not account.is_active),
    "revoke_tokens": ("Revoke every token", _has_live_tokens),
}


@admin.register(User)
class UserAdmin(AccountAdmin):
    # No field lists the password: its hash is never shown.
    add_form = UserAddForm
    actions = [
        unlock,
        block_users,
        activate_users,
        delete_users,
        restore_users,
        revoke_tokens,
        send_password_reset,
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Creating a user grants nothing, so (unlike Django's UserAdmin, whose new users
        # could be made staff) the add permission alone is enough.
        return bool(request.user.has_perm("accounts.add_user"))


@admin.register(Admin)
class AdminAdmin(AccountAdmin):
    list_display = [*AccountAdmin.list_display[:5], "is_superuser", *AccountAdmin.list_display[5:]]
    list_filter = ["is_active", "is_superuser", "two_factor_enabled", LockedFilter, DeletedFilter]
    filter_horizontal = ("groups", "user_permissions")
    add_form = AdminAddForm
    actions = [unlock, block_admins, activate_admins, revoke_tokens, send_password_reset]
    # Managing admins is for superusers, as in the API; promotion and demotion go through
    # the API, which guards the last superuser. A new admin may be made a superuser.
    readonly_fields = ["is_superuser", *AccountAdmin.readonly_fields]
    fieldsets = [
        *AccountAdmin.fieldsets[:2],
        ("Permissions", {"fields": ("is_superuser", "groups", "user_permissions")}),
        *AccountAdmin.fieldsets[2:],
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ("wide",),
                "fields": (*AccountAdmin.profile_fields, "is_superuser", "password1", "password2"),
            },
        )
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)


@admin.action(permissions=["revoke"], description="Revoke selected tokens")
def revoke_selected_tokens(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> None:
    selected = queryset.count()
    revoked = staff.staff_revoke_selected_tokens(
        actor=cast(Admin, request.user), tokens=queryset, client=client_of(request)
    )
    level = messages.SUCCESS if revoked else messages.WARNING
    modeladmin.message_user(
        request, _tally(revoked, "revoked", selected - revoked, "already revoked"), level=level
    )


# The token's owner columns, one foreign key per realm.
OWNERS: tuple[str, ...] = tuple(realm.owner_field for realm in REALMS)
TOKEN_FIELDS: tuple[str, ...] = (
    "kind",
    *OWNERS,
    "name",
    "prefix",
    "scopes",
    "created_at",
    "last_used_at",
    "expires_at",
    "revoked_at",
    "ip",
    "user_agent",
)


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    """Sessions and personal access tokens, read-only; the hash is never shown."""

    list_display = (
        "id",
        "kind",
        *OWNERS,
        "name",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "ip",
    )
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = (*(f"{owner}__username" for owner in OWNERS), "name", "prefix")
    list_select_related = OWNERS
    ordering = ("-created_at",)
    actions = [revoke_selected_tokens]
    fields = TOKEN_FIELDS
    readonly_fields = TOKEN_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Tokens are never edited; staff may only look at them and revoke them.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tokens.change_token")
