from __future__ import annotations

from django.http import HttpRequest

from ..conf import tenancy_settings
from .base import BaseResolver, Resolution, served_named


class SubfolderResolver(BaseResolver):
    """``/t/<schema name>/...`` (opt-in; the ``t`` is ``TENANCY["SUBFOLDER_PREFIX"]``).

    The middleware strips the prefix from ``request.path_info`` and adds it to the script
    prefix, so the tenant URLconf sees ``/...`` and ``reverse()`` yields ``/t/<name>/...``.
    """

    def resolve(self, request: HttpRequest) -> Resolution | None:
        marker = f"/{tenancy_settings.SUBFOLDER_PREFIX}/"
        path = request.path_info
        if not path.startswith(marker):
            return None
        slug = path[len(marker) :].split("/", 1)[0]
        active, routing = served_named(slug, source="The URL path")
        prefix = f"{marker}{slug}"
        return Resolution(active.tenant, prefix, active, routing)  # type: ignore[arg-type]
