"""The audit trail in the admin: its own read-only list, and each tenant's history.

:class:`AuditedAdminMixin` makes the operations of an admin's views count as done by the
signed-in user (``via="admin"``) and adds a *History* section to the change page; the
tenant admin uses it. :class:`AuditEntryAdmin` lists every entry, filtered by tenant,
action and outcome; nobody can add, change or delete an entry there.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from ..admin_site import PlacementAdminMixin
from ..audit import Action, acting_as, operation
from ..context import public_context
from ..models import AuditEntry, TenantStatus, get_tenant_model

#: Entries shown on a tenant's change page (the list view has them all).
HISTORY_LENGTH = 10

_STATUS_ACTIONS = {TenantStatus.SUSPENDED: Action.SUSPEND, TenantStatus.ACTIVE: Action.ACTIVATE}


def _duration(entry: AuditEntry) -> str:
    seconds = entry.duration.total_seconds()
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


class TenantFilter(admin.SimpleListFilter):
    """Entries of one tenant, by its primary key (so a renamed tenant keeps its history).

    Only the chosen tenant is offered (the tenant page links here): listing every tenant
    would not scale; the search box finds entries by schema name.
    """

    title = _("tenant")
    parameter_name = "tenant"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        value = self.value()
        if not value:
            return []
        with public_context():
            tenant = get_tenant_model()._default_manager.filter(pk=value).first()
        return [(value, str(tenant) if tenant is not None else f"#{value} (deleted)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        return queryset.filter(tenant_key=value) if value else queryset


class AuditEntryAdmin(PlacementAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "started_at",
        "action",
        "schema_name",
        "outcome",
        "actor",
        "via",
        "duration_display",
    ]
    list_filter = ["action", "outcome", TenantFilter]
    search_fields = ["schema_name", "actor"]
    readonly_fields = [field.name for field in AuditEntry._meta.fields]

    @admin.display(description=_("duration"), ordering="duration")
    def duration_display(self, obj: AuditEntry) -> str:
        return _duration(obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditedAdminMixin:
    """The admin's own operations are recorded as the signed-in user's; the change page
    shows the object's last entries. Put before ``ModelAdmin`` in the bases."""

    admin_site: Any

    def _acting(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        name = user.get_username() if user is not None and user.is_authenticated else "?"
        return acting_as(name, "admin")

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with self._acting(request):  # the actions run here
            response: HttpResponse = super().changelist_view(request, *args, **kwargs)  # type: ignore[misc]
        return response

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with self._acting(request):
            response: HttpResponse = super().changeform_view(request, *args, **kwargs)  # type: ignore[misc]
        return response

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with self._acting(request):
            response: HttpResponse = super().delete_view(request, *args, **kwargs)  # type: ignore[misc]
        return response

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """A status changed in the form is recorded as a suspension or an activation."""
        action = _STATUS_ACTIONS.get(obj.status) if change else None
        if action is None or "status" not in form.changed_data:
            super().save_model(request, obj, form, change)  # type: ignore[misc]
            return
        with operation(action, obj, {"from": form.initial.get("status")}):
            super().save_model(request, obj, form, change)  # type: ignore[misc]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        return fields if obj is None else [*fields, "audit_history"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        if obj is None:
            return fieldsets
        cleaned = [
            (name, {**options, "fields": [f for f in options["fields"] if f != "audit_history"]})
            for name, options in fieldsets
        ]
        return [*cleaned, (_("History"), {"fields": ["audit_history"]})]

    @admin.display(description=_("audit trail"))
    def audit_history(self, obj: Any) -> str:
        with public_context():
            entries = list(AuditEntry.objects.filter(tenant_key=str(obj.pk))[:HISTORY_LENGTH])
        if not entries:
            return str(_("No operation recorded yet."))
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    entry.started_at.strftime("%Y-%m-%d %H:%M:%S %Z"),
                    entry.get_action_display(),
                    entry.get_outcome_display(),
                    entry.actor,
                    entry.via,
                    _duration(entry),
                    entry.error,
                )
                for entry in entries
            ),
        )
        url = reverse(f"{self.admin_site.name}:tenancy_app_auditentry_changelist")
        return format_html(
            '<table class="tenancy-audit-history">{}</table><p><a href="{}?{}">{}</a></p>',
            rows,
            url,
            urlencode({"tenant": obj.pk}),
            _("All entries of this tenant"),
        )
