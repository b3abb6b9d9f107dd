from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from tenancy_app import provision_tenant, tenant_context
from tenancy_app.exceptions import SchemaAlreadyExists, TenantAlreadyExists

from .forms import SignUpForm

#: Workspaces are served at <subdomain>.<TENANT_DOMAIN> (``*.localhost`` is the loopback).
TENANT_DOMAIN = "localhost"


def landing(request: HttpRequest) -> HttpResponse:
    """The marketing page: the same for everyone, and it shows no tenant's data."""
    return render(request, "site/landing.html")


def signup(request: HttpRequest) -> HttpResponse:
    """Self-service sign-up: provision a workspace and its first administrator, then send
    the new customer to it. A taken or invalid address is a form error; nothing is kept."""
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        domain = f"{data['subdomain']}.{TENANT_DOMAIN}"
        try:
            with transaction.atomic():  # the workspace and its administrator, or neither
                tenant = provision_tenant(
                    schema_name=data["subdomain"], name=data["workspace"], domain=domain
                )
                with tenant_context(tenant):
                    get_user_model().objects.create_superuser(
                        data["username"], data["email"], data["password"]
                    )
        except (TenantAlreadyExists, SchemaAlreadyExists):
            form.add_error("subdomain", "This address is taken; choose another.")
        else:
            port = request.get_port()
            address = f"{domain}:{port}" if port not in ("80", "443") else domain
            return HttpResponseRedirect(f"{request.scheme}://{address}/admin/login/?welcome=1")
    return render(request, "site/signup.html", {"form": form})
