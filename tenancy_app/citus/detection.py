"""Whether the database is a Citus coordinator, asked once per physical connection.

The answer is kept on the psycopg connection object, like the session's search_path
(:mod:`tenancy_app.backends.postgresql.session`), so a plain server pays one query per
physical connection, the first time it is asked, and a reconnect asks again.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

from ..exceptions import NotOnCitus

_ATTRIBUTE = "_tenancy_citus_version"
_ABSENT = ""


def citus_version(*, using: str = DEFAULT_DB_ALIAS) -> str | None:
    """The version of the ``citus`` extension in the database (``"13.2-1"``), else ``None``."""
    connection = connections[using]
    connection.ensure_connection()
    physical = connection.connection
    known: str | None = getattr(physical, _ATTRIBUTE, None)
    if known is None:
        with physical.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus'")
            row = cursor.fetchone()
        known = row[0] if row is not None else _ABSENT
        setattr(physical, _ATTRIBUTE, known)
    return known or None


def is_citus(*, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the database has the Citus extension (a coordinator, in practice)."""
    return citus_version(using=using) is not None


def require_citus(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Raise :class:`~tenancy_app.exceptions.NotOnCitus` on a plain PostgreSQL server."""
    if not is_citus(using=using):
        raise NotOnCitus(
            f"The database {using!r} is not a Citus coordinator (no 'citus' extension): "
            "tenants are not placed on nodes there. See docs/scaling-out.rst."
        )
