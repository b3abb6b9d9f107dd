"""Django's own test suite on this backend, against stock Django's results (heavy).

Django's tests ship in its source distribution: the harness downloads the one of the
installed Django, runs MODULES with Django's runtests.py on a real PostgreSQL once with
stock Django's backend and once with ours in each search_path scope, and compares. A
failure that only our backend has must be listed, with its reason, in
docs/django-test-suite.rst; a listed one that passes again fails the test too, so the
list stays true.

The server is Debian's PostgreSQL 15 (installed with apt-get where CI runs as root):
Django's tests use ICU collations, which the embedded PostgreSQL 18 is built without.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
import pytest

from tests.servers import PG15_BIN, pg15_server
from tests.system import require_debian_package

pytestmark = pytest.mark.heavy

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "django-test-suite.rst"

#: Django's test modules (and classes) that exercise what a database backend changes:
#: connections and transactions, the query log and query counts, DDL (schema editor,
#: migrations), introspection, the database cache, PostgreSQL's own features, and the ORM
#: that sends the statements. Left out: the cache tests of the other cache backends
#: (mostly sleeping for expiry) and modules whose tests measure time.
MODULES = [
    "backends",
    "transactions",
    "transaction_hooks",
    "migrations",
    "migrate_signals",
    "schema",
    "cache.tests.DBCacheTests",
    "cache.tests.CreateCacheTableForDBCacheTests",
    "test_utils",
    "queries",
    "postgres_tests",
    "model_fields",
    "expressions",
    "expressions_case",
    "expressions_window",
    "aggregation",
    "annotations",
    "lookup",
    "custom_lookups",
    "db_functions",
    "introspection",
    "inspectdb",
    "constraints",
    "indexes",
    "bulk_create",
    "update",
    "delete",
    "get_or_create",
    "force_insert_update",
    "select_for_update",
    "select_related",
    "prefetch_related",
    "raw_query",
    "fixtures",
    "multiple_database",
    "timezones",
    "basic",
    "many_to_one",
    "many_to_many",
    "m2m_through",
    "one_to_one",
    "generic_relations",
    "model_inheritance",
    "ordering",
    "distinct_on_fields",
    "filtered_relation",
    "defer",
    "sessions_tests",
    "contenttypes_tests",
    "signals",
    "db_utils",
]
PARALLEL = 2  # the processes runtests.py runs the tests in (CI machines have 2 cores)

RUNS = {
    "stock": {"engine": "django.db.backends.postgresql", "scope": "session"},
    "session": {"engine": "tenancy_app.backends.postgresql", "scope": "session"},
    "transaction": {"engine": "tenancy_app.backends.postgresql", "scope": "transaction"},
}

_PROBLEM = re.compile(r"^(?:FAIL|ERROR|UNEXPECTED SUCCESS): (\S+)(?: \(([\w.]+)\))?", re.M)
_RAN = re.compile(r"^Ran (\d+) tests? in ", re.M)
_VERDICT = re.compile(r"^(OK|FAILED)\b.*$", re.M)


@dataclass
class Outcome:
    """What one runtests.py run reported."""

    log: Path
    ran: int
    verdict: str
    problems: set[str] = field(default_factory=set)
    seconds: float = 0.0
    #: CPU seconds of runtests.py's processes and of the server's: unlike ``seconds``,
    #: hardly moved by other load on the machine
    cpu: float = 0.0


def parse(log: Path, seconds: float, cpu: float) -> Outcome:
    text = log.read_text(errors="replace")
    ran, verdict = _RAN.search(text), _VERDICT.search(text)
    if not ran or not verdict:
        tail = "\n".join(text.splitlines()[-40:])
        raise AssertionError(f"runtests.py did not finish ({log}):\n{tail}")
    # "FAIL: test_x (module.Class.test_x)", or "ERROR: setUpClass (module.Class)".
    problems = {dotted or name for name, dotted in _PROBLEM.findall(text)}
    return Outcome(log, int(ran.group(1)), verdict.group(0), problems, seconds, cpu)


def documented() -> dict[str, set[str]]:
    """The known differences listed in docs/django-test-suite.rst, by scope.

    Under the heading "Session scope" or "Transaction scope", each ``- ``test id````
    line is one test; the paragraph after a group of them says why.
    """
    known: dict[str, set[str]] = {"session": set(), "transaction": set()}
    scope = None
    for line in DOC.read_text().splitlines():
        heading = re.fullmatch(r"(Session|Transaction) scope", line.strip())
        if heading:
            scope = heading.group(1).lower()
        entry = re.fullmatch(r"- ``([\w.]+)``", line.strip())
        if entry and scope:
            known[scope].add(entry.group(1))
    return known


def cpu_seconds(server: dict[str, Any]) -> float:
    """CPU time used so far by the children of this process (runtests.py and its workers,
    once they have exited) and by the server's processes (its postmaster's children)."""
    import psycopg

    with psycopg.connect(**server) as conn:  # its backend's parent is the postmaster
        stat = Path(f"/proc/{conn.info.backend_pid}/stat").read_text()
    postmaster = stat.rsplit(")", 1)[1].split()[1]
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ticks / os.sysconf("SC_CLK_TCK") + children.ru_utime + children.ru_stime


@pytest.fixture(scope="module")
def django_tests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Django's tests/ folder from the sdist of the installed version."""
    version = django.__version__
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?((a|b|rc)\d+)?", version):
        pytest.skip(f"Django {version} is not a release: no sdist to download its tests from")
    download = tmp_path_factory.mktemp("django-sdist")
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:",
         "--no-deps", "--dest", str(download), f"django=={version}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert pip.returncode == 0, f"pip download django=={version} failed:\n{pip.stderr}"
    (sdist,) = download.glob("*.tar.gz")
    prefix = sdist.name.removesuffix(".tar.gz") + "/tests/"
    with tarfile.open(sdist) as archive:
        members = [member for member in archive.getmembers() if member.name.startswith(prefix)]
        # The "data" filter where this Python has it (3.11.4+; 3.14 requires one).
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(download, members=members, **safe)  # type: ignore[arg-type]
    tests = download / prefix
    assert (tests / "runtests.py").exists()
    return tests


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, Any]]:
    require_debian_package(str(PG15_BIN / "postgres"), "postgresql-15")
    # A throwaway server: no need to survive a crash, so no need to wait for the disk.
    # Its time zone is not the one Django's tests set (initdb would take the TZ that
    # Django put in this process's environment), as on a fresh server.
    with pg15_server(
        fsync="off", synchronous_commit="off", full_page_writes="off", timezone="UTC"
    ) as params:
        yield params


def runtests(
    django_tests: Path, server: dict[str, Any], label: str, name: str, labels: list[str]
) -> Outcome:
    """Run Django's runtests.py on ``labels`` with the backend and scope of RUNS[label]."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "TENANCY_DJANGO_SUITE": json.dumps(
            {**RUNS[label], "label": f"{name}_{os.getpid()}", "options": {}, **server}
        ),
    }
    log = django_tests / f"{name}.log"
    started, cpu = time.monotonic(), cpu_seconds(server)
    with log.open("wb") as out:
        subprocess.run(
            [sys.executable, "runtests.py", "--settings", "tests.django_suite_settings",
             "--parallel", str(PARALLEL), "--noinput", *labels],
            cwd=django_tests, env=environment, stdout=out, stderr=subprocess.STDOUT,
            check=False,
        )  # fmt: skip
    return parse(log, time.monotonic() - started, cpu_seconds(server) - cpu)


@pytest.fixture(scope="module")
def outcomes(django_tests: Path, server: dict[str, Any]) -> dict[str, Outcome]:
    return {label: runtests(django_tests, server, label, label, MODULES) for label in RUNS}


def only_ours(
    django_tests: Path, server: dict[str, Any], outcomes: dict[str, Outcome], scope: str
) -> set[str]:
    """The failures of our backend in ``scope`` that stock Django's does not have.

    One failing only on ours is run again, its whole module on both backends (a test
    that measures time may fail once on a busy machine); it counts if it fails again
    on ours only.
    """
    stock, ours = outcomes["stock"], outcomes[scope]
    suspects = ours.problems - stock.problems - documented()[scope]
    confirmed = (ours.problems - stock.problems) - suspects
    if suspects:
        modules = sorted({suspect.split(".")[0] for suspect in suspects})
        again = runtests(django_tests, server, scope, f"{scope}_again", modules)
        stock_again = runtests(django_tests, server, "stock", f"stock_again_{scope}", modules)
        confirmed |= {
            suspect
            for suspect in suspects
            if suspect in again.problems and suspect not in stock_again.problems
        }
    return confirmed


@pytest.mark.parametrize("scope", ["session", "transaction"])
def test_only_documented_failures_are_ours(
    django_tests: Path, server: dict[str, Any], outcomes: dict[str, Outcome], scope: str
) -> None:
    stock, ours = outcomes["stock"], outcomes[scope]
    print(
        f"\nDjango {django.__version__}, {stock.ran} tests: stock {stock.seconds:.0f} s "
        f"({stock.cpu:.0f} CPU s) {stock.verdict}; {scope} scope {ours.seconds:.0f} s "
        f"({ours.cpu:.0f} CPU s) {ours.verdict}"
    )
    assert ours.ran == stock.ran > 5000
    failing = only_ours(django_tests, server, outcomes, scope)
    known = documented()[scope]
    assert failing <= known, (
        f"failing only on our backend ({scope} scope), not in docs/django-test-suite.rst: "
        f"{sorted(failing - known)}; see {ours.log}"
    )
    assert known <= failing, (
        f"listed in docs/django-test-suite.rst ({scope} scope) but no longer failing "
        f"only on our backend: {sorted(known - failing)}"
    )
