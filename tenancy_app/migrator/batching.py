"""Splitting per-schema work into statements of a bounded size."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size`` (itertools.batched is 3.12+)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
