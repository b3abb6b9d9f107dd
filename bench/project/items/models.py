from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import models

ROWS_PER_TENANT = 100
CATEGORIES = ("tools", "garden", "kitchen", "office", "toys")


class Item(models.Model):
    name = models.CharField(max_length=100)
    category = models.CharField(max_length=30)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.IntegerField()
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


def sample_items() -> list[Item]:
    """The same ~100 rows for every tenant and for the plain baseline."""
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    return [
        Item(
            name=f"Item {i:03d}",
            category=CATEGORIES[i % len(CATEGORIES)],
            price=Decimal(i * 37 % 1000) / 10,
            quantity=i % 7 + 1,
            created_at=start + datetime.timedelta(hours=i),
        )
        for i in range(ROWS_PER_TENANT)
    ]
