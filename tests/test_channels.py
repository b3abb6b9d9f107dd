"""Channels: WebSocket connections run in their tenant, in process (channels' own
communicator) and through a real ASGI server (uvicorn) with a real client (websockets)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("channels")
websockets = pytest.importorskip("websockets")

from asgiref.sync import async_to_sync  # noqa: E402
from channels.testing import WebsocketCommunicator  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import InvalidStatus  # noqa: E402

from tenancy_app import tenant_context  # noqa: E402
from tenancy_app.contrib.channels import TenantMiddleware  # noqa: E402
from tenancy_app.models import TenantStatus  # noqa: E402
from tests.notes.models import Note  # noqa: E402
from tests.servers import database_url, free_port, serving  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


def application() -> Any:
    from tests.channels_asgi import application

    return application


async def connect_in_process(host: str, path: str = "/ws/notes/") -> tuple[Any, bool, Any]:
    communicator = WebsocketCommunicator(application(), path, headers=[(b"host", host.encode())])
    connected, code = await communicator.connect(timeout=10)
    return communicator, connected, code


def test_in_process_connections_and_close_codes(make_committed_tenant):
    acme, suspended = make_committed_tenant("acme"), make_committed_tenant("suspended")
    suspended.status = TenantStatus.SUSPENDED
    suspended.save()
    with tenant_context(acme):
        Note.objects.create(title="acme's")

    async def scenario() -> list[Any]:
        outcomes = []
        communicator, connected, _ = await connect_in_process("acme.test")
        hello = await communicator.receive_json_from(timeout=10)
        await communicator.send_json_to({})
        listing = await communicator.receive_json_from(timeout=10)
        await communicator.disconnect()
        outcomes.append((connected, hello, listing))
        for host in ("nobody.test", "suspended.test"):
            communicator, connected, code = await connect_in_process(host)
            outcomes.append((connected, code))
        communicator, connected, _ = await connect_in_process("public.test")
        outcomes.append((connected, await communicator.receive_json_from(timeout=10)))
        await communicator.disconnect()
        return outcomes

    ok, unknown, unavailable, public = async_to_sync(scenario)()
    assert ok == (
        True,
        {"schema": "acme", "tenant": "acme"},
        {"schema": "acme", "titles": ["acme's"]},
    )
    assert unknown == (False, TenantMiddleware.close_code_not_found) == (False, 4404)
    assert unavailable == (False, TenantMiddleware.close_code_unavailable) == (False, 4503)
    assert public == (True, {"schema": "public", "tenant": None})


def test_subfolder_and_header_resolvers(make_committed_tenant):
    make_committed_tenant("acme")
    resolvers = ["tenancy_app.resolvers.SubfolderResolver", "tenancy_app.resolvers.HeaderResolver"]
    from django.conf import settings

    async def scenario() -> list[Any]:
        communicator, connected, _ = await connect_in_process("public.test", "/t/acme/ws/notes/")
        first = (connected, await communicator.receive_json_from(timeout=10))
        await communicator.disconnect()
        bad = await connect_in_process("public.test", "/t/Nope/ws/notes/")
        return [first, bad[1:]]

    with override_settings(TENANCY={**settings.TENANCY, "RESOLVERS": resolvers}):
        first, bad = async_to_sync(scenario)()
    assert first == (True, {"schema": "acme", "tenant": "acme"})
    assert bad == (False, 4404)


def test_http_through_the_middleware_gets_404(make_committed_tenant):
    from channels.testing import HttpCommunicator

    async def scenario() -> Any:
        app = TenantMiddleware(application())
        communicator = HttpCommunicator(app, "GET", "/notes/", headers=[(b"host", b"nobody.test")])
        return await communicator.get_response(timeout=10)

    response = async_to_sync(scenario)()
    assert response["status"] == 404


@pytest.fixture
def asgi_server(make_committed_tenant) -> Iterator[tuple[int, Any, Any]]:
    acme, globex = make_committed_tenant("acme"), make_committed_tenant("globex")
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
    }
    command = [sys.executable, "-m", "uvicorn", "tests.channels_asgi:application",
               "--port", str(port), "--ws", "websockets", "--workers", "1",
               "--log-level", "warning"]  # fmt: skip
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"tenancy-uvicorn-{port}.log"
    with serving(command, port, log, env=env, cwd=REPO_ROOT):
        yield port, acme, globex
    log.unlink(missing_ok=True)


def test_two_tenants_sockets_open_at_once_on_one_server(asgi_server):
    port, acme, globex = asgi_server

    async def session(host: str, titles: list[str], started: asyncio.Barrier) -> list[Any]:
        url = f"ws://{host}:{port}/ws/notes/"
        async with connect(url, host="127.0.0.1", port=port, open_timeout=10) as socket:
            replies = [await recv(socket)]
            await started.wait()  # both sockets are open now
            for title in titles:
                await socket.send(f'{{"add": "{title}"}}')
                replies.append(await recv(socket))
                await asyncio.sleep(0)
            return replies

    async def recv(socket: Any) -> Any:
        import json

        return json.loads(await asyncio.wait_for(socket.recv(), 10))

    async def scenario() -> list[Any]:
        started = asyncio.Barrier(2)
        return await asyncio.gather(
            session("acme.test", [f"a{i}" for i in range(20)], started),
            session("globex.test", [f"g{i}" for i in range(20)], started),
        )

    acme_replies, globex_replies = asyncio.run(scenario())
    assert acme_replies[0] == {"schema": "acme", "tenant": "acme"}
    assert globex_replies[0] == {"schema": "globex", "tenant": "globex"}
    for i in range(1, 21):
        assert acme_replies[i] == {"schema": "acme", "titles": sorted(f"a{n}" for n in range(i))}
        assert globex_replies[i] == {
            "schema": "globex",
            "titles": sorted(f"g{n}" for n in range(i)),
        }
    with tenant_context(acme):
        assert Note.objects.count() == 20
    with tenant_context(globex):
        assert sorted(Note.objects.values_list("title", flat=True)) == sorted(
            f"g{n}" for n in range(20)
        )


def test_an_unknown_host_is_refused_before_the_handshake(asgi_server):
    port, _, _ = asgi_server

    async def attempt() -> Any:
        url = f"ws://nobody.test:{port}/ws/notes/"
        with pytest.raises(InvalidStatus) as info:
            async with connect(url, host="127.0.0.1", port=port, open_timeout=10):
                pass
        return info.value.response.status_code

    assert asyncio.run(attempt()) == 403
