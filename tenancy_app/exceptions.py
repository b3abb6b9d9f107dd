"""Every error tenancy_app raises, each subclassing the base a caller already catches."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management import CommandError
from django.http import Http404


class InvalidSchemaName(ValidationError):
    """A schema name breaks the naming rules; raised before any SQL is sent."""

    def __init__(self, name: object, reason: str) -> None:
        self.schema_name = name
        self.reason = reason
        super().__init__(
            f"Invalid schema name {name!r}: {reason}. Use lower-case ASCII letters, digits and "
            "underscores, start with a letter, at most 63 bytes; 'public', "
            "'information_schema' and names starting with 'pg_' are reserved.",
            code="invalid_schema_name",
        )


class InvalidHostName(ValidationError):
    """A domain no request can carry, or that the project keeps for itself; raised before
    any SQL is sent."""

    def __init__(self, name: object, reason: str) -> None:
        self.host_name = name
        self.reason = reason
        super().__init__(
            f"Invalid host name {name!r}: {reason}. Enter a host name such as "
            "acme.example.com: letters, digits, hyphens and dots, without scheme, port or path.",
            code="invalid_host",
        )


class UnknownTenantType(ValidationError):
    """A tenant type that ``TENANCY["TENANT_TYPES"]`` does not configure (or any type when
    it configures none); raised before any SQL."""

    def __init__(self, value: object) -> None:
        from .conf import tenancy_settings

        self.tenant_type = value
        types = tenancy_settings.TENANT_TYPES
        names = ", ".join(repr(name) for name in types)
        if not types:
            message = (
                f"The tenant type {value!r} cannot be used: TENANCY['TENANT_TYPES'] is not "
                "configured, so tenants have no type."
            )
        elif not value:
            message = f"A tenant needs a type: one of {names} (TENANCY['TENANT_TYPES'])."
        else:
            message = f"Unknown tenant type {value!r}: use one of {names}."
        super().__init__(message, code="unknown_tenant_type")


class TenantNotFound(Http404):
    """The request (host, header or path) names no known tenant."""


class TenantError(Exception):
    """Base class of failures of tenant operations (provisioning, deletion, commands)."""


class TenantUnavailable(TenantError):
    """The active schema may not be used now: raised before any statement runs in it.

    The registry changed since this process looked the tenant up (deleted, renamed,
    suspended, being deleted or renamed), or the schema does not exist. ``gone`` is true
    when the tenant (or schema) no longer exists under this name: the middleware answers
    404 then, else 503.
    """

    def __init__(self, schema_name: str, reason: str, gone: bool = False) -> None:
        self.schema_name = schema_name
        self.reason = reason
        self.gone = gone
        # args are the constructor's, so that pickle (and Celery's result backends)
        # rebuild it in another process.
        super().__init__(schema_name, reason, gone)

    def __str__(self) -> str:
        return (
            f"The schema {self.schema_name!r} cannot be used now: {self.reason}. Nothing ran "
            "in it (nor in any other schema in its place)."
        )


class TenantStatusError(TenantError):
    """The tenant's status does not allow this change (e.g. activating a failed tenant)."""


class TenantAlreadyExists(TenantError):
    """A tenant with this schema name or domain already exists."""


class SchemaAlreadyExists(TenantError):
    """A PostgreSQL schema with this name already exists in the database."""


class SchemaNotFound(TenantError):
    """The PostgreSQL schema does not exist."""


class ProvisioningError(TenantError):
    """Provisioning failed at a named step; nothing was left behind."""

    def __init__(self, schema_name: str, step: str, cause: BaseException) -> None:
        self.schema_name = schema_name
        self.step = step
        self.cause = cause
        super().__init__(
            f"Provisioning tenant {schema_name!r} failed while {step}: {cause}. "
            "Nothing was kept: the registry rows and the schema were rolled back."
        )


class CloneNotSupported(TenantError):
    """The schema to copy holds objects that a plain-SQL clone does not reproduce."""

    def __init__(self, schema_name: str, objects: list[str]) -> None:
        self.schema_name = schema_name
        self.objects = objects
        super().__init__(
            f"The schema {schema_name!r} cannot be copied with top-level SQL statements: it "
            f"holds {', '.join(objects)}. Provision tenants by running the migrations "
            "instead (`manage.py create_tenant --migrate`, or "
            "provision_tenant(..., method='migrate')), and nothing was changed."
        )


class MembershipError(TenantError):
    """A membership change of ``tenancy_app.contrib.users`` breaks a rule: the user is not
    a member, the owner would leave, a second owner would be made."""


class MigrationTargetError(TenantError):
    """The app label or migration name given to migrate_schemas does not name a migration."""


class MigrationConflict(TenantError):
    """The migration graph has several leaves in one app (``makemigrations --merge``)."""


class PlanningFailed(TenantError):
    """A group's migration plan could not be made (inconsistent history, mixed directions)."""


class MigrationRunInProgress(TenantError):
    """Another migrate_schemas run holds the lock on this database."""


class NotOnCitus(TenantError):
    """The operation needs a Citus coordinator and the database is a plain PostgreSQL server."""


class UnknownNode(TenantError):
    """The node named (``host:port``) is not a node of the Citus cluster that takes tenants."""


class SchemaNotDistributed(TenantError):
    """The tenant's schema is not a Citus distributed schema, so it has no node to move from."""


class MoveFailed(TenantError):
    """Citus refused or aborted moving a tenant; the tenant stays where it was."""

    def __init__(self, schema_name: str, target: str, cause: BaseException) -> None:
        self.schema_name = schema_name
        self.target = target
        self.cause = cause
        super().__init__(
            f"Moving tenant {schema_name!r} to {target} failed: {cause}. The tenant stays "
            "on its node and keeps serving."
        )


def describe_error(exc: BaseException) -> str:
    """One line for a failure report: the message, with the exception type for errors that
    are not ours (a tenancy error, a validation or command error says all by itself)."""
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    if isinstance(exc, TenantError | CommandError):
        message = str(exc)
    else:
        message = f"{type(exc).__name__}: {exc}"
    return " ".join(message.split())


class TaskRefused(TenantUnavailable):
    """A Celery task was not run: as it started, its tenant was unknown, gone, another
    tenant under the same schema name, or not active. It never runs in public instead.

    Like every TenantUnavailable it pickles, so Celery's result backends rebuild it in the
    process that waits for the result.
    """


class InvalidDumpFile(TenantError):
    """A file given to restore_tenant is not a tenant dump, or is corrupt or truncated.

    Raised before anything is created, or while restoring, which then rolls back.
    """


class DumpAheadOfCode(TenantError):
    """A tenant dump holds migrations this code does not have (made by newer code)."""

    def __init__(self, unknown: list[str]) -> None:
        self.unknown = unknown
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        super().__init__(
            f"The dump was made with migrations this code does not have ({shown}): restore it "
            "with the code that made it, or deploy that code first. Nothing was created."
        )
