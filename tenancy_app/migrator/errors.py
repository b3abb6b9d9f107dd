"""How a failure is reported: one line per schema, in the summary and the results table."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from ..exceptions import TenantError


def describe_error(exc: BaseException) -> str:
    """The message on one line, with the exception type unless it is one of ours."""
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    message = str(exc) if isinstance(exc, TenantError) else f"{type(exc).__name__}: {exc}"
    return " ".join(message.split())
