"""Create, copy, rename and delete tenants, each as one operation in one transaction.

``provision_tenant`` registers the tenant, creates its schema, fills it and marks it
active. By default (``TENANCY["PROVISION_FROM_TEMPLATE"]``) the schema is filled by
copying the template schema (:mod:`tenancy_app.template_schema`) with one script of
top-level SQL statements; ``method="migrate"`` runs the migrations in the new schema
instead (which also runs the post-migrate handlers there). ``clone_tenant`` copies
another tenant's tables and rows the same way. If any step fails, the registry rows and
the schema are rolled back together and :class:`ProvisioningError` names the step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction

from .audit import Action, audited, operation
from .cloning import build_clone_script, read_catalog, render_clone_script, run_clone_script
from .conf import tenancy_settings
from .conflicts import taken_registry_field
from .context import public_context
from .exceptions import (
    CloneNotSupported,
    ProvisioningError,
    SchemaAlreadyExists,
    SchemaNotFound,
    TenantAlreadyExists,
    TenantStatusError,
)
from .leases import fence
from .migrator import migrate_schema
from .models import (
    TenantBase,
    TenantStatus,
    get_domain_model,
    get_tenant_model,
    normalize_domain,
    validate_tenant_schema_name,
)
from .schemas import create_schema, drop_schema, rename_schema, schema_exists
from .signals import send_on_commit, tenant_deleted, tenant_provisioned, tenant_renamed
from .template_schema import template_clone_script
from .tenant_types import validate_tenant_type

Method = Literal["template", "migrate"]
OnWait = Callable[[float], None]
METHODS: tuple[Method, ...] = ("template", "migrate")


class _Steps:
    """The step a tenant creation is at, for the error that names it."""

    def __init__(self) -> None:
        self.current = "registering the tenant"


@contextmanager
def _creating(schema_name: str, domain: str | None, using: str) -> Iterator[_Steps]:
    """Turn a failure of one creation into the error a caller can act on.

    A unique violation is "already exists" only when it is one: on the tenant's schema
    name or the domain (another one, such as a primary key whose sequence is behind its
    rows, is a ProvisioningError that shows it).
    """
    steps = _Steps()
    try:
        yield steps
    except IntegrityError as exc:
        taken = taken_registry_field(exc, schema_name=schema_name, domain=domain, using=using)
        if taken is not None:
            value = schema_name if taken == "schema_name" else domain
            what = "schema" if taken == "schema_name" else "domain"
            raise TenantAlreadyExists(f"A tenant with {what} {value!r} already exists.") from exc
        raise ProvisioningError(schema_name, steps.current, exc) from exc
    except (SchemaAlreadyExists, SchemaNotFound, TenantAlreadyExists, CloneNotSupported):
        raise
    except Exception as exc:
        raise ProvisioningError(schema_name, steps.current, exc) from exc


def _register(
    steps: _Steps,
    *,
    schema_name: str,
    name: str,
    domain: str | None,
    using: str,
    fields: dict[str, Any],
) -> TenantBase:
    steps.current = "registering the tenant"
    tenant = get_tenant_model()(
        schema_name=schema_name, name=name, status=TenantStatus.PROVISIONING, **fields
    )
    tenant.save(using=using)
    if domain is not None:
        steps.current = "registering the domain"
        domain_model: Any = get_domain_model()
        domain_model(tenant=tenant, domain=domain, is_primary=True).save(using=using)
    steps.current = "creating the schema"
    create_schema(schema_name, using=using)
    return tenant


def _activate(steps: _Steps, tenant: TenantBase, using: str) -> None:
    steps.current = "activating the tenant"
    tenant.status = TenantStatus.ACTIVE
    tenant.save(using=using, update_fields=["status", "updated_at"])


def _tenant_type(tenant_type: str | None, fields: dict[str, Any]) -> str:
    """The new tenant's type, from ``tenant_type`` or a ``type`` field value (not both)."""
    given = fields.pop("type", None)
    if given is not None and tenant_type is not None and given != tenant_type:
        raise ValueError(f"tenant_type={tenant_type!r} and type={given!r} disagree.")
    return validate_tenant_type(tenant_type if tenant_type is not None else given)


def _validate(schema_name: str, domain: str | None) -> str | None:
    """Check both names before any SQL; return the domain in its normal form."""
    validate_tenant_schema_name(schema_name)
    return None if domain is None else normalize_domain(domain)


@audited(Action.PROVISION, parameters=("name", "domain", "method", "tenant_type"))
def provision_tenant(
    *,
    schema_name: str,
    name: str,
    domain: str | None = None,
    method: Method | None = None,
    tenant_type: str | None = None,
    using: str = DEFAULT_DB_ALIAS,
    **fields: Any,
) -> TenantBase:
    """Create an active tenant with its schema, tables and post-migrate rows.

    ``method`` is ``"template"`` (copy the template schema, the default when
    ``TENANCY["PROVISION_FROM_TEMPLATE"]`` is true) or ``"migrate"`` (run the
    migrations in the new schema). With ``TENANCY["TENANT_TYPES"]``, ``tenant_type``
    names the tenant's type (required): its schema gets that type's apps, copied from
    that type's template. Raises
    :class:`~tenancy_app.exceptions.InvalidSchemaName` and
    :class:`~tenancy_app.exceptions.UnknownTenantType` (before any SQL),
    :class:`~tenancy_app.exceptions.TenantAlreadyExists`,
    :class:`~tenancy_app.exceptions.SchemaAlreadyExists`,
    :class:`~tenancy_app.exceptions.CloneNotSupported` (the template holds objects a
    copy cannot reproduce) or :class:`~tenancy_app.exceptions.ProvisioningError`;
    none leaves anything behind.
    """
    if method is None:
        method = "template" if tenancy_settings.PROVISION_FROM_TEMPLATE else "migrate"
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}.")
    tenant_type = _tenant_type(tenant_type, fields)
    domain = _validate(schema_name, domain)
    with (
        _creating(schema_name, domain, using) as steps,
        public_context(),
        transaction.atomic(using=using),
    ):
        script = None
        if method == "template":
            steps.current = "preparing the template schema"
            script = template_clone_script(tenant_type=tenant_type, using=using)
        tenant = _register(
            steps,
            schema_name=schema_name,
            name=name,
            domain=domain,
            using=using,
            fields={**fields, "type": tenant_type},
        )
        if script is not None:
            steps.current = "copying the template schema"
            run_clone_script(script, schema_name, using=using)
        else:
            steps.current = "migrating the schema"
            migrate_schema(schema_name, using=using, tenant=tenant)
        _activate(steps, tenant, using)
        send_on_commit(tenant_provisioned, type(tenant), using=using, tenant=tenant, method=method)
    return tenant


@audited(Action.CLONE, parameters=("source", "name", "domain"))
def clone_tenant(
    source: TenantBase,
    *,
    schema_name: str,
    name: str,
    domain: str | None = None,
    using: str = DEFAULT_DB_ALIAS,
    **fields: Any,
) -> TenantBase:
    """Create an active tenant whose schema is a copy of ``source``'s: tables and rows.

    The source tables are locked against writes (SHARE) while they are copied, so the
    copy is consistent; sequences continue where the source's are. The copy has the
    source's tenant type (its tables are that type's). Raises what
    :func:`provision_tenant` raises, and
    :class:`~tenancy_app.exceptions.SchemaNotFound` when the source has no schema.
    """
    if fields.get("type", source.type) != source.type:
        raise ValueError(
            f"A copy of {source} has its type {source.type!r}, not {fields['type']!r}."
        )
    fields = {**fields, "type": validate_tenant_type(source.type)}
    domain = _validate(schema_name, domain)
    source_schema = source.schema_name
    validate_tenant_schema_name(source_schema)
    with (
        _creating(schema_name, domain, using) as steps,
        public_context(),
        transaction.atomic(using=using),
    ):
        tenant = _register(
            steps,
            schema_name=schema_name,
            name=name,
            domain=domain,
            using=using,
            fields=fields,
        )
        steps.current = "reading the source schema"
        if not schema_exists(source_schema, using=using):
            raise SchemaNotFound(f"The schema {source_schema!r} of {source} does not exist.")
        catalog = read_catalog(source_schema, using=using)
        statements = build_clone_script(
            catalog,
            copy_rows_of={table.name for table in catalog.tables},
            set_sequences="all",
            lock_source=True,
        )
        steps.current = "copying the source schema"
        run_clone_script(
            render_clone_script(catalog, statements, using=using), schema_name, using=using
        )
        _activate(steps, tenant, using)
        send_on_commit(tenant_provisioned, type(tenant), using=using, tenant=tenant, method="clone")
    return tenant


@audited(Action.RENAME, tenant="tenant", parameters=("new_schema_name",))
def rename_tenant(
    tenant: TenantBase,
    new_schema_name: str,
    *,
    using: str = DEFAULT_DB_ALIAS,
    on_wait: OnWait | None = None,
) -> TenantBase:
    """Rename ``tenant``'s schema (``ALTER SCHEMA ... RENAME``) and its registry row together.

    Raises :class:`~tenancy_app.exceptions.InvalidSchemaName` (before any SQL),
    :class:`~tenancy_app.exceptions.TenantAlreadyExists` (another tenant has the name),
    :class:`~tenancy_app.exceptions.SchemaAlreadyExists` (a schema has it) or
    :class:`~tenancy_app.exceptions.SchemaNotFound` (the tenant has no schema); nothing
    changes then.

    The old name is fenced first (:func:`tenancy_app.leases.fence`): every process stops
    using it, and the rename waits ``TENANCY["REGISTRY_MAX_AGE"]`` seconds until none may
    still act on what it knew, so that no process can reach another schema (nor the
    shared one) under the old name. The tenant is unavailable (503) for that long;
    ``on_wait`` is called with the seconds about to be waited.
    """
    validate_tenant_schema_name(new_schema_name)
    model = get_tenant_model()
    with public_context():
        old = model._default_manager.using(using).get(pk=tenant.pk).schema_name
        _refuse_taken(model, new_schema_name, using=using)  # before the wait
        with fence([old], using=using, on_wait=on_wait), transaction.atomic(using=using):
            current = model._default_manager.using(using).select_for_update().get(pk=tenant.pk)
            if current.schema_name != old:
                raise TenantAlreadyExists(
                    f"The tenant's schema was renamed to {current.schema_name!r} meanwhile; "
                    "nothing changed."
                )
            _refuse_taken(model, new_schema_name, using=using)
            rename_schema(old, new_schema_name, using=using)
            current.schema_name = new_schema_name
            try:
                with transaction.atomic(using=using):
                    current.save(using=using, update_fields=["schema_name", "updated_at"])
            except IntegrityError as exc:
                taken = taken_registry_field(exc, schema_name=new_schema_name, using=using)
                if taken != "schema_name":
                    raise
                raise _taken(new_schema_name) from exc
            send_on_commit(
                tenant_renamed, model, using=using, tenant=current,
                old_schema_name=old, new_schema_name=new_schema_name,
            )  # fmt: skip
    tenant.schema_name = new_schema_name
    tenant.updated_at = current.updated_at
    return tenant


def _taken(schema_name: str) -> TenantAlreadyExists:
    return TenantAlreadyExists(
        f"A tenant with schema {schema_name!r} already exists; choose another name."
    )


def _refuse_taken(model: type[TenantBase], schema_name: str, *, using: str) -> None:
    if model._default_manager.using(using).filter(schema_name=schema_name).exists():
        raise _taken(schema_name)
    if schema_exists(schema_name, using=using):
        raise SchemaAlreadyExists(f"The schema {schema_name!r} already exists in the database.")


@audited(Action.SUSPEND, tenant="tenant")
def suspend_tenant(tenant: TenantBase, *, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Stop serving ``tenant`` (503 on its hosts; its schema and data are kept).

    Every process stops serving it within ``TENANCY["REGISTRY_MAX_AGE"]`` seconds (at
    once with ``LOOKUP_CACHE_ALIAS``). Returns whether the status changed (False when it
    was already suspended). Raises :class:`~tenancy_app.exceptions.TenantStatusError`
    for a tenant that is provisioning or failed.
    """
    return _set_status(
        tenant,
        TenantStatus.SUSPENDED,
        allowed_from=(TenantStatus.ACTIVE, TenantStatus.SUSPENDED),
        refusal="only an active tenant can be suspended",
        using=using,
    )


@audited(Action.ACTIVATE, tenant="tenant")
def activate_tenant(tenant: TenantBase, *, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Serve a suspended ``tenant`` again; returns whether the status changed.

    Raises :class:`~tenancy_app.exceptions.TenantStatusError` for a tenant that is
    provisioning or failed: its schema may be incomplete (provision it again instead).
    """
    return _set_status(
        tenant,
        TenantStatus.ACTIVE,
        allowed_from=(TenantStatus.SUSPENDED, TenantStatus.ACTIVE),
        refusal="not suspended, so it is not activated (its schema may be incomplete: "
        "provision it again instead)",
        using=using,
    )


def _set_status(
    tenant: TenantBase,
    status: TenantStatus,
    *,
    allowed_from: tuple[TenantStatus, ...],
    refusal: str,
    using: str,
) -> bool:
    model = get_tenant_model()
    with public_context(), transaction.atomic(using=using):
        current = model._default_manager.using(using).select_for_update().get(pk=tenant.pk)
        if current.status not in allowed_from:
            raise TenantStatusError(
                f"{current} is {current.get_status_display().lower()}: {refusal}; nothing changed."
            )
        changed = current.status != status
        if changed:
            current.status = status
            current.save(using=using, update_fields=["status", "updated_at"])
    tenant.status = current.status
    tenant.updated_at = current.updated_at
    return changed


def delete_tenant(
    tenant: TenantBase,
    *,
    drop: bool = True,
    using: str = DEFAULT_DB_ALIAS,
    on_wait: OnWait | None = None,
) -> None:
    """Delete the tenant's registry rows and, unless ``drop=False``, its schema (CASCADE).

    Dropping the schema waits ``TENANCY["REGISTRY_MAX_AGE"]`` seconds first, with the
    schema fenced, as :func:`delete_tenants` explains.
    """
    delete_tenants([tenant], drop=drop, using=using, on_wait=on_wait)


def delete_tenants(
    tenants: Iterable[TenantBase],
    *,
    drop: bool = True,
    using: str = DEFAULT_DB_ALIAS,
    on_wait: OnWait | None = None,
) -> None:
    """Delete tenants' registry rows and, unless ``drop=False``, their schemas (CASCADE).

    Before a schema is dropped it is fenced (:func:`tenancy_app.leases.fence`): every
    process stops using it, and the drop waits ``TENANCY["REGISTRY_MAX_AGE"]`` seconds
    (once for all the tenants given) until no process may still act on what it knew, so
    that none can run a statement in the shared schema, or in a new tenant's schema of
    the same name, in its place. Each tenant is deleted in its own transaction;
    ``on_wait`` is called with the seconds about to be waited.
    """
    tenants = list(tenants)
    public = tenancy_settings.PUBLIC_SCHEMA
    fenced = [t.schema_name for t in tenants if drop and t.schema_name != public]
    with public_context(), fence(fenced, using=using, on_wait=on_wait):
        for tenant in tenants:
            with (
                operation(Action.DELETE, tenant, {"drop": drop}, using=using),
                transaction.atomic(using=using),
            ):
                schema_name = tenant.schema_name
                tenant.delete(using=using)
                if drop and schema_name != public:
                    drop_schema(schema_name, using=using, missing_ok=True)
                send_on_commit(
                    tenant_deleted, type(tenant), using=using, tenant=tenant,
                    schema_name=schema_name, dropped=drop,
                )  # fmt: skip
