"""The tenant registry's admin: list, add (provisioning), change page and actions."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..admin_site import PlacementAdminMixin
from ..citus import is_citus
from ..context import public_context
from ..exceptions import MigrationRunInProgress, TenantError, TenantStatusError
from ..migrator import migrate_schemas
from ..migrator.lock import exclusive_run
from ..models import SchemaMigrationResult, TenantBase, TenantStatus, get_domain_model
from ..provisioning import activate_tenant, delete_tenants, provision_tenant, suspend_tenant
from ..tenant_types import is_typed
from . import queries
from .audit import AuditedAdminMixin
from .filters import MigrationStateFilter, TenantTypeFilter
from .forms import DomainFormSet, DomainInlineForm, TenantAddForm
from .nodes import nodes_view

MIGRATION_STATE_LABELS = {
    queries.UP_TO_DATE: _("up to date"),
    queries.FAILED: _("failed"),
    queries.NEVER: _("never migrated"),
}


class DomainInline(PlacementAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = get_domain_model()
    form = DomainInlineForm
    formset = DomainFormSet
    fields = ["domain", "is_primary"]
    extra = 0


class TenantAdmin(AuditedAdminMixin, PlacementAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """The registry of tenants; reachable only where the registry is placed (public)."""

    list_display = [
        "name",
        "schema_name",
        "status",
        "primary_domain",
        "migration_state",
        "schema_size",
    ]
    list_filter = ["status", MigrationStateFilter]
    search_fields = ["name", "schema_name", "domains__domain"]
    actions = ["migrate_tenants", "suspend_tenants", "activate_tenants", "delete_tenants"]
    add_form = TenantAddForm
    delete_tenants_template: str | list[str] | None = None
    schema_fields = ("schema_statistics", "last_migration")
    date_fields = ("created_at", "updated_at")

    # The list ------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return queries.with_list_columns(super().get_queryset(request))

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = list(super().get_list_display(request))
        if is_typed() and "type" not in columns:
            columns.insert(columns.index("status") + 1 if "status" in columns else 1, "type")
        if is_citus() and "node" not in columns:  # which node holds each tenant (nodes.py)
            columns.append("node")
        return columns

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if is_typed() and TenantTypeFilter not in filters:
            filters.insert(0, TenantTypeFilter)
        return filters

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> Any:
        from .changelist import TenantChangeList

        return TenantChangeList

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if is_citus():
            opts = self.opts
            url = reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_nodes")
            extra_context = {**(extra_context or {}), "citus_nodes_url": url}
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[Any]:
        opts = self.opts
        nodes = path(
            "nodes/",
            self.admin_site.admin_view(functools.partial(nodes_view, self)),
            name=f"{opts.app_label}_{opts.model_name}_nodes",
        )
        return [nodes, *super().get_urls()]

    @admin.display(description=_("node"))
    def node(self, obj: Any) -> str:
        return getattr(obj, "admin_node", None) or self.get_empty_value_display()

    @admin.display(description=_("primary domain"), ordering="admin_primary_domain")
    def primary_domain(self, obj: Any) -> str:
        return obj.admin_primary_domain or self.get_empty_value_display()

    @admin.display(description=_("migrations"))
    def migration_state(self, obj: Any) -> str:
        state = queries.state_of(obj.admin_migration_status, obj.admin_migration_pending)
        pending = obj.admin_migration_pending
        live = getattr(obj, "admin_live_pending", None)  # what the schema lacks now
        if live is not None and state != queries.FAILED:
            # Migrations added since the last recorded run show here at once; a tenant
            # copied from the template has no recorded run but may be complete.
            state, pending = (queries.PENDING, live) if live else (queries.UP_TO_DATE, 0)
        if state == queries.PENDING:
            return ngettext("%(count)d pending", "%(count)d pending", pending) % {"count": pending}
        label = MIGRATION_STATE_LABELS[state]
        if state == queries.FAILED:
            return format_html(
                '<span class="tenancy-migration-failed" title="{}">{}</span>',
                obj.admin_migration_error,
                label,
            )
        return str(label)

    @admin.display(description=_("size"))
    def schema_size(self, obj: Any) -> str:
        size = getattr(obj, "admin_schema_size", None)
        return self.get_empty_value_display() if size is None else str(filesizeformat(size))

    # Add and change pages ------------------------------------------------------------

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs.setdefault("form", self.add_form)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = [*(super().get_exclude(request, obj) or ())]
        if obj is None:  # provisioning decides the status
            exclude.append("status")
        if not is_typed():
            exclude.append("type")
        return exclude

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return super().get_readonly_fields(request, obj)
        # The schema name and the type (the schema's tables) are fixed once it exists.
        return [
            *super().get_readonly_fields(request, obj),
            "schema_name",
            *(["type"] if is_typed() else []),
            *self.schema_fields,
            *self.date_fields,
        ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return super().get_fieldsets(request, obj)
        grouped = {*self.schema_fields, *self.date_fields}
        main = [name for name in self.get_fields(request, obj) if name not in grouped]
        return [
            (None, {"fields": main}),
            (_("Schema"), {"fields": list(self.schema_fields)}),
            (_("Dates"), {"fields": list(self.date_fields), "classes": ["collapse"]}),
        ]

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        # A new tenant's primary domain is a field of the add form.
        return [DomainInline] if obj is not None else []

    @admin.display(description=_("statistics"))
    def schema_statistics(self, obj: Any) -> str:
        stats = queries.schema_statistics([obj.schema_name]).get(obj.schema_name)
        if stats is None or not stats.exists:
            return str(_("The schema does not exist in the database."))
        not_analyzed = (
            ngettext(
                " (%(count)d table not analyzed yet)",
                " (%(count)d tables not analyzed yet)",
                stats.tables_not_analyzed,
            )
            % {"count": stats.tables_not_analyzed}
            if stats.tables_not_analyzed
            else ""
        )
        return format_html(
            '<ul class="tenancy-schema-statistics" '
            'style="margin: 0; padding: 0; list-style: none">'
            "<li>{}: {}</li><li>{}: {}{}</li><li>{}: {}</li></ul>",
            _("tables"),
            stats.tables,
            _("estimated rows"),
            f"{stats.estimated_rows:,}",
            not_analyzed,
            _("size on disk"),
            filesizeformat(stats.size),
        )

    @admin.display(description=_("last migration"))
    def last_migration(self, obj: Any) -> str:
        with public_context():
            result = SchemaMigrationResult.objects.filter(schema_name=obj.schema_name).first()
        if result is None:
            return str(_("Never migrated by migrate_schemas."))
        summary = format_html(
            "{} · {} · {} · {}",
            result.get_status_display(),
            result.finished_at.strftime("%Y-%m-%d %H:%M:%S %Z"),
            ngettext("%(count)d migration run", "%(count)d migrations run", result.applied)
            % {"count": result.applied},
            _("%(count)d pending") % {"count": result.pending},
        )
        if result.status == SchemaMigrationResult.Status.FAILED:
            return format_html(
                '{}<pre class="tenancy-migration-error">{}</pre>', summary, result.error
            )
        return summary

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """A new tenant is provisioned (schema, tables, post-migrate rows), not just saved."""
        if change:
            super().save_model(request, obj, form, change)
            return
        extra = {
            name: value
            for name, value in form.cleaned_data.items()
            if name not in ("schema_name", "name", "domain", "type")
            and name in {field.name for field in obj._meta.concrete_fields}
        }
        tenant = provision_tenant(
            schema_name=obj.schema_name,
            name=obj.name,
            domain=form.cleaned_data["domain"],
            tenant_type=form.cleaned_data.get("type") or "",
            **extra,
        )
        obj.pk = tenant.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except TenantError as exc:
            # Raised by provisioning inside the add view's transaction, which has rolled
            # back: nothing of the tenant is left.
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    # Actions -------------------------------------------------------------------------

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # Django 6.1 passes action_location (actions on the change page too); 5.2 does not.
        if action_location is None:
            actions = super().get_actions(request)
        else:
            actions = super().get_actions(request, action_location)  # type: ignore[call-arg,unused-ignore]
        # Deleting a tenant asks what to do with its schema: see delete_tenants.
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description=_("Migrate selected tenants"), permissions=["change"])
    def migrate_tenants(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """Run the migrate_schemas engine on the selected schemas; report each result."""
        tenants = {tenant.schema_name: tenant for tenant in queryset.order_by("schema_name")}
        try:
            with exclusive_run(DEFAULT_DB_ALIAS, nowait=True):
                results = migrate_schemas(list(tenants), verbosity=0, stdout=io.StringIO())
        except MigrationRunInProgress as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        for result in results:
            tenant = tenants[result.schema_name]
            if not result.ok:
                self.message_user(
                    request,
                    _("%(tenant)s: the migration failed: %(error)s")
                    % {"tenant": tenant, "error": result.error},
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    ngettext(
                        "%(tenant)s: up to date (%(count)d migration run).",
                        "%(tenant)s: up to date (%(count)d migrations run).",
                        len(result.ran),
                    )
                    % {"tenant": tenant, "count": len(result.ran)},
                    messages.SUCCESS,
                )

    @admin.action(description=_("Suspend selected tenants"), permissions=["change"])
    def suspend_tenants(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._set_status(request, queryset, suspend_tenant, TenantStatus.SUSPENDED)

    @admin.action(description=_("Activate selected suspended tenants"), permissions=["change"])
    def activate_tenants(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._set_status(request, queryset, activate_tenant, TenantStatus.ACTIVE)

    def _set_status(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        change: Callable[[TenantBase], bool],
        status: TenantStatus,
    ) -> None:
        changed = 0
        for tenant in queryset.order_by("schema_name"):
            try:
                changed += change(tenant)
            except TenantStatusError as exc:
                self.message_user(request, str(exc), messages.WARNING)
        self.message_user(
            request,
            ngettext(
                "%(count)d tenant is now %(status)s.",
                "%(count)d tenants are now %(status)s.",
                changed,
            )
            % {"count": changed, "status": status.label},
            messages.SUCCESS,
        )

    @admin.action(description=_("Delete selected tenants…"), permissions=["delete"])
    def delete_tenants(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self._delete_tenants(request, queryset, action=True)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The single-tenant delete page: the same confirmation as the action."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            missing: HttpResponse = self._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]
                request, self.opts, object_id
            )
            return missing
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        response = self._delete_tenants(
            request, self.get_queryset(request).filter(pk=obj.pk), action=False
        )
        if response is not None:
            return response
        return HttpResponseRedirect(
            reverse(
                f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist"
            )
        )

    def _delete_tenants(
        self, request: HttpRequest, queryset: QuerySet[Any], *, action: bool
    ) -> HttpResponse | None:
        tenants = list(queryset.order_by("schema_name").prefetch_related("domains"))
        if not all(self.has_delete_permission(request, tenant) for tenant in tenants):
            raise PermissionDenied
        if request.method == "POST" and request.POST.get("post") == "yes":
            drop = request.POST.get("drop_schema") == "on"
            self.log_deletions(request, tenants)  # type: ignore[arg-type]
            delete_tenants(tenants, drop=drop)
            for tenant in tenants:
                self.message_user(
                    request,
                    (
                        _("Deleted %(tenant)s and dropped its schema.")
                        if drop
                        else _("Deleted %(tenant)s; its schema %(schema)s was kept.")
                    )
                    % {"tenant": tenant, "schema": tenant.schema_name},
                    messages.SUCCESS,
                )
            return None
        stats = queries.schema_statistics([tenant.schema_name for tenant in tenants])
        rows = [
            (tenant, stats.get(tenant.schema_name), list(tenant.domains.all()))
            for tenant in tenants
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Delete tenants?") if len(tenants) > 1 else _("Delete tenant?"),
            "subtitle": None,
            "opts": self.opts,
            "rows": rows,
            "queryset": tenants,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        opts = self.opts
        return TemplateResponse(
            request,
            self.delete_tenants_template
            or [
                f"admin/{opts.app_label}/{opts.model_name}/delete_tenants.html",
                "admin/tenancy_app/tenant/delete_tenants.html",
            ],
            context,
        )
