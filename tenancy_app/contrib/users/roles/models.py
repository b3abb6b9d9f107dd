"""Each schema's roles of its members (``MemberRoles``), and how they are read.

The table exists in every schema: in a tenant schema, that tenant's members' roles; in
the public schema, the roles on the public site. Its user column refers to the shared
user table without a database constraint (tenant rows are removed by
:func:`~tenancy_app.contrib.users.members.remove_member`, and a copied tenant's rows
belong to nobody until its members are added).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils.translation import gettext_lazy as _
from psycopg import sql

from ....conf import tenancy_settings
from ....models import get_tenant_model

if TYPE_CHECKING:
    from ..models import User


class MemberRoles(models.Model):
    """A member's roles in the schema this row is in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="member_roles",
        verbose_name=_("user"),
    )
    is_staff = models.BooleanField(
        _("staff status"), default=False, help_text=_("May log into this admin site.")
    )
    is_superuser = models.BooleanField(
        _("superuser status"),
        default=False,
        help_text=_("Has every permission here without their being assigned."),
    )
    groups = models.ManyToManyField(
        "auth.Group", blank=True, related_name="member_roles", verbose_name=_("groups")
    )
    permissions = models.ManyToManyField(
        "auth.Permission",
        blank=True,
        related_name="member_roles",
        verbose_name=_("permissions"),
    )

    class Meta:
        app_label = "tenancy_roles"  # see tenancy_app.contrib.users.models.User.Meta
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["user_id"]

    def __str__(self) -> str:
        return str(self.user)


@dataclass(frozen=True, slots=True)
class SchemaRoles:
    """What :func:`read_roles` found: the roles row's id (``None``: no roles) and flags."""

    id: int | None
    is_staff: bool = False
    is_superuser: bool = False

    @classmethod
    def none(cls) -> SchemaRoles:
        return cls(None)


def read_roles(user: User, schema: str) -> SchemaRoles:
    """``user``'s roles in ``schema``: in a tenant schema only if the user is a member.

    One query, naming the schema explicitly: if the tenant's schema has gone, it fails
    instead of reading the public schema's roles through the search_path.
    """
    from ..models import Membership

    public = tenancy_settings.PUBLIC_SCHEMA
    query: sql.Composable = sql.SQL(
        "SELECT r.id, r.is_staff, r.is_superuser FROM {} r WHERE r.user_id = %s"
    ).format(sql.Identifier(schema, MemberRoles._meta.db_table))
    params: list[Any] = [user.pk]
    if schema != public:
        tenant_model = get_tenant_model()
        query = sql.SQL(
            "{} AND EXISTS (SELECT FROM {} m JOIN {} t ON t.{} = m.tenant_id "
            "WHERE m.user_id = r.user_id AND t.schema_name = %s)"
        ).format(
            query,
            sql.Identifier(public, Membership._meta.db_table),
            sql.Identifier(public, tenant_model._meta.db_table),
            sql.Identifier(str(tenant_model._meta.pk.column)),
        )
        params.append(schema)
    with connections[user._state.db or DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(query, params)
        row = cursor.fetchone()
    return SchemaRoles(*row) if row is not None else SchemaRoles.none()
