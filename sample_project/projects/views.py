"""Views of a tenant's site; every query lands in the schema of ``request.tenant``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .forms import ProjectForm, TaskForm
from .models import Label, Project, Task


def _projects() -> QuerySet[Project]:
    return Project.objects.annotate(
        open_tasks=Count("tasks", filter=Q(tasks__done=False)),
        total_tasks=Count("tasks"),
    )


def project_list(request: HttpRequest) -> HttpResponse:
    return render(request, "projects/project_list.html", {"projects": _projects()})


def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(_projects(), pk=pk)
    tasks = project.tasks.prefetch_related("labels")
    return render(
        request,
        "projects/project_detail.html",
        {"project": project, "tasks": tasks, "form": TaskForm()},
    )


@login_required
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = form.save()
        return redirect(project)
    return render(request, "projects/project_form.html", {"form": form})


@login_required
def task_create(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=pk)
    form = TaskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.project = project
        form.save()
        return redirect(project)
    return render(request, "projects/task_form.html", {"project": project, "form": form})


@login_required
@require_POST
def task_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(Task, pk=pk)
    task.done = not task.done
    task.save(update_fields=["done"])
    return redirect(task)


def task_list(request: HttpRequest) -> HttpResponse:
    """Open tasks of every project, optionally only those with one label (``?label=``)."""
    tasks = Task.objects.filter(done=False).select_related("project").prefetch_related("labels")
    label = request.GET.get("label")
    if label:
        tasks = tasks.filter(labels__name=label)
    return render(
        request,
        "projects/task_list.html",
        {"tasks": tasks, "labels": Label.objects.all(), "current_label": label},
    )
