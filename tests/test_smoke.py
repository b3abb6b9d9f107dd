from tenancy_app import tenant_context
from tests.notes.models import Note


def test_two_tenants_isolated(make_tenant):
    acme = make_tenant("acme")
    globex = make_tenant("globex")
    with tenant_context(acme):
        Note.objects.create(title="a")
    with tenant_context(globex):
        assert Note.objects.count() == 0
        Note.objects.create(title="g")
    with tenant_context(acme):
        assert list(Note.objects.values_list("title", flat=True)) == ["a"]
