"""Admin of the shared side: users, and the members shown on the tenant registry's pages.

Both live in the public schema, so only the public site's admin shows them (see
:mod:`tenancy_app.admin_site`). A tenant's admin manages its own members on the page of
:class:`~tenancy_app.contrib.users.roles.models.MemberRoles` (``roles/admin.py``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ...admin import TenantAdmin  # registers the registry first
from ...models import get_tenant_model
from .models import Membership, User


class UserCreationForm(AdminUserCreationForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = "__all__"


class _ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TenantMembershipInline(_ReadOnlyInline):
    """A tenant's members, on its registry page (managed with the API or in its admin)."""

    fk_name = "tenant"
    fields = readonly_fields = ("user", "is_owner", "created_at")
    verbose_name_plural = _("members")


class UserMembershipInline(_ReadOnlyInline):
    """A user's tenants, on the user's page."""

    fk_name = "user"
    fields = readonly_fields = ("tenant", "is_owner", "created_at")
    verbose_name_plural = _("tenants")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    """The shared users (public site only): one account and password for all tenants."""

    form = UserEditForm
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "name", "is_active", "date_joined", "last_login"]
    list_filter = ["is_active"]
    search_fields = ["email", "name"]
    filter_horizontal = []
    readonly_fields = ["last_login", "date_joined"]
    inlines = [UserMembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("name",)}),
        (_("Status"), {"fields": ("is_active", "last_login", "date_joined")}),
    )
    add_fieldsets = [
        (
            None,
            {"classes": ["wide"], "fields": ["email", "usable_password", "password1", "password2"]},
        )
    ]


def _with_members(registered: type[TenantAdmin]) -> type[TenantAdmin]:
    class MembersTenantAdmin(registered):  # type: ignore[valid-type,misc]
        def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
            inlines = list(super().get_inlines(request, obj))
            return [*inlines, TenantMembershipInline] if obj is not None else inlines

    MembersTenantAdmin.__name__ = MembersTenantAdmin.__qualname__ = registered.__name__
    return MembersTenantAdmin


_tenant_model = get_tenant_model()
_registered = admin.site._registry.get(_tenant_model)
if _registered is not None and isinstance(_registered, TenantAdmin):
    admin.site.unregister(_tenant_model)
    admin.site.register(_tenant_model, _with_members(type(_registered)))
