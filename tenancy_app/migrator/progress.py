"""What migrate_schemas shows while it runs, and the table at the end.

On a terminal: one line redrawn in place (``\\r``) with a bar, the counts and the rate.
Elsewhere (CI logs, pipes): one plain line per schema, ``[3/120] acme ... ok``.
Verbosity 0 shows neither. Both end with :func:`summary_lines`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from .results import Outcome, SchemaResult

BAR_WIDTH = 30
REDRAW_SECONDS = 0.1


class Progress(Protocol):
    def result(self, position: int, result: SchemaResult) -> None: ...

    def finish(self) -> None: ...


def _status(result: SchemaResult) -> str:
    if result.outcome is Outcome.PENDING:
        return "FAILED (unapplied migrations)"
    return "ok" if result.ok else "FAILED"


class Silent:
    def result(self, position: int, result: SchemaResult) -> None:
        pass

    def finish(self) -> None:
        pass


class Lines:
    """One line per schema, in the schemas' order (a result that arrives early waits for
    those before it); with verbosity 2 also the migrations run and post_migrate's output."""

    def __init__(self, stdout: Any, total: int, verbosity: int, style: Any = None) -> None:
        self.stdout = stdout
        self.total = total
        self.width = len(str(total))
        self.verbosity = verbosity
        self.style = style
        self.waiting: dict[int, SchemaResult] = {}
        self.next = 1

    def result(self, position: int, result: SchemaResult) -> None:
        self.waiting[position] = result
        while self.next in self.waiting:
            self._write(self.next, self.waiting.pop(self.next))
            self.next += 1

    def _write(self, position: int, result: SchemaResult) -> None:
        status = _status(result)
        if self.style is not None and result.ok:
            status = self.style.SUCCESS(status)
        self.stdout.write(
            f"[{position:>{self.width}}/{self.total}] {result.schema_name} ... {status}"
        )
        if self.verbosity >= 2:
            verb = "Applied" if result.outcome is not Outcome.PENDING else "Pending"
            for label in result.ran:
                self.stdout.write(f"  {verb} {label}")
            if result.output:
                self.stdout.write(result.output.rstrip("\n"))

    def finish(self) -> None:
        for position in sorted(self.waiting):
            self._write(position, self.waiting.pop(position))


class Bar:
    """A single line redrawn in place: bar, done/total, rate, failures so far."""

    def __init__(self, stdout: Any, total: int) -> None:
        self.stdout = stdout
        self.total = total
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self.drawn = 0.0

    def result(self, position: int, result: SchemaResult) -> None:
        self.done += 1
        self.failed += not result.ok
        now = time.monotonic()
        if now - self.drawn >= REDRAW_SECONDS or self.done == self.total:
            self.drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        filled = BAR_WIDTH * self.done // max(self.total, 1)
        rate = self.done / max(now - self.started, 1e-9)
        failed = f"  {self.failed} failed" if self.failed else ""
        line = (
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} schemas"
            f"  {rate:.1f}/s{failed}"
        )
        self.stdout.write(line, ending="")
        self.stdout.flush()

    def finish(self) -> None:
        if self.done:
            self.stdout.write("")


def summary_lines(results: Sequence[SchemaResult], *, check: bool = False) -> list[str]:
    """The final table: how many schemas migrated, were skipped (up to date) or failed."""
    counts = Counter(result.outcome for result in results)
    if check:
        rows = [
            ("up to date", counts[Outcome.SKIPPED], ""),
            ("pending", counts[Outcome.PENDING], "  (unapplied migrations)"),
        ]
    else:
        rows = [
            ("migrated", counts[Outcome.MIGRATED], ""),
            ("skipped", counts[Outcome.SKIPPED], "  (already up to date)"),
        ]
    rows += [("failed", counts[Outcome.FAILED], ""), ("total", len(results), "")]
    width = max(len(str(count)) for _, count, _ in rows)
    return [f"  {name:<10} {count:>{width}}{note}" for name, count, note in rows]
