"""Views of the reliability project: each answers with the schema it ran in and its rows."""

from __future__ import annotations

import contextlib

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponseNotAllowed, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tenancy_app import get_current_schema
from tests.notes.models import Note


def _tenant(request: HttpRequest) -> str | None:
    return getattr(request.tenant, "schema_name", None)


def _server_schema() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return str(cursor.fetchone()[0])


def _server_session() -> str:
    """Which server session answered: its pid and start time (pids are reused)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid || '@' || backend_start FROM pg_catalog.pg_stat_activity "
            "WHERE pid = pg_catalog.pg_backend_pid()"
        )
        return str(cursor.fetchone()[0])


def notes(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "tenant": _tenant(request),
            "schema": get_current_schema(),
            "server_schema": _server_schema(),
            "titles": list(Note.objects.values_list("title", flat=True)),
            "session": _server_session() if request.GET.get("session") else None,
        }
    )


@csrf_exempt
def add_note(request: HttpRequest) -> JsonResponse | HttpResponseNotAllowed:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    note = Note.objects.create(title=request.POST["title"])
    return JsonResponse(
        {"tenant": _tenant(request), "server_schema": _server_schema(), "id": note.pk}
    )


async def async_notes(request: HttpRequest) -> JsonResponse:
    titles = [title async for title in Note.objects.values_list("title", flat=True)]
    return JsonResponse({"tenant": _tenant(request), "titles": titles})


@csrf_exempt
async def async_add_note(request: HttpRequest) -> JsonResponse | HttpResponseNotAllowed:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    note = await Note.objects.acreate(title=request.POST["title"])
    return JsonResponse({"tenant": _tenant(request), "id": note.pk})


def sleep(request: HttpRequest) -> JsonResponse:
    """Runs ``pg_sleep(?seconds)``, in a transaction with ``?atomic=1``: for statement
    timeouts and cancels."""
    seconds = float(request.GET.get("seconds", "1"))
    atomic = transaction.atomic() if request.GET.get("atomic") else contextlib.nullcontext()
    with atomic, connection.cursor() as cursor:
        if request.GET.get("atomic"):
            Note.objects.count()  # the transaction's first statement carries the search_path
        cursor.execute("SELECT pg_catalog.pg_sleep(%s)", [seconds])
    return JsonResponse({"tenant": _tenant(request), "slept": seconds})


urlpatterns = [
    path("notes/", notes),
    path("notes/add/", add_note),
    path("async/notes/", async_notes),
    path("async/notes/add/", async_add_note),
    path("sleep/", sleep),
]
