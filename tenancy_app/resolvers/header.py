from __future__ import annotations

from django.http import HttpRequest

from ..conf import tenancy_settings
from .base import BaseResolver, Resolution, served_named


class HeaderResolver(BaseResolver):
    """``X-Tenant-ID: <schema name>`` (opt-in; header name in ``TENANCY["HEADER_NAME"]``).

    Any client can send any header: use it only behind a gateway that sets or checks
    the header, or where the view authorises the user for the tenant.
    """

    def resolve(self, request: HttpRequest) -> Resolution | None:
        header = tenancy_settings.HEADER_NAME
        value = request.headers.get(header)
        if value is None:
            return None
        active, routing = served_named(value.strip(), source=f"The {header} header")
        return Resolution(active.tenant, "", active, routing)  # type: ignore[arg-type]
