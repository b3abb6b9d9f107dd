"""URLs of a tenant's site (acme.localhost, globex.localhost, ...): ROOT_URLCONF."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from sample_project.projects import views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("projects/new/", views.project_create, name="project-create"),
    path("projects/<int:pk>/", views.project_detail, name="project-detail"),
    path("projects/<int:pk>/tasks/new/", views.task_create, name="task-create"),
    path("tasks/", views.task_list, name="task-list"),
    path("tasks/<int:pk>/toggle/", views.task_toggle, name="task-toggle"),
    path("admin/", admin.site.urls),
]
