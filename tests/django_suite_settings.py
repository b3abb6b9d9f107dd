"""Settings for Django's own runtests.py (tests/test_django_suite.py runs it).

Django's suite brings its own INSTALLED_APPS; this module gives it the two databases it
expects, on the server and with the backend, options and search_path scope that the
harness passes in the environment as JSON (TENANCY_DJANGO_SUITE). Modelled on the
``test_sqlite.py`` settings that ship with Django's tests.
"""

import json
import os
from typing import Any

_run: dict[str, Any] = json.loads(os.environ["TENANCY_DJANGO_SUITE"])


def _database(alias: str) -> dict[str, Any]:
    return {
        "ENGINE": _run["engine"],
        "NAME": "django_suite",
        "USER": _run["user"],
        "HOST": _run["host"],
        "PORT": str(_run["port"]),
        "OPTIONS": dict(_run["options"]),
        # One name per run and alias, so runs side by side never share a database.
        "TEST": {"NAME": f"test_{_run['label']}_{alias}"},
    }


DATABASES = {"default": _database("default"), "other": _database("other")}

SECRET_KEY = "django_tests_secret_key"  # Django's own test value
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = False

TENANCY = {"SEARCH_PATH_SCOPE": _run["scope"]}
