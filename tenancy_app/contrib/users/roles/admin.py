"""Members and their roles, in the admin of the schema they belong to.

On a tenant's site the page lists that tenant's members: adding one (an existing user by
email address, or a new user with a password) makes it a member, deleting one removes
it from the tenant (its account stays), and its staff and superuser status, groups and
permissions are the tenant's own. On the public site the same page holds the operators
of the public site.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import password_validation
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from ....conf import tenancy_settings
from ....context import get_current_schema, get_current_tenant
from ....exceptions import MembershipError
from ..members import _set_roles, add_member, remove_member, transfer_ownership
from ..models import Membership, User
from .models import MemberRoles


def _here_is_public() -> bool:
    return get_current_schema() == tenancy_settings.PUBLIC_SCHEMA


class MemberAddForm(forms.ModelForm):  # type: ignore[type-arg]
    """An existing user by email address, or a new one (then with a password)."""

    email = forms.EmailField(label=_("email address"))
    name = forms.CharField(label=_("name"), required=False, help_text=_("For a new user."))
    password = forms.CharField(
        label=_("password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput,
        help_text=_("For a new user only: an existing user keeps its own password."),
    )

    class Meta:
        model = MemberRoles
        fields = ["is_staff", "is_superuser"]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        email = User.objects.normalize_email(cleaned.get("email"))
        if not email:
            return cleaned
        user = User.objects.filter(email=email).first()
        if user is None:
            password = cleaned.get("password")
            if not password:
                self.add_error("password", _("A new user needs a password."))
            else:
                try:
                    password_validation.validate_password(password, User(email=email))
                except forms.ValidationError as exc:
                    self.add_error("password", exc)
        elif (
            not _here_is_public()
            and user.memberships.filter(tenant__schema_name=get_current_schema()).exists()
        ):
            self.add_error("email", _("%(email)s is a member already.") % {"email": email})
        cleaned["user"] = user
        cleaned["email"] = email
        return cleaned


class MemberRolesAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "is_staff", "is_superuser"]
    list_filter = ["is_staff", "is_superuser"]
    search_fields = ["user__email", "user__name"]
    filter_horizontal = ["groups", "permissions"]
    actions = ["make_owner"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        roles = super().get_queryset(request).select_related("user")
        if _here_is_public():
            return roles
        # A copied tenant holds its source's rows: only members' rows are shown.
        return roles.filter(
            Exists(
                Membership.objects.filter(
                    user_id=OuterRef("user_id"), tenant__schema_name=get_current_schema()
                )
            )
        )

    def get_list_display(self, request: HttpRequest) -> Any:
        return [*self.list_display, *([] if _here_is_public() else ["is_owner"])]

    @admin.display(description=_("owner"), boolean=True)
    def is_owner(self, obj: MemberRoles) -> bool:
        tenant = get_current_tenant()
        owner = Membership.objects.filter(user_id=obj.user_id, is_owner=True)
        return tenant is not None and owner.filter(tenant_id=tenant.pk).exists()

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = MemberAddForm
            kwargs["fields"] = ["email", "name", "password", "is_staff", "is_superuser"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["email", "name", "password", "is_staff", "is_superuser"]
        return ["user", "is_staff", "is_superuser", "groups", "permissions"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["user"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            obj.user.forget_roles()
            return
        data = form.cleaned_data
        user = data["user"] or User.objects.create_user(
            data["email"], data["password"], name=data["name"]
        )
        flags = {"is_staff": data["is_staff"], "is_superuser": data["is_superuser"]}
        if _here_is_public():
            roles = _set_roles(user, groups=(), permissions=(), using="default", **flags)
        else:
            tenant = get_current_tenant()
            add_member(tenant, user, **flags)  # type: ignore[arg-type]
            roles = MemberRoles.objects.get(user=user)
        obj.pk, obj.user = roles.pk, user
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        if _here_is_public():
            super().delete_model(request, obj)
        else:
            remove_member(get_current_tenant(), obj.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except MembershipError as exc:  # the owner: rolled back with the view's transaction
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().changelist_view(request, extra_context)
        except MembershipError as exc:  # a bulk delete that includes the owner
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_actions(self, request: HttpRequest, *args: Any) -> dict[str, Any]:
        actions = super().get_actions(request, *args)
        if _here_is_public() or not getattr(request.user, "is_superuser", False):
            actions.pop("make_owner", None)
        return actions

    @admin.action(description=_("Make the selected member the owner"))
    def make_owner(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        members = list(queryset[:2])
        if len(members) != 1:
            self.message_user(request, _("Select exactly one member."), messages.WARNING)
            return
        tenant = get_current_tenant()
        transfer_ownership(tenant, members[0].user)  # type: ignore[arg-type]
        self.message_user(
            request,
            _("%(user)s now owns %(tenant)s.") % {"user": members[0].user, "tenant": tenant},
            messages.SUCCESS,
        )


admin.site.register(MemberRoles, MemberRolesAdmin)
