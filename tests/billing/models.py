"""A tenant app whose table has a foreign key to the tenant registry in the shared schema.

Installed only by ``tests.citus_settings``: on Citus such a foreign key needs the registry
table to be a reference table (``make_reference_tables``).
"""

from django.db import models


class Subscription(models.Model):
    # DO_NOTHING: the rows go with the tenant's schema; Django's deletion collector must
    # not look for them in the shared schema, where this table does not exist.
    tenant = models.ForeignKey("tenancy_app.Tenant", on_delete=models.DO_NOTHING)
    plan = models.CharField(max_length=50)
    seats = models.IntegerField(default=1, db_index=True)

    def __str__(self) -> str:
        return self.plan
