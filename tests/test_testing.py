from __future__ import annotations

from django.db import connection

from tenancy_app import get_current_schema, get_current_tenant
from tenancy_app.testing import TenantTestCase
from tests.notes.models import Note


class NotesInATenant(TenantTestCase):
    tenant_schema = "testing_case"

    @classmethod
    def setUpTestData(cls) -> None:
        Note.objects.create(title="from setUpTestData")

    def test_runs_in_the_tenant_with_class_data(self) -> None:
        assert get_current_tenant() == self.tenant
        assert get_current_schema() == "testing_case"
        assert list(Note.objects.values_list("title", flat=True)) == ["from setUpTestData"]

    def test_rows_live_in_the_tenant_schema(self) -> None:
        Note.objects.create(title="second")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM testing_case.notes_note")
            assert cursor.fetchone()[0] == 2

    def test_the_client_reaches_the_tenant(self) -> None:
        response = self.client.get("/notes/", HTTP_HOST="tenant.test")
        assert response.json()["titles"] == ["from setUpTestData"]
