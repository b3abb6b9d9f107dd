"""Django Channels: WebSocket (and HTTP) connections that run in their tenant
(``pip install tenancy-app[channels]``).

.. code-block:: python

    # asgi.py
    application = ProtocolTypeRouter({
        "http": django_asgi_app,  # Django's own TenantMiddleware serves HTTP
        "websocket": TenantMiddleware(AuthMiddlewareStack(URLRouter(websocket_urls))),
    })

:class:`TenantMiddleware` asks the resolvers of ``TENANCY["RESOLVERS"]`` (through the
same cached lookup as Django's middleware) about the connection's host, headers and
path, puts the tenant in ``scope["tenant"]`` (``None`` on a public host) and runs the
rest of the application (consumers included) inside the tenant's context, so
``database_sync_to_async`` ORM calls run in its schema. Put it outside
``AuthMiddlewareStack``: sessions and users live in the tenant's schema.

A connection that names no tenant (an unknown host, a bad name in the path or header)
is closed before it is accepted with :attr:`TenantMiddleware.close_code_not_found`
(4404); one whose tenant is not active (suspended, provisioning, failed, or being
renamed or deleted) with :attr:`TenantMiddleware.close_code_unavailable` (4503). ASGI
servers answer a close before the handshake completes with HTTP 403, so that is what a
browser sees. It never runs in the public schema instead. An HTTP connection through
this middleware gets 404 or 503.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import DisallowedHost, SynchronousOnlyOperation
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest

from ...conf import tenancy_settings
from ...context import Activation, public_context, tenant_context
from ...exceptions import TenantNotFound, TenantUnavailable
from ...middleware import TenantMiddleware as HttpTenantMiddleware
from ...resolvers import Resolution
from ...resolvers.base import request_host
from ...tenant_types import is_configured

__all__ = ["TenantMiddleware"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Refused(Exception):
    def __init__(self, close_code: int, status: int, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.status = status


def request_for(scope: Scope) -> HttpRequest:
    """A Django request with the connection's path, headers and server, for the resolvers."""
    return ASGIRequest({**scope, "method": scope.get("method", "GET")}, io.BytesIO())


class TenantMiddleware:
    """ASGI middleware: the connection's tenant in ``scope["tenant"]`` and in the context."""

    close_code_not_found = 4404
    close_code_unavailable = 4503

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner
        # Its resolve() hook asks the configured resolvers; nothing else of it is used.
        self.resolving = HttpTenantMiddleware(lambda request: None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("websocket", "http"):
            await self.inner(scope, receive, send)
            return
        try:
            tenant, activation, root = await self.activation_for(scope)
        except Refused as refusal:
            await self.refuse(scope, receive, send, refusal)
            return
        scope = {**scope, "tenant": tenant, "root_path": root}
        with activation:
            await self.inner(scope, receive, send)

    async def activation_for(self, scope: Scope) -> tuple[Any, Activation, str]:
        """(tenant or None, the context to run in, the root_path), or :class:`Refused`."""
        try:
            request = request_for(scope)
            try:
                resolution = self.resolve(request)
            except SynchronousOnlyOperation:  # a cache miss reaches for the database
                resolution = await sync_to_async(self.resolve)(request)
        except (TenantNotFound, DisallowedHost) as exc:
            raise self.not_found(str(exc)) from exc
        except TenantUnavailable as exc:
            raise (self.not_found(str(exc)) if exc.gone else self.unavailable(str(exc))) from exc
        root = scope.get("root_path", "")
        if resolution is None:
            if request_host(request) not in tenancy_settings.PUBLIC_DOMAINS:
                raise self.not_found("No tenant is served at this host.")
            return None, public_context(), root
        tenant = resolution.tenant
        if not tenant.is_active:
            raise self.unavailable(f"The tenant {tenant.schema_name!r} is {tenant.status}.")
        if not is_configured(tenant):  # its type has no apps configured to serve it with
            raise self.unavailable(f"The type of tenant {tenant.schema_name!r} is not configured.")
        return tenant, tenant_context(tenant), root + resolution.path_prefix

    def resolve(self, request: HttpRequest) -> Resolution | None:
        return self.resolving.resolve(request)

    def not_found(self, reason: str) -> Refused:
        return Refused(self.close_code_not_found, 404, reason)

    def unavailable(self, reason: str) -> Refused:
        return Refused(self.close_code_unavailable, 503, reason)

    async def refuse(self, scope: Scope, receive: Receive, send: Send, refusal: Refused) -> None:
        """Close a WebSocket before accepting it, or answer HTTP with 404 / 503."""
        if scope["type"] == "websocket":
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": refusal.close_code})
            return
        body = str(refusal).encode()
        await send(
            {
                "type": "http.response.start",
                "status": refusal.status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": body})
