"""
Credentials: one `Token` row per login session and per personal access token, and the
second factor's single-use secrets (`RecoveryCode`, `MfaChallenge`).

A row belongs to exactly one owner, a user or an admin (a database check constraint),
and goes with its owner (CASCADE). The secret itself is never stored: `token_hash` is the
SHA-256 of the session key (the `sid` claim of a session's JWTs) or of the personal access
token. Revocation is a timestamp, so the next request with the token fails at once.

`OneTimeCode` holds the codes mailed to an account (reset, verification, "this wasn't
me"), apart from the credentials: see its docstring.

This app knows the account models only by their string names and by the owner object it
is handed: the owner's realm (`tokens.realms`) names the foreign key it goes in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from tokens.realms import REALMS, Realm, realm_of


class TokenKind(models.TextChoices):
    SESSION = "session", "Login session"
    PERSONAL = "personal", "Personal access token"


class OwnedQuerySet(models.QuerySet[Any]):
    """Rows that belong to one account of either realm (one foreign key per realm)."""

    def for_owner(self, owner: Any) -> Any:
        return self.filter(**{realm_of(owner).owner_field: owner})

    def of_realm(self, realm: Realm) -> Any:
        return self.filter(**{f"{realm.owner_field}__isnull": False})


class TokenQuerySet(models.QuerySet["Token"]):
    def live(self, now: datetime | None = None) -> TokenQuerySet:
        """Neither revoked nor expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())

    def dead(self, now: datetime | None = None) -> TokenQuerySet:
        """Revoked or expired: what `prune_tokens` deletes."""
        return self.filter(Q(revoked_at__isnull=False) | Q(expires_at__lte=now or timezone.now()))

    def for_owner(self, owner: Any) -> TokenQuerySet:
        return self.filter(**{realm_of(owner).owner_field: owner})

    def of_realm(self, realm: Realm) -> TokenQuerySet:
        return self.filter(**{f"{realm.owner_field}__isnull": False})

    def newest_first(self) -> TokenQuerySet:
        """The order every token list shows (the id breaks ties of one instant)."""
        return self.order_by("-created_at", "-id")

    def sessions(self) -> TokenQuerySet:
        return self.filter(kind=TokenKind.SESSION)

    def personal(self) -> TokenQuerySet:
        return self.filter(kind=TokenKind.PERSONAL)


class Token(models.Model):
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="tokens"
    )
    admin = models.ForeignKey(
        "admins.Admin", null=True, blank=True, on_delete=models.CASCADE, related_name="tokens"
    )
    kind = models.CharField(max_length=16, choices=TokenKind.choices)
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(
        max_length=16, blank=True, help_text="The first characters, to recognise the token."
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # Sessions: the `jti` of the one refresh token that may rotate next.
    refresh_jti = models.CharField(max_length=64, blank=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)

    objects = TokenQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, admin__isnull=True)
                | Q(user__isnull=True, admin__isnull=False),
                name="token_exactly_one_owner",
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="token_expires_at_idx")]

    def __str__(self) -> str:
        # Never the hash: a name and a prefix are enough to recognise a token.
        return f"{self.get_kind_display()} {self.pk} {self.prefix}".rstrip()

    @property
    def owner(self) -> Any:
        """The account the token belongs to, whichever realm it is of."""
        for realm in REALMS:
            if getattr(self, f"{realm.owner_field}_id") is not None:
                return getattr(self, realm.owner_field)
        return None

    def is_live(self, now: datetime | None = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())


class CodePurpose(models.TextChoices):
    """What a one-time code authorises; a code of one purpose never works for another."""

    PASSWORD_RESET = "password_reset", "Password reset"
    EMAIL_VERIFY = "email_verify", "Email verification"
    SECURE_ACCOUNT = "secure_account", "Secure the account (this wasn't me)"


class OneTimeCodeQuerySet(OwnedQuerySet):
    def usable(self, now: datetime | None = None) -> OneTimeCodeQuerySet:
        """Neither used (or ended) nor expired."""
        return self.filter(used_at__isnull=True, expires_at__gt=now or timezone.now())

    def dead(self, now: datetime | None = None) -> OneTimeCodeQuerySet:
        """Used or expired: what `prune_tokens` deletes."""
        return self.filter(Q(used_at__isnull=False) | Q(expires_at__lte=now or timezone.now()))


class OneTimeCode(models.Model):
    """A code mailed to an account (a reset, verification or "this wasn't me" link).

    Its own table, not another kind of `Token`: bearer authentication looks tokens up by
    digest on every request, and a code must never pass for a credential there, whatever
    a later change to that lookup does; and the codes' churn (one row per mail) stays out
    of the table on the authentication hot path. Like a token it belongs to exactly one
    owner, of one realm, and only its SHA-256 digest is stored.
    """

    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="codes"
    )
    admin = models.ForeignKey(
        "admins.Admin", null=True, blank=True, on_delete=models.CASCADE, related_name="codes"
    )
    purpose = models.CharField(max_length=32, choices=CodePurpose.choices)
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The address the code was mailed to: a verification checks that it still names the
    # address it verifies.
    sent_to = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = OneTimeCodeQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, admin__isnull=True)
                | Q(user__isnull=True, admin__isnull=False),
                name="onetimecode_exactly_one_owner",
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="onetimecode_expires_at_idx")]

    def __str__(self) -> str:
        # Never the digest.
        return f"{self.get_purpose_display()} code {self.pk}"

    @property
    def owner(self) -> Any:
        for realm in REALMS:
            if getattr(self, f"{realm.owner_field}_id") is not None:
                return getattr(self, realm.owner_field)
        return None


class AccountOwned(models.Model):
    """A row of exactly one account, a user or an admin (a database check), that goes with
    its owner (CASCADE); `Realm.owner_field` names the foreign key, as for `Token`."""

    user = models.ForeignKey("accounts.User", null=True, on_delete=models.CASCADE, related_name="+")
    admin = models.ForeignKey("admins.Admin", null=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, admin__isnull=True)
                | Q(user__isnull=True, admin__isnull=False),
                name="%(class)s_exactly_one_owner",
            ),
        ]


class RecoveryCode(AccountOwned):
    """One unused recovery code of an account's second factor: only its SHA-256 digest.

    Using a code deletes its row (one conditional DELETE, so of two concurrent uses exactly
    one succeeds); regenerating deletes every row of the account first.
    """

    code_hash = models.CharField(max_length=64, unique=True, editable=False)

    class Meta(AccountOwned.Meta):
        pass

    def __str__(self) -> str:
        return f"Recovery code {self.pk}"


class MfaChallenge(AccountOwned):
    """A login whose password was right, waiting for its second factor (`mfa_token`).

    Only the token's digest is stored. It is single-use: completing the login deletes the
    row first (one conditional DELETE), whatever the code turns out to be.
    """

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta(AccountOwned.Meta):
        indexes = [models.Index(fields=["expires_at"], name="mfachallenge_expires_at_idx")]

    def __str__(self) -> str:
        return f"Second-factor challenge {self.pk}"


# --- The security log ----------------------------------------------------------------


class EventName(models.TextChoices):
    """Every event the security log knows (API.md, "Security log and metrics")."""

    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGIN_LOCKED = "login_locked"
    LOGIN_REFUSED_INACTIVE = "login_refused_inactive"
    LOGIN_REFUSED_UNVERIFIED = "login_refused_unverified"
    MFA_CHALLENGE_FAILED = "mfa_challenge_failed"
    LOGOUT = "logout"
    REFRESH_REUSE_DETECTED = "refresh_reuse_detected"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105  # event names
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105  # event names
    PASSWORD_RESET_COMPLETED = "password_reset_completed"  # noqa: S105  # event names
    EMAIL_VERIFIED = "email_verified"
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_CHANGED = "email_changed"
    TWO_FACTOR_ENABLED = "two_factor_enabled"
    TWO_FACTOR_DISABLED = "two_factor_disabled"
    RECOVERY_CODE_USED = "recovery_code_used"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
    TOKEN_CREATED = "token_created"  # noqa: S105  # event names
    TOKEN_REVOKED = "token_revoked"  # noqa: S105  # event names
    SESSIONS_REVOKED = "sessions_revoked"
    ACCOUNT_SECURED = "account_secured"
    # Staff actions: `actor` is the admin who did it.
    ACCOUNT_BLOCKED = "account_blocked"
    ACCOUNT_ACTIVATED = "account_activated"
    ACCOUNT_UNLOCKED = "account_unlocked"
    ACCOUNT_DELETED = "account_deleted"
    ACCOUNT_RESTORED = "account_restored"
    ACCOUNT_UPDATED = "account_updated"
    ADMIN_CREATED = "admin_created"
    ADMIN_PROMOTED = "admin_promoted"
    ADMIN_DEMOTED = "admin_demoted"


class AuthEventQuerySet(models.QuerySet["AuthEvent"]):
    def for_account(self, account: Any) -> AuthEventQuerySet:
        """The events of one account (its realm and id)."""
        return self.filter(realm=realm_of(account).name, account_id=account.pk)

    def newest_first(self) -> AuthEventQuerySet:
        return self.order_by("-created_at", "-id")

    def older_than(self, cutoff: datetime) -> AuthEventQuerySet:
        """What `prune_events` deletes."""
        return self.filter(created_at__lt=cutoff)


class AuthEvent(models.Model):
    """One security-relevant change or login outcome, written in the change's transaction.

    The account and the actor are a realm name and an id, not foreign keys: a login for
    an unknown account has no account to point at, one column pair serves both realms
    (one index answers "this account's events, newest first"), and a record of what was
    done to an account must outlive the account row instead of going with it (CASCADE) or
    forgetting whom it was about (SET_NULL). `details` never holds a password, a code, a
    token or a hash (`tokens.events.event_record` is the one writer).
    """

    event = models.CharField(max_length=64, choices=EventName.choices)
    realm = models.CharField(max_length=16)
    account_id = models.BigIntegerField(null=True, blank=True)
    # The admin who did it (staff actions), else empty.
    actor_realm = models.CharField(max_length=16, blank=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    objects = AuthEventQuerySet.as_manager()

    class Meta:
        verbose_name = "security event"
        # Events are written by the services only; staff may look at them.
        default_permissions = ("view",)
        indexes = [
            # An account's own events, newest first (/users/me/events, the change pages).
            models.Index(
                fields=["realm", "account_id", "-created_at", "-id"], name="event_account_idx"
            ),
            # Every event newest first, and the retention cut (prune_events).
            models.Index(fields=["created_at", "id"], name="event_created_idx"),
            models.Index(fields=["event", "-created_at"], name="event_name_idx"),
            models.Index(fields=["actor_id", "-created_at"], name="event_actor_idx"),
            models.Index(fields=["ip", "-created_at"], name="event_ip_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.realm} {self.account_id or '-'}"

    @property
    def actor(self) -> dict[str, Any] | None:
        if self.actor_id is None:
            return None
        return {"realm": self.actor_realm, "id": self.actor_id}
