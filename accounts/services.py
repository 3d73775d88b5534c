"""
What every account needs, whatever its realm: creation, authentication with lockout,
profile and password changes, soft delete and unlock.

Services take "an account of a given model", so the admin realm uses the same lockout
and the same conflict rules as users. They raise the project's exceptions and hold the
transactions; views only call them.
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
from accounts.throttling import throttle_login
from accounts.validators import fold_identifier, normalize_username
from accounts.verification import (
    email_verification_check,
    verification_enabled,
    verification_mail_enqueue,
)
from config.api.exceptions import AccountInactive, AccountLocked, Conflict, InvalidCredentials
from tokens.models import Token
from tokens.realms import Realm, realm_of
from tokens.services import TokenPair, session_start, token_revoke_all

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


def _log(event: str, *, realm: Realm, account: Any, ip: str, **extra: Any) -> None:
    """One line per login outcome: event, realm, account id and client IP; never a secret."""
    account_id = account.pk if account is not None else None
    level = logging.INFO if event == "login_succeeded" else logging.WARNING
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
    *, account: AbstractAccount, current_password: str, new_password: str, keep: Token | None
) -> None:
    """Set a new password; every other session and token of the account is revoked."""
    _check_password_or_fail(account, current_password, "current_password")
    account_set_password(account=account, password=new_password, keep=keep, field="new_password")
    account_notify(account=account, notice=Notice.PASSWORD_CHANGED)


def account_confirm_password(*, account: AbstractAccount, password: str, ip: str) -> None:
    """A signed-in account confirms its current password (the admin site's password change).

    It counts like a login: a lock in force refuses whatever the password (423), and a
    wrong password counts towards the lockout (423 on the attempt that reaches it, else
    401), so a stolen admin-site cookie cannot guess the password at full speed.
    """
    realm = realm_of(account)
    now = timezone.now()
    password_ok = account.check_password(password)
    if account.locked_until is not None and account.locked_until > now:
        _log("password_check_refused_locked", realm=realm, account=account, ip=ip)
        raise AccountLocked(details=_lock_details(account.locked_until, now))
    if password_ok:
        return
    locked_until = _record_failure(account, now)
    if locked_until is not None:
        account.locked_until = locked_until
        _log("account_locked", realm=realm, account=account, ip=ip)
        raise AccountLocked(details=_lock_details(locked_until, now))
    _log("password_check_failed", realm=realm, account=account, ip=ip)
    raise InvalidCredentials("The password is incorrect.")


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


def accounts_unlock_all(*, model: type[AbstractAccount]) -> int:
    """Unlock every locked account of `model`; return how many."""
    return model.objects.locked().update(failed_login_attempts=0, locked_until=None)


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
    *, realm: Realm, identifier: str, password: str, ip: str
) -> AbstractAccount:
    """The account that `identifier` (username or email, any case) and `password` name.

    The password hasher runs exactly once whatever happens, so an unknown account costs
    what a wrong password costs (as Django's ModelBackend does, ticket #20760). Then: a
    lock in force is 423 whatever the password; a wrong password counts towards the lock
    (423 on the attempt that reaches it, else 401); a blocked account with the right
    password is 403, and so is one whose address is unverified under
    `EMAIL_VERIFICATION=mandatory`; success clears the counter.
    """
    now = timezone.now()
    model = realm.model
    account = model.objects.active().by_login(identifier).first()
    if account is None:
        make_password(password)
        _log("login_failed", realm=realm, account=None, ip=ip, reason="unknown_account")
        raise InvalidCredentials()

    password_ok = account.check_password(password)
    if account.locked_until is not None and account.locked_until > now:
        _log("login_refused_locked", realm=realm, account=account, ip=ip)
        raise AccountLocked(details=_lock_details(account.locked_until, now))
    if not password_ok:
        locked_until = _record_failure(account, now)
        if locked_until is not None:
            _log("account_locked", realm=realm, account=account, ip=ip)
            raise AccountLocked(details=_lock_details(locked_until, now))
        _log("login_failed", realm=realm, account=account, ip=ip, reason="wrong_password")
        raise InvalidCredentials()
    if not account.is_active:
        _log("login_refused_inactive", realm=realm, account=account, ip=ip)
        raise AccountInactive()
    email_verification_check(realm=realm, account=account)

    # Conditional, so that a lock placed by a concurrent failure since we read the row holds.
    cleared = (
        model.objects.filter(pk=account.pk)
        .exclude(locked_until__gt=now)
        .update(failed_login_attempts=0, locked_until=None, last_login=now)
    )
    if not cleared:
        locked_until = model.objects.filter(pk=account.pk).values_list("locked_until", flat=True)
        raise AccountLocked(details=_lock_details(locked_until.get() or now, now))
    account.failed_login_attempts, account.locked_until, account.last_login = 0, None, now
    _log("login_succeeded", realm=realm, account=account, ip=ip)
    return account


class Login(NamedTuple):
    account: AbstractAccount
    # The new session's token pair; None for a login that keeps no token session.
    pair: TokenPair | None


def account_login(
    *,
    realm: Realm,
    identifier: str,
    password: str,
    ip: str,
    user_agent: str,
    start_session: bool = True,
) -> Login:
    """Log in to a realm: throttle, authenticate (lockout included), start the session.

    The one login every entry point calls: both realms' APIs, and the Django admin site's
    login form, which keeps its own cookie session (`start_session=False`). The throttle
    comes first, so a throttled attempt never reaches the account.
    """
    throttle_login(realm=realm, ip=ip)
    account = account_authenticate(realm=realm, identifier=identifier, password=password, ip=ip)
    pair = session_start(owner=account, ip=ip, user_agent=user_agent) if start_session else None
    return Login(account, pair)
