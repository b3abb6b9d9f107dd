from __future__ import annotations

from django.urls import path

from .items.views import item_count, item_list

urlpatterns = [path("items/", item_list), path("one/", item_count)]
