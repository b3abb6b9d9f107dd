"""URLs of the public site (localhost, 127.0.0.1): TENANCY["PUBLIC_URLCONF"]."""

from __future__ import annotations

from django.urls import path

from sample_project.site import views
from sample_project.site.admin import public_admin_site

urlpatterns = [
    path("", views.landing, name="landing"),
    path("admin/", public_admin_site.urls),
]
