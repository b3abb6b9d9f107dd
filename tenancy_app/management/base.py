"""What the tenancy management commands share: options, input, lookups and user errors.

Commands stay thin: they parse options, validate schema names before any SQL, call
the services (:mod:`tenancy_app.provisioning`, :mod:`tenancy_app.migrator`) and turn
the errors a user can fix into :class:`~django.core.management.CommandError`, which
Django prints without a traceback and answers with a non-zero exit status.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.management import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from ..audit import command_actor
from ..conf import tenancy_settings
from ..context import public_context
from ..exceptions import TenantError
from ..internals import value_options
from ..models import TenantBase, get_tenant_model
from ..names import validate_schema_name
from ..schemas import schema_exists


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn errors caused by the user's input into ``CommandError`` (no traceback).

    Covers :class:`~tenancy_app.exceptions.InvalidSchemaName` and other validation
    errors, and every :class:`~tenancy_app.exceptions.TenantError` (tenant or schema
    already exists, schema not found, provisioning failed).
    """
    try:
        yield
    except ValidationError as exc:
        raise CommandError("; ".join(exc.messages)) from exc
    except TenantError as exc:
        raise CommandError(str(exc)) from exc


def check_schema_name(name: str, *, allow: Iterable[str] = ()) -> str:
    """Validate a tenant schema name given on the command line; runs no SQL.

    The project's public and template schemas are refused unless listed in ``allow``.
    (argparse can hand over something else than a string: ``--schema=--`` gives ``[]``.)
    """
    allowed = set(allow)
    if isinstance(name, str) and name in allowed:
        return name
    reserved = set(tenancy_settings.RESERVED_SCHEMAS) - allowed
    with user_errors():
        return validate_schema_name(name, reserved=reserved)


def add_schema_argument(parser: CommandParser, help: str, *, metavar: str = "NAME") -> None:
    """The required ``--schema`` naming the tenant a command acts on (``schema_name``)."""
    parser.add_argument("--schema", dest="schema_name", metavar=metavar, required=True, help=help)


def add_noinput_argument(parser: CommandParser, help: str | None = None) -> None:
    parser.add_argument(
        "--noinput",
        "--no-input",
        action="store_false",
        dest="interactive",
        help=help or "Never prompt: every value must come from the options.",
    )


def add_database_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--database",
        default=DEFAULT_DB_ALIAS,
        choices=tuple(connections),
        help='The database holding the tenant registry and schemas (default: "default").',
    )


def is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def get_tenant(schema_name: str, *, using: str = DEFAULT_DB_ALIAS) -> TenantBase:
    """The registered tenant owning ``schema_name``, else ``CommandError``."""
    with public_context():
        tenant = (
            get_tenant_model()._default_manager.using(using).filter(schema_name=schema_name).first()
        )
    if tenant is None:
        raise CommandError(
            f"No tenant with schema {schema_name!r}. Run `manage.py list_tenants` to see them."
        )
    return tenant


def require_schema(schema_name: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Refuse to work in a schema that does not exist.

    Without it, PostgreSQL would resolve table names in the next schema on the
    search_path, the shared one, and the command would act on shared rows.
    """
    with public_context():
        if not schema_exists(schema_name, using=using):
            raise CommandError(
                f"The schema {schema_name!r} does not exist in the database, although a "
                "tenant is registered for it."
            )


class TenancyCommand(BaseCommand):
    """Base of the tenancy commands: user errors become ``CommandError``; prompts read ``stdin``.

    ``stdin`` can be passed to ``call_command`` (as for Django's ``createsuperuser``),
    which is how tests answer prompts.
    """

    stealth_options = ("stdin",)
    stdin: IO[str]
    _value_options: dict[str, tuple[str, bool]] = {}

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        self._value_options = value_options(parser)
        return parser

    def execute(self, *args: Any, **options: Any) -> str | None:
        self.stdin = options.get("stdin") or sys.stdin
        with user_errors(), command_actor(type(self).__module__.rsplit(".", 1)[-1]):
            self._refuse_lost_values(options)
            self.validate(options)
            return super().execute(*args, **options)

    def _refuse_lost_values(self, options: dict[str, Any]) -> None:
        """``--name=--``: argparse drops the ``--`` and hands over ``[]`` as the value."""
        for dest, (option, appends) in self._value_options.items():
            value = options.get(dest)
            values = value if appends and isinstance(value, list) else [value]
            if any(isinstance(item, list) for item in values):
                raise CommandError(f"{option} needs a value; '--' is not one.")

    def validate(self, options: dict[str, Any]) -> None:
        """Check the options before anything else runs (system checks, any SQL).

        Subclasses validate schema names here and raise ``CommandError``.
        """

    def can_prompt(self, options: dict[str, Any]) -> bool:
        """Prompts are shown only on a terminal and never with ``--noinput``."""
        return bool(options.get("interactive", True)) and is_terminal(self.stdin)

    def confirm_by_typing(
        self, options: dict[str, Any], *, action: str, warning: str, expected: str, label: str
    ) -> None:
        """Unless ``--noinput``: show ``warning`` and have the user type ``expected``.

        Refuses (``CommandError``, nothing changed) without a terminal or on a wrong answer.
        ``action`` is the verb ("delete", "rename"), ``label`` what to type ("the schema
        name").
        """
        if not options["interactive"]:
            return
        if not self.can_prompt(options):
            raise CommandError(
                f"Refusing to {action} without confirmation: not running on a terminal. "
                f"Pass --noinput to {action} anyway."
            )
        self.stdout.write(warning)
        answer = self.prompt(f"Type {label} ({expected}) to confirm: ")
        if answer != expected:
            raise CommandError(
                f"{action.capitalize()} cancelled: the answer did not match; nothing changed."
            )

    def waiting(self, options: dict[str, Any]) -> Callable[[float], None]:
        """Progress for a fenced operation (delete, rename) about to wait for other processes."""

        def report(seconds: float) -> None:
            if options.get("verbosity", 1) >= 1:
                self.stdout.write(
                    f"Waiting {seconds:.1f} s until no other process may still use the schema "
                    "(TENANCY['REGISTRY_MAX_AGE'])..."
                )
                self.stdout.flush()

        return report

    def prompt(self, question: str) -> str:
        """Ask one question on stdout and read one line of stdin (``CommandError`` on EOF)."""
        self.stdout.write(question, ending="")
        self.stdout.flush()
        line = self.stdin.readline()
        if not line:
            raise CommandError("Aborted: no answer (end of input).")
        return line.strip()


class StatusCommand(TenancyCommand):
    """A command that moves one tenant to another status (suspend_tenant, activate_tenant)."""

    #: the Python API call (``suspend_tenant``, ``activate_tenant``): returns whether it changed
    change: Callable[..., bool]
    #: "Suspended" / "Activated", and what every process then does
    done: str
    follows: str
    #: the status it is in when nothing changed: "suspended" / "active"
    already: str

    def add_arguments(self, parser: CommandParser) -> None:
        add_schema_argument(parser, "Schema name of the tenant.")
        add_database_argument(parser)

    def validate(self, options: dict[str, Any]) -> None:
        check_schema_name(options["schema_name"])

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant(options["schema_name"], using=options["database"])
        changed = type(self).change(tenant, using=options["database"])
        if options["verbosity"] < 1:
            return
        if changed:
            seconds = f"{tenancy_settings.REGISTRY_MAX_AGE:g}"
            self.stdout.write(
                self.style.SUCCESS(f"{self.done} {tenant}; {self.follows} within {seconds} s.")
            )
        else:
            self.stdout.write(f"{tenant} was already {self.already}; nothing changed.")
