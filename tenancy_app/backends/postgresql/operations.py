"""SQL text for Django's query log: the caller's statement, as stock Django logs it."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql.operations import (
    DatabaseOperations as PostgresOperations,
)


class DatabaseOperations(PostgresOperations):
    def last_executed_query(  # type: ignore[override]  # Django returns None too
        self, cursor: Any, sql: Any, params: Any
    ) -> str | None:
        """The statement as sent, without what the backend sent with it in the same message.

        Django reads the text of the last message from the psycopg cursor (with
        client-side binding); when the search_path travelled in that message
        (``SET search_path TO ...; SELECT ...``), the cursor knows the text around the
        statement (``sent_around``), which is cut off here. tests/test_backend.py checks
        the logged text against stock Django's on every Django version CI runs.
        """
        text: str | None = super().last_executed_query(cursor, sql, params)
        before, after = getattr(cursor, "sent_around", ("", ""))
        if text and (before or after) and text.startswith(before) and text.endswith(after):
            return text[len(before) : len(text) - len(after)]
        return text
