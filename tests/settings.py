"""Settings of the test suite: a real PostgreSQL, from DATABASE_URL or the embedded server."""

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import environ

from tenancy_app.embedded import ENGINE, embedded_database

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL", engine=ENGINE)}
else:
    DATABASES = {
        "default": embedded_database(
            env.str("TENANCY_EMBEDDED_PGDATA", default=str(BASE_DIR / ".pgdata" / "tests")),
            "tenancy_tests",
        )
    }

# One test database per run, so that several runs against one server never collide.
DATABASES["default"]["TEST"] = {"NAME": f"test_tenancy_{os.getpid()}"}

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TENANCY: dict[str, Any] = {
    "SHARED_APPS": [
        "tenancy_app",
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "django.contrib.messages",
        "tenancy_app.apps.TenancyAdminConfig",
        "tests.scoped",
    ],
    "TENANT_APPS": [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "django.contrib.messages",
        "tenancy_app.apps.TenancyAdminConfig",
        "django.contrib.sites",
        "tests.notes",
        "tests.inventory",
        "tests.scoped",
    ],
    "PUBLIC_DOMAINS": ["public.test", "testserver"],
    "PUBLIC_URLCONF": "tests.urls_public",
    # Short, so that deleting and renaming tenants (which wait this long) keep tests quick.
    "REGISTRY_MAX_AGE": float(os.environ.get("TENANCY_TEST_REGISTRY_MAX_AGE", "0.5")),
}

INSTALLED_APPS = list(dict.fromkeys(TENANCY["SHARED_APPS"] + TENANCY["TENANT_APPS"]))
# The optional integrations, where their extras are installed (CI installs them all).
if find_spec("celery"):
    INSTALLED_APPS.append("tenancy_app.contrib.celery")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="cache+memory://")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "KEY_FUNCTION": "tenancy_app.cache.make_key",
    }
}

DATABASE_ROUTERS = ["tenancy_app.routers.TenantRouter"]

MIDDLEWARE = [
    "tenancy_app.middleware.TenantMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
