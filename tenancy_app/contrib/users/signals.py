"""Deleting a user: refused while it is a member of a tenant; its public roles go with it.

Rows in tenant schemas (the user's roles there, admin log entries, a project's own
foreign keys) cannot be found from the shared schema, so a member is deactivated
(``is_active = False``) or removed from its tenants (``remove_member``) first.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from ...context import public_context
from ...exceptions import MembershipError
from .models import Membership
from .roles.models import MemberRoles


def refuse_deleting_a_member(instance: Any, using: str) -> None:
    """Raise :class:`MembershipError` if ``instance`` (a user) is a member of a tenant."""
    with public_context():
        tenants = list(
            Membership.objects.using(using)
            .filter(user_id=instance.pk)
            .values_list("tenant__schema_name", flat=True)[:5]
        )
    if tenants:
        raise MembershipError(
            f"{instance} is a member of {', '.join(tenants)}: deactivate the user instead, "
            "or remove it from its tenants (remove_member) first."
        )


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL)
def _refuse_deleting_members(sender: Any, instance: Any, using: str, **kwargs: Any) -> None:
    # For QuerySet.delete(); User.delete() refuses before its transaction begins.
    refuse_deleting_a_member(instance, using)


@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def _delete_public_roles(sender: Any, instance: Any, using: str, **kwargs: Any) -> None:
    with public_context():
        MemberRoles.objects.using(using).filter(user_id=instance.pk).delete()
