"""Settings of the sample SaaS: a public site plus one schema per customer.

Everything that differs between machines comes from the environment (django-environ):
``DATABASE_URL`` (else an embedded PostgreSQL in ``.pgdata/sample``), ``DEBUG`` and
``SECRET_KEY``.
"""

from __future__ import annotations

from pathlib import Path

import environ

from tenancy_app.embedded import ENGINE, embedded_database

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL", engine=ENGINE)}
else:
    DATABASES = {"default": embedded_database(BASE_DIR / ".pgdata" / "sample", "tenancy_sample")}

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-sample-project-dev-only")
# "*.localhost" resolves to 127.0.0.1, so acme.localhost:8000 works with no DNS set-up.
ALLOWED_HOSTS = [".localhost", "localhost", "127.0.0.1"]

TENANCY = {
    # Live once, in the public schema: the tenant registry and the marketing site.
    "SHARED_APPS": [
        "tenancy_app",
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "django.contrib.messages",
        "tenancy_app.apps.TenancyAdminConfig",
        "django.contrib.staticfiles",
        "sample_project.site",
    ],
    # Live in every tenant schema: each customer has its own users, sessions and projects.
    "TENANT_APPS": [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "django.contrib.messages",
        "tenancy_app.apps.TenancyAdminConfig",
        "sample_project.projects",
    ],
    "PUBLIC_DOMAINS": ["localhost", "127.0.0.1"],
    "PUBLIC_URLCONF": "sample_project.urls_public",
}

INSTALLED_APPS = list(dict.fromkeys(TENANCY["SHARED_APPS"] + TENANCY["TENANT_APPS"]))

DATABASE_ROUTERS = ["tenancy_app.routers.TenantRouter"]

MIDDLEWARE = [
    "tenancy_app.middleware.TenantMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Tenant hosts use ROOT_URLCONF; public hosts use TENANCY["PUBLIC_URLCONF"].
ROOT_URLCONF = "sample_project.urls"
WSGI_APPLICATION = "sample_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "sample_project" / "templates"],
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

# Cache keys carry the active schema, so one tenant never reads another's entries.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "KEY_FUNCTION": "tenancy_app.cache.make_key",
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "admin:login"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
