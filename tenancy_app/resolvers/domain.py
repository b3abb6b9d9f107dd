from __future__ import annotations

from django.http import HttpRequest

from ..conf import tenancy_settings
from ..lookup import served_for_domain
from .base import BaseResolver, Resolution, request_host


class DomainResolver(BaseResolver):
    """Host header -> Domain row -> tenant (the default)."""

    def resolve(self, request: HttpRequest) -> Resolution | None:
        host = request_host(request)
        if host in tenancy_settings.PUBLIC_DOMAINS:
            return None
        served = served_for_domain(host)
        if served is None:
            return None
        active, routing = served
        return Resolution(active.tenant, "", active, routing)  # type: ignore[arg-type]
