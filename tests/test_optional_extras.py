"""The integrations are optional: without their packages the core imports and checks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ["celery", "kombu", "channels", "daphne", "storages", "boto3", "redis", "django_redis",
          "websockets", "moto"]  # fmt: skip

SCRIPT = textwrap.dedent(
    f"""
    import sys

    class Missing:  # as if none of the extras' packages were installed
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {EXTRAS!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

    sys.meta_path.insert(0, Missing())

    import django
    from django.conf import settings

    apps = ["tenancy_app", "django.contrib.contenttypes", "django.contrib.auth",
            "django.contrib.sessions"]
    settings.configure(
        INSTALLED_APPS=apps,
        DATABASES={{"default": {{"ENGINE": "tenancy_app.backends.postgresql", "NAME": "x"}}}},
        DATABASE_ROUTERS=["tenancy_app.routers.TenantRouter"],
        MIDDLEWARE=["tenancy_app.middleware.TenantMiddleware"],
        TENANCY={{"SHARED_APPS": apps, "TENANT_APPS": apps[1:]}},
    )
    django.setup()
    import tenancy_app.cache, tenancy_app.log, tenancy_app.signals, tenancy_app.storage
    from django.core.management import call_command

    call_command("check")
    for extra in ("tenancy_app.contrib.celery", "tenancy_app.contrib.s3"):
        try:
            __import__(extra + (".apps" if extra.endswith("celery") else ""))
            __import__(extra + (".propagation" if extra.endswith("celery") else ""))
        except ModuleNotFoundError as exc:
            print("without its extra:", extra, exc.name)
    """
)


def test_core_imports_and_checks_without_any_extra():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "without its extra: tenancy_app.contrib.celery celery" in result.stdout
    assert "without its extra: tenancy_app.contrib.s3 storages" in result.stdout
