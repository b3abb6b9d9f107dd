"""The smallest Django settings under which the docs' autodoc can import tenancy_app.

No database connection is made while the docs build.
"""

SECRET_KEY = "docs-only"  # noqa: S105
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "tenancy_app",
]
DATABASES = {"default": {"ENGINE": "tenancy_app.backends.postgresql", "NAME": "docs"}}
TENANCY = {"SHARED_APPS": ["tenancy_app"], "TENANT_APPS": []}
USE_TZ = True
