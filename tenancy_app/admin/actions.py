"""Admin actions a ModelAdmin hides, on Django 5.2 and 6.x alike."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class HiddenActionsMixin:
    """ModelAdmin mixin: leave ``hidden_actions(request)`` out of ``get_actions``.

    Django 6.1 calls ``get_actions(request, action_location)`` (actions on the change
    page too) and deprecates overrides without that parameter; 5.2 passes the request
    alone. This override takes both and forwards what it was given.
    """

    def hidden_actions(self, request: HttpRequest) -> set[str]:
        return set()

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        parent: Any = super()
        if action_location is None:
            actions: dict[str, Any] = parent.get_actions(request)
        else:
            actions = parent.get_actions(request, action_location)
        for name in self.hidden_actions(request):
            actions.pop(name, None)
        return actions
