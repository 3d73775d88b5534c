"""The one-query token lookup of every authenticated request (`tokens.lookup.token_with_owner`):
it answers exactly what the ORM's `select_related("user", "admin")` answers, and its cache
is one entry per database alias, whichever thread asks."""

from __future__ import annotations

import threading
import types
from datetime import timedelta
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.operations import BaseDatabaseOperations
from django.utils import timezone
from rest_framework.test import APIClient

from config.testing import bearer, login_pair, run_together
from tokens import lookup as lookup_module
from tokens.crypto import digest
from tokens.lookup import token_with_owner
from tokens.models import Token, TokenKind
from tokens.realms import ADMIN, USER
from tokens.services import personal_token_create
from tokens.tests.factories import make_account
from tokens.tests.helpers import make_session

pytestmark = pytest.mark.django_db

THREADS = 6


def _fields(instance: Any) -> dict[str, tuple[type, Any]]:
    """Every concrete field's value and its type (a 1 is not a True, a naive datetime is
    not an aware one), and the state the ORM leaves on an instance it loaded."""
    values: dict[str, tuple[type, Any]] = {
        field.attname: (type(getattr(instance, field.attname)), getattr(instance, field.attname))
        for field in instance._meta.concrete_fields
    }
    values["_state"] = (type(instance), (instance._state.db, instance._state.adding))
    return values


def _orm(token: Token) -> Token:
    return Token.objects.select_related("user", "admin").get(
        token_hash=token.token_hash, kind=token.kind
    )


def _assert_same(fast: Token | None, orm: Token) -> None:
    assert fast is not None
    assert _fields(fast) == _fields(orm)
    for owner in ("user", "admin"):
        expected = getattr(orm, owner)
        if expected is None:
            assert getattr(fast, owner) is None
        else:
            assert _fields(getattr(fast, owner)) == _fields(expected)


def _lookup(token: Token) -> Token | None:
    return token_with_owner(token_hash=token.token_hash, kind=token.kind)


def test_a_user_owned_session_comes_back_field_for_field_as_the_orm_loads_it():
    now = timezone.now()
    user = make_account(
        USER,
        phone="+14155550123",
        avatar="avatars/ada.png",
        failed_login_attempts=2,
        locked_until=now + timedelta(minutes=5),
        last_login=now - timedelta(days=1),
    )
    session = make_session(user, revoked_at=now, ip="2001:db8::1", user_agent="curl/8")

    _assert_same(_lookup(session), _orm(session))


def test_a_user_owned_personal_token_comes_back_field_for_field():
    user = make_account(USER, is_active=False, deleted_at=timezone.now())
    token, _ = personal_token_create(
        owner=user, name="backup", scopes=["write", "read"], expires_in_days=3
    )

    _assert_same(_lookup(token), _orm(token))


def test_an_admin_owned_session_comes_back_field_for_field_with_no_user():
    admin = make_account(ADMIN, is_superuser=True, phone="+14155550100", last_login=timezone.now())
    make_account(USER)  # a user with the same id must not turn up as the owner
    session = make_session(admin)

    fast = _lookup(session)

    _assert_same(fast, _orm(session))
    assert fast is not None
    assert (fast.user, fast.admin) == (None, admin)


def test_a_missing_token_is_none_as_the_orm_finds_nothing():
    session = make_session(make_account(USER))
    wrong_kind = token_with_owner(token_hash=session.token_hash, kind=TokenKind.PERSONAL)
    unknown = token_with_owner(token_hash=digest("no such key"), kind=TokenKind.SESSION)

    assert wrong_kind is None
    assert unknown is None
    orm = Token.objects.select_related("user", "admin")
    assert not orm.filter(token_hash=session.token_hash, kind=TokenKind.PERSONAL).exists()
    assert not orm.filter(token_hash=digest("no such key"), kind=TokenKind.SESSION).exists()


def _reachable(root: Any) -> list[Any]:
    """Everything the cached lookups hold through containers, bound methods and partials
    (not through model classes and fields, which are global anyway)."""
    seen: set[int] = set()
    found: list[Any] = []
    stack = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        found.append(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, tuple | list | set | frozenset):
            stack.extend(item)
        elif isinstance(item, types.MethodType):
            stack.extend([item.__self__, item.__func__])
        elif isinstance(item, types.FunctionType) and item.__closure__:
            stack.extend(cell.cell_contents for cell in item.__closure__)
    return found


def _assert_no_connection_is_held() -> None:
    held = [
        item
        for item in _reachable(lookup_module._lookups)
        if isinstance(item, BaseDatabaseWrapper | BaseDatabaseOperations)
    ]
    assert held == []


def test_threads_with_their_own_connections_share_one_lookup_per_alias():
    lookup_module._lookups.clear()
    barrier = threading.Barrier(THREADS)
    lookups: list[Any] = [None] * THREADS
    thread_connections: list[Any] = [None] * THREADS

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            thread_connections[index] = connections[DEFAULT_DB_ALIAS]
            lookups[index] = lookup_module._lookup(DEFAULT_DB_ALIAS)
        finally:
            connections[DEFAULT_DB_ALIAS].close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Each thread had a connection object of its own, and yet one lookup was built.
    assert len({id(each) for each in thread_connections}) == THREADS
    assert all(lookup is lookups[0] for lookup in lookups)
    assert list(lookup_module._lookups) == [(DEFAULT_DB_ALIAS, connection.vendor)]
    assert lookup_module._lookup(DEFAULT_DB_ALIAS) is lookups[0]
    _assert_no_connection_is_held()


def test_the_cached_lookup_holds_no_connection_after_a_request(api):
    lookup_module._lookups.clear()
    make_account(USER, username="ada")
    access = login_pair(api, USER, "ada")["access_token"]

    assert api.get("/api/v1/users/me", **bearer(access)).status_code == 200

    assert list(lookup_module._lookups) == [(DEFAULT_DB_ALIAS, connection.vendor)]
    _assert_no_connection_is_held()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="each thread needs its own connection to a database the others can see",
)
def test_authenticated_requests_from_several_threads_build_one_lookup():
    lookup_module._lookups.clear()
    make_account(USER, username="ada")
    access = login_pair(APIClient(), USER, "ada")["access_token"]

    def me(client: Any, _: int) -> Any:
        return client.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {access}")

    responses = run_together(THREADS, me)

    assert [response.status_code for response in responses] == [200] * THREADS
    assert list(lookup_module._lookups) == [(DEFAULT_DB_ALIAS, connection.vendor)]
    _assert_no_connection_is_held()


ON_POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
)


def _prepared_lookups() -> list[tuple[int, int]]:
    """(generic plans, custom plans) of each statement this connection prepared that
    selects tokens by their digest."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            ["%token_hash%"],
        )
        return list(cursor.fetchall())


def _me_on_a_fresh_connection(requests: int) -> list[tuple[int, int]]:
    """`requests` authenticated reads on a connection opened for them; what it prepared."""
    make_account(USER, username="ada")
    access = login_pair(APIClient(), USER, "ada")["access_token"]
    connection.close()
    api = APIClient()
    for _ in range(requests):
        assert api.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200
    return _prepared_lookups()


@pytest.mark.django_db(transaction=True)
@ON_POSTGRESQL
def test_on_postgresql_the_lookup_is_one_prepared_statement_planned_no_more(
    django_assert_num_queries,
):
    assert _me_on_a_fresh_connection(3) == []  # psycopg prepares at the fifth run
    assert connection.connection.prepare_threshold == 5

    api = APIClient()
    access = login_pair(api, USER, "ada")["access_token"]
    for _ in range(12):
        with django_assert_num_queries(1):
            assert (
                api.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {access}").status_code
                == 200
            )

    [(generic, custom)] = _prepared_lookups()
    # PostgreSQL plans a prepared statement at each of its first five runs, then keeps a
    # generic plan, which costs no more here: from then on a lookup is not planned at all.
    assert custom == 5
    assert generic >= 5


@pytest.mark.django_db(transaction=True)
@ON_POSTGRESQL
def test_with_prepared_statements_off_the_lookup_is_never_prepared():
    options = connection.settings_dict["OPTIONS"]
    options["prepare_threshold"] = None
    try:
        assert _me_on_a_fresh_connection(12) == []
        assert connection.connection.prepare_threshold is None
    finally:
        options["prepare_threshold"] = 5
        connection.close()
