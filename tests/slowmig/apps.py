from django.apps import AppConfig


class SlowmigConfig(AppConfig):
    name = "tests.slowmig"
    label = "slowmig"
    default_auto_field = "django.db.models.BigAutoField"
