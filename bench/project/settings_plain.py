"""The baseline: the same view in plain single-tenant Django (its table in ``public``)."""

from __future__ import annotations

from .settings_base import *  # noqa: F403
from .settings_base import database

DATABASES = {"default": database("django.db.backends.postgresql")}
INSTALLED_APPS = ["project.items"]
