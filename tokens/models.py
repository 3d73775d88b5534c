"""
Credentials: one `Token` row per login session and per personal access token.

A row belongs to exactly one owner, a user or an admin (a database check constraint),
and goes with its owner (CASCADE). The secret itself is never stored: `token_hash` is the
SHA-256 of the session key (the `sid` claim of a session's JWTs) or of the personal access
token. Revocation is a timestamp, so the next request with the token fails at once.

This app knows the account models only by their string names and by the owner object it
is handed: the owner's realm (`tokens.realms`) names the foreign key it goes in.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connections, models
from django.db.models import Q
from django.utils import timezone

from tokens.realms import REALMS, Realm, realm_of


class TokenKind(models.TextChoices):
    SESSION = "session", "Login session"
    PERSONAL = "personal", "Personal access token"


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

    def sessions(self) -> TokenQuerySet:
        return self.filter(kind=TokenKind.SESSION)

    def personal(self) -> TokenQuerySet:
        return self.filter(kind=TokenKind.PERSONAL)

    def with_owner(self, *, token_hash: str, kind: str) -> Token | None:
        """The token with this digest and kind, its owner attached, in one query.

        This runs on every authenticated request, so it skips the ORM's query compiler and
        row iterator, which cost more than the query itself: the SQL (the LEFT JOINs that
        `select_related("user", "admin")` makes) is composed once per database alias from
        the models' metadata, and each row is converted as the ORM would (the backend's and
        the fields' converters) and made into model instances with `Model.from_db`.
        """
        connection = connections[self.db]
        lookup = _owner_lookup(self.db)
        with connection.cursor() as cursor:
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
            model: model.from_db(self.db, names, row[start:end])
            for model, names, start, end in lookup.layout
            if row[start] is not None
        }
        token: Token = instances.pop(Token)
        token.user = instances.get(lookup.user_model)
        token.admin = instances.get(lookup.admin_model)
        return token


class _OwnerLookup(NamedTuple):
    sql: str
    # (model, attribute names, first column, last column + 1) for each model in the row
    layout: list[tuple[Any, list[str], int, int]]
    # (column, converters, expression) for each column whose value needs converting; a
    # converter is (function, whether it is a method of the backend's operations)
    converters: list[tuple[int, list[tuple[Any, bool]], Any]]
    user_model: Any
    admin_model: Any


# One lookup per database alias and vendor. Not per connection object: each thread has its
# own (runserver, gthread, ASGI), so a cache keyed on them would miss in every thread and
# keep each thread's connection alive for as long as the entry lived.
_owner_lookups: dict[tuple[str, str], _OwnerLookup] = {}
_owner_lookups_lock = threading.Lock()


def _owner_lookup(alias: str) -> _OwnerLookup:
    """The lookup for database `alias`, built on first use."""
    key = (alias, connections[alias].vendor)
    lookup = _owner_lookups.get(key)
    if lookup is None:
        with _owner_lookups_lock:
            lookup = _owner_lookups.get(key)
            if lookup is None:
                lookup = _owner_lookups[key] = _build_owner_lookup(connections[alias])
    return lookup


def _unbind(converter: Any, ops: Any) -> tuple[Any, bool]:
    """A converter that holds no connection: the backend's converters are methods of its
    operations object, which refers to the connection that built the lookup; they are kept
    as plain functions and called with the current connection's operations."""
    if getattr(converter, "__self__", None) is ops:
        return converter.__func__, True
    return converter, False


def _build_owner_lookup(connection: Any) -> _OwnerLookup:
    quote = connection.ops.quote_name
    user_model: Any = Token._meta.get_field("user").related_model
    admin_model: Any = Token._meta.get_field("admin").related_model
    tables = [
        (Token, "t", None),
        (user_model, "u", Token._meta.get_field("user").column),
        (admin_model, "a", Token._meta.get_field("admin").column),
    ]
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
    return _OwnerLookup(sql, layout, converters, user_model, admin_model)


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
