from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.http.request import split_domain_port

from ..exceptions import TenantNotFound
from ..lookup import tenant_for_schema
from ..names import is_valid_schema_name

if TYPE_CHECKING:
    from ..models import TenantBase


@dataclass(frozen=True, slots=True)
class Resolution:
    tenant: TenantBase
    #: Leading part of the path that named the tenant (subfolder routing), e.g. "/t/acme".
    path_prefix: str = ""


class BaseResolver:
    """The protocol every resolver follows; subclass and implement :meth:`resolve`."""

    def resolve(self, request: HttpRequest) -> Resolution | None:
        raise NotImplementedError


def request_host(request: HttpRequest) -> str:
    """The validated host of ``request``: lower-case, without port or trailing dot."""
    host, _port = split_domain_port(request.get_host())
    return str(host).lower().rstrip(".")


def tenant_named(value: str, *, source: str) -> TenantBase:
    """The tenant whose schema name is ``value``; bad or unknown names raise TenantNotFound.

    The name is validated before any lookup, so malformed input never reaches SQL.
    """
    if not is_valid_schema_name(value):
        raise TenantNotFound(f"{source} does not name a valid tenant.")
    tenant = tenant_for_schema(value)
    if tenant is None:
        raise TenantNotFound(f"{source} names no known tenant.")
    return tenant
