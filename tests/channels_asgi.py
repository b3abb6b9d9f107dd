"""ASGI application of the Channels tests: Django for HTTP, a notes consumer for sockets."""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.db import database_sync_to_async  # noqa: E402
from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from tenancy_app import get_current_schema  # noqa: E402
from tenancy_app.contrib.channels import TenantMiddleware  # noqa: E402
from tests.notes.models import Note  # noqa: E402


@database_sync_to_async
def add_and_list(title: str | None) -> dict[str, Any]:
    if title is not None:
        Note.objects.create(title=title)
    return {"schema": get_current_schema(), "titles": sorted(n.title for n in Note.objects.all())}


class NotesConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        await self.accept()
        tenant = self.scope["tenant"]
        await self.send_json(
            {"schema": get_current_schema(), "tenant": tenant.schema_name if tenant else None}
        )

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        await self.send_json(await add_and_list(content.get("add")))


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": TenantMiddleware(URLRouter([path("ws/notes/", NotesConsumer.as_asgi())])),
    }
)
