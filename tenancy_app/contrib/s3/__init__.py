"""django-storages' S3 backend with a prefix per tenant (``pip install tenancy-app[s3]``).

.. code-block:: python

    STORAGES = {
        "default": {
            "BACKEND": "tenancy_app.contrib.s3.TenantS3Storage",
            "OPTIONS": {"bucket_name": "media", "querystring_auth": True},
        },
        "staticfiles": {...},
    }

Each tenant's objects are under ``<schema>/`` in the bucket; see
:mod:`tenancy_app.storage` for what names are accepted and what happens to the files
when a tenant is renamed or deleted.
"""

from __future__ import annotations

from storages.backends.s3 import S3Storage

from ...storage import TenantPrefixedStorage

__all__ = ["TenantS3Storage"]


class TenantS3Storage(TenantPrefixedStorage, S3Storage):  # type: ignore[misc]
    """``S3Storage`` with each tenant's objects under ``<schema>/``."""
