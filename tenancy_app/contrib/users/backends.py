"""The authentication backend of users across tenants.

``MembershipBackend`` accepts a login (and a session's user) only where the user may log
in: on a tenant's site, its members; on the public site, any active user. Permission
checks are answered from the roles of the schema the code runs in (the current tenant's,
or the public site's), never from another tenant's; what it read is kept on the user
instance per schema, so a user checked in one tenant and then in another is answered
twice, each time for its own tenant.

Use it instead of Django's ``ModelBackend`` (check tenancy.E169): that one lets any user
log into any tenant.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.models import Permission
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest

from ...conf import tenancy_settings
from ...context import get_current_schema
from .models import Membership, User
from .roles.models import MemberRoles


def _names(permissions: QuerySet[Permission]) -> set[str]:
    rows = permissions.values_list("content_type__app_label", "codename").order_by()
    return {f"{app_label}.{codename}" for app_label, codename in rows}


class MembershipBackend(BaseBackend):
    """Members of the current tenant log in; permissions come from their roles there."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        model: Any = get_user_model()
        if username is None:
            username = kwargs.get(model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user: User = model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            # As Django's ModelBackend: hash anyway, so the time taken does not tell
            # whether the user exists.
            model().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def user_can_authenticate(self, user: User) -> bool:
        """Active, and a member where the code runs (any user on the public site)."""
        return bool(user.is_active) and user.is_member_here()

    def get_user(self, user_id: Any) -> User | None:
        """The session's user, if it may still be here: active and a member of this tenant."""
        model: Any = get_user_model()
        users = model._default_manager.filter(pk=user_id, is_active=True)
        schema = get_current_schema()
        if schema != tenancy_settings.PUBLIC_SCHEMA:
            users = users.filter(
                Exists(Membership.objects.filter(user=OuterRef("pk"), tenant__schema_name=schema))
            )
        user: User | None = users.first()
        return user

    # Permissions -------------------------------------------------------------------------

    def _cached(self, user: User, kind: str) -> set[str]:
        schema = get_current_schema()
        cache: dict[tuple[str, str], set[str]] = user.__dict__.setdefault(
            "_tenancy_permissions", {}
        )
        key = (schema, kind)
        if key not in cache:
            cache[key] = self._read(user, kind)
        return cache[key]

    def _read(self, user: User, kind: str) -> set[str]:
        roles = user.roles_here()
        if roles.id is None:
            return set()
        if kind == "all" and roles.is_superuser:
            return _names(Permission.objects.all())
        if kind == "user":
            return _names(Permission.objects.filter(member_roles__id=roles.id))
        if kind == "group":
            return _names(Permission.objects.filter(group__member_roles__id=roles.id))
        return self._cached(user, "user") | self._cached(user, "group")

    def _usable(self, user: Any, obj: Any) -> bool:
        return bool(user.is_active) and not user.is_anonymous and obj is None

    def get_user_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return self._cached(user_obj, "user") if self._usable(user_obj, obj) else set()

    def get_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return self._cached(user_obj, "group") if self._usable(user_obj, obj) else set()

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return self._cached(user_obj, "all") if self._usable(user_obj, obj) else set()

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return any(
            perm[: perm.index(".")] == app_label for perm in self.get_all_permissions(user_obj)
        )

    def with_perm(
        self,
        perm: str | Permission,
        is_active: bool = True,
        include_superusers: bool = True,
        obj: Any = None,
    ) -> QuerySet[Any]:
        """The users with ``perm`` where the code runs (members only, in a tenant)."""
        model: Any = get_user_model()
        if obj is not None:
            nobody: QuerySet[Any] = model._default_manager.none()
            return nobody
        if isinstance(perm, str):
            app_label, _, codename = perm.partition(".")
            permission = Q(content_type__app_label=app_label, codename=codename)
        else:
            permission = Q(pk=perm.pk)
        granted = Permission.objects.filter(permission)
        roles = MemberRoles.objects.filter(
            Q(permissions__in=granted) | Q(groups__permissions__in=granted)
        )
        if include_superusers:
            roles = MemberRoles.objects.filter(Q(pk__in=roles) | Q(is_superuser=True))
        users: QuerySet[Any] = model._default_manager.filter(pk__in=roles.values("user_id"))
        schema = get_current_schema()
        if schema != tenancy_settings.PUBLIC_SCHEMA:
            users = users.filter(memberships__tenant__schema_name=schema)
        if is_active is not None:
            users = users.filter(is_active=is_active)
        return users.distinct()
