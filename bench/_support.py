"""Helpers of bench/request_path.py: the database server, child processes, gunicorn and wrk.

Every child process runs in a process group of its own (``start_new_session``), and is
stopped with that group by :func:`stop_group`, so nothing outlives the bench, also on
Ctrl-C or an error.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PATH_UNDER_TEST = "/items/"
#: The bench project's views by name: a small dashboard (3 queries) and a one-query view,
#: where the request path's own cost is the largest share of a request.
VIEWS = {"dashboard": PATH_UNDER_TEST, "one-query": "/one/"}


def host_of(index: int) -> str:
    return f"t{index:05d}.bench"


# The database server --------------------------------------------------------------------


def database_server(pgdata: Path) -> dict[str, Any]:
    """HOST/PORT/USER/PASSWORD of DATABASE_URL's server, else of the embedded one in ``pgdata``.

    The embedded server stays up while this process runs (it holds a handle on it).
    """
    url = os.environ.get("DATABASE_URL")
    if url:
        import environ

        config = environ.Env.db_url_config(url)
    else:
        from tenancy_app.embedded import embedded_database

        config = embedded_database(pgdata, "postgres")
    return {key: config.get(key) or "" for key in ("HOST", "PORT", "USER", "PASSWORD")}


def connect(server: dict[str, Any], dbname: str, **kwargs: Any) -> Any:
    import psycopg

    return psycopg.connect(
        dbname=dbname,
        host=server["HOST"] or None,
        port=server["PORT"] or None,
        user=server["USER"] or None,
        password=server["PASSWORD"] or None,
        **kwargs,
    )


def create_database(server: dict[str, Any], name: str, *, fresh: bool) -> None:
    from psycopg import sql

    with connect(server, "postgres", autocommit=True) as conn:
        if fresh:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(server: dict[str, Any], name: str) -> None:
    from psycopg import sql

    with connect(server, "postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def database_url(server: dict[str, Any], name: str) -> str:
    """A DATABASE_URL for database ``name`` of ``server`` (a socket directory in the path)."""
    from urllib.parse import quote

    credentials = quote(server.get("USER") or "", safe="")
    if server.get("PASSWORD"):
        credentials += ":" + quote(server["PASSWORD"], safe="")
    host = server.get("HOST") or ""
    if host.startswith("/"):
        return f"postgres://{credentials}@:{server.get('PORT')}/{quote(host, safe='')}/{name}"
    return f"postgres://{credentials}@{host}:{server.get('PORT')}/{name}"


def child_env(server: dict[str, Any], dbname: str, settings: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env.pop("DATABASE_URL", None)
    env.update(
        BENCH_DB=json.dumps(server),
        BENCH_DB_NAME=dbname,
        DJANGO_SETTINGS_MODULE=f"project.{settings}",
        PYTHONPATH=os.pathsep.join([str(BENCH), str(REPO), env.get("PYTHONPATH", "")]),
        PYTHONWARNINGS="ignore::RuntimeWarning:platformdirs.api",
    )
    return env


def run_django(args: Sequence[str], env: dict[str, str]) -> Any:
    """Run ``bench/_inprocess.py args`` with ``env``; return the JSON of its last output line."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "_inprocess.py"), *args],
        env=env,
        cwd=BENCH,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


CALLGRIND_HELPER = r"""
#include <valgrind/callgrind.h>
void counting_on(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void counting_off(void) { CALLGRIND_STOP_INSTRUMENTATION; }
"""


def callgrind_helper(workdir: Path) -> Path:
    """A shared library whose ``counting_on()`` / ``counting_off()`` tell callgrind what to
    count (its client requests, from valgrind's own callgrind.h), built with the C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not Path("/usr/include/valgrind/callgrind.h").exists():
        raise SystemExit("the instructions part needs a C compiler and valgrind's callgrind.h")
    source, library = workdir / "callgrind_helper.c", workdir / "callgrind_helper.so"
    source.write_text(CALLGRIND_HELPER)
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", library, source], check=True)
    return library


def instructions(
    args: Sequence[str], env: dict[str, str], valgrind: str, helper: Path, layout: int
) -> int:
    """Instructions executed by ``bench/_inprocess.py args`` between its ``counting_on()``
    and ``counting_off()`` (see :func:`callgrind_helper`), counted by valgrind's callgrind.

    A count, not a time: the same for the same program, inputs and memory layout whatever
    else the machine is doing (Python's hash seed is fixed). The layout still moves it by
    about 1 % (see _inprocess._shift_layout): ``layout`` picks one, and the caller
    averages over several.
    """
    with tempfile.TemporaryDirectory(prefix="tenancy-bench-") as tmp:
        out = Path(tmp) / "callgrind.out"
        tool = [valgrind, "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
        done = subprocess.run(
            [*tool, sys.executable, str(BENCH / "_inprocess.py"), *args],
            env={
                **env,
                "PYTHONHASHSEED": "0",
                "BENCH_CALLGRIND_HELPER": str(helper),
                "BENCH_LAYOUT": str(layout),
            },
            cwd=BENCH,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"valgrind failed ({done.returncode}):\n{done.stderr[-2000:]}")
        for line in out.read_text().splitlines():
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no totals line")


# Processes ------------------------------------------------------------------------------


def stop_group(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Stop ``process`` and everything in its process group (SIGTERM, then SIGKILL)."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, host: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", PATH_UNDER_TEST, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def gunicorn(name: str, env: dict[str, str], *, workers: int, probe_host: str) -> Iterator[Server]:
    """A gunicorn with ``workers`` sync workers serving the bench project on a free port."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "project.wsgi:application",
        "--workers", str(workers), "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=BENCH, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn ({name}) exited with status {process.returncode}")
            with contextlib.suppress(OSError):
                status, body = get(port, probe_host)
                if status != 200 or json.loads(body)["count"] <= 0:
                    raise RuntimeError(
                        f"{name}: GET {probe_host} answered {status}: {body[:200]!r}"
                    )
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn ({name}) did not answer within 60 s")
            time.sleep(0.2)
        yield Server(name, port, process)
    finally:
        stop_group(process)


# wrk ------------------------------------------------------------------------------------

# Request strings are built once per thread, so one host or many cost wrk the same.
WRK_SCRIPT = r"""
local requests = {}
local counter = 0
local threads = 0

function setup(thread)
  thread:set("id", threads)  -- threads start at different hosts
  threads = threads + 1
end

function init(args)
  local first, count = tonumber(args[1]), tonumber(args[2])
  for i = 0, count - 1 do
    local host = string.format("t%05d.bench", first + i)
    if args[3] ~= "-" then host = args[3] end
    requests[#requests + 1] = wrk.format("GET", args[4], {["Host"] = host})
  end
  counter = (id or 0) * 37 % #requests
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

function done(summary, latency, requests)
  io.write(string.format(
    "WRK_JSON {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p99_us\": %d, " ..
    "\"mean_us\": %f, \"non2xx\": %d, \"errors\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class Traffic:
    """Which Host headers a run sends (``count`` tenant hosts from ``first``, or one fixed
    host), to which path."""

    first: int = 0
    count: int = 1
    fixed_host: str = ""
    path: str = PATH_UNDER_TEST

    def script_args(self) -> list[str]:
        return [str(self.first), str(self.count), self.fixed_host or "-", self.path]


def require_binary(binary: str, package: str) -> str:
    """Path of ``binary``, installing Debian's ``package`` first when running as root (as
    tests/system.py does)."""
    found = shutil.which(binary)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(
            f"{binary} is not installed: run `apt-get install -y {package}` (Debian) and retry."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", package], check=True, env=env, capture_output=True
    )
    found = shutil.which(binary)
    if not found:
        raise SystemExit(f"apt-get installed {package} but {binary} is still not on PATH")
    return found


class Wrk:
    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.script = workdir / "hosts.lua"
        self.script.write_text(WRK_SCRIPT)

    def run(
        self, port: int, traffic: Traffic, *, seconds: float, threads: int, connections: int
    ) -> dict[str, float]:
        """One wrk run; requests/s and latencies (ms) from the script's ``done`` summary."""
        command = [
            self.binary, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            "--timeout", "10s", "-s", str(self.script), f"http://127.0.0.1:{port}",
            "--", *traffic.script_args(),
        ]  # fmt: skip
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            out, _ = process.communicate(timeout=seconds + 60)
        finally:
            stop_group(process, timeout=2)
        text = out.decode()
        line = next((x for x in text.splitlines() if x.startswith("WRK_JSON ")), None)
        if process.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({process.returncode}):\n{text}")
        raw = json.loads(line.removeprefix("WRK_JSON "))
        return {
            "rps": raw["requests"] / (raw["duration_us"] / 1e6),
            "p50_ms": raw["p50_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000,
            "mean_ms": raw["mean_us"] / 1000,
            "bad": raw["non2xx"] + raw["errors"],
            "requests": raw["requests"],
        }


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tenancy-bench-") as path:
        yield Path(path)


# Other load on the machine --------------------------------------------------------------


class CpuMonitor:
    """How much CPU processes other than the bench's used while a run lasted (in cores).

    The bench's own processes are this one and its descendants (gunicorn, wrk once
    reaped) and, when the database server runs on this machine, the server processes
    connected to the bench's databases (found in pg_stat_activity: other clients of the
    same server count as other load). Runs on a busy machine can then be told apart.
    """

    def __init__(self, server: dict[str, Any], databases: set[str]) -> None:
        self.databases = sorted(databases)
        self.conn = connect(server, "postgres", autocommit=True) if is_local(server) else None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def _processes(self) -> list[Any]:
        import psutil

        me = psutil.Process()
        processes = [me, *me.children(recursive=True)]
        if self.conn is not None:
            rows = self.conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s)", [self.databases]
            ).fetchall()
            for (pid,) in rows:
                with contextlib.suppress(psutil.Error):
                    processes.append(psutil.Process(pid))
        return processes

    def _own_seconds(self) -> tuple[dict[tuple[int, float], float], float]:
        """CPU seconds of each live process (servers, database), and of reaped children."""
        import psutil

        live: dict[tuple[int, float], float] = {}
        for process in self._processes():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                live[process.pid, process.create_time()] = times.user + times.system
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        return live, reaped.ru_utime + reaped.ru_stime

    @staticmethod
    def _busy_seconds() -> float:
        import psutil

        times = psutil.cpu_times()
        return sum(times) - times.idle - getattr(times, "iowait", 0.0)

    @contextlib.contextmanager
    def measure(self) -> Iterator[dict[str, float]]:
        """Yield a dict that gets, after the block: ``other_cores`` (CPU of processes not
        the bench's, in cores) and ``server_cpu_s`` (CPU seconds of gunicorn and PostgreSQL,
        wrk excluded)."""
        box: dict[str, float] = {}
        busy, (live, reaped), start = self._busy_seconds(), self._own_seconds(), time.monotonic()
        yield box
        wall = time.monotonic() - start
        live_after, reaped_after = self._own_seconds()
        # Per process, so one missing from a snapshot (just started or ended) skews nothing.
        servers = sum(cpu - live.get(key, 0.0) for key, cpu in live_after.items())
        own = servers + (reaped_after - reaped)
        box["other_cores"] = max(0.0, ((self._busy_seconds() - busy) - own) / wall)
        box["server_cpu_s"] = servers

    def wait_quiet(self, threshold: float, max_wait: float) -> float:
        """Wait (up to ``max_wait`` s) for a second with other load under ``threshold``."""
        deadline = time.monotonic() + max_wait
        while True:
            with self.measure() as load:
                time.sleep(1)
            if load["other_cores"] <= threshold or time.monotonic() > deadline:
                return load["other_cores"]


def is_local(server: dict[str, Any]) -> bool:
    """Whether the database server runs on this machine (its backends are our processes)."""
    import psutil

    with connect(server, "postgres") as conn:
        backend = conn.info.backend_pid
        with contextlib.suppress(psutil.Error):
            return "postgres" in " ".join(psutil.Process(backend).cmdline())
    return False
