"""Schema-name validation and quoting: pure functions shared by models, commands and resolvers."""

from __future__ import annotations

import re
from collections.abc import Iterable

from psycopg import sql

from .exceptions import InvalidSchemaName

MAX_SCHEMA_NAME_BYTES = 63
RESERVED_SCHEMA_NAMES = frozenset({"public", "information_schema"})
_SCHEMA_NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")


def validate_schema_name(name: object, *, reserved: Iterable[str] = ()) -> str:
    """Return ``name`` if it is a valid tenant schema name, else raise :class:`InvalidSchemaName`.

    ``reserved`` adds names the project uses for itself (public and template schemas).
    """
    if not isinstance(name, str) or not name:
        raise InvalidSchemaName(name, "it must be a non-empty string")
    if len(name.encode()) > MAX_SCHEMA_NAME_BYTES:
        raise InvalidSchemaName(name, f"it is longer than {MAX_SCHEMA_NAME_BYTES} bytes")
    if not _SCHEMA_NAME_RE.match(name):
        raise InvalidSchemaName(
            name,
            "only lower-case ASCII letters, digits and underscores are allowed, "
            "starting with a letter",
        )
    if name.startswith("pg_"):
        raise InvalidSchemaName(name, "names starting with 'pg_' are reserved by PostgreSQL")
    if name in RESERVED_SCHEMA_NAMES or name in set(reserved):
        raise InvalidSchemaName(name, "this name is reserved")
    return name


def is_valid_schema_name(name: object, *, reserved: Iterable[str] = ()) -> bool:
    try:
        validate_schema_name(name, reserved=reserved)
    except InvalidSchemaName:
        return False
    return True


def search_path_sql(schemas: Iterable[str]) -> sql.Composed:
    """``SET search_path TO "a", "b"`` with every name quoted as an identifier."""
    return sql.SQL("SET search_path TO {}").format(
        sql.SQL(", ").join(sql.Identifier(schema) for schema in schemas)
    )


def parse_search_path(value: str) -> tuple[str, ...]:
    """Split a search_path as the server reports it (``acme, public`` or ``"user", public``).

    Only exact for names without commas or quotes inside, which is every name this app
    accepts; anything else compares unequal and so leads to a fresh ``SET``.
    """
    return tuple(part.strip().strip('"') for part in value.split(",") if part.strip())
