"""Who belongs to which tenant, with which roles: the membership API.

Each function is one transaction over the shared membership row and the roles row in
the tenant's schema, so the two never disagree. The tenant's schema must exist: roles
are never written through the search_path into another schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import QuerySet

from ...conf import tenancy_settings
from ...context import get_current_schema, get_current_tenant, public_context, tenant_context
from ...exceptions import MembershipError, SchemaNotFound
from ...lookup import tenant_for_schema
from ...models import TenantBase, get_tenant_model
from ...schemas import schema_exists
from .models import Membership, User
from .roles.models import MemberRoles

__all__ = [
    "add_member",
    "grant_roles_here",
    "members_of",
    "remove_member",
    "tenants_of",
    "transfer_ownership",
]


def _require_schema(tenant: TenantBase, using: str) -> None:
    with public_context():
        if not schema_exists(tenant.schema_name, using=using):
            raise SchemaNotFound(
                f"The schema {tenant.schema_name!r} of {tenant} does not exist: its members' "
                "roles have nowhere to go."
            )


def _groups(values: Iterable[Group | str], using: str) -> list[Group]:
    """Groups of the current schema, given as instances or names."""
    found = []
    for value in values:
        if isinstance(value, Group):
            found.append(value)
        else:
            found.append(Group.objects.using(using).get(name=value))
    return found


def _permissions(values: Iterable[Permission | str], using: str) -> list[Permission]:
    """Permissions of the current schema, given as instances or ``"app_label.codename"``."""
    found = []
    for value in values:
        if isinstance(value, Permission):
            found.append(value)
            continue
        app_label, _, codename = value.partition(".")
        found.append(
            Permission.objects.using(using).get(
                content_type__app_label=app_label, codename=codename
            )
        )
    return found


def _set_roles(
    user: User,
    *,
    is_staff: bool,
    is_superuser: bool,
    groups: Iterable[Group | str],
    permissions: Iterable[Permission | str],
    using: str,
) -> MemberRoles:
    """Replace ``user``'s roles in the current schema."""
    roles, _ = MemberRoles.objects.using(using).update_or_create(
        user=user, defaults={"is_staff": is_staff, "is_superuser": is_superuser}
    )
    roles.groups.set(_groups(groups, using))
    roles.permissions.set(_permissions(permissions, using))
    user.forget_roles()
    return roles


def add_member(
    tenant: TenantBase,
    user: User,
    *,
    is_staff: bool = False,
    is_superuser: bool = False,
    is_owner: bool = False,
    groups: Iterable[Group | str] = (),
    permissions: Iterable[Permission | str] = (),
    using: str = DEFAULT_DB_ALIAS,
) -> Membership:
    """Make ``user`` a member of ``tenant`` with exactly these roles there.

    For a member already, the roles are replaced. ``groups`` and ``permissions`` are the
    tenant's own (instances, group names, or ``"app_label.codename"``). ``is_owner``
    makes the user the owner of a tenant that has none; to change owners, use
    :func:`transfer_ownership`. Raises
    :class:`~tenancy_app.exceptions.MembershipError` or
    :class:`~tenancy_app.exceptions.SchemaNotFound`; nothing changes then.
    """
    _require_schema(tenant, using)
    with public_context(), transaction.atomic(using=using):
        membership, _ = Membership.objects.using(using).get_or_create(
            tenant_id=tenant.pk, user=user
        )
        if is_owner and not membership.is_owner:
            owner = (
                Membership.objects.using(using).filter(tenant_id=tenant.pk, is_owner=True).first()
            )
            if owner is not None:
                raise MembershipError(
                    f"{tenant} is owned by {owner.user}: use transfer_ownership() to change "
                    "its owner."
                )
            membership.is_owner = True
            membership.save(using=using, update_fields=["is_owner"])
        with tenant_context(tenant):
            _set_roles(
                user,
                is_staff=is_staff,
                is_superuser=is_superuser,
                groups=groups,
                permissions=permissions,
                using=using,
            )
    return membership


def remove_member(tenant: TenantBase, user: User, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """``user`` is no longer a member of ``tenant``: its sessions there stop working at
    their next request, and its roles there are deleted. The owner cannot be removed
    (transfer the ownership first)."""
    _require_schema(tenant, using)
    with public_context(), transaction.atomic(using=using):
        membership = (
            Membership.objects.using(using)
            .select_for_update()
            .filter(tenant_id=tenant.pk, user=user)
            .first()
        )
        if membership is None:
            raise MembershipError(f"{user} is not a member of {tenant}.")
        if membership.is_owner:
            raise MembershipError(
                f"{user} owns {tenant}: transfer the ownership to another member first."
            )
        membership.delete(using=using)
        with tenant_context(tenant):
            MemberRoles.objects.using(using).filter(user=user).delete()
    user.forget_roles()


def transfer_ownership(tenant: TenantBase, user: User, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Make the member ``user`` the owner of ``tenant`` (the previous owner stays a member)."""
    with public_context(), transaction.atomic(using=using):
        memberships = (
            Membership.objects.using(using).select_for_update().filter(tenant_id=tenant.pk)
        )
        new = memberships.filter(user=user).first()
        if new is None:
            raise MembershipError(f"{user} is not a member of {tenant}: add it first.")
        if new.is_owner:
            return
        memberships.filter(is_owner=True).update(is_owner=False)
        new.is_owner = True
        new.save(using=using, update_fields=["is_owner"])


def tenants_of(user: User, *, using: str = DEFAULT_DB_ALIAS) -> QuerySet[Any]:
    """The tenants ``user`` is a member of, by schema name."""
    memberships = Membership.objects.using(using).filter(user=user).values("tenant_id")
    return (
        get_tenant_model()
        ._default_manager.using(using)
        .filter(pk__in=memberships)
        .order_by("schema_name")
    )


def members_of(tenant: TenantBase, *, using: str = DEFAULT_DB_ALIAS) -> QuerySet[User]:
    """The members of ``tenant``, by email."""
    return User.objects.using(using).filter(memberships__tenant_id=tenant.pk).order_by("email")


def grant_roles_here(
    user: User, *, is_staff: bool, is_superuser: bool, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Give ``user`` these roles where the code runs: in a tenant, as a member of it; in
    the public schema, on the public site (``createsuperuser`` uses this)."""
    schema = get_current_schema()
    if schema == tenancy_settings.PUBLIC_SCHEMA:
        with transaction.atomic(using=using):
            _set_roles(
                user,
                is_staff=is_staff,
                is_superuser=is_superuser,
                groups=(),
                permissions=(),
                using=using,
            )
        return
    tenant = get_current_tenant()
    if tenant is None or tenant.schema_name != schema:
        tenant = tenant_for_schema(schema)
    if tenant is None:
        raise MembershipError(
            f"The schema {schema!r} belongs to no tenant: roles can be given in a tenant or "
            "in the public schema only."
        )
    add_member(tenant, user, is_staff=is_staff, is_superuser=is_superuser, using=using)
