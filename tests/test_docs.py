"""The docs are the public contract: every dotted name they mention exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.rst", ROOT / "CHANGELOG.rst", *sorted((ROOT / "docs").glob("*.rst"))]
DOTTED = re.compile(r"\btenancy_app(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _names() -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    for document in DOCUMENTS:
        for name in DOTTED.findall(document.read_text()):
            found.setdefault(name, document.name)
    return sorted(found.items())


def _resolve(name: str) -> object:
    """The object a dotted name names: the longest importable module, then attributes."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:end]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[end:]:
            obj = getattr(obj, attribute)
        return obj
    raise ModuleNotFoundError(name)


def test_the_docs_mention_names():
    assert len(_names()) > 30


@pytest.mark.parametrize(("name", "document"), _names())
def test_every_dotted_name_in_the_docs_exists(name: str, document: str) -> None:
    try:
        _resolve(name)
    except (ImportError, AttributeError) as exc:
        app_label, _, model = name.partition(".")
        if model.isidentifier() and model[:1].isupper():  # "tenancy_app.Tenant": a model label
            apps.get_model(app_label, model)
            return
        pytest.fail(f"{document} mentions {name}, which does not exist ({exc})")
