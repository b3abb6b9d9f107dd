"""Sphinx configuration: ``python -m sphinx -W -b html docs docs/_build/html``.

The pages stay plain reStructuredText that reads on its own (links between pages are
written ``page.rst``, as GitHub and editors follow them); the HTML build rewrites such
links to the built pages.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent), str(DOCS)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_settings")

import django  # noqa: E402

django.setup()  # autodoc imports modules that need the app registry

project = "tenancy-app"
author = "tenancy-app contributors"
copyright = "tenancy-app contributors"
extensions = ["sphinx.ext.autodoc"]
exclude_patterns = ["_build", "django_settings.py"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False
suppress_warnings = ["ref.python"]


def _rst_links_to_html(app: Any, doctree: Any, docname: str) -> None:
    """``page.rst`` and ``page.rst#anchor`` links (plain RST) point at the built pages."""
    from docutils import nodes

    for reference in doctree.findall(nodes.reference):
        uri = reference.get("refuri", "")
        if "://" in uri or ".rst" not in uri:
            continue
        path, _, anchor = uri.partition("#")
        if path.endswith(".rst"):
            target = path[: -len(".rst")] + ".html"
            if target.startswith("../"):  # CHANGELOG.rst and README.rst live beside docs/
                continue
            reference["refuri"] = target + (f"#{anchor}" if anchor else "")


def setup(app: Any) -> None:
    app.connect("doctree-resolved", _rst_links_to_html)
