"""A local Citus cluster (a coordinator and two workers) for the end-to-end tests.

The cluster comes from ``../shared/citus/`` beside the repository: ``cluster.sh`` starts
Debian's PostgreSQL 15 (installed with apt-get when missing) with Citus from the
``citus-pg15.tar.gz`` build next to it. Where that build is missing the tests are
skipped with how to get it.

Each run takes three consecutive ports below Linux's ephemeral range (so no
``free_port()`` of another test can collide with them), holds a lock file for them while
the cluster lives (so two runs on one machine never share them), and destroys the
cluster's data directory at the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

REPO = Path(__file__).resolve().parent.parent
#: How the tests reach the cluster script: relative to the repository root.
CLUSTER_SH = "../shared/citus/cluster.sh"
TARBALL = "../shared/citus/citus-pg15.tar.gz"
LOCKS = Path(tempfile.gettempdir()) / "tenancy-citus-ports"
HOW_TO_GET_IT = (
    "the Citus end-to-end tests need the Citus build beside the repository: "
    f"{CLUSTER_SH} and {TARBALL} (Citus 13.2.2 for PostgreSQL 15; see "
    "../shared/citus/README.md). Copy that folder next to the checkout to run them."
)


@dataclass(frozen=True)
class Cluster:
    url: str
    host: str
    coordinator_port: int
    worker_ports: tuple[int, int]
    directory: Path

    def node(self, port: int) -> str:
        return f"{self.host}:{port}"


def require_citus_build() -> None:
    """Skip (saying how to get it) unless the cluster script and the Citus build exist."""
    if not (REPO / CLUSTER_SH).is_file() or not (REPO / TARBALL).is_file():
        pytest.skip(HOW_TO_GET_IT)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@contextlib.contextmanager
def reserved_ports() -> Iterator[int]:
    """A base port with base..base+2 free, locked for this process until the block ends."""
    LOCKS.mkdir(exist_ok=True)
    bases = list(range(20000, 32000, 3))
    random.shuffle(bases)
    for base in bases:
        lock: IO[bytes] = (LOCKS / f"{base}.lock").open("wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        if all(_port_free(port) for port in range(base, base + 3)):
            try:
                yield base
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
                lock.close()
            return
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    raise RuntimeError("no three consecutive free ports found for the Citus cluster")


def _cluster_sh(command: str, directory: Path, base: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLUSTER_SH, command, str(directory)],
        cwd=REPO,
        env={**os.environ, "CITUS_BASE_PORT": str(base)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@contextlib.contextmanager
def citus_cluster() -> Iterator[Cluster]:
    """Start a coordinator and two workers; destroy them (and their data) afterwards."""
    require_citus_build()
    with reserved_ports() as base:
        # Not under pytest's tmp_path: the nodes run as the postgres user, who must be
        # able to reach the directory.
        directory = Path(tempfile.mkdtemp(prefix="tenancy-citus-"))
        try:
            started = _cluster_sh("start", directory, base)
            assert started.returncode == 0, started.stdout + started.stderr
            last = started.stdout.strip().splitlines()[-1]
            assert last.startswith("DATABASE_URL="), started.stdout + started.stderr
            yield Cluster(
                url=last.removeprefix("DATABASE_URL="),
                host="127.0.0.1",
                coordinator_port=base,
                worker_ports=(base + 1, base + 2),
                directory=directory,
            )
        finally:
            _cluster_sh("destroy", directory, base)
            if directory.exists():  # start failed before cluster.sh marked it as its own
                with contextlib.suppress(OSError):
                    directory.rmdir()
