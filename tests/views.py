from django.http import HttpResponseNotFound


def custom_not_found(request, exception=None):
    return HttpResponseNotFound(f"custom: {exception}")
