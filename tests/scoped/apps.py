from django.apps import AppConfig


class ScopedConfig(AppConfig):
    """An app in both SHARED_APPS and TENANT_APPS whose data migration is scoped."""

    name = "tests.scoped"
    label = "scoped"
    default_auto_field = "django.db.models.BigAutoField"
