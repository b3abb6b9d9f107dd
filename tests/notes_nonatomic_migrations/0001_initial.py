"""The notes app's real first migration (this package only adds a second one)."""

from importlib import import_module

Migration = import_module("tests.notes.migrations.0001_initial").Migration
