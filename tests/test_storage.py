"""Media files per tenant: on the file system, and on S3 (django-storages against moto's
S3 server, a real HTTP server in its own process)."""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.test import override_settings

from tenancy_app import delete_tenant, public_context, schema_context, tenant_context
from tenancy_app.provisioning import rename_tenant
from tenancy_app.storage import (
    TenantFileSystemStorage,
    TenantPrefixedStorage,
    tenant_relative_name,
)
from tests.servers import free_port, serving

#: Names a tenant might try to reach another tenant's file with.
ESCAPES = [
    "../globex/secret.txt",
    "./../globex/secret.txt",
    "a/../../globex/secret.txt",
    "..\\globex\\secret.txt",
    "/globex/secret.txt",
    "//globex/secret.txt",
    "\\globex\\secret.txt",
    "C:\\globex\\secret.txt",
    "secret.txt\x00",
    "..",
]
#: Odd but harmless names: they stay inside the tenant and name nothing of globex's.
HARMLESS = ["globex/secret.txt", "%2e%2e/globex/secret.txt", "....//globex/secret.txt"]


@pytest.fixture
def fs_storage(tmp_path: Path) -> Iterator[TenantFileSystemStorage]:
    config = {
        "default": {
            "BACKEND": "tenancy_app.storage.TenantFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/media/"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=config):
        storage = storages["default"]
        assert isinstance(storage, TenantFileSystemStorage)
        yield storage


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    port = free_port()
    folder = tmp_path_factory.mktemp("moto")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with serving(command, port, folder / "log", env=env, cwd=folder):
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        ).create_bucket(Bucket="media")
        yield endpoint


@pytest.fixture
def s3_storage(s3_endpoint) -> Iterator[TenantPrefixedStorage]:
    pytest.importorskip("storages")
    config = {
        "default": {
            "BACKEND": "tenancy_app.contrib.s3.TenantS3Storage",
            "OPTIONS": {
                "bucket_name": "media",
                "endpoint_url": s3_endpoint,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "addressing_style": "path",
                "file_overwrite": False,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=config):
        storage = storages["default"]
        yield storage
        for schema in ("acme", "globex", "acme_two", "public"):
            storage.delete_tenant_files(schema)


@pytest.fixture(params=["filesystem", "s3"])
def storage(request) -> TenantPrefixedStorage:
    return request.getfixturevalue("fs_storage" if request.param == "filesystem" else "s3_storage")


def read(storage: TenantPrefixedStorage, name: str) -> bytes:
    with storage.open(name) as handle:
        return handle.read()


def test_each_tenant_has_its_own_files_under_one_name(storage, make_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    with tenant_context(acme):
        assert storage.save("docs/report.txt", ContentFile(b"acme's")) == "docs/report.txt"
    with tenant_context(globex):
        assert not storage.exists("docs/report.txt")
        assert storage.save("docs/report.txt", ContentFile(b"globex's")) == "docs/report.txt"
        assert read(storage, "docs/report.txt") == b"globex's"
        assert storage.listdir("docs") == ([], ["report.txt"])
        assert storage.size("docs/report.txt") == 8
    with tenant_context(acme):
        assert read(storage, "docs/report.txt") == b"acme's"
        # a second file of the same name gets another name, inside the tenant
        other = storage.save("docs/report.txt", ContentFile(b"again"))
        assert other != "docs/report.txt" and other.startswith("docs/report")
        storage.delete(other)
    with public_context():
        assert not storage.exists("docs/report.txt")
        assert storage.listdir("") == ([], [])


def test_no_name_reaches_another_tenants_file(storage, make_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    with tenant_context(globex):
        storage.save("secret.txt", ContentFile(b"globex only"))
    with tenant_context(acme):
        operations = [storage.open, storage.exists, storage.delete, storage.url, storage.size,
                      storage.listdir, lambda n: storage.save(n, ContentFile(b"x"))]  # fmt: skip
        for name in ESCAPES:
            for operation in operations:
                with pytest.raises(SuspiciousFileOperation):
                    operation(name)
        for name in HARMLESS:
            assert not storage.exists(name)
            with pytest.raises((FileNotFoundError, OSError)):
                read(storage, name)
    with tenant_context(globex):
        assert read(storage, "secret.txt") == b"globex only"


def test_filesystem_layout_and_urls(fs_storage, make_tenant, tmp_path):
    acme = make_tenant("acme")
    with tenant_context(acme):
        name = fs_storage.save("a b/é.txt", ContentFile(b"x"))
        assert fs_storage.path(name) == str(tmp_path / "acme" / "a b" / "é.txt")
        assert fs_storage.url(name) == "/media/acme/a%20b/%C3%A9.txt"
    with public_context():
        fs_storage.save("logo.png", ContentFile(b"x"))
        assert fs_storage.url("logo.png") == "/media/public/logo.png"
    assert sorted(os.listdir(tmp_path)) == ["acme", "public"]


def test_s3_keys_and_signed_urls(s3_storage, make_tenant):
    acme = make_tenant("acme")
    with tenant_context(acme):
        s3_storage.save("docs/x.txt", ContentFile(b"acme's x"))
        url = s3_storage.url("docs/x.txt")
    assert "/media/acme/docs/x.txt?" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"acme's x"
    keys = [obj.key for obj in s3_storage.bucket.objects.all()]
    assert keys == ["acme/docs/x.txt"]


def test_rename_moves_and_delete_removes_the_files(
    storage, make_tenant, django_capture_on_commit_callbacks
):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    for tenant in (acme, globex):
        with tenant_context(tenant):
            storage.save("a/one.txt", ContentFile(tenant.schema_name.encode()))
            storage.save("two.txt", ContentFile(b"2"))
    with django_capture_on_commit_callbacks(execute=True):
        rename_tenant(acme, "acme_two")
    with tenant_context(acme):  # now acme_two
        assert read(storage, "a/one.txt") == b"acme"
        assert storage.exists("two.txt")
    with schema_context("acme"):
        assert storage.listdir("") == ([], [])

    with django_capture_on_commit_callbacks(execute=True):
        delete_tenant(acme)
    assert list(storage.tenant_files("acme_two")) == []
    with tenant_context(globex):
        assert read(storage, "a/one.txt") == b"globex"  # untouched

    with django_capture_on_commit_callbacks(execute=True):
        delete_tenant(globex, drop=False)  # the schema is kept, and so are the files
    assert sorted(storage.tenant_files("globex")) == ["a/one.txt", "two.txt"]
    from tenancy_app.schemas import drop_schema

    drop_schema("globex")


def test_a_rename_onto_existing_files_moves_nothing(
    storage, make_tenant, django_capture_on_commit_callbacks, caplog
):
    acme = make_tenant("acme")
    with tenant_context(acme):
        storage.save("mine.txt", ContentFile(b"acme"))
    with schema_context("acme_two"):
        storage.save("leftover.txt", ContentFile(b"old"))
    with django_capture_on_commit_callbacks(execute=True):
        rename_tenant(acme, "acme_two")
    assert "were not moved" in caplog.text
    assert list(storage.tenant_files("acme")) == ["mine.txt"]
    assert list(storage.tenant_files("acme_two")) == ["leftover.txt"]


def test_relative_names():
    assert tenant_relative_name("a//b/./c.txt") == "a/b/c.txt"
    assert tenant_relative_name("") == ""
    for name in ESCAPES:
        with pytest.raises(SuspiciousFileOperation):
            tenant_relative_name(name)
