"""The active tenant: a ContextVar and its helpers, the only mutable tenant state.

A ContextVar follows the flow of control: each thread starts with its own empty
context, asyncio tasks copy the context they were created in, and asgiref's
``sync_to_async`` / ``async_to_sync`` carry it across. So a tenant activated for one
request can never be seen by another request running at the same time.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from .conf import tenancy_settings
from .leases import Lease, lease_for
from .names import validate_schema_name

if TYPE_CHECKING:
    from .models import TenantBase

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "Activation",
    "ActiveSchema",
    "active_schema_of",
    "get_current_schema",
    "get_current_tenant",
    "get_search_path",
    "public_context",
    "schema_context",
    "tenant_context",
]


class ActiveSchema(NamedTuple):
    """One activation: the schema, its tenant if any, the search_path it wants, its lease.

    Immutable, and cheap to make: the lookup cache keeps one per cached tenant and the
    middleware makes one per request from it (see :func:`active_schema_of`).
    """

    schema_name: str
    tenant: TenantBase | None
    search_path: tuple[str, ...]
    #: this process's permission to use the schema (see tenancy_app.leases); None for public
    lease: Lease | None


_active: ContextVar[ActiveSchema | None] = ContextVar("tenancy_active", default=None)

#: Low level, for the middleware: make an activation current and return the token that
#: :data:`deactivate` takes to undo it (in a ``finally``). Elsewhere use the context
#: managers below, which pair the two.
activate: Callable[[ActiveSchema | None], Token[ActiveSchema | None]] = _active.set
deactivate: Callable[[Token[ActiveSchema | None]], None] = _active.reset


def _public_search_path() -> tuple[str, ...]:
    return tenancy_settings.PUBLIC_SEARCH_PATH


def _search_path_for(schema_name: str, *, include_public: bool) -> tuple[str, ...]:
    shared = _public_search_path()
    if schema_name == shared[0]:
        return shared
    if not include_public:
        return (schema_name,)
    return (schema_name, *(name for name in shared if name != schema_name))


class Activation:
    """Activates a schema for a ``with`` block, an ``async with`` block or a decorated function.

    Usable any number of times and nested; a decorated coroutine function keeps the
    schema active across its awaits.
    """

    def __init__(self, active: ActiveSchema) -> None:
        self._active = active
        self._tokens: list[Token[ActiveSchema | None]] = []

    @property
    def lease(self) -> Lease | None:
        return self._active.lease

    def __enter__(self) -> TenantBase | None:
        self._tokens.append(_active.set(self._active))
        return self._active.tenant

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _active.reset(self._tokens.pop())

    async def __aenter__(self) -> TenantBase | None:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        active = self._active
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_inner(*args: Any, **kwargs: Any) -> Any:
                with Activation(active):
                    return await func(*args, **kwargs)

            return async_inner  # type: ignore[return-value]

        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with Activation(active):
                return func(*args, **kwargs)

        return inner  # type: ignore[return-value]


def active_schema_of(tenant: TenantBase) -> ActiveSchema:
    """What activating ``tenant`` means: its schema name (validated), its search_path and
    its lease; raises :class:`~tenancy_app.exceptions.InvalidSchemaName` for a bad name.

    It depends on the tenant (and the settings) only, so the lookup cache computes it
    once per cached tenant; :func:`tenant_context` computes it at each call.
    """
    schema_name = validate_schema_name(tenant.schema_name)
    return ActiveSchema(
        schema_name,
        tenant,
        _search_path_for(schema_name, include_public=True),
        lease_for(schema_name, tenant),
    )


def tenant_context(tenant: TenantBase) -> Activation:
    """Run a block or function in ``tenant``'s schema, with ``get_current_tenant()`` set."""
    return Activation(active_schema_of(tenant))


def schema_context(schema_name: str, *, include_public: bool = True) -> Activation:
    """Run a block or function in the schema ``schema_name`` (no tenant instance needed).

    ``include_public=False`` leaves the shared schema off the search_path, so that
    nothing of the shared schema can be reached by an unqualified name.
    """
    public = tenancy_settings.PUBLIC_SCHEMA
    if schema_name not in (public, tenancy_settings.TEMPLATE_SCHEMA):
        validate_schema_name(schema_name)
    return Activation(
        ActiveSchema(
            schema_name,
            None,
            _search_path_for(schema_name, include_public=include_public),
            None if schema_name == public else lease_for(schema_name),
        )
    )


def public_context() -> Activation:
    """Run a block or function in the shared (public) schema."""
    public = tenancy_settings.PUBLIC_SCHEMA
    return Activation(ActiveSchema(public, None, _public_search_path(), None))


def get_current_tenant() -> TenantBase | None:
    """The tenant activated by ``tenant_context`` (or the middleware), else ``None``."""
    active = _active.get()
    return active.tenant if active is not None else None


def get_current_schema() -> str:
    """The schema statements run in now: the active one, else the public schema."""
    active = _active.get()
    return active.schema_name if active is not None else tenancy_settings.PUBLIC_SCHEMA


#: What the current context activated (``None``: nothing, the public schema). The
#: ContextVar's own ``get``: the backend calls it before every statement.
get_active_schema: Callable[[], ActiveSchema | None] = _active.get


def get_search_path() -> tuple[str, ...]:
    """The search_path the current context wants, first schema first."""
    active = _active.get()
    return active.search_path if active is not None else _public_search_path()
