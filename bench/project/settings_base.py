"""What the plain and the tenancy settings share: everything but the database engine,
the installed apps, the tenant middleware and the router.

The database comes from the environment, set by ``bench/request_path.py``:
``BENCH_DB`` (JSON: HOST, PORT, USER, PASSWORD of the server) and ``BENCH_DB_NAME``.
"""

from __future__ import annotations

from typing import Any

import environ

env = environ.Env()

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]


def database(engine: str) -> dict[str, Any]:
    """The ``DATABASES["default"]`` entry: persistent connections (CONN_MAX_AGE=None)."""
    server: dict[str, Any] = env.json("BENCH_DB")
    return {
        "ENGINE": engine,
        "NAME": env.str("BENCH_DB_NAME"),
        "HOST": server.get("HOST", ""),
        "PORT": str(server.get("PORT", "")),
        "USER": server.get("USER", ""),
        "PASSWORD": server.get("PASSWORD", ""),
        "CONN_MAX_AGE": None,
    }
