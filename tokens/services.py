"""
Issuing, rotating and revoking login sessions.

A login creates a session row and returns a pair of JWTs (`tokens.signing`). Both carry the
session key as `sid` (the row holds its digest) and a `jti` of their own: the access
token's is fresh random on every issue, so no two access tokens are ever the same string
(even two refreshes within one second, whose `iat` and `exp` agree); the refresh token's
is the one the row names as next to rotate. The session's lifetime is fixed at login;
refreshing rotates the refresh token and never extends it.

Rotation is one conditional UPDATE (`... WHERE refresh_jti = <presented jti>`), so of
concurrent refreshes with one token exactly one wins. A refresh token that was already
rotated away is a sign of theft: presenting it revokes the whole session.

The changes a person makes to their own sessions and tokens (logout, creating or revoking
a token, revoking every other session) and a detected reuse are security events
(`tokens.events`), recorded in the change's transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, TypedDict

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.api.exceptions import NotFound, TokenInvalid
from config.api.net import Client
from tokens import signing
from tokens.crypto import DISPLAY_PREFIX_LENGTH, digest, new_personal_token, new_session_key
from tokens.events import event_record
from tokens.models import AuthEvent, EventName, MfaChallenge, Token, TokenKind
from tokens.realms import REALMS, Realm, realm_of

SCOPES = ("read", "write")
SESSION_SCOPES = list(SCOPES)
# last_used_at is written at most this often per token, so that reads stay reads.
TOUCH_INTERVAL = timedelta(minutes=1)


class TokenPair(TypedDict):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


def owner_is_usable(owner: Any) -> bool:
    """Whether an owner may still act: not blocked and not soft-deleted."""
    return bool(owner.is_active) and owner.deleted_at is None


def _pair(*, session_key: str, refresh_jti: str, expires_at: datetime, now: datetime) -> TokenPair:
    # An access token never outlives its session.
    access_expires = min(now + timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES), expires_at)
    access = signing.encode(
        token_type=signing.ACCESS,
        sid=session_key,
        jti=uuid.uuid4().hex,
        issued_at=now,
        expires_at=access_expires,
    )
    refresh = signing.encode(
        token_type=signing.REFRESH,
        sid=session_key,
        jti=refresh_jti,
        issued_at=now,
        expires_at=expires_at,
    )
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": max(0, int((access_expires - now).total_seconds())),
        "refresh_token": refresh,
        "refresh_expires_in": max(0, int((expires_at - now).total_seconds())),
    }


def session_start(*, owner: Any, ip: str | None, user_agent: str) -> TokenPair:
    """Create a login session for `owner` and return its token pair."""
    now = timezone.now()
    session_key = new_session_key()
    refresh_jti = uuid.uuid4().hex
    session = Token.objects.create(
        **{realm_of(owner).owner_field: owner},
        kind=TokenKind.SESSION,
        token_hash=digest(session_key),
        refresh_jti=refresh_jti,
        scopes=SESSION_SCOPES,
        last_used_at=now,
        expires_at=now + timedelta(days=settings.REFRESH_TOKEN_EXPIRE_DAYS),
        ip=ip or None,
        user_agent=user_agent[:255],
    )
    return _pair(
        session_key=session_key, refresh_jti=refresh_jti, expires_at=session.expires_at, now=now
    )


def session_refresh(
    *, refresh_token: str, realm: Realm, client: Client | None = None
) -> tuple[TokenPair, Any]:
    """Rotate a session's refresh token; return the new pair and the session's owner.

    A refresh token of another realm's session is as unknown here as a forged one. A
    reused one revokes its session and records `refresh_reuse_detected`; the 401 that
    follows rolls nothing back (no transaction is held here), so both stay.
    """
    presented = signing.decode(refresh_token, token_type=signing.REFRESH)
    session_key, jti = presented["sid"], presented["jti"]

    now = timezone.now()
    session = (
        Token.objects.sessions()
        .of_realm(realm)
        .select_related(realm.owner_field)
        .filter(token_hash=digest(session_key))
        .first()
    )
    if session is None or not session.is_live(now):
        raise TokenInvalid()
    owner = getattr(session, realm.owner_field)
    if not owner_is_usable(owner):
        raise TokenInvalid()

    new_jti = uuid.uuid4().hex
    live = Token.objects.filter(pk=session.pk, revoked_at__isnull=True)
    # The rotation is conditional on the presented jti being the current one, so of
    # concurrent refreshes with one token exactly one wins.
    if not live.filter(refresh_jti=jti).update(refresh_jti=new_jti, last_used_at=now):
        # A refresh token that was rotated away: whoever holds it, the session is burnt.
        if live.update(revoked_at=now):
            event_record(
                event=EventName.REFRESH_REUSE_DETECTED,
                realm=realm,
                account=owner,
                client=client,
                details={"token_id": session.pk},
            )
        raise TokenInvalid()
    pair = _pair(
        session_key=session_key, refresh_jti=new_jti, expires_at=session.expires_at, now=now
    )
    return pair, owner


def token_revoke(*, token: Token) -> int:
    """Revoke one session or personal access token, at once; return 1, or 0 if it was
    revoked already."""
    return Token.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


@transaction.atomic
def session_end(*, token: Token, client: Client | None = None) -> None:
    """Logout: end the session behind the request, at once."""
    if token_revoke(token=token):
        owner = token.owner
        event_record(
            event=EventName.LOGOUT,
            realm=realm_of(owner),
            account=owner,
            client=client,
            details={"token_id": token.pk},
        )


@transaction.atomic
def token_revoke_selected(
    *, tokens: QuerySet[Token], actor: Any = None, client: Client | None = None
) -> int:
    """Revoke the live ones among `tokens` (the admin site's selection, by `actor`); return
    how many. Each is a `token_revoked` event of its owner."""
    live = tokens.filter(revoked_at__isnull=True).select_related(
        *(realm.owner_field for realm in REALMS)
    )
    revoked = 0
    for token in live:
        # One conditional UPDATE each: a token revoked meanwhile is neither counted nor
        # recorded twice.
        if not token_revoke(token=token):
            continue
        revoked += 1
        owner = token.owner
        event_record(
            event=EventName.TOKEN_REVOKED,
            realm=realm_of(owner),
            account=owner,
            actor=actor,
            client=client,
            details={"token_id": token.pk, "kind": token.kind},
        )
    return revoked


def token_revoke_all(*, owner: Any, keep: Token | None = None) -> int:
    """Revoke every live token and session of `owner`, except `keep`; return how many."""
    tokens = Token.objects.for_owner(owner).live()
    if keep is not None:
        tokens = tokens.exclude(pk=keep.pk)
    return tokens.update(revoked_at=timezone.now())


@transaction.atomic
def tokens_revoke_others(*, owner: Any, keep: Token | None, client: Client | None = None) -> int:
    """The owner revokes every other token and session of theirs; return how many."""
    revoked = token_revoke_all(owner=owner, keep=keep)
    event_record(
        event=EventName.SESSIONS_REVOKED,
        realm=realm_of(owner),
        account=owner,
        client=client,
        details={"revoked": revoked},
    )
    return revoked


@transaction.atomic
def personal_token_create(
    *,
    owner: Any,
    name: str,
    scopes: list[str],
    expires_in_days: int,
    client: Client | None = None,
) -> tuple[Token, str]:
    """Create a personal access token; return the row and the secret, which is shown once
    and stored only as its digest."""
    secret = new_personal_token()
    token = Token.objects.create(
        **{realm_of(owner).owner_field: owner},
        kind=TokenKind.PERSONAL,
        name=name,
        prefix=secret[:DISPLAY_PREFIX_LENGTH],
        token_hash=digest(secret),
        scopes=sorted(set(scopes)),
        expires_at=timezone.now() + timedelta(days=expires_in_days),
    )
    event_record(
        event=EventName.TOKEN_CREATED,
        realm=realm_of(owner),
        account=owner,
        client=client,
        # Never the secret nor its prefix: the event says which token, not what it is.
        details={"token_id": token.pk, "name": name, "scopes": token.scopes},
    )
    return token, secret


def token_touch(*, token: Token, now: datetime) -> None:
    """Record a use, at most once a minute per token: the UPDATE is conditional, so the
    common authenticated GET stays a read."""
    if token.last_used_at is not None and token.last_used_at > now - TOUCH_INTERVAL:
        return
    Token.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - TOUCH_INTERVAL)
    ).update(last_used_at=now)
    token.last_used_at = now


@transaction.atomic
def token_revoke_own(*, owner: Any, token_id: int, client: Client | None = None) -> None:
    """Revoke one of `owner`'s tokens; someone else's (or no) token is a 404."""
    token = Token.objects.for_owner(owner).filter(pk=token_id).first()
    if token is None:
        raise NotFound("Token not found")
    if token_revoke(token=token):
        event_record(
            event=EventName.TOKEN_REVOKED,
            realm=realm_of(owner),
            account=owner,
            client=client,
            details={"token_id": token.pk, "kind": token.kind},
        )


def mfa_challenges_prune(*, now: datetime | None = None) -> int:
    """Delete expired second-factor challenges (logins never completed); return how many.
    A challenge is deleted when used, so only abandoned ones are left to expire."""
    return MfaChallenge.objects.filter(expires_at__lte=now or timezone.now()).delete()[0]


def tokens_prune(
    *, now: datetime | None = None, batch_size: int = 1000, dry_run: bool = False
) -> int:
    """Delete expired and revoked tokens in small batches; return how many.

    Small batches keep each DELETE short, so the command can run from cron while the API
    serves; a row revoked meanwhile is simply deleted by the next run. With `dry_run`,
    count what would be deleted and delete nothing.
    """
    now = now or timezone.now()
    if dry_run:
        return Token.objects.dead(now).count()
    deleted = 0
    while True:
        batch = list(Token.objects.dead(now).values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        deleted += Token.objects.filter(pk__in=batch).dead(now).delete()[0]


def events_prune(
    *, now: datetime | None = None, batch_size: int = 1000, dry_run: bool = False
) -> int:
    """Delete events older than `AUDIT_RETENTION_DAYS` in small batches; return how many
    (with `dry_run`, how many would go, deleting nothing). Batched as `tokens_prune` is."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    old = AuthEvent.objects.older_than(cutoff)
    if dry_run:
        return old.count()
    deleted = 0
    while True:
        batch = list(old.order_by("created_at", "id").values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        deleted += AuthEvent.objects.filter(pk__in=batch).delete()[0]
