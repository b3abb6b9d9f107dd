"""Views of the contrib.users suite: sign in, and who the request's user is, with what rights."""

from django.contrib import admin
from django.contrib.auth import authenticate, login
from django.http import HttpRequest, JsonResponse
from django.urls import path

from tenancy_app import get_current_schema
from tests.notes.models import Note

if not admin.site.is_registered(Note):
    admin.site.register(Note)


def sign_in(request: HttpRequest) -> JsonResponse:
    user = authenticate(request, username=request.POST["email"], password=request.POST["password"])
    if user is None:
        return JsonResponse({"signed_in": False}, status=403)
    login(request, user)
    return JsonResponse({"signed_in": True})


def whoami(request: HttpRequest) -> JsonResponse:
    user = request.user
    return JsonResponse(
        {
            "schema": get_current_schema(),
            "email": getattr(user, "email", None),
            "is_staff": bool(getattr(user, "is_staff", False)),
            "is_superuser": bool(getattr(user, "is_superuser", False)),
            "can_add_note": user.has_perm("notes.add_note"),
        }
    )


urlpatterns = [
    path("admin/", admin.site.urls),
    path("sign-in/", sign_in),
    path("whoami/", whoami),
]
