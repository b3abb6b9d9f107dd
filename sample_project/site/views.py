from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def landing(request: HttpRequest) -> HttpResponse:
    """The marketing page: the same for everyone, and it shows no tenant's data."""
    return render(request, "site/landing.html")
