"""TenantMiddleware: request -> resolvers -> tenant context -> request.tenant / request.urlconf."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.exceptions import SynchronousOnlyOperation
from django.http import HttpRequest, HttpResponseBase
from django.urls import get_script_prefix, set_script_prefix
from django.utils.module_loading import import_string

from .conf import tenancy_settings
from .context import (
    Activation,
    ActiveSchema,
    activate,
    active_schema_of,
    deactivate,
    public_context,
)
from .exceptions import TenantNotFound, TenantUnavailable
from .lookup import routing_of
from .resolvers import BaseResolver, Resolution
from .resolvers.base import request_host
from .signals import tenant_activated

GetResponse = Callable[[HttpRequest], Any]
#: What prepare() decides: a tenant's activation (the usual case, a ContextVar set), a
#: context to serve in (public, subfolder), or a response (404, 503).
Serving = ActiveSchema | AbstractContextManager[object] | HttpResponseBase


@lru_cache(maxsize=8)
def _load_resolvers(paths: tuple[str, ...]) -> tuple[BaseResolver, ...]:
    return tuple(import_string(path)() for path in paths)


@contextmanager
def _under_path_prefix(request: HttpRequest, prefix: str, activation: Activation) -> Iterator[None]:
    """Serve ``/t/acme/x`` as ``/x`` under the script prefix ``/t/acme/`` (subfolder routing)."""
    request.path_info = request.path_info[len(prefix) :] or "/"
    outer = get_script_prefix()
    set_script_prefix(outer.rstrip("/") + prefix + "/")
    try:
        with activation:
            yield
    finally:
        set_script_prefix(outer)


def _activation(request: HttpRequest) -> dict[str, Any]:
    return {"request": request, "tenant": getattr(request, "tenant", None)}


class TenantMiddleware:
    """Runs each request inside its tenant's context (sync and async capable).

    Subclasses may override :meth:`resolve`, :meth:`not_found` and :meth:`unavailable`.

    A tenant whose lease is refused (deleted, renamed, suspended or being changed by
    another process since this one looked it up, see :mod:`tenancy_app.leases`) is
    answered like an unknown one (404) or an unavailable one (503), whether the refusal
    comes at resolution or from a statement of the view (:meth:`process_exception`).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self._resolver_paths: tuple[str, ...] | None = None
        self._resolvers: tuple[BaseResolver, ...] = ()
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        try:
            resolution = self.resolve(request)
        except TenantNotFound as exc:
            return self.not_found(request, exc)
        serving = self.prepare(request, resolution)
        if isinstance(serving, ActiveSchema):
            token = activate(serving)
            try:
                if tenant_activated.receivers:  # nobody listening costs this test only
                    tenant_activated.send(type(self), **_activation(request))
                return self.get_response(request)
            finally:
                deactivate(token)
        if isinstance(serving, HttpResponseBase):
            return serving
        with serving:
            if tenant_activated.receivers:
                tenant_activated.send(type(self), **_activation(request))
            return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            try:
                # A cached lookup needs no database and so no hop to a worker thread; a
                # miss reaches for the connection, which Django refuses in the event loop
                # before any SQL runs, and is retried in a thread.
                resolution = self.resolve(request)
            except SynchronousOnlyOperation:
                resolution = await sync_to_async(self.resolve)(request)
        except TenantNotFound as exc:
            return await sync_to_async(self.not_found)(request, exc)
        serving = self.prepare(request, resolution)
        if isinstance(serving, ActiveSchema):
            token = activate(serving)
            try:
                if tenant_activated.receivers:
                    await tenant_activated.asend(type(self), **_activation(request))
                response: Awaitable[HttpResponseBase] = self.get_response(request)
                return await response
            finally:
                deactivate(token)
        if isinstance(serving, HttpResponseBase):
            return serving
        with serving:
            if tenant_activated.receivers:
                await tenant_activated.asend(type(self), **_activation(request))
            response = self.get_response(request)
            return await response

    # Hooks ------------------------------------------------------------------------------

    def resolvers(self) -> tuple[BaseResolver, ...]:
        return _load_resolvers(tenancy_settings.RESOLVERS)  # a tuple: hashable

    def resolve(self, request: HttpRequest) -> Resolution | None:
        """Ask each resolver in turn; the first answer wins."""
        paths = tenancy_settings.RESOLVERS  # the same tuple until the settings change
        if paths is not self._resolver_paths:
            self._resolvers, self._resolver_paths = self.resolvers(), paths
        for resolver in self._resolvers:
            resolution = resolver.resolve(request)
            if resolution is not None:
                return resolution
        return None

    def prepare(self, request: HttpRequest, resolution: Resolution | None) -> Serving:
        """Set request.tenant / request.urlconf; return what to serve the request in (the
        tenant's activation, or a context), or a response."""
        if resolution is None:
            request.tenant = None  # type: ignore[attr-defined]
            if request_host(request) not in tenancy_settings.PUBLIC_DOMAINS:
                return self.not_found(request, TenantNotFound("No tenant is served at this host."))
            if tenancy_settings.PUBLIC_URLCONF:
                request.urlconf = tenancy_settings.PUBLIC_URLCONF
            return public_context()
        tenant, active, routing = resolution.tenant, resolution.active, resolution.routing
        if routing is None:  # a resolver of the project's own
            routing = routing_of(tenant)
        if not routing.available:
            request.tenant = None  # type: ignore[attr-defined]
            return self.unavailable(request, tenant)
        if active is None:
            active = active_schema_of(tenant)
        lease = active.lease
        if lease is not None and lease.refusals:  # empty unless refused
            refusal = lease.recent_refusal(tenant._state.db or "default")
            if refusal is not None:
                request.tenant = None  # type: ignore[attr-defined]
                return self.refused(request, tenant, refusal)
        request.tenant = tenant  # type: ignore[attr-defined]
        if routing.urlconf:  # the tenant type's, else TENANT_URLCONF
            request.urlconf = routing.urlconf
        if resolution.path_prefix:
            return _under_path_prefix(request, resolution.path_prefix, Activation(active))
        return active

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        """A view's statement refused because the request's tenant changed meanwhile."""
        tenant = getattr(request, "tenant", None)
        if (
            isinstance(exception, TenantUnavailable)
            and tenant is not None
            and exception.schema_name == tenant.schema_name
        ):
            return self.refused(request, tenant, exception)
        return None

    def refused(
        self, request: HttpRequest, tenant: Any, refusal: TenantUnavailable
    ) -> HttpResponseBase:
        if refusal.gone:
            return self.not_found(request, TenantNotFound("No tenant is served at this host."))
        return self.unavailable(request, tenant)

    def not_found(self, request: HttpRequest, exception: TenantNotFound) -> HttpResponseBase:
        view: Callable[..., HttpResponseBase] = import_string(tenancy_settings.NOT_FOUND_VIEW)
        return view(request, exception)

    def unavailable(self, request: HttpRequest, tenant: Any) -> HttpResponseBase:
        view: Callable[..., HttpResponseBase] = import_string(tenancy_settings.UNAVAILABLE_VIEW)
        return view(request, tenant)
