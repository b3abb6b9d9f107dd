"""Load isolation: 10,000 requests over 20 tenants through four real serving set-ups.

Each set-up serves 2,500 requests from 8 client threads, a quarter of them writes, to
20 tenants whose hosts are interleaved so that every connection keeps switching schema:

- gunicorn with gthread workers (2 x 4 threads), persistent connections;
- uvicorn (2 workers) with async views;
- gunicorn with Django's psycopg pool and ``MAX_SCHEMAS_PER_CONNECTION = 5``;
- gunicorn behind PgBouncer in transaction pooling mode (``SEARCH_PATH_SCOPE =
  "transaction"``, 4 server sessions for 8 threads).

Every response must carry its own tenant's rows (and, for sync views, say it ran in its
tenant's schema on the server); every acknowledged write must be found in its own schema
once and nowhere else. Wrong responses, errors, lost and misplaced writes must all be 0;
the requests per second of each set-up are printed (they measure this machine and the
client threads sharing it, not the library).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import Project, Traffic, gunicorn, pgbouncer, scratch_project, seed, uvicorn

pytestmark = pytest.mark.heavy

TENANTS = 20
REQUESTS = 2_500
THREADS = 8
MAX_SCHEMAS = 5


@pytest.fixture(scope="module")
def project() -> Iterator[tuple[Project, list[str]]]:
    with scratch_project("load") as project:
        yield project, seed(project, TENANTS)


@pytest.fixture
def say(capsys: pytest.CaptureFixture[str]) -> Any:
    def write(line: str) -> None:
        with capsys.disabled():
            print(f"\n  {line}")

    return write


def _run(traffic: Traffic, project: Project, label: str, say: Any) -> dict[str, Any]:
    traffic.run(requests=REQUESTS)
    report = traffic.check(project)
    say(
        f"{label}: {report['requests']} requests, {report['writes']} writes, "
        f"{report['req_per_s']} req/s; wrong {len(report['wrong'])}, errors "
        f"{report['errors']}, lost {len(report['lost'])}, misplaced {len(report['misplaced'])}"
    )
    assert report["requests"] == REQUESTS
    assert report["wrong"] == []
    assert report["errors"] == 0, report["statuses"]
    assert report["lost"] == [] and report["misplaced"] == [] and report["twice"] == []
    assert report["writes"] >= REQUESTS // 5
    return report


def test_gunicorn_gthread_workers(project, tmp_path: Path, say) -> None:
    project, tenants = project
    with gunicorn(project, tmp_path / "server.log", RELIABILITY_CONN_MAX_AGE="60") as port:
        _run(Traffic(port, tenants, threads=THREADS), project, "gunicorn gthread", say)


def test_uvicorn_async_views(project, tmp_path: Path, say) -> None:
    project, tenants = project
    with uvicorn(project, tmp_path / "server.log") as port:
        traffic = Traffic(port, tenants, threads=THREADS, asynchronous=True)
        _run(traffic, project, "uvicorn async views", say)


def test_django_pool_recycling_connections(project, tmp_path: Path, say) -> None:
    project, tenants = project
    env = {"RELIABILITY_POOL": "4", "RELIABILITY_MAX_SCHEMAS": str(MAX_SCHEMAS)}
    with gunicorn(project, tmp_path / "server.log", **env) as port:
        traffic = Traffic(port, tenants, threads=THREADS, sessions=True)
        _run(traffic, project, "gunicorn + Django's pool", say)
    assert traffic.sessions
    busiest = max(len(served) for served in traffic.sessions.values())
    say(f"  {len(traffic.sessions)} server sessions; the busiest served {busiest} tenants")
    # A session is recycled at the end of the request that takes it over the limit.
    assert busiest <= MAX_SCHEMAS + 1


def test_pgbouncer_transaction_pooling(project, tmp_path: Path, say) -> None:
    project, tenants = project
    with pgbouncer(project, pool_size=4) as url:
        env = {"DATABASE_URL": url, "RELIABILITY_SCOPE": "transaction"}
        with gunicorn(project, tmp_path / "server.log", **env) as port:
            traffic = Traffic(port, tenants, threads=THREADS)
            _run(traffic, project, "gunicorn + PgBouncer (transaction pooling)", say)
