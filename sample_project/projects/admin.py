"""The admin of one tenant: its own users and projects, nothing from the registry.

A separate AdminSite (rather than ``admin.site``) keeps the tenant admin's contents
explicit: models registered on the default site by other apps never appear here.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

from .models import Label, Project, Task

tenant_admin_site = admin.AdminSite(name="tenant_admin")
tenant_admin_site.site_header = "Workspace administration"
tenant_admin_site.site_title = "Workspace admin"

tenant_admin_site.register(User, UserAdmin)
tenant_admin_site.register(Group, GroupAdmin)


class TaskInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Task
    fields = ["title", "done", "due_date"]
    extra = 0


@admin.register(Project, site=tenant_admin_site)
class ProjectAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "created_at"]
    search_fields = ["name", "description"]
    inlines = [TaskInline]


@admin.register(Task, site=tenant_admin_site)
class TaskAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["title", "project", "done", "due_date"]
    list_filter = ["done", "project", "labels"]
    search_fields = ["title"]
    filter_horizontal = ["labels"]


@admin.register(Label, site=tenant_admin_site)
class LabelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "color"]
