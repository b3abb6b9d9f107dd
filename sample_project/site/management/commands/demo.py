"""``manage.py demo``: migrate, create two demo tenants with data, then serve.

Idempotent: what exists already is left as it is, so a second run changes nothing and
only serves again.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, transaction

from sample_project.projects.models import Label, Project, Task
from tenancy_app import (
    get_tenant_model,
    provision_tenant,
    public_context,
    tenant_context,
)
from tenancy_app.exceptions import TenantError
from tenancy_app.models import TenantBase


@dataclass(frozen=True)
class DemoTenant:
    schema_name: str
    name: str
    domain: str
    #: project name -> (task title, done, label names)
    projects: dict[str, list[tuple[str, bool, tuple[str, ...]]]] = field(default_factory=dict)


LABELS = {"bug": "#c0392b", "feature": "#2471a3", "chore": "#7f8c8d"}

DEMO_TENANTS = (
    DemoTenant(
        "acme",
        "Acme Corporation",
        "acme.localhost",
        {
            "Rocket Skates": [
                ("Order more rocket fuel", False, ("chore",)),
                ("Fix the brakes", False, ("bug",)),
                ("Paint them red", True, ("feature",)),
            ],
            "Giant Magnet": [
                ("Calibrate polarity", False, ("bug",)),
                ("Write safety manual", False, ("chore",)),
            ],
        },
    ),
    DemoTenant(
        "globex",
        "Globex Corporation",
        "globex.localhost",
        {
            "Doomsday Device": [
                ("Hire more henchmen", False, ("chore",)),
                ("Find a volcano lair", True, ("feature",)),
            ],
            "Employee Hammocks": [
                ("Source hammock fabric", False, ("feature",)),
                ("Test weight limits", False, ("bug",)),
                ("Budget approval", False, ("chore",)),
            ],
        },
    ),
)


class Command(BaseCommand):
    help = (
        "Set up the sample SaaS and serve it: migrate_schemas, create the demo tenants "
        "acme and globex with a few projects each (skipped when they exist), create a "
        "dev-only superuser 'admin' in each, then run the development server."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default="admin",
            help="Password of the demo superuser 'admin' (default: admin). Development only.",
        )
        parser.add_argument(
            "--no-superuser",
            action="store_false",
            dest="superuser",
            help="Do not create the demo superuser 'admin'.",
        )
        parser.add_argument(
            "--no-serve",
            action="store_false",
            dest="serve",
            help="Set up only; do not start the development server.",
        )
        parser.add_argument(
            "--addrport",
            default="0.0.0.0:8000",
            help="Address and port of the development server (default: 0.0.0.0:8000).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self.migrate()
            tenants = [self.ensure_tenant(demo) for demo in DEMO_TENANTS]
            if options["superuser"]:
                self.ensure_superuser(None, options["password"])
                for tenant in tenants:
                    self.ensure_superuser(tenant, options["password"])
        except (TenantError, DatabaseError) as exc:
            raise CommandError(f"The demo set-up failed: {exc}") from exc
        port = options["addrport"].rpartition(":")[2] or "8000"
        self.print_urls(port, options["superuser"], options["password"])
        if options["serve"]:
            call_command("runserver", options["addrport"], use_reloader=False)

    def migrate(self) -> None:
        self.stdout.write("Migrating the shared schema, then every tenant schema...")
        # Two steps: on a new database the registry table must exist before
        # migrate_schemas can list the tenants to migrate.
        for which in ("shared", "tenants"):
            call_command(
                "migrate_schemas",
                interactive=False,
                verbosity=0,
                stdout=self.stdout,
                **{which: True},
            )

    def ensure_tenant(self, demo: DemoTenant) -> TenantBase:
        with public_context():
            tenant = get_tenant_model().objects.filter(schema_name=demo.schema_name).first()
        if tenant is None:
            self.stdout.write(f"Creating tenant {demo.schema_name} ({demo.domain})...")
            tenant = provision_tenant(
                schema_name=demo.schema_name, name=demo.name, domain=demo.domain
            )
        else:
            self.stdout.write(f"Tenant {demo.schema_name} exists: left as it is.")
        if not tenant.is_active:
            raise CommandError(
                f"The tenant {demo.schema_name!r} exists but is {tenant.status}: fix or delete "
                f"it (`manage.py delete_tenant`) and run demo again."
            )
        with tenant_context(tenant), transaction.atomic():
            self.seed(demo)
        return tenant

    def seed(self, demo: DemoTenant) -> None:
        """Create the demo rows that are missing (in the active tenant's schema)."""
        labels = {
            name: Label.objects.get_or_create(name=name, defaults={"color": color})[0]
            for name, color in LABELS.items()
        }
        due = datetime.date.today() + datetime.timedelta(days=7)
        for project_name, tasks in demo.projects.items():
            project, _ = Project.objects.get_or_create(
                name=project_name, defaults={"description": f"A demo project of {demo.name}."}
            )
            for title, done, label_names in tasks:
                task, created = Task.objects.get_or_create(
                    project=project, title=title, defaults={"done": done, "due_date": due}
                )
                if created:
                    task.labels.set([labels[name] for name in label_names])

    def ensure_superuser(self, tenant: TenantBase | None, password: str) -> None:
        where = f"tenant {tenant.schema_name}" if tenant else "the public schema"
        context = tenant_context(tenant) if tenant else public_context()
        with context:
            users = get_user_model()._default_manager
            if users.filter(username="admin").exists():
                self.stdout.write(f"Superuser 'admin' exists in {where}: left as it is.")
                return
            users.create_superuser(username="admin", email="", password=password)  # type: ignore[attr-defined]
        self.stdout.write(f"Created superuser 'admin' in {where}.")

    def print_urls(self, port: str, superuser: bool, password: str) -> None:
        style = self.style
        self.stdout.write("")
        self.stdout.write(style.SUCCESS("The sample SaaS is ready:"))
        self.stdout.write(f"  {'Public site:':<20} http://localhost:{port}/  (admin: /admin/)")
        for demo in DEMO_TENANTS:
            self.stdout.write(f"  {demo.name + ':':<20} http://{demo.domain}:{port}/")
        self.stdout.write("  (*.localhost resolves to 127.0.0.1; any other host gets a 404)")
        if superuser:
            self.stdout.write(
                style.WARNING(
                    f"  Development-only login on every admin above: admin / {password}  "
                    "(never use these credentials on a real server)"
                )
            )
        self.stdout.write("")
