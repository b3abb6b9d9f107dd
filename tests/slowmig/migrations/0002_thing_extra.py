"""A deploy's migration that takes a while: the window in which sign-ups race with it.

The sleep's length comes from the environment (SLOWMIG_SECONDS, default 0) so that only
the tests that need the window pay for it.
"""

import os

from django.db import migrations, models


def _sleep() -> str:
    seconds = float(os.environ.get("SLOWMIG_SECONDS", "0"))
    return f"SELECT pg_catalog.pg_sleep({seconds})"


class Migration(migrations.Migration):

    dependencies = [("slowmig", "0001_initial")]

    operations = [
        migrations.RunSQL(_sleep(), migrations.RunSQL.noop),
        migrations.AddField(model_name="thing", name="extra", field=models.IntegerField(default=0)),
    ]
