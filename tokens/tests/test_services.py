"""Revoking tokens, the Token query vocabulary, and the database's rules for Token rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from tokens.crypto import digest
from tokens.models import Token, TokenKind
from tokens.realms import ADMIN, USER, realm_of
from tokens.services import token_revoke, token_revoke_all
from tokens.tests.factories import make_account
from tokens.tests.helpers import make_session

pytestmark = pytest.mark.django_db


def live_ids(owner):
    return set(Token.objects.for_owner(owner).live().values_list("pk", flat=True))


def make_personal(owner, **fields):
    """A personal access token row, made directly (no service issues them yet)."""
    fields.setdefault("expires_at", timezone.now() + timedelta(days=90))
    return Token.objects.create(
        **{realm_of(owner).owner_field: owner},
        kind=TokenKind.PERSONAL,
        name="ci",
        prefix="pat_abcd",
        token_hash=digest(f"pat_secret_{Token.objects.count()}"),
        scopes=["read"],
        **fields,
    )


# --- token_revoke_all ----------------------------------------------------------------


def test_revoke_all_revokes_every_live_token_but_the_kept_one():
    user = make_account(USER)
    keep = make_session(user)
    others = [make_session(user), make_session(user), make_personal(user)]

    revoked = token_revoke_all(owner=user, keep=keep)

    assert revoked == 3
    assert live_ids(user) == {keep.pk}
    assert all(Token.objects.get(pk=t.pk).revoked_at is not None for t in others)


def test_revoke_all_without_keep_revokes_everything():
    user = make_account(USER)
    make_session(user)
    make_personal(user)

    assert token_revoke_all(owner=user) == 2

    assert live_ids(user) == set()


def test_revoke_all_leaves_other_owners_alone():
    user = make_account(USER)
    other_user = make_account(USER)
    admin_with_same_id = make_account(ADMIN, id=user.pk)
    make_session(user)
    untouched = [make_session(other_user), make_session(admin_with_same_id)]

    assert token_revoke_all(owner=user) == 1

    assert all(Token.objects.get(pk=t.pk).revoked_at is None for t in untouched)


def test_revoke_all_does_not_restamp_or_count_already_revoked_tokens():
    user = make_account(USER)
    earlier = timezone.now() - timedelta(days=1)
    old = make_session(user, revoked_at=earlier)
    make_session(user)

    assert token_revoke_all(owner=user) == 1

    assert Token.objects.get(pk=old.pk).revoked_at == earlier


def test_revoke_all_counts_only_live_tokens():
    """The docstring's promise: "revoke every live token ... return how many"."""
    user = make_account(USER)
    make_session(user)
    make_session(user, expires_at=timezone.now() - timedelta(seconds=1))

    assert token_revoke_all(owner=user) == 1


def test_revoke_all_of_an_owner_without_tokens_is_zero():
    assert token_revoke_all(owner=make_account(USER)) == 0


# --- token_revoke --------------------------------------------------------------------


def test_revoke_one_token_leaves_the_others_live():
    user = make_account(USER)
    target, other = make_session(user), make_session(user)

    token_revoke(token=target)

    assert live_ids(user) == {other.pk}


def test_revoking_a_revoked_token_keeps_its_first_timestamp():
    user = make_account(USER)
    earlier = timezone.now() - timedelta(hours=1)
    token = make_session(user, revoked_at=earlier)

    token_revoke(token=token)

    assert Token.objects.get(pk=token.pk).revoked_at == earlier


# --- The query vocabulary ------------------------------------------------------------


def test_live_and_dead_split_tokens_at_revocation_and_expiry():
    user = make_account(USER)
    now = timezone.now()
    live = make_session(user)
    revoked = make_session(user, revoked_at=now)
    expired = make_session(user, expires_at=now - timedelta(seconds=1))
    expiring_now = make_session(user, expires_at=now)

    assert set(Token.objects.live(now)) == {live}
    assert set(Token.objects.dead(now)) == {revoked, expired, expiring_now}
    assert live.is_live(now)
    assert not any(t.is_live(now) for t in (revoked, expired, expiring_now))


def test_live_and_dead_default_to_the_current_time():
    user = make_account(USER)
    live = make_session(user)
    expired = make_session(user, expires_at=timezone.now() - timedelta(seconds=1))

    assert list(Token.objects.live()) == [live]
    assert list(Token.objects.dead()) == [expired]


def test_for_owner_tells_a_user_from_an_admin_with_the_same_id():
    user = make_account(USER)
    admin = make_account(ADMIN, id=user.pk)
    users_token, admins_token = make_session(user), make_session(admin)

    assert list(Token.objects.for_owner(user)) == [users_token]
    assert list(Token.objects.for_owner(admin)) == [admins_token]
    assert users_token.owner == user
    assert admins_token.owner == admin


def test_sessions_and_personal_split_by_kind():
    user = make_account(USER)
    session, personal = make_session(user), make_personal(user)

    assert list(Token.objects.sessions()) == [session]
    assert list(Token.objects.personal()) == [personal]


# --- The database's rules ------------------------------------------------------------


def _row(**owners):
    return Token(
        kind=TokenKind.SESSION,
        token_hash=digest("a session key"),
        expires_at=timezone.now() + timedelta(days=1),
        **owners,
    )


def test_database_refuses_a_token_with_both_a_user_and_an_admin():
    row = _row(user=make_account(USER), admin=make_account(ADMIN))

    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()

    assert Token.objects.count() == 0


def test_database_refuses_a_token_without_an_owner():
    with pytest.raises(IntegrityError), transaction.atomic():
        _row().save()

    assert Token.objects.count() == 0


def test_database_refuses_two_tokens_with_the_same_hash():
    user = make_account(USER)
    _row(user=user).save()

    with pytest.raises(IntegrityError), transaction.atomic():
        _row(user=user).save()

    assert Token.objects.count() == 1


def test_deleting_a_user_deletes_its_tokens_only():
    user, other = make_account(USER), make_account(USER)
    make_session(user)
    make_personal(user)
    kept = make_session(other)

    User.objects.filter(pk=user.pk).delete()

    assert list(Token.objects.all()) == [kept]


def test_deleting_an_admin_deletes_its_tokens_only():
    admin, user = make_account(ADMIN), make_account(USER)
    make_session(admin)
    kept = make_session(user)

    admin.delete()

    assert list(Token.objects.all()) == [kept]


def test_token_str_names_kind_id_and_prefix_only():
    token = make_personal(make_account(USER))

    assert str(token) == f"Personal access token {token.pk} pat_abcd"
    assert token.token_hash not in str(token)
