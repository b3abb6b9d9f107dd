"""The self-service sign-up form of the public site."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.validators import RegexValidator

from tenancy_app.conf import tenancy_settings
from tenancy_app.names import is_valid_schema_name

#: Host names allow no underscore and schema names no hyphen: letters and digits suit both.
SUBDOMAIN = RegexValidator(
    r"\A[a-z][a-z0-9]{1,29}\Z",
    "2 to 30 lower-case letters and digits, starting with a letter.",
)


class SignUpForm(forms.Form):
    """A new workspace (its name and address) and its first administrator."""

    workspace = forms.CharField(label="Workspace name", max_length=200)
    subdomain = forms.CharField(
        label="Address",
        max_length=30,
        validators=[SUBDOMAIN],
        help_text="Your workspace will be at <address>.localhost.",
    )
    username = forms.CharField(label="Your username", max_length=150)
    email = forms.EmailField(label="Your email")
    password = forms.CharField(label="Password", widget=forms.PasswordInput)

    def clean_subdomain(self) -> str:
        subdomain: str = self.cleaned_data["subdomain"]
        if not is_valid_schema_name(subdomain, reserved=tenancy_settings.RESERVED_SCHEMAS):
            raise forms.ValidationError("This address is reserved; choose another.")
        return subdomain

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        password = cleaned.get("password")
        if password:
            try:
                validate_password(password)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned
