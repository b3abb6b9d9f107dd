"""WSGI entry point for gunicorn; DJANGO_SETTINGS_MODULE is set by the bench."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings_tenancy")
application = get_wsgi_application()
