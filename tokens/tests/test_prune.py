"""`manage.py prune_tokens` and `tokens_prune`: expired and revoked rows go, live ones stay;
`--dry-run` counts them and deletes nothing; `manage.py prune_events` and `events_prune`:
events past the retention go, newer ones stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.tests.factories import make_user
from config.testing import bearer
from tokens.crypto import digest
from tokens.events import event_record
from tokens.models import AuthEvent, EventName, MfaChallenge, Token
from tokens.realms import ADMIN, USER
from tokens.services import events_prune, personal_token_create, tokens_prune
from tokens.tests.factories import make_account
from tokens.tests.helpers import make_session

pytestmark = pytest.mark.django_db


def make_pat(owner: Any, **fields: Any) -> tuple[Token, str]:
    """A personal access token issued by the service, with `fields` then set; its secret."""
    token, secret = personal_token_create(
        owner=owner, name="ci", scopes=["read"], expires_in_days=90
    )
    if fields:
        Token.objects.filter(pk=token.pk).update(**fields)
    return token, secret


def expired() -> dict[str, Any]:
    return {"expires_at": timezone.now() - timedelta(seconds=1)}


def revoked() -> dict[str, Any]:
    return {"revoked_at": timezone.now() - timedelta(minutes=5)}


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_tokens", *args, stdout=out)
    return out.getvalue().strip()


def ids() -> set[int]:
    return set(Token.objects.values_list("pk", flat=True))


def test_prune_tokens_deletes_exactly_the_expired_and_revoked_rows(api):
    user, admin = make_account(USER), make_account(ADMIN)
    user_pat, user_secret = make_pat(user)
    admin_pat, admin_secret = make_pat(admin)
    live = {make_session(user).pk, make_session(admin).pk, user_pat.pk, admin_pat.pk}
    dead = {
        make_session(user, **expired()).pk,
        make_session(user, **revoked()).pk,
        make_pat(user, **expired())[0].pk,
        make_pat(user, **revoked())[0].pk,
        make_session(admin, **expired()).pk,
        make_session(admin, **revoked()).pk,
        make_pat(admin, **expired())[0].pk,
        make_pat(admin, **revoked(), **expired())[0].pk,
    }

    message = prune()

    assert message == f"Deleted {len(dead)} expired or revoked tokens."
    assert ids() == live
    assert api.get("/api/v1/users/me", **bearer(user_secret)).status_code == 200
    assert api.get("/api/v1/admin/me", **bearer(admin_secret)).status_code == 200


def test_a_second_prune_deletes_nothing():
    user = make_account(USER)
    make_session(user, **expired())
    make_pat(user, **revoked())
    kept = make_pat(user)[0]
    assert prune() == "Deleted 2 expired or revoked tokens."

    assert prune() == "Deleted 0 expired or revoked tokens."
    assert ids() == {kept.pk}


def test_prune_of_one_row_says_token_in_the_singular():
    make_pat(make_account(USER), **revoked())

    assert prune() == "Deleted 1 expired or revoked token."
    assert ids() == set()


def test_prune_with_only_live_tokens_deletes_nothing():
    user = make_account(USER)
    kept = {make_session(user).pk, make_pat(user)[0].pk}

    assert prune() == "Deleted 0 expired or revoked tokens."
    assert ids() == kept


def test_a_token_expiring_at_the_pruning_instant_is_deleted_and_one_a_moment_later_kept():
    user = make_account(USER)
    now = timezone.now()
    at_now = make_pat(user, expires_at=now)[0]
    later = make_pat(user, expires_at=now + timedelta(microseconds=1))[0]

    assert tokens_prune(now=now) == 1

    assert ids() == {later.pk}
    assert not Token.objects.filter(pk=at_now.pk).exists()


@pytest.mark.parametrize(("dead", "batch_size"), [(5, 2), (4, 2), (3, 1), (5, 1000)])
def test_tokens_prune_works_across_batches(dead, batch_size):
    user, admin = make_account(USER), make_account(ADMIN)
    kept = {make_session(user).pk, make_pat(user)[0].pk, make_pat(admin)[0].pk}
    for n in range(dead):
        owner = user if n % 2 else admin
        make_pat(owner, **(expired() if n % 3 else revoked()))

    assert tokens_prune(batch_size=batch_size) == dead

    assert ids() == kept
    assert tokens_prune(batch_size=batch_size) == 0


def test_prune_tokens_dry_run_says_how_many_it_would_delete_and_deletes_nothing():
    user, admin = make_account(USER), make_account(ADMIN)
    make_session(user, **expired())
    make_pat(user, **revoked())
    make_pat(admin, **expired())
    live_pat = make_pat(user)[0]
    before = ids()

    assert (
        prune("--dry-run") == "Would delete 3 expired or revoked tokens (dry run: nothing deleted)."
    )

    assert ids() == before
    assert Token.objects.get(pk=live_pat.pk).revoked_at is None
    # The count it gave is what a real run then deletes.
    assert prune() == "Deleted 3 expired or revoked tokens."
    assert ids() == {live_pat.pk}


def test_prune_tokens_dry_run_of_one_row_and_of_none():
    make_pat(make_account(USER), **revoked())

    assert (
        prune("--dry-run") == "Would delete 1 expired or revoked token (dry run: nothing deleted)."
    )
    assert len(ids()) == 1
    assert prune() == "Deleted 1 expired or revoked token."
    assert (
        prune("--dry-run") == "Would delete 0 expired or revoked tokens (dry run: nothing deleted)."
    )


def test_tokens_prune_dry_run_counts_what_a_real_run_deletes_at_the_same_instant():
    user = make_account(USER)
    now = timezone.now()
    at_now = make_pat(user, expires_at=now)[0]
    later = make_pat(user, expires_at=now + timedelta(microseconds=1))[0]
    make_session(user, **revoked())

    assert tokens_prune(now=now, dry_run=True) == 2
    assert len(ids()) == 3

    assert tokens_prune(now=now) == 2
    assert ids() == {later.pk}
    assert not Token.objects.filter(pk=at_now.pk).exists()


def test_prune_tokens_deletes_expired_second_factor_challenges_and_keeps_live_ones():
    user = make_user()
    now = timezone.now()
    for seconds, name in ((-1, "expired"), (60, "live")):
        MfaChallenge.objects.create(
            user=user, token_hash=digest(name), expires_at=now + timedelta(seconds=seconds)
        )
    out = StringIO()

    call_command("prune_tokens", stdout=out)

    assert list(MfaChallenge.objects.values_list("token_hash", flat=True)) == [digest("live")]
    assert "Deleted 1 expired second-factor challenge." in out.getvalue()


# --- prune_events ------------------------------------------------------------------------


def _event_aged(days: float) -> AuthEvent:
    event = event_record(event=EventName.LOGOUT, realm=USER)
    AuthEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(days=days))
    return event


def test_prune_events_deletes_only_what_is_older_than_the_retention(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    old = [_event_aged(31), _event_aged(400)]
    kept = [_event_aged(29.9), _event_aged(0)]
    out = StringIO()

    call_command("prune_events", stdout=out)

    assert out.getvalue().strip() == "Deleted 2 events older than 30 days."
    assert set(AuthEvent.objects.values_list("pk", flat=True)) == {event.pk for event in kept}
    assert not AuthEvent.objects.filter(pk__in=[event.pk for event in old]).exists()


def test_prune_events_works_in_batches_until_none_is_left(settings):
    settings.AUDIT_RETENTION_DAYS = 1
    for _ in range(7):
        _event_aged(2)
    _event_aged(0)

    assert events_prune(batch_size=3) == 7
    assert AuthEvent.objects.count() == 1


def test_prune_events_dry_run_counts_and_deletes_nothing(settings):
    settings.AUDIT_RETENTION_DAYS = 365
    _event_aged(366)
    _event_aged(1)
    out = StringIO()

    call_command("prune_events", "--dry-run", stdout=out)

    assert out.getvalue().strip() == "Would delete 1 event older than 365 days."
    assert AuthEvent.objects.count() == 2
