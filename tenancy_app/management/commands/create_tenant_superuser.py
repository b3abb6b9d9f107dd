"""``create_tenant_superuser``: Django's ``createsuperuser`` inside one tenant's schema."""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.management.commands.createsuperuser import (
    Command as CreateSuperuserCommand,
)
from django.core.management import CommandError, CommandParser

from ...context import tenant_context
from ..base import (
    add_schema_argument,
    check_schema_name,
    get_tenant,
    is_terminal,
    require_schema,
    user_errors,
)


class Command(CreateSuperuserCommand):
    help = (
        "Create a superuser in one tenant's schema (the user exists in that tenant only). "
        "Takes createsuperuser's options; with --noinput the password comes from the "
        "DJANGO_SUPERUSER_PASSWORD environment variable, as for createsuperuser."
    )
    # Django's check compares the public schema's migrations; the tenant's schema is
    # kept current by migrate_schemas, so the check would only mislead here.
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        add_schema_argument(parser, "Schema name of the tenant the superuser belongs to.")
        super().add_arguments(parser)

    def execute(self, *args: Any, **options: Any) -> str | None:
        with user_errors():
            check_schema_name(options["schema_name"])  # before any SQL
            stdin = options.get("stdin") or sys.stdin
            if options["interactive"] and not is_terminal(stdin):
                raise CommandError(
                    "Not running on a terminal: pass --noinput with --username and --email, "
                    "and set DJANGO_SUPERUSER_PASSWORD to give the user a password."
                )
            return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        schema_name: str = options.pop("schema_name")
        tenant = get_tenant(schema_name, using=options["database"])
        require_schema(schema_name, using=options["database"])
        with tenant_context(tenant):
            super().handle(*args, **options)
