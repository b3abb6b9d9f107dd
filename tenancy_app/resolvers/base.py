from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.request import split_domain_port

from ..exceptions import TenantNotFound
from ..lookup import Routing, Served, served_for_schema
from ..names import is_valid_schema_name

if TYPE_CHECKING:
    from ..context import ActiveSchema
    from ..models import TenantBase


class Resolution(NamedTuple):
    """What a resolver found: the tenant, and how the request named it.

    (A named tuple rather than a frozen dataclass: one is made per request, and this is
    the cheaper of the two to make.)
    """

    tenant: TenantBase
    #: Leading part of the path that named the tenant (subfolder routing), e.g. "/t/acme".
    path_prefix: str = ""
    #: The tenant's activation and routing as the lookup cache prepared them (the built-in
    #: resolvers set both, with ``tenant`` as the activation's tenant); when ``None`` the
    #: middleware computes them.
    active: ActiveSchema | None = None
    routing: Routing | None = None


class BaseResolver:
    """The protocol every resolver follows; subclass and implement :meth:`resolve`."""

    def resolve(self, request: HttpRequest) -> Resolution | None:
        raise NotImplementedError


#: Host header -> request_host(), for the ALLOWED_HOSTS and DEBUG in force (see below).
_hosts: dict[str, str] = {}
_MAX_HOSTS = 10_000


def request_host(request: HttpRequest) -> str:
    """The validated host of ``request``: lower-case, without port or trailing dot.

    Validated by Django's ``request.get_host()``, which raises ``DisallowedHost`` for a
    host ``ALLOWED_HOSTS`` does not allow. Its answer depends only on the ``Host`` header,
    ``ALLOWED_HOSTS`` and ``DEBUG`` when the request has no ``X-Forwarded-Host`` header, so
    it is remembered per ``Host`` header (allowed hosts only, and forgotten when either
    setting changes): ``get_host()`` costs more than the rest of the request path.
    """
    meta = request.META
    raw = meta.get("HTTP_HOST")
    if raw is None or "HTTP_X_FORWARDED_HOST" in meta:
        return _normalised(request.get_host())
    host = _hosts.get(raw)
    if host is None:
        host = _normalised(request.get_host())
        if len(_hosts) >= _MAX_HOSTS:
            _hosts.clear()
        _hosts[raw] = host
    return host


def _normalised(host: str) -> str:
    domain, _port = split_domain_port(host)
    return str(domain).lower().rstrip(".")


@receiver(setting_changed)
def _forget_hosts(*, setting: str, **kwargs: Any) -> None:
    if setting in ("ALLOWED_HOSTS", "DEBUG", "USE_X_FORWARDED_HOST"):
        _hosts.clear()


def served_named(value: str, *, source: str) -> Served:
    """What the lookup cache serves for the tenant whose schema name is ``value``; bad or
    unknown names raise TenantNotFound.

    The name is validated before any lookup, so malformed input never reaches SQL.
    """
    if not is_valid_schema_name(value):
        raise TenantNotFound(f"{source} does not name a valid tenant.")
    served = served_for_schema(value)
    if served is None:
        raise TenantNotFound(f"{source} names no known tenant.")
    return served
