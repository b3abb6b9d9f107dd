from __future__ import annotations

from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "sample_project.site"
    label = "site"
    verbose_name = "Public site"
    default_auto_field = "django.db.models.BigAutoField"
