from django.apps import AppConfig


class InventoryConfig(AppConfig):
    """A tenant "business app": six models over ten migrations (the benchmark's app too)."""

    name = "tests.inventory"
    label = "inventory"
    default_auto_field = "django.db.models.BigAutoField"
