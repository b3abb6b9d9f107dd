"""``create_tenant``: register a tenant, create and fill its schema, mark it active."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management import CommandError, CommandParser

from ...conf import tenancy_settings
from ...exceptions import describe_error
from ...models import normalize_domain
from ...provisioning import provision_tenant
from ...tenant_types import is_typed, validate_tenant_type
from ..base import (
    TenancyCommand,
    add_database_argument,
    add_noinput_argument,
    check_schema_name,
)


def _check_name(value: str) -> None:
    if not value.strip():
        raise ValidationError("The tenant name must not be empty.")


class Command(TenancyCommand):
    help = (
        "Create a tenant: register it with its primary domain, create its schema, fill it "
        "with the tenant apps' tables and post-migrate rows by copying the template schema "
        "(or, with --migrate, by running the migrations) and mark it active. Either all of "
        "that happens or nothing is kept. Missing values are asked for on a terminal; with "
        "--noinput (or without a terminal) they are an error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--schema",
            dest="schema_name",
            metavar="NAME",
            help=(
                "Schema name: lower-case ASCII letters, digits and underscores, starting "
                "with a letter, at most 63 bytes; not 'public' or 'pg_...'."
            ),
        )
        parser.add_argument("--name", help='Display name of the tenant, e.g. "Acme Inc.".')
        parser.add_argument(
            "--type",
            dest="tenant_type",
            metavar="TYPE",
            help=(
                "The tenant's type, a key of TENANCY['TENANT_TYPES'] (required when the "
                "project has tenant types): its apps, URLconf and template schema."
            ),
        )
        domain = parser.add_mutually_exclusive_group()
        domain.add_argument(
            "--domain", help="Primary host name of the tenant, e.g. acme.example.com."
        )
        domain.add_argument(
            "--no-domain",
            action="store_true",
            help="Create the tenant without a domain (for header or subfolder resolvers).",
        )
        parser.add_argument(
            "--migrate",
            action="store_const",
            const="migrate",
            dest="method",
            help=(
                "Run the migrations in the new schema instead of copying the template schema "
                "(slower; for templates holding objects a copy cannot reproduce)."
            ),
        )
        add_noinput_argument(parser)
        add_database_argument(parser)

    def validate(self, options: dict[str, Any]) -> None:
        if options["schema_name"] is not None:
            check_schema_name(options["schema_name"])
        if options["domain"] is not None:
            options["domain"] = normalize_domain(options["domain"])
        if options["name"] is not None:
            _check_name(options["name"])
        if options["tenant_type"] is not None or not is_typed():
            validate_tenant_type(options["tenant_type"])

    def handle(self, *args: Any, **options: Any) -> None:
        interactive = self.can_prompt(options)
        schema_name = self._value(
            options["schema_name"], "--schema", "Schema name: ", check_schema_name, interactive
        )
        name = self._value(options["name"], "--name", "Tenant name: ", _check_name, interactive)
        tenant_type = ""
        if is_typed():
            names = ", ".join(tenancy_settings.TENANT_TYPES)
            tenant_type = self._value(
                options["tenant_type"],
                "--type",
                f"Tenant type ({names}): ",
                validate_tenant_type,
                interactive,
            )
        domain: str | None = None
        if not options["no_domain"]:
            domain = self._value(
                options["domain"],
                "--domain",
                "Primary domain (e.g. acme.example.com): ",
                normalize_domain,
                interactive,
            )
            domain = normalize_domain(domain)

        if options["verbosity"] >= 1:
            self.stdout.write(f"Creating tenant {schema_name!r} ...")
        tenant = provision_tenant(
            schema_name=schema_name,
            name=name,
            domain=domain,
            method=options["method"],
            tenant_type=tenant_type,
            using=options["database"],
        )
        if options["verbosity"] >= 1:
            kind = f"type {tenant.type}, " if tenant.type else ""
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created tenant {tenant.name!r}: schema {tenant.schema_name}, {kind}"
                    f"status {tenant.status}, domain {domain or '(none)'}"
                )
            )

    def _value(
        self,
        given: str | None,
        option: str,
        question: str,
        check: Callable[[str], object],
        interactive: bool,
    ) -> str:
        """The option's value, else a prompted one (asked again until valid)."""
        if given is not None:
            return given
        if not interactive:
            raise CommandError(
                f"{option} is required (prompts are only shown on a terminal without --noinput)."
            )
        while True:
            answer = self.prompt(question)
            try:
                check(answer)
            except (ValidationError, CommandError) as exc:
                self.stderr.write("Error: " + describe_error(exc))
                continue
            return answer
