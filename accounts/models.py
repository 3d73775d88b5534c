"""
Accounts: the abstract base both realms share, its query vocabulary, and `User`.

Username and email are unique case-insensitively, enforced by the database with unique
indexes on `LOWER(...)`; usernames are NFKC-normalised before they are stored, so
full-width and case variants collide. Both are kept in the case the person typed.

Usernames and emails are also one namespace within a realm (a username may not equal
another account's email): each realm has a table of login identifiers, the folded
username and email of every account, with one unique index on the folded value. The
account writes its rows itself, in the transaction that saves it.

A soft-deleted account keeps its row (`deleted_at` set) and its identifiers, and is left
out by `.active()`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, ClassVar, cast

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, router, transaction
from django.db.models import Case, CharField, Q, Value, When
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.validators import (
    NAME_MAX_LENGTH,
    PHONE_MAX_LENGTH,
    USERNAME_MAX_LENGTH,
    fold_identifier,
    normalize_email,
    normalize_phone,
    normalize_username,
    username_validators,
    validate_no_control_characters,
)
from tokens.models import Token
from tokens.realms import realm_of


class AccountQuerySet(models.QuerySet[Any]):
    """Named queries for accounts of either realm."""

    def active(self) -> AccountQuerySet:
        """Accounts that are not soft-deleted (blocked ones included: see `is_active`)."""
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> AccountQuerySet:
        return self.filter(deleted_at__isnull=False)

    def locked(self, now: datetime | None = None) -> AccountQuerySet:
        return self.filter(locked_until__gt=now or timezone.now())

    def unlocked(self, now: datetime | None = None) -> AccountQuerySet:
        return self.exclude(locked_until__gt=now or timezone.now())

    def search(self, term: str) -> AccountQuerySet:
        """Case-insensitive "contains" over username, name, email and phone."""
        return self.filter(
            Q(username__icontains=term)
            | Q(name__icontains=term)
            | Q(email__icontains=term)
            | Q(phone__icontains=term)
        )

    def by_username(self, username: str) -> AccountQuerySet:
        """Case-insensitive, NFKC-normalised username match (uses the LOWER index)."""
        return self.alias(username_ci=Lower("username")).filter(
            username_ci=Lower(Value(normalize_username(username)))
        )

    def by_email(self, email: str) -> AccountQuerySet:
        """Case-insensitive, NFKC-normalised email match (uses the LOWER index)."""
        return self.alias(email_ci=Lower("email")).filter(
            email_ci=Lower(Value(normalize_username(email)))
        )

    def by_login(self, identifier: str) -> AccountQuerySet:
        """The account a login identifier names: a username or an email, any case.

        A username may contain `@`, so one identifier could match one account's username
        and another's email; the identifier table keeps that from being written, and
        should it be there anyway, the username match comes first.
        """
        value = Lower(Value(normalize_username(identifier)))
        return (
            self.alias(username_ci=Lower("username"), email_ci=Lower("email"))
            .filter(Q(username_ci=value) | Q(email_ci=value))
            .order_by(Case(When(username_ci=value, then=0), default=1), "pk")
        )

    def conflicts(self, *, exclude_pk: int | None = None, **values: str | None) -> list[str]:
        """Which of the given unique fields (`username`, `email`, `phone`) another account
        already holds, compared as the database compares them. One query.

        Usernames and emails are one namespace of login identifiers: a login names the
        account whose username or email it matches, so a new username may not equal
        another account's email, nor a new email another account's username (else
        `alice@example.com` as a username would capture Alice's logins by email). Both are
        looked up in the realm's identifier table, whose unique index is what refuses
        them, so a refusal always has a field to name. Every account of the realm counts,
        whatever this queryset's filter, as it does for the unique indexes.
        """
        logins = {
            field: fold_identifier(value)
            for field, value in values.items()
            if value and field in ("username", "email")
        }
        phone = values.get("phone")
        if not logins and not phone:
            return []
        # One query: (kind, value) pairs from the identifier table and, for a phone, from
        # the account table, each through its unique index. The kind keeps a username
        # spelled like a phone number (`+14155550123` is a valid username) apart.
        found = (
            self.model.identifier_model()
            ._default_manager.filter(value__in=logins.values())
            .exclude(account_id=exclude_pk)
            .values_list(Value("login", output_field=CharField()), "value")
        )
        if phone:
            found = found.union(
                self.model._default_manager.filter(phone=phone)
                .exclude(pk=exclude_pk)
                .values_list(Value("phone", output_field=CharField()), "phone")
            )
        taken = set(found)
        hits = {field: ("login", value) in taken for field, value in logins.items()}
        if phone:
            hits["phone"] = ("phone", phone) in taken
        return [field for field in values if hits.get(field)]


class AccountManager(BaseUserManager.from_queryset(AccountQuerySet)):  # type: ignore[misc]
    """Creation rules for accounts: normalised username and phone, hashed password."""

    use_in_migrations = True

    def create_user(
        self,
        username: str,
        email: str,
        password: str | None = None,
        **extra_fields: Any,
    ) -> Any:
        if not username:
            raise ValueError("An account needs a username.")
        if not email:
            raise ValueError("An account needs an email address.")
        extra_fields.setdefault("name", username)
        extra_fields["phone"] = normalize_phone(extra_fields.get("phone"))
        account = self.model(
            username=normalize_username(username), email=normalize_email(email), **extra_fields
        )
        account.set_password(password)
        try:
            with transaction.atomic(using=self._db):
                account.save(using=self._db)
        except IntegrityError:
            taken = self.conflicts(
                username=account.username, email=account.email, phone=account.phone
            )
            if not taken:
                raise
            raise ValidationError(
                {field: [f"This {field} is already taken."] for field in taken}, code="unique"
            ) from None
        return account

    def get_by_natural_key(self, username: str | None) -> Any:
        return self.by_username(username or "").get()


class AbstractLoginIdentifier(models.Model):
    """One login identifier of one account: its username or its email, folded.

    Each realm has a concrete table of these with one unique index on `value`, so that
    no two accounts of the realm can be reached by one login, whether the values came
    as usernames or as emails, in any case or width. A concrete model adds
    `account = models.ForeignKey(<the account model>, on_delete=models.CASCADE,
    related_name="identifiers")`; the account finds its identifier model through that
    reverse relation. Rows are written only by `AbstractAccount.save()`.
    """

    # An email is at most 254 characters; lower-casing doubles at most (`İ` becomes two
    # code points), so the column leaves room rather than fail on such an address.
    value = models.CharField(max_length=254 * 2, unique=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.value


def _unique_ci(field: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        Lower(field),
        name=f"%(app_label)s_%(class)s_{field}_ci_unique",
        violation_error_message=f"This {field} is already taken.",
    )


class AbstractAccount(AbstractBaseUser):
    """What every account has, whatever its realm."""

    username = models.CharField(
        max_length=USERNAME_MAX_LENGTH,
        validators=username_validators,
        help_text="3-150 letters, digits and @/./+/-/_ only; unique in any case.",
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[validate_no_control_characters])
    email = models.EmailField(max_length=254)
    # Whether the account holder has opened a verification link mailed to `email`.
    email_verified = models.BooleanField(
        default=False, help_text="The account holder has confirmed this address by its link."
    )
    # A self-service new address, not yet confirmed: it becomes `email` when the link
    # mailed to it is used. It holds no identifier row (it is nobody's login yet), so it
    # must be free again at verification time. Null, not "", when there is none (hence
    # DJ001's noqa): the contract shows `pending_email: null`.
    pending_email = models.EmailField(  # noqa: DJ001
        max_length=254,
        null=True,
        blank=True,
        help_text="A new address asked for, waiting for its verification link.",
    )
    phone = models.CharField(max_length=PHONE_MAX_LENGTH, null=True, blank=True, unique=True)
    avatar = models.FileField(max_length=100, blank=True, default="")
    is_active = models.BooleanField(
        default=True, help_text="Unset to block the account: it can no longer log in."
    )
    failed_login_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The second factor (accounts.totp). `two_factor_enabled` is true once a TOTP secret
    # has been confirmed; before that, `totp_secret` holds the unconfirmed one. The secret
    # is encrypted (never the plain base32). `totp_last_step` is the time step of the last
    # accepted code: a code of that step or an earlier one is refused (no replay). Kept on
    # the account, so a login and `/me` read them with the row they read anyway.
    two_factor_enabled = models.BooleanField(default=False, editable=False)
    totp_secret = models.TextField(blank=True, default="", editable=False)
    totp_last_step = models.BigIntegerField(null=True, blank=True, editable=False)

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["email", "name"]

    objects = AccountManager()
    # The reverse relation of the realm's identifier model (see `AbstractLoginIdentifier`).
    identifiers: models.Manager[Any]

    class Meta:
        abstract = True
        constraints: ClassVar[list[models.BaseConstraint]] = [
            _unique_ci("username"),
            _unique_ci("email"),
        ]
        # Lists are ordered by creation, newest first, with the id as tie-breaker: one
        # index serves that order without sorting the table.
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["created_at", "id"], name="%(app_label)s_%(class)s_created"),
        ]

    @classmethod
    def identifier_model(cls) -> type[AbstractLoginIdentifier]:
        """This realm's identifier table (see `AbstractLoginIdentifier`)."""
        return cast(type[AbstractLoginIdentifier], cls._meta.get_field("identifiers").related_model)

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)
        self.phone = normalize_phone(self.phone)

    # --- Passwords -------------------------------------------------------------------
    #
    # Any password change ends every session and personal access token of the account
    # (API.md, "Any password change revokes"). The revocation is hooked here, on the
    # model's own password setters and its save(), and not left to each caller, because
    # Django itself sets passwords on paths the project does not write: the admin site's
    # password-change view and its "set password" form (`set_password()` then `save()`),
    # `manage.py changepassword`, and any form built on `SetPasswordMixin`. A path added
    # later cannot forget it either. The account services add what a caller decides
    # (validators, the session a self-service change keeps, notices).

    def set_password(self, raw_password: str | None, *, keep: Token | None = None) -> None:
        """Set the password; once saved, every token of the account but `keep` is revoked."""
        super().set_password(raw_password)
        self._password_keep: Token | None = keep
        self._password_set = True

    def set_unusable_password(self, *, keep: Token | None = None) -> None:
        super().set_unusable_password()
        self._password_keep = keep
        self._password_set = True

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        """The database's rules, as form errors: model forms (the admin site's) call this.

        A username or email another account holds as either is refused here by the same
        lookup the services use; such a field is then left out of the `LOWER(...)`
        constraint checks, so that a taken value is reported once.
        """
        exclude = set(exclude or ())
        values = {
            field: getattr(self, field) for field in ("username", "email") if field not in exclude
        }
        taken = type(self)._default_manager.conflicts(exclude_pk=self.pk, **values)
        errors: dict[str, list[ValidationError]] = {
            field: [ValidationError(f"This {field} is already taken.", code="unique")]
            for field in taken
        }
        try:
            super().validate_constraints(exclude=exclude | set(taken))
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save the account and, in the same transaction, what must change with it: its
        identifier rows, and the revocation that a password change brings.

        Both are kept here rather than in a service because no path that saves an account
        may skip them (the manager, the services, the admin site's forms,
        `createsuperuser`, `changepassword`): the identifier rows are the account's
        integrity, like a constraint, and the revocation is what "any password change
        revokes" means (see the password setters above). `QuerySet.update()` of `username`
        or `email` and `bulk_create()` of accounts bypass this; nothing in the project does
        either (the benchmark's seeding writes the rows itself).
        """
        update_fields = kwargs.get("update_fields")
        adding = self._state.adding
        identifiers_changed = (
            adding or update_fields is None or not {"username", "email"}.isdisjoint(update_fields)
        )
        password_saved = update_fields is None or "password" in update_fields
        revoke = getattr(self, "_password_set", False) and not adding and password_saved
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            super().save(*args, **kwargs)
            if identifiers_changed:
                self._sync_identifiers(using=using, adding=adding)
            if revoke:
                self._revoke_tokens(keep=self._password_keep)
        if password_saved:
            self._password_set, self._password_keep = False, None

    def _revoke_tokens(self, *, keep: Token | None) -> None:
        tokens = Token.objects.for_owner(self).live()
        if keep is not None:
            tokens = tokens.exclude(pk=keep.pk)
        tokens.update(revoked_at=timezone.now())

    def _sync_identifiers(self, *, using: str, adding: bool) -> None:
        """Make the identifier rows the folded username and email (one row if they fold
        alike); a value another account holds fails the insert with IntegrityError."""
        rows = self.identifiers.all().using(using)
        wanted = {fold_identifier(self.username), fold_identifier(self.email)} - {""}
        held = set() if adding else set(rows.values_list("value", flat=True))
        if held - wanted:
            # Freed first, so that the account's own old value never blocks its new one.
            rows.filter(value__in=held - wanted).delete()
        if wanted - held:
            rows.bulk_create([rows.model(account=self, value=value) for value in wanted - held])

    def __str__(self) -> str:
        # The realm and id, never the username or email: an email in a log line, an error
        # message or the admin site's history would leak a personal address (and a username
        # may be one).
        return f"{realm_of(self).name} {self.pk}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def is_locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or timezone.now())


class User(AbstractAccount):
    """An API user: registers, logs in, manages their profile and tokens."""

    class Meta(AbstractAccount.Meta):
        verbose_name = "user"
        verbose_name_plural = "users"


class UserIdentifier(AbstractLoginIdentifier):
    """A login identifier of a user (see `AbstractLoginIdentifier`)."""

    account = models.ForeignKey(User, on_delete=models.CASCADE, related_name="identifiers")

    class Meta(AbstractLoginIdentifier.Meta):
        verbose_name = "user login identifier"
