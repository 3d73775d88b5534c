"""
The hot path: a bearer token's row and its owner, in one query, on every authenticated
request.

`token_with_owner` returns what `Token.objects.select_related(<every realm's foreign
key>).filter(token_hash=..., kind=...).first()` would, field for field (the tests in
`tokens/tests/test_lookup.py` hold it to that), but skips the ORM's query compiler and row
iterator, which cost more than the query itself. The SQL (the LEFT JOINs that
`select_related` makes, one per realm) is composed once per database alias from the
models' metadata; each row is converted as the ORM would (the backend's and the fields'
converters) and made into model instances with `Model.from_db`.

On PostgreSQL the query is a prepared statement (psycopg's, one per connection, made at
its fifth execution there): Django's cursors bind parameters on the client, so the server
would parse and plan the three-table join on every request, and planning cost more than
running it.
`DATABASE_PREPARED_STATEMENTS=false` turns it off, for a transaction-pooling PgBouncer
older than 1.21, which cannot keep a statement between transactions.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from tokens.models import Token
from tokens.realms import REALMS


class _Lookup(NamedTuple):
    sql: str
    # (model, attribute names, first column, last column + 1) for each model in the row
    layout: list[tuple[Any, list[str], int, int]]
    # (column, converters, expression) for each column whose value needs converting; a
    # converter is (function, whether it is a method of the backend's operations)
    converters: list[tuple[int, list[tuple[Any, bool]], Any]]
    # (owner model, the Token attribute it goes in) for each realm
    owners: list[tuple[Any, str]]


# One lookup per database alias and vendor. Not per connection object: each thread has its
# own (runserver, gthread, ASGI), so a cache keyed on them would miss in every thread and
# keep each thread's connection alive for as long as the entry lived.
_lookups: dict[tuple[str, str], _Lookup] = {}
_lookups_lock = threading.Lock()


def token_with_owner(*, token_hash: str, kind: str, using: str = DEFAULT_DB_ALIAS) -> Token | None:
    """The token with this digest and kind, its owner attached, or None; one query."""
    connection = connections[using]
    lookup = _lookup(using)
    with _cursor(connection) as cursor:
        cursor.execute(lookup.sql, [token_hash, kind])
        raw = cursor.fetchone()
    if raw is None:
        return None
    row = list(raw)
    ops = connection.ops
    for index, converters, expression in lookup.converters:
        for converter, of_ops in converters:
            if of_ops:
                row[index] = converter(ops, row[index], expression, connection)
            else:
                row[index] = converter(row[index], expression, connection)
    instances = {
        model: model.from_db(using, names, row[start:end])
        for model, names, start, end in lookup.layout
        if row[start] is not None
    }
    token: Token = instances.pop(Token)
    for model, attribute in lookup.owners:
        setattr(token, attribute, instances.get(model))
    return token


def _cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """A cursor for the lookup: Django's own, except on PostgreSQL, where it binds its
    parameters on the server, so that psycopg prepares the statement.

    Django's cursors bind on the client, which psycopg never prepares. This one is
    wrapped and checked as `connection.cursor()` wraps and checks Django's (thread
    sharing, the health check, query logging and execute wrappers, so the tests still
    count the query). psycopg prepares a statement once it has run `prepare_threshold`
    times on the connection (`DATABASE_PREPARED_STATEMENTS` sets it; Django's default,
    None, never prepares).
    """
    if connection.vendor != "postgresql":
        return connection.cursor()
    # Django's psycopg cursor with server-side binding; django-stubs does not list it.
    from django.db.backends.postgresql.base import (  # type: ignore[attr-defined]
        ServerBindingCursor,
    )

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


def _lookup(alias: str) -> _Lookup:
    """The lookup for database `alias`, built on first use."""
    key = (alias, connections[alias].vendor)
    lookup = _lookups.get(key)
    if lookup is None:
        with _lookups_lock:
            lookup = _lookups.get(key)
            if lookup is None:
                lookup = _lookups[key] = _build(connections[alias])
    return lookup


def _unbind(converter: Any, ops: Any) -> tuple[Any, bool]:
    """A converter that holds no connection: the backend's converters are methods of its
    operations object, which refers to the connection that built the lookup; they are kept
    as plain functions and called with the current connection's operations."""
    if getattr(converter, "__self__", None) is ops:
        return converter.__func__, True
    return converter, False


def _build(connection: Any) -> _Lookup:
    quote = connection.ops.quote_name
    tables: list[tuple[Any, str, str | None]] = [(Token, "t", None)]
    owners: list[tuple[Any, str]] = []
    for number, realm in enumerate(REALMS):
        field: Any = Token._meta.get_field(realm.owner_field)
        tables.append((field.related_model, f"o{number}", field.column))
        owners.append((field.related_model, realm.owner_field))
    columns: list[str] = []
    joins: list[str] = []
    layout: list[tuple[Any, list[str], int, int]] = []
    converters: list[tuple[int, list[tuple[Any, bool]], Any]] = []
    model: Any
    for model, alias, fk_column in tables:
        fields = list(model._meta.concrete_fields)
        start = len(columns)
        for field in fields:
            expression = field.get_col(alias)
            found = connection.ops.get_db_converters(expression) + expression.get_db_converters(
                connection
            )
            if found:
                unbound = [_unbind(converter, connection.ops) for converter in found]
                converters.append((len(columns), unbound, expression))
            columns.append(f"{alias}.{quote(field.column)}")
        layout.append((model, [field.attname for field in fields], start, len(columns)))
        if fk_column is not None:
            joins.append(
                f"LEFT OUTER JOIN {quote(model._meta.db_table)} {alias} "
                f"ON {alias}.{quote(model._meta.pk.column)} = t.{quote(fk_column)}"
            )
    table = quote(Token._meta.db_table)
    where = f"t.{quote('token_hash')} = %s AND t.{quote('kind')} = %s"
    # Built only from the models' quoted table and column names; values are parameters.
    sql = f"SELECT {', '.join(columns)} FROM {table} t {' '.join(joins)} WHERE {where}"  # noqa: S608  # nosec
    return _Lookup(sql, layout, converters, owners)
