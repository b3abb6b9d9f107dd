"""Forms of the registry admin: adding a tenant, and a tenant's domains."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..conf import tenancy_settings
from ..context import public_context
from ..internals import ExcludeFromModelValidation
from ..models import get_domain_model, get_tenant_model, normalize_domain
from ..names import is_valid_schema_name
from ..schemas import schema_exists


class TenantAddForm(forms.ModelForm):  # type: ignore[type-arg]
    """Schema name, name and primary domain of a new tenant, each checked before anything
    is created: the schema name by the naming rules, against the registry and against
    the schemas the database already has; the domain against the registry."""

    domain = forms.CharField(
        label=_("primary domain"),
        max_length=253,
        help_text=_("Host name the tenant is served at, e.g. acme.example.com."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "type" in self.fields:  # with tenant types: every tenant has one
            self.fields["type"].required = True

    def clean_domain(self) -> str:
        """The domain model's normal form (lower case, IDNA), or its reason to refuse."""
        return normalize_domain(self.cleaned_data["domain"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned: dict[str, Any] = self.cleaned_data
        schema_name = cleaned.get("schema_name")
        domain = cleaned.get("domain")
        if schema_name and not is_valid_schema_name(
            schema_name, reserved=tenancy_settings.RESERVED_SCHEMAS
        ):
            schema_name = None  # reported by the model's validation, before any SQL
        with public_context():
            registered = get_tenant_model()._default_manager.filter(schema_name=schema_name)
            # A registered name is reported by the model's unique check; an unregistered
            # schema of that name would be overwritten by nobody, but provisioning must
            # not adopt a schema it did not create.
            if schema_name and not registered.exists() and schema_exists(schema_name):
                self.add_error(
                    "schema_name",
                    ValidationError(
                        _(
                            "The database already has a schema named %(name)s, which belongs "
                            "to no tenant. Choose another name, or drop or rename that schema."
                        ),
                        code="schema_exists",
                        params={"name": schema_name},
                    ),
                )
            if domain and get_domain_model()._default_manager.filter(domain=domain).exists():
                self.add_error(
                    "domain",
                    ValidationError(
                        _("The domain %(domain)s already belongs to a tenant."),
                        code="domain_taken",
                        params={"domain": domain},
                    ),
                )
        return cleaned


class DomainInlineForm(ExcludeFromModelValidation, forms.ModelForm):  # type: ignore[type-arg]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:
            # A new row is a secondary domain unless ticked; the formset checks the rule.
            self.initial["is_primary"] = False

    # The one-primary-per-tenant constraint is checked across the whole formset
    # (DomainFormSet.clean), which sees the change from one primary to another that a
    # row-by-row check against the database would refuse.
    unvalidated_fields = ("tenant",)


class DomainFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    """A tenant's domains: if it has any, exactly one is primary."""

    def _kept_forms(self) -> list[Any]:
        return [
            form
            for form in self.forms
            if form.cleaned_data and not self._should_delete_form(form)  # type: ignore[attr-defined]
        ]

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = self._kept_forms()
        primaries = [form for form in kept if form.cleaned_data.get("is_primary")]
        if kept and len(primaries) != 1:
            raise ValidationError(
                _("Mark exactly one domain as primary (%(count)d are marked)."),
                code="one_primary",
                params={"count": len(primaries)},
            )

    def save(self, commit: bool = True) -> list[Any]:
        if commit and self.instance.pk is not None:
            # Unmark the old primary first: the database allows one primary per tenant
            # at any moment, and the rows are saved one by one.
            primary = next(
                (form for form in self._kept_forms() if form.cleaned_data.get("is_primary")),
                None,
            )
            if primary is not None:
                domain_model: Any = self.model
                others = domain_model._default_manager.filter(
                    **{self.fk.name: self.instance, "is_primary": True}
                )
                if primary.instance.pk is not None:
                    others = others.exclude(pk=primary.instance.pk)
                others.update(is_primary=False)
        saved: list[Any] = super().save(commit)
        return saved


class DomainAdminForm(ExcludeFromModelValidation, forms.ModelForm):  # type: ignore[type-arg]
    """A domain edited on its own: a tenant keeps one primary domain."""

    unvalidated_fields = ("tenant",)  # the constraint is checked in clean(), clearly

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned: dict[str, Any] = self.cleaned_data
        tenant, is_primary = cleaned.get("tenant"), cleaned.get("is_primary")
        if tenant is None:
            return cleaned
        domains = get_domain_model()._default_manager.filter(tenant=tenant)
        if self.instance.pk is not None:
            domains = domains.exclude(pk=self.instance.pk)
        primary = domains.filter(is_primary=True).first()
        if is_primary and primary is not None:
            self.add_error(
                "is_primary",
                _(
                    "%(domain)s is the primary domain of %(tenant)s: change the primary "
                    "domain on the tenant's page."
                )
                % {"domain": primary, "tenant": tenant},
            )
        elif not is_primary and primary is None:
            self.add_error(
                "is_primary",
                _("%(tenant)s has no other primary domain: keep this one primary.")
                % {"tenant": tenant},
            )
        return cleaned
