"""Runs the tenancy_app.contrib.users suite (tests/users/) in a process of its own.

That suite needs AUTH_USER_MODEL = "tenancy_users.User" (tests/settings_users.py), which
cannot change inside a running Django; here it runs with pytest under those settings,
against the same server (its own test database), and must pass whole.
"""

from __future__ import annotations

from tests.subsuites import assert_suite_passes


def test_the_users_suite_passes_under_its_own_settings() -> None:
    assert_suite_passes("tests/users", "tests.settings_users")
