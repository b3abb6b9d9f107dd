"""The private APIs of Django and the standard library that tenancy_app relies on.

Each is used here, behind one small function or class, and nowhere else, with a test in
``tests/test_internals.py`` that fails loudly when a new Django (CI runs 5.2 and 6.x) or
Python changes it. The others live where they belong, each with the same kind of test:
``TestCase._enter_atomics`` (:mod:`tenancy_app.testing`) and ``ContentTypeManager._cache``
(:mod:`tenancy_app.contenttypes`).
"""

from __future__ import annotations

import argparse


class ExcludeFromModelValidation:
    """ModelForm mixin: model validation (unique checks and constraints) leaves out
    ``unvalidated_fields``, for a rule the form checks itself with a clearer message.

    Django has no public hook for the fields a ModelForm excludes from
    ``Model.validate_unique``/``validate_constraints``; ``_get_validation_exclusions`` is
    the one its ``validate_unique`` calls.
    """

    unvalidated_fields: tuple[str, ...] = ()

    def _get_validation_exclusions(self) -> set[str]:
        exclusions: set[str] = super()._get_validation_exclusions()  # type: ignore[misc]
        return exclusions | set(self.unvalidated_fields)


def option_strings(parser: argparse.ArgumentParser) -> frozenset[str]:
    """Every option string (``--schema``, ``-v``) ``parser`` accepts.

    argparse has no public way to list them; ``_option_string_actions`` is the mapping
    it parses with.
    """
    return frozenset(parser._option_string_actions)


def value_options(parser: argparse.ArgumentParser) -> dict[str, tuple[str, bool]]:
    """``dest`` -> (option string, appends) of every option of ``parser`` taking one value.

    argparse (3.11 and 3.12) strips a value of ``--`` and hands over ``[]`` instead of a
    string for ``--name=--`` (for ``action="append"``: ``[[]]``); the commands look for
    that (``TenancyCommand``). There is no public list of a parser's actions:
    ``_actions`` is the one it parses with, ``_StoreAction`` and ``_AppendAction`` the
    classes of ``action="store"`` and ``action="append"``.
    """
    return {
        action.dest: (
            max(action.option_strings, key=len),  # --schema rather than -s
            isinstance(action, argparse._AppendAction),
        )
        for action in parser._actions
        if isinstance(action, argparse._StoreAction | argparse._AppendAction)
        and action.option_strings
        and action.nargs is None
    }
