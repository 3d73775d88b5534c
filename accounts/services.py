"""
What every account needs, whatever its realm: creation, authentication with lockout,
profile and password changes, soft delete and unlock.

Services take "an account of a given model", so the admin realm uses the same lockout
and the same conflict rules as users. They raise the project's exceptions and hold the
transactions; views only call them. Login outcomes and password changes are security
events (`tokens.events.event_record`), written with the change they record.
"""

from __future__ import annotations

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
from accounts.throttling import throttle_login
from accounts.validators import normalize_username
from config.api.exceptions import AccountInactive, AccountLocked, Conflict, InvalidCredentials
from config.api.net import Client
from tokens.events import event_record
from tokens.models import EventName, Token
from tokens.realms import Realm, realm_of
from tokens.services import TokenPair, session_start, token_revoke_all

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
    **extra: Any,
) -> Account:
    """Create an account; a username, email or phone already taken (in any case) is a 409.

    The password is judged by Django's validators first (against the new account's
    attributes), then the avatar, both before anything is written; the avatar's file is
    removed again if the account cannot be created.
    """
    _validate_password(password, model(username=username, name=name, email=email), "password")
    image = avatar_clean(avatar) if avatar is not None else None
    taken = model.objects.conflicts(username=username, email=email, phone=phone)
    if taken:
        raise _conflict(taken)
    avatar_name = avatar_store(image) if image is not None else ""
    try:
        account: Account = model.objects.create_user(
            username=username,
            email=email,
            password=password,
            name=name,
            phone=phone,
            avatar=avatar_name,
            **extra,
        )
    except ValidationError as exc:
        avatar_delete(avatar_name)
        # Lost a race with another request: the database's unique index decided.
        raise _conflict(list(exc.message_dict)) from exc
    except BaseException:
        avatar_delete(avatar_name)
        raise
    return account


def account_update(*, account: Account, avatar: Any = KEEP, **changes: Any) -> Account:
    """Change profile fields (`username`, `name`, `email`, `phone`) and, when given, the
    avatar (an upload, or None to remove it); 409 on a taken value.

    Everything is judged before anything is written, so a refused avatar or a taken email
    changes nothing. The old avatar file is deleted once the change has committed; a new
    file whose change did not commit is deleted again.
    """
    if "username" in changes:
        changes["username"] = normalize_username(changes["username"])
    image = avatar_clean(avatar) if avatar not in (KEEP, None) else None
    model = _model_of(account)
    unique = {field: changes[field] for field in UNIQUE_FIELDS if changes.get(field)}
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
    *, account: AbstractAccount, client: Client | None = None, via: str = "api"
) -> None:
    """Record a password change (the API's, the admin site's form, `changepassword`)."""
    event_record(
        event=EventName.PASSWORD_CHANGED,
        realm=realm_of(account),
        account=account,
        client=client,
        details={"via": via},
    )


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
    password is 403; success clears the counter.

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

    with transaction.atomic():
        # Conditional, so that a lock placed by a concurrent failure since we read the row
        # holds.
        cleared = (
            model.objects.filter(pk=account.pk)
            .exclude(locked_until__gt=now)
            .update(failed_login_attempts=0, locked_until=None, last_login=now)
        )
        if cleared:
            _login_event(EventName.LOGIN_SUCCEEDED, realm, account, client, via)
    if not cleared:
        locked_until = model.objects.filter(pk=account.pk).values_list("locked_until", flat=True)
        raise AccountLocked(details=_lock_details(locked_until.get() or now, now))
    account.failed_login_attempts, account.locked_until, account.last_login = 0, None, now
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
    account = account_authenticate(
        realm=realm,
        identifier=identifier,
        password=password,
        ip=ip,
        user_agent=user_agent,
        via="api" if start_session else "admin_site",
    )
    pair = session_start(owner=account, ip=ip, user_agent=user_agent) if start_session else None
    return Login(account, pair)
