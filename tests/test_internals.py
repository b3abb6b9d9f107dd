"""The private APIs tenancy_app relies on still behave as it expects.

Each test names what Django, psycopg or Python would have changed, so a new release
(CI runs Django 5.2 and 6.x) fails here, loudly, rather than somewhere downstream.
"""

from __future__ import annotations

import argparse

from django import forms
from django.contrib.contenttypes.models import ContentType
from django.test import TestCase

from tenancy_app.contenttypes import SchemaKeyedCache
from tenancy_app.internals import ExcludeFromModelValidation, option_strings, value_options
from tenancy_app.models import Domain


def test_model_forms_still_ask_get_validation_exclusions():
    assert hasattr(forms.BaseModelForm, "_get_validation_exclusions"), (
        "Django removed BaseModelForm._get_validation_exclusions: "
        "tenancy_app.internals.ExcludeFromModelValidation needs another hook"
    )

    class Form(ExcludeFromModelValidation, forms.ModelForm):
        unvalidated_fields = ("tenant",)

        class Meta:
            model = Domain
            fields = ["domain", "tenant", "is_primary"]

    form = Form(data={})
    form.is_valid()
    assert "tenant" in form._get_validation_exclusions()


def test_argparse_still_lists_option_strings():
    parser = argparse.ArgumentParser()
    parser.add_argument("--schema", "-s")
    assert {"--schema", "-s", "--help", "-h"} <= option_strings(parser), (
        "argparse changed _option_string_actions: tenancy_app.internals.option_strings"
    )


def test_argparse_still_lists_store_and_append_actions():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", "-n")
    parser.add_argument("--tag", action="append")
    parser.add_argument("--flag", action="store_true")
    assert value_options(parser) == {"name": ("--name", False), "tag": ("--tag", True)}


def test_testcase_still_enters_its_atomics_through_enter_atomics():
    assert callable(getattr(TestCase, "_enter_atomics", None)), (
        "Django removed TestCase._enter_atomics: tenancy_app.testing.TenantTestCase "
        "provisions its tenant there"
    )


def test_contenttypes_manager_still_caches_in_cache():
    manager = ContentType.objects
    assert isinstance(manager._cache, SchemaKeyedCache), (
        "ContentTypeManager no longer keeps its cache in _cache: "
        "tenancy_app.contenttypes.install needs another way"
    )
