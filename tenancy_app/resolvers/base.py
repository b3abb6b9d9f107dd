from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from django.http import HttpRequest
from django.http.request import split_domain_port

from ..exceptions import TenantNotFound
from ..lookup import active_for_schema
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
    #: The tenant's activation as the lookup cache prepared it (the built-in resolvers set
    #: it, with ``tenant`` as its tenant); when ``None`` the middleware computes it.
    active: ActiveSchema | None = None


class BaseResolver:
    """The protocol every resolver follows; subclass and implement :meth:`resolve`."""

    def resolve(self, request: HttpRequest) -> Resolution | None:
        raise NotImplementedError


def request_host(request: HttpRequest) -> str:
    """The validated host of ``request``: lower-case, without port or trailing dot."""
    host, _port = split_domain_port(request.get_host())
    return str(host).lower().rstrip(".")


def active_schema_named(value: str, *, source: str) -> ActiveSchema:
    """The activation of the tenant whose schema name is ``value`` (with a copy of the
    tenant of its own); bad or unknown names raise TenantNotFound.

    The name is validated before any lookup, so malformed input never reaches SQL.
    """
    if not is_valid_schema_name(value):
        raise TenantNotFound(f"{source} does not name a valid tenant.")
    active = active_for_schema(value)
    if active is None:
        raise TenantNotFound(f"{source} names no known tenant.")
    return active
