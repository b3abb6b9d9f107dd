from django.apps import AppConfig


class PlacesConfig(AppConfig):
    """A tenant app with a geometry column (the PostGIS suite only: tests/postgis/)."""

    name = "tests.places"
    label = "places"
    default_auto_field = "django.db.models.BigAutoField"
