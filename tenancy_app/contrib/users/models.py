"""Users (shared by every tenant) and memberships (who belongs to which tenant).

``User`` has no global staff or superuser flag and no global groups or permissions:
``is_staff``, ``is_superuser`` and the permission methods answer for the schema the
code runs in, from that schema's :class:`~tenancy_app.contrib.users.roles.models.MemberRoles`
row: in a tenant, the user's roles in that tenant (members only); in the public schema,
the user's roles on the public site.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from ...conf import tenancy_settings
from ...context import get_current_schema, get_current_tenant

if TYPE_CHECKING:
    from .roles.models import SchemaRoles


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        """The whole address in lower case: one account per address, however it is typed."""
        return (email or "").strip().lower()

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(**{self.model.USERNAME_FIELD: self.normalize_email(username)})

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        email = self.normalize_email(email)
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=email, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        """A user who is staff and superuser *where this runs*: in a tenant (as
        ``create_tenant_superuser`` runs it), a member of that tenant with those roles;
        in the public schema, an operator of the public site."""
        from .members import grant_roles_here

        user = self.create_user(email, password, **fields)
        grant_roles_here(user, is_staff=True, is_superuser=True, using=self._db or "default")
        return user


def _user_has_permission(user: User, method: str, *args: Any) -> bool:
    """Ask each authentication backend, as django.contrib.auth's PermissionsMixin does."""
    for backend in auth.get_backends():
        check = getattr(backend, method, None)
        if check is None:
            continue
        try:
            if check(user, *args):
                return True
        except PermissionDenied:
            return False
    return False


class User(AbstractBaseUser):
    """A person, with one email address and one password for all their tenants."""

    email = models.EmailField(_("email address"), unique=True)
    name = models.CharField(_("name"), max_length=150, blank=True)
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Unticked, the user can log in nowhere (deactivate rather than delete)."),
    )
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        # Explicit, so that importing this module where the app is not installed (the
        # docs' own test does) registers nothing under the containing app, tenancy_app.
        app_label = "tenancy_users"
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.email

    def delete(self, using: Any = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        """Refused while the user is a member of a tenant: deactivate it instead."""
        from .signals import refuse_deleting_a_member

        refuse_deleting_a_member(self, using or self._state.db or "default")
        return super().delete(using=using, keep_parents=keep_parents)

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.email

    # Roles of the schema the code runs in --------------------------------------------

    def roles_here(self) -> SchemaRoles:
        """This user's roles in the current schema (kept on the instance per schema)."""
        from .roles.models import SchemaRoles, read_roles

        schema = get_current_schema()
        cache: dict[str, SchemaRoles] = self.__dict__.setdefault("_tenancy_roles", {})
        if schema not in cache:
            cache[schema] = read_roles(self, schema) if self.pk else SchemaRoles.none()
        return cache[schema]

    def forget_roles(self) -> None:
        """Drop the roles and permissions read so far (after they were changed)."""
        self.__dict__.pop("_tenancy_roles", None)
        self.__dict__.pop("_tenancy_permissions", None)

    @property
    def is_staff(self) -> bool:
        """Whether the user may use the admin of the current schema (tenant or public)."""
        return self.roles_here().is_staff

    @property
    def is_superuser(self) -> bool:
        """Whether the user has every permission in the current schema (tenant or public)."""
        return self.roles_here().is_superuser

    def is_member_here(self) -> bool:
        """Whether the user may log in where the code runs: a member of the current
        tenant; in the public schema, any user."""
        schema = get_current_schema()
        if schema == tenancy_settings.PUBLIC_SCHEMA:
            return True
        tenant = get_current_tenant()
        memberships = Membership.objects.filter(user_id=self.pk)
        if tenant is not None and tenant.schema_name == schema:
            return memberships.filter(tenant_id=tenant.pk).exists()
        return memberships.filter(tenant__schema_name=schema).exists()

    # Permissions (answered by the authentication backends) ---------------------------

    def get_user_permissions(self, obj: Any = None) -> set[str]:
        return _permissions(self, "get_user_permissions", obj)

    def get_group_permissions(self, obj: Any = None) -> set[str]:
        return _permissions(self, "get_group_permissions", obj)

    def get_all_permissions(self, obj: Any = None) -> set[str]:
        return _permissions(self, "get_all_permissions", obj)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        if self.is_active and self.is_superuser:
            return True
        return _user_has_permission(self, "has_perm", perm, obj)

    def has_perms(self, perm_list: Iterable[str], obj: Any = None) -> bool:
        if isinstance(perm_list, str) or not isinstance(perm_list, Iterable):
            raise ValueError("perm_list must be an iterable of permissions.")
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        if self.is_active and self.is_superuser:
            return True
        return _user_has_permission(self, "has_module_perms", app_label)

    # Sessions ------------------------------------------------------------------------

    def _session_hash(self, secret: str | bytes | None = None) -> str:
        # The schema is part of the hash: a session made while serving one tenant (or
        # the public site) is refused by every other, even where the session itself
        # could be read there (a shared session store, signed cookies).
        return salted_hmac(
            "tenancy_app.contrib.users.User.get_session_auth_hash",
            f"{self.password}\x00{get_current_schema()}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def get_session_auth_hash(self) -> str:
        return self._session_hash()

    def get_session_auth_fallback_hash(self) -> Iterable[str]:
        for fallback in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret=fallback)


def _permissions(user: User, method: str, obj: Any) -> set[str]:
    found: set[str] = set()
    for backend in auth.get_backends():
        get = getattr(backend, method, None)
        if get is not None:
            found.update(get(user, obj))
    return found


class Membership(models.Model):
    """A user belongs to a tenant (and may own it); the roles are in the tenant's schema."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    tenant = models.ForeignKey(
        tenancy_settings.TENANT_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("tenant"),
    )
    is_owner = models.BooleanField(
        _("owner"), default=False, help_text=_("A tenant has at most one owner.")
    )
    created_at = models.DateTimeField(_("member since"), auto_now_add=True)

    class Meta:
        app_label = "tenancy_users"
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["tenant", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="tenancy_users_one_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(is_owner=True),
                name="tenancy_users_one_owner_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant}"
