"""
Accounts: the abstract base both realms share, its query vocabulary, and `User`.

Username and email are unique case-insensitively, enforced by the database with unique
indexes on `LOWER(...)`; usernames are NFKC-normalised before they are stored, so
full-width and case variants collide. Both are kept in the case the person typed.
A soft-deleted account keeps its row (`deleted_at` set) and is left out by `.active()`.
"""

from __future__ import annotations

import operator
from datetime import datetime
from functools import reduce
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import BooleanField, Case, ExpressionWrapper, Q, Value, When
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.validators import (
    NAME_MAX_LENGTH,
    PHONE_MAX_LENGTH,
    USERNAME_MAX_LENGTH,
    normalize_email,
    normalize_phone,
    normalize_username,
    username_validators,
    validate_no_control_characters,
)
from tokens.models import Token


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

    def by_login(self, identifier: str) -> AccountQuerySet:
        """The account a login identifier names: a username or an email, any case.

        A username may contain `@`, so one identifier can match one account's username
        and another's email; the username match comes first.
        """
        value = Lower(Value(normalize_username(identifier)))
        return (
            self.alias(username_ci=Lower("username"), email_ci=Lower("email"))
            .filter(Q(username_ci=value) | Q(email_ci=value))
            .order_by(Case(When(username_ci=value, then=0), default=1), "pk")
        )

    def conflicts(self, *, exclude_pk: int | None = None, **values: str | None) -> list[str]:
        """Which of the given unique fields (`username`, `email`, `phone`) another account
        already holds, compared as the unique indexes compare them. One query.

        Usernames and emails are one namespace of login identifiers: a login names the
        account whose username or email it matches, so a new username may not equal
        another account's email, nor a new email another account's username (else
        `alice@example.com` as a username would capture Alice's logins by email).
        """
        tests = {}
        for field, value in values.items():
            if not value:
                continue
            if field == "phone":
                tests[field] = Q(phone=value)
            else:
                # Usernames and emails are both stored NFKC-normalised.
                folded = Lower(Value(normalize_username(value)))
                tests[field] = Q(username_ci=folded) | Q(email_ci=folded)
        if not tests:
            return []
        rows = (
            self.alias(username_ci=Lower("username"), email_ci=Lower("email"))
            .filter(reduce(operator.or_, tests.values()))
            .exclude(pk=exclude_pk)
            .values_list(
                *(ExpressionWrapper(test, output_field=BooleanField()) for test in tests.values())
            )
        )
        hits = [any(column) for column in zip(*rows, strict=True)] if rows else []
        return [field for field, hit in zip(tests, hits, strict=False) if hit]


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

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["email", "name"]

    objects = AccountManager()

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

    def clean(self) -> None:
        super().clean()
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

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        revoke = (
            getattr(self, "_password_set", False)
            and not self._state.adding
            and (update_fields is None or "password" in update_fields)
        )
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)
            if revoke:
                tokens = Token.objects.for_owner(self).live()
                keep = self._password_keep
                if keep is not None:
                    tokens = tokens.exclude(pk=keep.pk)
                tokens.update(revoked_at=timezone.now())
        if update_fields is None or "password" in update_fields:
            self._password_set, self._password_keep = False, None

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
