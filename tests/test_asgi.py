"""A real ASGI server (uvicorn) serving concurrent requests for different tenants."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from tenancy_app import tenant_context
from tests.notes.models import Note
from tests.servers import database_url, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def uvicorn(make_committed_tenant) -> Iterator[str]:
    acme, globex = make_committed_tenant("acme"), make_committed_tenant("globex")
    with tenant_context(acme):
        Note.objects.create(title="acme only")
    with tenant_context(globex):
        Note.objects.bulk_create([Note(title="globex 1"), Note(title="globex 2")])
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.asgi:application",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                urllib.request.urlopen(base + "/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # the server answers (a 404 for this host is fine)
            except OSError:
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)
        if process.stderr:
            process.stderr.close()


def get(base: str, path: str, host: str) -> tuple[int, dict | None]:
    request = urllib.request.Request(base + path, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, None


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_different_tenants_under_uvicorn(uvicorn: str) -> None:
    expected = {
        "acme.test": {"schema": "acme", "titles": ["acme only"]},
        "globex.test": {"schema": "globex", "titles": ["globex 1", "globex 2"]},
    }
    calls = [
        (path, host)
        for _ in range(30)
        for host in expected
        for path in ("/async-notes/", "/notes/")
    ]
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda call: (call, get(uvicorn, *call)), calls))
    for (path, host), (status, body) in results:
        assert status == 200, (path, host)
        assert body is not None
        assert body["schema"] == expected[host]["schema"]
        assert body["titles"] == expected[host]["titles"]
    assert get(uvicorn, "/async-notes/", "nobody.test")[0] == 404
    assert get(uvicorn, "/", "public.test") == (200, {"public": True, "schema": "public"})
