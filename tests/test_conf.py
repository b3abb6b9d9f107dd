"""The settings object: each TENANCY key declared once, documented, overridable."""

from __future__ import annotations

import re
from pathlib import Path

from django.test import override_settings

from tenancy_app.conf import Setting, TenancySettings, tenancy_settings

SETTINGS_DOC = Path(__file__).resolve().parent.parent / "docs" / "settings.rst"


def _documented_keys() -> dict[str, str]:
    """Section title -> the ``Default:`` line under it, from docs/settings.rst."""
    text = SETTINGS_DOC.read_text()
    sections = re.findall(r"^([A-Z][A-Z0-9_]+)\n=+\n\n(Default: [^\n]+)", text, flags=re.M)
    return dict(sections)


def test_every_declared_key_is_documented_with_its_default():
    documented = _documented_keys()
    declared = TenancySettings.declared()
    assert set(documented) == set(declared)
    for name, setting in declared.items():
        assert isinstance(setting, Setting)
        assert setting.doc, name
        default = repr(setting.default).replace("'", '"')
        assert default in documented[name] or f"{setting.default:_}" in documented[name], (
            name,
            documented[name],
        )


def test_values_follow_override_settings():
    assert tenancy_settings.SEARCH_PATH_SCOPE == "session"
    with override_settings(TENANCY={"SEARCH_PATH_SCOPE": "transaction"}):
        assert tenancy_settings.SEARCH_PATH_SCOPE == "transaction"
        assert tenancy_settings.raw("SEARCH_PATH_SCOPE") == "transaction"
        assert tenancy_settings.PUBLIC_SEARCH_PATH == ("public",)
    assert tenancy_settings.SEARCH_PATH_SCOPE == "session"


def test_typed_values_are_converted_once():
    with override_settings(TENANCY={"PUBLIC_DOMAINS": ["Example.COM"], "SUBFOLDER_PREFIX": "/x/"}):
        domains = tenancy_settings.PUBLIC_DOMAINS
        assert domains == {"example.com"}
        assert tenancy_settings.SUBFOLDER_PREFIX == "x"
        assert "PUBLIC_DOMAINS" in vars(tenancy_settings)  # kept: later reads are plain
