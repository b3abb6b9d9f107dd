"""The admin in a real browser: headless Chromium (Debian's) driven by Playwright.

The sample project runs under ``runserver`` on a free local port, against a database of
its own on the test server (as in test_sample_project.py). Chromium resolves every
``*.localhost`` name to the loopback address, so tenants are reached by their domains
``acme.localhost:<port>`` and ``globex.localhost:<port>`` with no DNS set-up.

The scenario is one test, in the order an operator works: log in to the public admin,
create a tenant with the form, see it active, migrate it and see its migration state,
create a tenant superuser, log in to the tenant's admin, add a project, check that the
other tenant's admin does not show it; a customer signs up on the public site and lands
in the new workspace; suspend the tenant, see its domain answer 503.
Screenshots of the tenant list and change page are kept in docs/ for docs/admin.rst.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

from tests.servers import database_url, default_server_params, free_port, serving
from tests.system import require_debian_package

REPO = Path(__file__).resolve().parent.parent
# The screenshots in docs/ come from this test: it rewrites them only when asked
# (TENANCY_SCREENSHOTS=docs), so an ordinary run leaves the working tree clean.
SCREENSHOTS = (
    REPO / "docs"
    if os.environ.get("TENANCY_SCREENSHOTS") == "docs"
    else Path(tempfile.gettempdir()) / "tenancy-screenshots"
)
PASSWORD = "browser-test-pw"  # the dev-only accounts of a throwaway database
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 90_000


@dataclass(frozen=True)
class SampleServer:
    port: int
    database_url: str

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"


def _env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sample_project.settings",
        "DATABASE_URL": database_url,
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        "PYTHONUNBUFFERED": "1",
    }


def manage(database_url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=_env(database_url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def chromium() -> str:
    pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs it")
    require_debian_package("chromedriver", "chromium-driver")
    return require_debian_package("chromium", "chromium")


@pytest.fixture(scope="module")
def sample_server(
    chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SampleServer]:
    """The sample project on a fresh database: migrated, a public superuser, the tenant
    globex (made by the command line) with its own superuser, served by runserver."""
    name = f"tenancy_browser_test_{os.getpid()}"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(**default_server_params(), autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log = tmp_path_factory.mktemp("browser") / "runserver.log"
    try:
        url = database_url(settings.DATABASES["default"], name)
        manage(url, "migrate_schemas", "--noinput", "-v", "0")
        manage(url, "createsuperuser", "--noinput", "--username", "operator", "--email", "")
        manage(
            url,
            *("create_tenant", "--noinput", "--schema", "globex"),
            *("--name", "Globex Corporation", "--domain", "globex.localhost"),
        )
        manage(
            url,
            *("create_tenant_superuser", "--schema", "globex", "--noinput"),
            *("--username", "hank", "--email", "hank@globex.localhost"),
        )
        manage(url, "migrate_schemas", "--noinput", "--schema", "globex", "-v", "0")
        port = free_port()
        command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
        with serving(command, port, log, env=_env(url), cwd=REPO):
            yield SampleServer(port, url)
    finally:
        with psycopg.connect(**default_server_params(), autocommit=True) as conn:
            conn.execute(drop)


def _log_in(page, server: SampleServer, host: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url(host, "/admin/login/?next=/admin/"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")
    assert "/admin/login/" not in page.url, page.content()


def _changelist_row(page, schema: str):  # type: ignore[no-untyped-def]
    return page.locator("#result_list tbody tr").filter(
        has=page.locator("td.field-schema_name", has_text=schema)
    )


def _run_action(page, server: SampleServer, schema: str, action: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url("localhost", "/admin/tenancy_app/tenant/"))
    page.wait_for_selector("#result_list")
    _changelist_row(page, schema).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.wait_for_selector("ul.messagelist")


def test_operating_tenants_in_the_browser(sample_server: SampleServer, chromium: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    server = sample_server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            operator = browser.new_context(viewport={"width": 1280, "height": 860})
            page = operator.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)

            # The public admin: the registry, no tenant-only models.
            _log_in(page, server, "localhost", "operator")
            expect(page.locator("#content-main")).to_contain_text("Tenants")
            expect(page.locator("#content-main")).not_to_contain_text("Projects")

            # Create a tenant with the form: it is provisioned and listed active.
            page.goto(server.url("localhost", "/admin/tenancy_app/tenant/add/"))
            page.fill("#id_schema_name", "acme")
            page.fill("#id_name", "Acme Corporation")
            page.fill("#id_domain", "acme.localhost")
            page.click("input[name=_save]")
            expect(page.locator("ul.messagelist li.success")).to_contain_text("Acme Corporation")
            acme_row = _changelist_row(page, "acme")
            expect(acme_row.locator("td.field-status")).to_have_text("Active")
            expect(acme_row.locator("td.field-primary_domain")).to_have_text("acme.localhost")

            # Migrate it from the list: reported per tenant, then shown as up to date.
            _run_action(page, server, "acme", "migrate_tenants")
            expect(page.locator("ul.messagelist li.success")).to_contain_text(
                "Acme Corporation (acme): up to date"
            )
            page.goto(server.url("localhost", "/admin/tenancy_app/tenant/"))
            expect(_changelist_row(page, "acme").locator("td.field-migration_state")).to_have_text(
                "up to date"
            )
            expect(
                _changelist_row(page, "globex").locator("td.field-migration_state")
            ).to_have_text("up to date")
            page.screenshot(path=str(SCREENSHOTS / "admin-tenant-list.png"))

            # Its change page: schema statistics, domains, the last migration.
            _changelist_row(page, "acme").locator("th.field-name a, td.field-name a").click()
            page.wait_for_selector("ul.tenancy-schema-statistics")
            expect(page.locator("ul.tenancy-schema-statistics")).to_contain_text("tables:")
            expect(page.locator("#domains-group")).to_contain_text("acme.localhost")
            expect(page.locator(".field-last_migration")).to_contain_text("OK")
            page.screenshot(path=str(SCREENSHOTS / "admin-tenant-change.png"), full_page=True)

            # A superuser of the tenant (the command line), and the tenant's own admin.
            manage(
                server.database_url,
                *("create_tenant_superuser", "--schema", "acme", "--noinput"),
                *("--username", "wile", "--email", "wile@acme.localhost"),
            )
            tenant_user = browser.new_context()
            acme = tenant_user.new_page()
            acme.set_default_timeout(TIMEOUT_MS)
            response = acme.goto(server.url("acme.localhost"))
            assert response is not None and response.status == 200
            expect(acme.locator("body")).to_contain_text("Projects of Acme Corporation")
            _log_in(acme, server, "acme.localhost", "wile")
            expect(acme.locator("#site-name")).to_contain_text("Acme Corporation")
            expect(acme.locator("#content-main")).not_to_contain_text("Tenants")
            acme.goto(server.url("acme.localhost", "/admin/projects/project/add/"))
            acme.fill("#id_name", "Roadrunner Trap")
            acme.click("input[name=_save]")
            expect(acme.locator("ul.messagelist li.success")).to_contain_text("Roadrunner Trap")
            expect(acme.locator("#result_list")).to_contain_text("Roadrunner Trap")

            # acme's session cookie means nothing on globex ...
            session = next(c for c in tenant_user.cookies() if c["name"] == "sessionid")
            tenant_user.add_cookies(
                [
                    {
                        "name": "sessionid",
                        "value": session["value"],
                        "url": server.url("globex.localhost"),
                    }
                ]
            )
            acme.goto(server.url("globex.localhost", "/admin/projects/project/"))
            acme.wait_for_selector("#id_username")
            assert "/admin/login/" in acme.url
            # ... and globex's own admin does not show acme's project.
            other = browser.new_context().new_page()
            other.set_default_timeout(TIMEOUT_MS)
            _log_in(other, server, "globex.localhost", "hank")
            other.goto(server.url("globex.localhost", "/admin/projects/project/"))
            expect(other.locator("#content-main")).to_contain_text("0 projects")
            expect(other.locator("#content-main")).not_to_contain_text("Roadrunner Trap")

            # A customer signs up on the public site: a taken address is a form error, a
            # free one provisions the workspace and lands them in it, as its administrator.
            customer = browser.new_context().new_page()
            customer.set_default_timeout(TIMEOUT_MS)
            customer.goto(server.url("localhost"))
            customer.click("#signup-link")
            for field, value in (
                ("workspace", "Initech"),
                ("subdomain", "globex"),
                ("username", "peter"),
                ("email", "peter@initech.localhost"),
                ("password", "tps-reports-42"),
            ):
                customer.fill(f"#id_{field}", value)
            customer.click("#signup button[type=submit]")
            expect(customer.locator("#signup")).to_contain_text("This address is taken")
            customer.fill("#id_subdomain", "initech")
            customer.fill("#id_password", "tps-reports-42")
            customer.click("#signup button[type=submit]")
            customer.wait_for_url("**/admin/login/**")
            assert customer.url.startswith(server.url("initech.localhost")), customer.url
            customer.fill("#id_username", "peter")
            customer.fill("#id_password", "tps-reports-42")
            customer.click("input[type=submit]")
            expect(customer.locator("#site-name")).to_contain_text("Initech")
            page.goto(server.url("localhost", "/admin/tenancy_app/tenant/"))
            expect(_changelist_row(page, "initech").locator("td.field-status")).to_have_text(
                "Active"
            )

            # Suspend acme in the public admin: its domain answers 503 at once.
            _run_action(page, server, "acme", "suspend_tenants")
            expect(page.locator("ul.messagelist li.success")).to_contain_text("Suspended")
            response = acme.goto(server.url("acme.localhost", "/admin/"))
            assert response is not None and response.status == 503
            expect(acme.locator("body")).to_contain_text("not available")
            response = other.goto(server.url("globex.localhost", "/admin/"))
            assert response is not None and response.status == 200
        finally:
            browser.close()
