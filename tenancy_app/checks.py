"""System checks for tenancy_app (ids documented in docs/checks.rst)."""

from __future__ import annotations
