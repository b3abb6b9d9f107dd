"""The tenant registry, kept in the shared schema.

``TenantBase`` and ``DomainBase`` are abstract; ``Tenant`` and ``Domain`` are the default
concrete models. A project that needs its own fields subclasses the bases and points
``TENANCY["TENANT_MODEL"]`` and ``TENANCY["DOMAIN_MODEL"]`` at its models (both together);
the default tables are then never created (see :mod:`tenancy_app.routers`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from .conf import tenancy_settings
from .exceptions import InvalidHostName
from .hosts import normalize_host_name
from .names import validate_schema_name
from .tenant_types import tenant_type_choices


def validate_tenant_schema_name(value: str) -> None:
    """Model-field validator: the naming rules plus the project's own reserved schemas."""
    validate_schema_name(value, reserved=tenancy_settings.RESERVED_SCHEMAS)


def normalize_domain(value: object) -> str:
    """``value`` as the project's domain model keeps it (``DomainBase.normalize_domain``).

    Raises :class:`~tenancy_app.exceptions.InvalidHostName` with the reason, before any
    SQL. ``create_tenant --domain``, the admin and provisioning all go through it.
    """
    return get_domain_model().normalize_domain(value)


def validate_host_name(value: str) -> None:
    """Model-field validator: ``value`` is a domain in its normal form."""
    normal = normalize_domain(value)
    if normal != value:
        raise InvalidHostName(value, f"write it as {normal!r}")


class TenantStatus(models.TextChoices):
    PROVISIONING = "provisioning", _("Provisioning")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    FAILED = "failed", _("Failed")


class TenantBase(models.Model):
    schema_name = models.CharField(
        _("schema name"),
        max_length=63,
        unique=True,
        validators=[validate_tenant_schema_name],
        help_text=_("PostgreSQL schema holding this tenant's tables; fixed once created."),
    )
    name = models.CharField(_("name"), max_length=200)
    status = models.CharField(
        _("status"), max_length=16, choices=TenantStatus.choices, default=TenantStatus.PROVISIONING
    )
    type = models.CharField(
        _("type"),
        max_length=63,
        blank=True,
        default="",
        db_index=True,
        choices=tenant_type_choices,
        help_text=_(
            "The tenant type (TENANCY['TENANT_TYPES']): its apps and URLconf; fixed once "
            "created. Empty when the project has no tenant types."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True
        ordering = ["schema_name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"

    @property
    def is_active(self) -> bool:
        return self.status == TenantStatus.ACTIVE


class DomainBase(models.Model):
    domain = models.CharField(
        _("domain"), max_length=253, unique=True, validators=[validate_host_name]
    )
    tenant = models.ForeignKey(
        tenancy_settings.TENANT_MODEL,
        on_delete=models.CASCADE,
        related_name="domains",
        verbose_name=_("tenant"),
    )
    is_primary = models.BooleanField(_("primary"), default=True)

    class Meta:
        abstract = True
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(is_primary=True),
                name="%(app_label)s_%(class)s_one_primary_per_tenant",
            )
        ]

    def __str__(self) -> str:
        return self.domain

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saved in its normal form; a domain no request can carry is refused here too."""
        self.domain = self.normalize_domain(self.domain)
        super().save(*args, **kwargs)

    @classmethod
    def normalize_domain(cls, value: object) -> str:
        """The one place a domain is checked: ``value`` in the form it is stored in.

        Lower case, IDNA, no trailing dot (:func:`tenancy_app.hosts.normalize_host_name`),
        and not a host of ``TENANCY["PUBLIC_DOMAINS"]``. Raises
        :class:`~tenancy_app.exceptions.InvalidHostName`. Override it to add rules.
        """
        name = normalize_host_name(value)
        if name in tenancy_settings.PUBLIC_DOMAINS:
            raise InvalidHostName(
                value,
                'it is listed in TENANCY["PUBLIC_DOMAINS"] and so served from the shared '
                "schema, never from a tenant",
            )
        return name

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        if not exclude or "domain" not in exclude:
            with contextlib.suppress(ValidationError):  # else reported by the validator
                self.domain = self.normalize_domain(self.domain)
        super().clean_fields(exclude=exclude)


class Tenant(TenantBase):
    class Meta(TenantBase.Meta):
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")


class Domain(DomainBase):
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="domains", verbose_name=_("tenant")
    )

    class Meta(DomainBase.Meta):
        verbose_name = _("domain")
        verbose_name_plural = _("domains")


class SchemaMigrationResult(models.Model):
    """The last ``migrate_schemas`` result of one schema (written by the migration engine).

    Kept in the shared schema, one row per schema, replaced on every run that reaches
    the schema (``--check`` and ``--plan`` write nothing). A separate model rather than
    fields on the tenant model, so projects with their own tenant model get it too.
    """

    class Status(models.TextChoices):
        OK = "ok", _("OK")
        FAILED = "failed", _("Failed")

    schema_name = models.CharField(_("schema name"), max_length=63, unique=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    error = models.TextField(_("error"), blank=True)
    applied = models.PositiveIntegerField(
        _("migrations run"), default=0, help_text=_("Migrations applied or unapplied.")
    )
    pending = models.PositiveIntegerField(
        _("migrations pending"), default=0, help_text=_("Still to run after this run.")
    )
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"))

    class Meta:
        ordering = ["schema_name"]
        verbose_name = _("schema migration result")
        verbose_name_plural = _("schema migration results")

    def __str__(self) -> str:
        return f"{self.schema_name}: {self.status}"


class AuditAction(models.TextChoices):
    PROVISION = "provision", _("provision")
    CLONE = "clone", _("clone")
    RENAME = "rename", _("rename")
    SUSPEND = "suspend", _("suspend")
    ACTIVATE = "activate", _("activate")
    DELETE = "delete", _("delete")
    MIGRATE = "migrate", _("migrate")
    DUMP = "dump", _("dump")
    RESTORE = "restore", _("restore")
    MARK_FAILED = "mark_failed", _("mark failed")
    DROP_ORPHAN = "drop_orphan", _("drop orphan schema")


class AuditEntry(models.Model):
    """One lifecycle operation on a tenant: who, when, what, with which outcome.

    Written by :mod:`tenancy_app.audit`, kept in the shared schema. ``tenant_key`` is
    the tenant's primary key as text, so entries outlive the tenant and follow it
    through a rename; ``schema_name`` is its schema when the operation started.
    """

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    action = models.CharField(_("action"), max_length=32, choices=AuditAction.choices)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    schema_name = models.CharField(_("schema name"), max_length=63, db_index=True)
    tenant_key = models.CharField(_("tenant id"), max_length=64, blank=True, db_index=True)
    actor = models.CharField(
        _("who"), max_length=150, help_text=_("The admin user, or the operating-system user.")
    )
    via = models.CharField(
        _("via"), max_length=100, help_text=_('"admin", "manage.py <command>" or the program.')
    )
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started"), db_index=True)
    duration = models.DurationField(_("duration"))

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")

    def __str__(self) -> str:
        return f"{self.action} {self.schema_name}: {self.outcome}"


def get_tenant_model() -> type[TenantBase]:
    """The tenant model the project uses (``TENANCY["TENANT_MODEL"]``)."""
    return apps.get_model(tenancy_settings.TENANT_MODEL, require_ready=False)


def get_domain_model() -> type[DomainBase]:
    """The domain model the project uses (``TENANCY["DOMAIN_MODEL"]``)."""
    return apps.get_model(tenancy_settings.DOMAIN_MODEL, require_ready=False)
