"""The admin of one tenant: its own users and projects, nothing from the registry.

Registered on ``admin.site``, which is tenancy_app's TenancyAdminSite (settings list
``tenancy_app.apps.TenancyAdminConfig`` instead of ``django.contrib.admin``): the same
site serves the public domain, where these tenant-only models are not shown, and each
tenant's domain, where the tenant registry is not.
"""

from __future__ import annotations

from django.contrib import admin

from .models import Label, Project, Task

# On tenants' domains (TenancyAdminSite's own attributes; the public admin keeps Django's).
admin.site.tenant_site_header = "{tenant} · Workspace administration"  # type: ignore[attr-defined]
admin.site.tenant_site_title = "Workspace admin"  # type: ignore[attr-defined]


class TaskInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Task
    fields = ["title", "done", "due_date"]
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "created_at"]
    search_fields = ["name", "description"]
    inlines = [TaskInline]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["title", "project", "done", "due_date"]
    list_filter = ["done", "project", "labels"]
    search_fields = ["title"]
    filter_horizontal = ["labels"]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "color"]
