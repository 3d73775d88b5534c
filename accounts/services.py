"""
What every account needs, whatever its realm: creation, authentication with lockout and a
second factor, profile and password changes, soft delete and unlock.

Services take "an account of a given model", so the admin realm uses the same lockout
and the same conflict rules as users. They raise the project's exceptions and hold the
transactions; views only call them. Login outcomes and password changes are security
events (`tokens.events.event_record`), written with the change they record.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar, cast

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.utils import timezone

from accounts.avatars import avatar_clean, avatar_delete, avatar_store
from accounts.models import AbstractAccount
from accounts.notices import Notice, account_notify
from accounts.throttling import throttle_login, throttle_login_second_factor
from accounts.totp import (
    SecretUnreadable,
    is_totp_code,
    matching_step,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    recovery_code_digest,
    secret_decrypt,
    secret_encrypt,
    secret_reencrypt,
)
from accounts.validators import fold_identifier, normalize_username
from accounts.verification import (
    email_verification_check,
    verification_enabled,
    verification_mail_enqueue,
)
from config.api.exceptions import (
    AccountInactive,
    AccountLocked,
    Conflict,
    EmailNotVerified,
    InvalidCredentials,
    ServiceUnavailable,
    TokenInvalid,
)
from config.api.net import Client
from tokens.crypto import digest, new_session_key
from tokens.events import event_record
from tokens.models import EventName, MfaChallenge, RecoveryCode, Token
from tokens.realms import Realm, realm_of
from tokens.services import TokenPair, owner_is_usable, session_start, token_revoke_all

logger = logging.getLogger("accounts.auth")

Account = TypeVar("Account", bound=AbstractAccount)

UNIQUE_FIELDS = ("username", "email", "phone")
# `account_update(avatar=KEEP)`: leave the avatar as it is (None removes it).
KEEP: Any = object()


def _conflict(fields: list[str]) -> Conflict:
    return Conflict(
        "Already taken", details={field: [f"This {field} is already taken."] for field in fields}
    )


def _model_of(account: AbstractAccount) -> type[AbstractAccount]:
    """The account's model (`type()` of the admin site's `request.user` is its lazy wrapper)."""
    return cast(type[AbstractAccount], account._meta.model)


# Outcomes logged at INFO; every other one (failures, locks, refusals) is a WARNING.
_ROUTINE_EVENTS = frozenset(
    {
        "login_succeeded",
        "mfa_challenge_issued",
        "mfa_code_missing",
        "two_factor_enrolment_started",
        "two_factor_enabled",
        "two_factor_disabled",
        "recovery_codes_regenerated",
    }
)


def _log(event: str, *, realm: Realm, account: Any, ip: str, **extra: Any) -> None:
    """One line per login outcome: event, realm, account id and client IP; never a secret."""
    account_id = account.pk if account is not None else None
    level = logging.INFO if event in _ROUTINE_EVENTS else logging.WARNING
    logger.log(
        level,
        "%s realm=%s account=%s ip=%s",
        event,
        realm.name,
        account_id if account_id is not None else "unknown",
        ip,
        extra={"event": event, "realm": realm.name, "account_id": account_id, "ip": ip, **extra},
    )


# --- Creation and profile ------------------------------------------------------------


def account_create(
    *,
    model: type[Account],
    username: str,
    name: str,
    email: str,
    password: str,
    phone: str | None = None,
    avatar: UploadedFile | None = None,
    email_verified: bool = False,
    **extra: Any,
) -> Account:
    """Create an account; a username, email or phone already taken (in any case) is a 409.

    The password is judged by Django's validators first (against the new account's
    attributes), then the avatar, both before anything is written; the avatar's file is
    removed again if the account cannot be created.

    An account whose address is not known to be right (`email_verified` false: a
    registration, a user created by staff) is mailed a verification link unless
    `EMAIL_VERIFICATION` is `none`, in the creation's transaction: a creation that fails
    sends nothing.
    """
    _validate_password(password, model(username=username, name=name, email=email), "password")
    image = avatar_clean(avatar) if avatar is not None else None
    taken = model.objects.conflicts(username=username, email=email, phone=phone)
    if taken:
        raise _conflict(taken)
    avatar_name = avatar_store(image) if image is not None else ""
    try:
        with transaction.atomic():
            account: Account = model.objects.create_user(
                username=username,
                email=email,
                password=password,
                name=name,
                phone=phone,
                avatar=avatar_name,
                email_verified=email_verified,
                **extra,
            )
            if not email_verified and verification_enabled():
                verification_mail_enqueue(account=account, to=account.email)
    except ValidationError as exc:
        avatar_delete(avatar_name)
        # Lost a race with another request: the database's unique index decided.
        raise _conflict(list(exc.message_dict)) from exc
    except BaseException:
        avatar_delete(avatar_name)
        raise
    return account


def account_update(
    *, account: Account, avatar: Any = KEEP, confirm_email: bool = False, **changes: Any
) -> Account:
    """Change profile fields (`username`, `name`, `email`, `phone`) and, when given, the
    avatar (an upload, or None to remove it); 409 on a taken value.

    Everything is judged before anything is written, so a refused avatar or a taken email
    changes nothing. The old avatar file is deleted once the change has committed; a new
    file whose change did not commit is deleted again.

    A new `email` (another address, not the same one in another case) is applied at once,
    unverified, when staff change it. With `confirm_email` (the account's own change) it
    is not applied: it must be free now (409, as any other), becomes `pending_email`, a
    verification link is mailed to it and a notice to the current address, all in the
    change's transaction; the link makes it the `email` (`accounts.verification`). A
    later request replaces the pending address; asking for the current one again cancels
    it.
    """
    if "username" in changes:
        changes["username"] = normalize_username(changes["username"])
    new_email: str = changes.get("email") or ""
    email_moves = bool(new_email) and fold_identifier(new_email) != fold_identifier(account.email)
    if confirm_email and "email" in changes:
        if email_moves:
            changes["pending_email"] = changes.pop("email")
        else:
            # The same address (in another case, say) needs no proof; a pending change
            # is cancelled.
            changes["pending_email"] = None
    elif email_moves:
        changes.update(email_verified=False, pending_email=None)
    image = avatar_clean(avatar) if avatar not in (KEEP, None) else None
    model = _model_of(account)
    unique = {field: changes[field] for field in UNIQUE_FIELDS if changes.get(field)}
    if changes.get("pending_email"):
        unique["email"] = changes["pending_email"]
    taken = model.objects.conflicts(exclude_pk=account.pk, **unique)
    if taken:
        raise _conflict(taken)
    old_avatar, new_avatar = account.avatar.name or "", ""
    if avatar is not KEEP:
        new_avatar = avatar_store(image) if image is not None else ""
        changes["avatar"] = new_avatar
    try:
        with transaction.atomic():
            for field, value in changes.items():
                setattr(account, field, value)
            account.save(update_fields=[*changes, "updated_at"])
            if confirm_email and email_moves:
                verification_mail_enqueue(account=account, to=new_email)
                account_notify(
                    account=account, notice=Notice.EMAIL_CHANGE_REQUESTED, to=account.email
                )
                event_record(
                    event=EventName.EMAIL_CHANGE_REQUESTED,
                    realm=realm_of(account),
                    account=account,
                )
            if avatar is not KEEP and old_avatar:
                transaction.on_commit(lambda: avatar_delete(old_avatar))
    except IntegrityError:
        avatar_delete(new_avatar)
        taken = model.objects.conflicts(exclude_pk=account.pk, **unique)
        if not taken:
            raise
        raise _conflict(taken) from None
    except BaseException:
        avatar_delete(new_avatar)
        raise
    return account


def account_set_avatar(*, account: Account, upload: UploadedFile | None) -> Account:
    """Replace (or with None, remove) an account's avatar."""
    return account_update(account=account, avatar=upload)


def _check_password_or_fail(account: AbstractAccount, password: str, field: str) -> None:
    if not account.check_password(password):
        raise ValidationError({field: ["The password is incorrect."]})


def _validate_password(password: str, account: AbstractAccount, field: str) -> None:
    """Django's password validators; a refusal names `field`."""
    try:
        password_validation.validate_password(password, user=cast(Any, account))
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc


def password_validate(*, account: AbstractAccount, password: str, field: str) -> None:
    """Django's password validators against `account`, without setting anything."""
    _validate_password(password, account, field)


def account_set_password(
    *, account: AbstractAccount, password: str, keep: Token | None = None, field: str = "password"
) -> None:
    """Set an account's password after Django's validators (a refusal names `field`).

    Saving it revokes every session and personal access token of the account except
    `keep` (the model's own hook: `AbstractAccount.save`), so every caller gets that.
    """
    _validate_password(password, account, field)
    account.set_password(password, keep=keep)
    account.save(update_fields=["password", "updated_at"])


@transaction.atomic
def account_change_password(
    *,
    account: AbstractAccount,
    current_password: str,
    new_password: str,
    keep: Token | None,
    client: Client | None = None,
) -> None:
    """Set a new password; every other session and token of the account is revoked."""
    _check_password_or_fail(account, current_password, "current_password")
    account_set_password(account=account, password=new_password, keep=keep, field="new_password")
    password_changed(account=account, client=client)


def password_changed(
    *,
    account: AbstractAccount,
    client: Client | None = None,
    via: str = "api",
    actor: Any = None,
) -> None:
    """What follows a password change, whichever path made it (the API's, the admin site's
    form, `changepassword`): its event, and a notice with a "this wasn't me" link to the
    account's address, both in the change's transaction. (The revocation of every session
    and token is the account model's own: `AbstractAccount.save`.)"""
    event_record(
        event=EventName.PASSWORD_CHANGED,
        realm=realm_of(account),
        account=account,
        actor=actor,
        client=client,
        details={"via": via},
    )
    account_notify(account=account, notice=Notice.PASSWORD_CHANGED)


def account_confirm_password(
    *, account: AbstractAccount, password: str, client: Client | None = None
) -> None:
    """A signed-in account confirms its current password (the admin site's password change).

    It counts like a login: a lock in force refuses whatever the password (423), and a
    wrong password counts towards the lockout (423 on the attempt that reaches it, else
    401), so a stolen admin-site cookie cannot guess the password at full speed. Its
    refusals are recorded as the login's are, with `details.via` "password_check".
    """
    realm = realm_of(account)
    now = timezone.now()
    password_ok = account.check_password(password)
    if account.locked_until is not None and account.locked_until > now:
        _login_event(EventName.LOGIN_LOCKED, realm, account, client, "password_check", "in_force")
        raise AccountLocked(details=_lock_details(account.locked_until, now))
    if password_ok:
        return
    with transaction.atomic():
        locked_until = _record_failure(account, now)
        if locked_until is not None:
            _login_event(EventName.LOGIN_LOCKED, realm, account, client, "password_check", "placed")
        else:
            _login_event(
                EventName.LOGIN_FAILED, realm, account, client, "password_check", "wrong_password"
            )
    if locked_until is not None:
        account.locked_until = locked_until
        raise AccountLocked(details=_lock_details(locked_until, now))
    raise InvalidCredentials("The password is incorrect.")


def _login_event(
    event: EventName,
    realm: Realm,
    account: AbstractAccount | None,
    client: Client | None,
    via: str,
    reason: str = "",
) -> None:
    details = {"via": via, **({"reason": reason} if reason else {})}
    event_record(event=event, realm=realm, account=account, client=client, details=details)


@transaction.atomic
def account_soft_delete(*, account: AbstractAccount, password: str | None = None) -> None:
    """Soft-delete an account (its row stays) and revoke every token it has.

    With `password`, the account holder confirms it; an admin deleting a user gives none.
    """
    if password is not None:
        _check_password_or_fail(account, password, "password")
    account.deleted_at = timezone.now()
    account.save(update_fields=["deleted_at", "updated_at"])
    token_revoke_all(owner=account)


@transaction.atomic
def account_delete_own(
    *, account: AbstractAccount, password: str, client: Client | None = None
) -> None:
    """The account holder deletes their account (soft), confirmed by the password."""
    account_soft_delete(account=account, password=password)
    event_record(
        event=EventName.ACCOUNT_DELETED, realm=realm_of(account), account=account, client=client
    )


@transaction.atomic
def account_set_active(*, account: AbstractAccount, active: bool) -> None:
    """Activate or block an account; blocking revokes every token it has, at once."""
    account.is_active = active
    account.save(update_fields=["is_active", "updated_at"])
    if not active:
        token_revoke_all(owner=account)


def account_restore(*, account: AbstractAccount) -> None:
    """Undo a soft delete. The row kept its username, email and phone, so none can clash."""
    account.deleted_at = None
    account.save(update_fields=["deleted_at", "updated_at"])


# --- Lockout -------------------------------------------------------------------------


def account_unlock(*, account: AbstractAccount) -> None:
    _model_of(account).objects.filter(pk=account.pk).update(
        failed_login_attempts=0, locked_until=None
    )
    account.failed_login_attempts, account.locked_until = 0, None


@transaction.atomic
def account_unlock_by_operator(*, account: AbstractAccount) -> None:
    """`manage.py unlock_account`: unlock, recorded as `account_unlocked` with no actor."""
    account_unlock(account=account)
    _operator_unlocked(account)


@transaction.atomic
def accounts_unlock_all(*, model: type[AbstractAccount]) -> int:
    """Unlock every locked account of `model` (`unlock_account --all`), each recorded as
    `account_unlocked`; return how many."""
    locked = list(model.objects.locked().select_for_update())
    model.objects.filter(pk__in=[account.pk for account in locked]).update(
        failed_login_attempts=0, locked_until=None
    )
    for account in locked:
        _operator_unlocked(account)
    return len(locked)


def _operator_unlocked(account: AbstractAccount) -> None:
    event_record(
        event=EventName.ACCOUNT_UNLOCKED,
        realm=realm_of(account),
        account=account,
        details={"via": "unlock_account"},
    )


def _lock_details(locked_until: datetime, now: datetime) -> dict[str, Any]:
    return {
        "locked_until": locked_until.isoformat().replace("+00:00", "Z"),
        "retry_after": max(1, int((locked_until - now).total_seconds() + 0.999)),
    }


def _record_failure(account: AbstractAccount, now: datetime) -> datetime | None:
    """Count one wrong password, atomically; return `locked_until` if this locked it.

    One conditional UPDATE does the arithmetic in the database, so concurrent failures
    are each counted once (PostgreSQL re-reads the row each waiting UPDATE sees). A lock
    in force is left alone (failures during a lock neither count nor extend it), and an
    expired lock starts the count again from zero.
    """
    max_attempts = settings.MAX_LOGIN_ATTEMPTS
    lock_over = Q(locked_until__lte=now)
    reaches_max = Q(failed_login_attempts__gte=max_attempts - 1) & ~lock_over
    if max_attempts <= 1:
        reaches_max |= lock_over
    model = _model_of(account)
    model.objects.filter(pk=account.pk).exclude(locked_until__gt=now).update(
        failed_login_attempts=Case(
            When(lock_over, then=Value(1)), default=F("failed_login_attempts") + 1
        ),
        locked_until=Case(
            When(
                reaches_max,
                then=Value(now + timedelta(minutes=settings.LOCKOUT_DURATION_MINUTES)),
            ),
            When(lock_over, then=Value(None, output_field=DateTimeField())),
            default=F("locked_until"),
        ),
    )
    locked_until: datetime | None = (
        model.objects.filter(pk=account.pk).values_list("locked_until", flat=True).get()
    )
    return locked_until if locked_until is not None and locked_until > now else None


def account_authenticate(
    *,
    realm: Realm,
    identifier: str,
    password: str,
    ip: str,
    user_agent: str = "",
    via: str = "api",
) -> AbstractAccount:
    """The account that `identifier` (username or email, any case) and `password` name.

    The password hasher runs exactly once whatever happens, so an unknown account costs
    what a wrong password costs (as Django's ModelBackend does, ticket #20760). Then: a
    lock in force is 423 whatever the password; a wrong password counts towards the lock
    (423 on the attempt that reaches it, else 401); a blocked account with the right
    password is 403, and so is one whose address is unverified under
    `EMAIL_VERIFICATION=mandatory`; success clears the counter. For an account with a
    second factor, success is only half a login: the counter is left for the second step
    to clear (`account_login`), and no success is recorded yet.

    Every outcome is an event (`via`: "api" or "admin_site"). A refusal's event commits
    with the failure count, before the exception: no transaction is held across the raise,
    so the 401 or 423 rolls neither back. The identifier a failed login named is never
    recorded: people type passwords into the username field.
    """
    now = timezone.now()
    model = realm.model
    client = Client(ip or None, user_agent)
    account = model.objects.active().by_login(identifier).first()
    if account is None:
        make_password(password)
        _login_event(EventName.LOGIN_FAILED, realm, None, client, via, "unknown_account")
        raise InvalidCredentials()

    password_ok = account.check_password(password)
    if account.locked_until is not None and account.locked_until > now:
        _login_event(EventName.LOGIN_LOCKED, realm, account, client, via, "in_force")
        raise AccountLocked(details=_lock_details(account.locked_until, now))
    if not password_ok:
        with transaction.atomic():
            locked_until = _record_failure(account, now)
            if locked_until is not None:
                _login_event(EventName.LOGIN_LOCKED, realm, account, client, via, "placed")
            else:
                _login_event(EventName.LOGIN_FAILED, realm, account, client, via, "wrong_password")
        if locked_until is not None:
            raise AccountLocked(details=_lock_details(locked_until, now))
        raise InvalidCredentials()
    if not account.is_active:
        _login_event(EventName.LOGIN_REFUSED_INACTIVE, realm, account, client, via)
        raise AccountInactive()
    try:
        email_verification_check(realm=realm, account=account)
    except EmailNotVerified:
        _login_event(EventName.LOGIN_REFUSED_UNVERIFIED, realm, account, client, via)
        raise
    if account.two_factor_enabled:
        # Half a login: the counter stays as it is until the second factor is right, or a
        # right password would wipe the count of wrong codes before it and lockout would
        # never bound the guessing of codes.
        return account
    _login_succeeded(realm=realm, account=account, client=client, via=via, now=now)
    return account


def _login_succeeded(
    *,
    realm: Realm,
    account: AbstractAccount,
    client: Client,
    via: str,
    now: datetime,
    second_factor: str = "",
) -> None:
    """Clear the failure count and record the login (the last step of every login)."""
    model = _model_of(account)
    with transaction.atomic():
        # Conditional, so that a lock placed by a concurrent failure since we read the row
        # holds.
        cleared = (
            model.objects.filter(pk=account.pk)
            .exclude(locked_until__gt=now)
            .update(failed_login_attempts=0, locked_until=None, last_login=now)
        )
        if cleared:
            details = {"via": via, **({"second_factor": second_factor} if second_factor else {})}
            event_record(
                event=EventName.LOGIN_SUCCEEDED,
                realm=realm,
                account=account,
                client=client,
                details=details,
            )
    if not cleared:
        locked_until = model.objects.filter(pk=account.pk).values_list("locked_until", flat=True)
        raise AccountLocked(details=_lock_details(locked_until.get() or now, now))
    account.failed_login_attempts, account.locked_until, account.last_login = 0, None, now


class Challenge(NamedTuple):
    """A login waiting for its second factor: what the client sends back, and for how long."""

    mfa_token: str
    expires_in: int


class Login(NamedTuple):
    account: AbstractAccount
    # The new session's token pair; None for a login that keeps no token session, or that
    # waits for its second factor.
    pair: TokenPair | None
    # Set when the password was right and the account has a second factor: no session
    # has started; `account_login_second_factor` completes the login.
    challenge: Challenge | None = None


class SecondFactorInvalid(InvalidCredentials):
    """A wrong second-factor code at login (INVALID_CREDENTIALS, as a wrong password)."""

    default_detail = "The code is incorrect."


class SecondFactorRequired(Exception):
    """The password was right, the account has a second factor, and no code came with it
    (a login that issues no challenge: the admin site's form asks for the code itself)."""


def account_login(
    *,
    realm: Realm,
    identifier: str,
    password: str,
    ip: str,
    user_agent: str,
    start_session: bool = True,
    code: str | None = None,
) -> Login:
    """Log in to a realm: throttle, authenticate (lockout included), second factor, session.

    The one login every entry point calls: both realms' APIs, and the Django admin site's
    login form, which keeps its own cookie session (`start_session=False`). The throttle
    comes first, so a throttled attempt never reaches the account.

    An account with a second factor needs a code too. Without `code`, the API's login
    answers a challenge (no session starts) that `account_login_second_factor` completes;
    a login that starts no token session has nowhere to send one and raises
    `SecondFactorRequired`. With `code` (the admin site's single form), the code is checked
    here under the same lockout and replay rules as the API's second step.
    """
    throttle_login(realm=realm, ip=ip)
    via = "api" if start_session else "admin_site"
    account = account_authenticate(
        realm=realm,
        identifier=identifier,
        password=password,
        ip=ip,
        user_agent=user_agent,
        via=via,
    )
    if account.two_factor_enabled:
        if code is None:
            if not start_session:
                _log("mfa_code_missing", realm=realm, account=account, ip=ip)
                raise SecondFactorRequired()
            return Login(account, None, _challenge_issue(realm=realm, account=account, ip=ip))
        now = timezone.now()
        client = Client(ip or None, user_agent)
        method = _second_factor_or_fail(
            realm=realm, account=account, code=code, client=client, via=via, now=now
        )
        _login_succeeded(
            realm=realm, account=account, client=client, via=via, now=now, second_factor=method
        )
    pair = session_start(owner=account, ip=ip, user_agent=user_agent) if start_session else None
    return Login(account, pair)


def account_login_second_factor(
    *, realm: Realm, mfa_token: str, code: str, ip: str, user_agent: str
) -> Login:
    """Complete a login that answered a challenge: the `mfa_token` and a current TOTP code
    or an unused recovery code; the new session's token pair.

    Throttled per client IP like the login (a group of its own). The challenge is used up
    by this attempt whatever the code turns out to be: a wrong code needs a new login with
    the password, so each guess of a code costs a guess of the password's throttle too. A
    wrong code counts towards the account's lockout as a wrong password does; an unknown,
    used, expired or other realm's `mfa_token` is 401 TOKEN_INVALID.
    """
    throttle_login_second_factor(realm=realm, ip=ip)
    now = timezone.now()
    client = Client(ip or None, user_agent)
    account = _challenge_consume(realm=realm, mfa_token=mfa_token, ip=ip, now=now)
    method = _second_factor_or_fail(
        realm=realm, account=account, code=code, client=client, via="api", now=now
    )
    _login_succeeded(
        realm=realm, account=account, client=client, via="api", now=now, second_factor=method
    )
    return Login(account, session_start(owner=account, ip=ip, user_agent=user_agent))


# --- Two-factor authentication -------------------------------------------------------
#
# TOTP with recovery codes (accounts.totp says how secrets are kept). The state is on the
# account (`two_factor_enabled`, the encrypted `totp_secret`, `totp_last_step`); recovery
# codes and login challenges are rows of their own (`tokens.models`). Every use of a
# single-use thing is one conditional UPDATE or DELETE, so of two concurrent uses exactly
# one wins: a TOTP step is accepted only if it is later than the stored one, a recovery
# code or a challenge only if its row is still there to delete.


def _challenge_issue(*, realm: Realm, account: AbstractAccount, ip: str) -> Challenge:
    mfa_token = f"mfa_{new_session_key()}"
    ttl = settings.MFA_TOKEN_TTL_SECONDS
    MfaChallenge.objects.create(
        **{realm.owner_field: account},
        token_hash=digest(mfa_token),
        expires_at=timezone.now() + timedelta(seconds=ttl),
        ip=ip or None,
    )
    _log("mfa_challenge_issued", realm=realm, account=account, ip=ip)
    return Challenge(mfa_token, ttl)


def _challenge_consume(*, realm: Realm, mfa_token: str, ip: str, now: datetime) -> Any:
    """The account a live challenge of `realm` names, the challenge used up; else 401."""
    challenge = (
        MfaChallenge.objects.of_realm(realm)
        .select_related(realm.owner_field)
        .filter(token_hash=digest(mfa_token))
        .first()
    )
    # Deleted first, whatever follows: of two concurrent uses, one finds nothing to delete.
    used = challenge is not None and MfaChallenge.objects.filter(pk=challenge.pk).delete()[0]
    if not used or challenge is None or challenge.expires_at <= now:
        account = getattr(challenge, realm.owner_field) if challenge is not None else None
        _log("mfa_token_invalid", realm=realm, account=account, ip=ip)
        raise TokenInvalid("The second-factor challenge is invalid or expired; log in again.")
    account = getattr(challenge, realm.owner_field)
    if not owner_is_usable(account):
        _log("mfa_token_invalid", realm=realm, account=account, ip=ip, reason="account_unusable")
        raise TokenInvalid("The second-factor challenge is invalid or expired; log in again.")
    return account


def _second_factor_or_fail(
    *,
    realm: Realm,
    account: AbstractAccount,
    code: str,
    client: Client,
    via: str,
    now: datetime,
) -> str:
    """A login's second factor: a lock in force is 423 whatever the code; a wrong code
    counts towards the lock (423 on the attempt that reaches it, else 401), and is recorded
    (`mfa_challenge_failed`, or `login_locked`) before the refusal. Returns how the login
    was completed (`totp` or `recovery_code`)."""
    if account.locked_until is not None and account.locked_until > now:
        _login_event(EventName.LOGIN_LOCKED, realm, account, client, via, "in_force")
        raise AccountLocked(details=_lock_details(account.locked_until, now))
    with transaction.atomic():
        method = _second_factor_use(account=account, code=code, now=now, realm=realm)
        if method == "recovery_code":
            _login_event(EventName.RECOVERY_CODE_USED, realm, account, client, via)
    if method is not None:
        return method
    with transaction.atomic():
        locked_until = _record_failure(account, now)
        if locked_until is not None:
            _login_event(EventName.LOGIN_LOCKED, realm, account, client, via, "wrong_code")
        else:
            _login_event(EventName.MFA_CHALLENGE_FAILED, realm, account, client, via)
    if locked_until is not None:
        raise AccountLocked(details=_lock_details(locked_until, now))
    raise SecondFactorInvalid()


def _secret(account: AbstractAccount, realm: Realm) -> str:
    try:
        return secret_decrypt(account.totp_secret)
    except SecretUnreadable:
        # A key was dropped while secrets still needed it: an operator's matter, and not
        # the account holder's fault, so it neither counts as a failure nor passes.
        logger.error(
            "totp secret unreadable: realm=%s account=%s (check MFA_ENCRYPTION_KEY[S_OLD])",
            realm.name,
            account.pk,
        )
        raise ServiceUnavailable("The second factor cannot be checked right now.") from None


def _totp_accept(
    *, account: AbstractAccount, code: str, now: datetime, realm: Realm, enabled: bool
) -> int | None:
    """Accept a TOTP code of the account's (confirmed, or with `enabled=False` pending)
    secret: the step it names, now stored as the last accepted one; None if it is wrong or
    its step is not later than the last accepted one (a replay)."""
    if not account.totp_secret:
        return None
    step = matching_step(secret=_secret(account, realm), code=code, now=now)
    if step is None:
        return None
    later = Q(totp_last_step__isnull=True) | Q(totp_last_step__lt=step)
    accepted = (
        _model_of(account)
        .objects.filter(later, pk=account.pk, two_factor_enabled=enabled)
        .filter(totp_secret=account.totp_secret)
        .update(totp_last_step=step)
    )
    if not accepted:
        return None
    account.totp_last_step = step
    return step


def _second_factor_use(
    *, account: AbstractAccount, code: str, now: datetime, realm: Realm
) -> str | None:
    """Use a current TOTP code or an unused recovery code (which is then gone); None when
    the code is neither."""
    if not account.two_factor_enabled:
        return None
    if is_totp_code(code):
        accepted = _totp_accept(account=account, code=code, now=now, realm=realm, enabled=True)
        return "totp" if accepted is not None else None
    used, _ = (
        RecoveryCode.objects.for_owner(account)
        .filter(code_hash=recovery_code_digest(code))
        .delete()
    )
    return "recovery_code" if used else None


def _recovery_codes_replace(*, account: AbstractAccount) -> list[str]:
    """End every recovery code of the account and issue new ones; the plain codes."""
    field = realm_of(account).owner_field
    RecoveryCode.objects.for_owner(account).delete()
    codes = new_recovery_codes()
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(**{field: account}, code_hash=recovery_code_digest(code)) for code in codes]
    )
    return codes


def _wrong_code() -> ValidationError:
    return ValidationError({"code": ["The code is incorrect."]})


def _not_enabled() -> ValidationError:
    # Named as the code's error: with no second factor, no code can be right.
    return ValidationError(
        {"code": ["Two-factor authentication is not on for this account: no code to check."]}
    )


def two_factor_enrol(*, account: AbstractAccount, password: str, client: Client) -> tuple[str, str]:
    """Start (or restart) enrolment: a new TOTP secret, not active until confirmed.

    Returns the secret and its `otpauth://` URI, shown this once; a second call replaces
    an unconfirmed secret. An account whose second factor is on must turn it off first
    (with its password and a code): a stolen session and password alone cannot swap it.
    """
    _check_password_or_fail(account, password, "password")
    if account.two_factor_enabled:
        raise ValidationError("Two-factor authentication is already on; turn it off first.")
    secret = new_secret()
    stored = secret_encrypt(secret)
    replaced = (
        _model_of(account)
        .objects.filter(pk=account.pk, two_factor_enabled=False)
        .update(totp_secret=stored, totp_last_step=None)
    )
    if not replaced:  # confirmed by a concurrent request since the row was read
        raise ValidationError("Two-factor authentication is already on; turn it off first.")
    account.totp_secret, account.totp_last_step = stored, None
    realm = realm_of(account)
    _log("two_factor_enrolment_started", realm=realm, account=account, ip=client.ip or "")
    return secret, provisioning_uri(secret=secret, account_name=account.username)


@transaction.atomic
def two_factor_confirm(*, account: AbstractAccount, code: str, client: Client) -> list[str]:
    """Confirm the pending secret with a current code: the second factor is on from now,
    and the 10 recovery codes returned are shown this once."""
    realm = realm_of(account)
    if account.two_factor_enabled:
        raise ValidationError("Two-factor authentication is already on.")
    if not account.totp_secret:
        raise ValidationError(
            {"code": ["There is no secret to confirm: start with POST .../me/2fa/totp."]}
        )
    now = timezone.now()
    if _totp_accept(account=account, code=code, now=now, realm=realm, enabled=False) is None:
        raise _wrong_code()
    enabled = (
        _model_of(account)
        .objects.filter(pk=account.pk, two_factor_enabled=False)
        .update(two_factor_enabled=True, updated_at=now)
    )
    if not enabled:
        raise ValidationError("Two-factor authentication is already on.")
    account.two_factor_enabled = True
    codes = _recovery_codes_replace(account=account)
    _two_factor_changed(
        account=account,
        realm=realm,
        event=EventName.TWO_FACTOR_ENABLED,
        notice=Notice.TWO_FACTOR_ENABLED,
        client=client,
    )
    return codes


def _two_factor_changed(
    *, account: AbstractAccount, realm: Realm, event: EventName, notice: Notice, client: Client
) -> None:
    """Record a change to the second factor and mail the account its security notice."""
    event_record(event=event, realm=realm, account=account, client=client)
    account_notify(account=account, notice=notice)


@transaction.atomic
def two_factor_regenerate_recovery_codes(
    *, account: AbstractAccount, code: str, client: Client
) -> list[str]:
    """New recovery codes for a current TOTP code (not a recovery code: whoever holds only
    those must not be able to mint more); the old ones stop working."""
    realm = realm_of(account)
    if not account.two_factor_enabled:
        raise _not_enabled()
    now = timezone.now()
    if _totp_accept(account=account, code=code, now=now, realm=realm, enabled=True) is None:
        raise _wrong_code()
    codes = _recovery_codes_replace(account=account)
    _two_factor_changed(
        account=account,
        realm=realm,
        event=EventName.RECOVERY_CODES_REGENERATED,
        notice=Notice.RECOVERY_CODES_REGENERATED,
        client=client,
    )
    return codes


@transaction.atomic
def two_factor_disable(
    *, account: AbstractAccount, password: str, code: str, client: Client
) -> None:
    """Turn the second factor off, confirmed by the password and a current TOTP code or an
    unused recovery code: the secret, the recovery codes and pending challenges go."""
    realm = realm_of(account)
    _check_password_or_fail(account, password, "password")
    if not account.two_factor_enabled:
        raise _not_enabled()
    if _second_factor_use(account=account, code=code, now=timezone.now(), realm=realm) is None:
        raise _wrong_code()
    _two_factor_clear(account=account)
    _two_factor_changed(
        account=account,
        realm=realm,
        event=EventName.TWO_FACTOR_DISABLED,
        notice=Notice.TWO_FACTOR_DISABLED,
        client=client,
    )


def _two_factor_clear(*, account: AbstractAccount) -> None:
    _model_of(account).objects.filter(pk=account.pk).update(
        two_factor_enabled=False, totp_secret="", totp_last_step=None, updated_at=timezone.now()
    )
    RecoveryCode.objects.for_owner(account).delete()
    MfaChallenge.objects.for_owner(account).delete()
    account.two_factor_enabled, account.totp_secret, account.totp_last_step = False, "", None


@transaction.atomic
def two_factor_reset(*, account: AbstractAccount) -> bool:
    """An operator turns an account's second factor off (`manage.py reset_2fa`), for a
    person who lost their device; returns whether it was on (or an enrolment pending)."""
    was_on = account.two_factor_enabled
    was_set = was_on or bool(account.totp_secret)
    _two_factor_clear(account=account)
    event_record(
        event=EventName.TWO_FACTOR_DISABLED,
        realm=realm_of(account),
        account=account,
        details={"via": "reset_2fa"},
    )
    if was_on:
        account_notify(account=account, notice=Notice.TWO_FACTOR_DISABLED)
    return was_set


def two_factor_secrets_reencrypt(*, model: type[AbstractAccount]) -> tuple[int, int]:
    """Re-encrypt every stored TOTP secret of `model` with the current key (key rotation);
    return how many were re-encrypted and how many no configured key could read.

    Each row is written only if its secret is still the value read (a conditional UPDATE),
    so an enrolment or a reset meanwhile is never overwritten.
    """
    done = failed = 0
    rows = model.objects.exclude(totp_secret="").values_list("pk", "totp_secret")
    for pk, stored in rows.iterator():
        try:
            fresh = secret_reencrypt(stored)
        except SecretUnreadable:
            failed += 1
            continue
        done += model.objects.filter(pk=pk, totp_secret=stored).update(totp_secret=fresh)
    return done, failed
