"""A tenant app (installed only by one test) whose model references the shared Domain model,
which itself references the Tenant model: both must become reference tables, Tenant first."""

from django.db import models


class Alias(models.Model):
    domain = models.ForeignKey("tenancy_app.Domain", on_delete=models.DO_NOTHING)
    unconstrained = models.ForeignKey(
        "tenancy_app.SchemaMigrationResult", on_delete=models.DO_NOTHING, db_constraint=False
    )

    class Meta:
        app_label = "domain_links"
