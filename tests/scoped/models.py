from django.db import models


class Mark(models.Model):
    """One row per scoped operation that ran in this schema (see migrations/0002)."""

    label = models.CharField(max_length=50)
