"""URLs of the public site (localhost, 127.0.0.1): TENANCY["PUBLIC_URLCONF"].

The admin here is ``admin.site`` (tenancy_app's TenancyAdminSite), as on tenants' hosts;
here it shows the shared apps: the operators' accounts and tenancy_app's tenant
registry (adding a tenant there provisions its schema).
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from sample_project.site import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
    path("admin/", admin.site.urls),
]
