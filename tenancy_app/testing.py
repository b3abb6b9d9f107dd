"""Public test helpers: fast tenant test cases.

``TenantTestCase`` provisions its tenant once per class, inside the transaction Django's
``TestCase`` holds for the whole class; PostgreSQL DDL is transactional, so the schema
disappears with the rollback at the end of the class, and no test leaves anything behind.
``setUpTestData`` and every test run inside the tenant's context.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.test import TestCase

from .conf import tenancy_settings
from .context import Activation, tenant_context
from .models import TenantBase
from .provisioning import provision_tenant
from .template_schema import ensure_template


class TenantTestCase(TestCase):
    tenant_schema: ClassVar[str] = "test_tenant"
    tenant_name: ClassVar[str] = "Test tenant"
    tenant_domain: ClassVar[str | None] = "tenant.test"
    tenant: ClassVar[TenantBase]
    _tenant_activation: ClassVar[Activation | None] = None

    @classmethod
    def setUpClass(cls) -> None:
        # Before the class-wide transaction: a template schema made inside it would be
        # rolled back with it and made again for every class. Made here, it is committed
        # once for the test database, and each class's tenant is a copy of it.
        if tenancy_settings.PROVISION_FROM_TEMPLATE:
            ensure_template()
        super().setUpClass()

    @classmethod
    def _enter_atomics(cls) -> Any:
        # Called by TestCase.setUpClass once the class-wide transaction is open and before
        # setUpTestData (the one place where the tenant can be made in time), and again
        # for each test's savepoint: provision on the first call only.
        atomics = super()._enter_atomics()  # type: ignore[misc]
        if cls._tenant_activation is not None:
            return atomics
        cls.tenant = provision_tenant(
            schema_name=cls.tenant_schema, name=cls.tenant_name, domain=cls.tenant_domain
        )
        cls._tenant_activation = tenant_context(cls.tenant)
        cls._tenant_activation.__enter__()
        return atomics

    @classmethod
    def tearDownClass(cls) -> None:
        if cls._tenant_activation is not None:
            cls._tenant_activation.__exit__(None, None, None)
            cls._tenant_activation = None
        super().tearDownClass()
