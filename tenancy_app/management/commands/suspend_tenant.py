"""``suspend_tenant``: stop serving a tenant (its hosts answer 503); its data is kept."""

from __future__ import annotations

from ...provisioning import suspend_tenant
from ..base import StatusCommand


class Command(StatusCommand):
    help = (
        "Suspend a tenant: its hosts answer 503 (TENANCY['UNAVAILABLE_VIEW']) and tasks for it "
        "are refused; its schema and data are kept. Every process stops serving it within "
        "TENANCY['REGISTRY_MAX_AGE'] seconds. Undo with activate_tenant."
    )
    change = staticmethod(suspend_tenant)
    done = "Suspended"
    follows = "every process stops serving it"
    already = "suspended"
