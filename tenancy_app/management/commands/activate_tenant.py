"""``activate_tenant``: serve a suspended tenant again."""

from __future__ import annotations

from ...provisioning import activate_tenant
from ..base import StatusCommand


class Command(StatusCommand):
    help = (
        "Activate a suspended tenant: every process serves it again within "
        "TENANCY['REGISTRY_MAX_AGE'] seconds. A tenant that is provisioning or failed is "
        "refused (its schema may be incomplete)."
    )
    change = staticmethod(activate_tenant)
    done = "Activated"
    follows = "every process serves it"
    already = "active"
