"""tenancy_app.log.TenantContextFilter tags records with the active tenant."""

from __future__ import annotations

import io
import logging
import logging.config

from tenancy_app import schema_context, tenant_context
from tenancy_app.log import TenantContextFilter


def test_records_carry_schema_and_tenant_through_the_documented_logging_dict(make_tenant):
    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"tenant": {"()": "tenancy_app.log.TenantContextFilter"}},
            "formatters": {
                "tenant": {"format": "%(levelname)s [%(schema_name)s] %(tenant)s: %(message)s"}
            },
            "handlers": {
                "memory": {
                    "class": "logging.StreamHandler",
                    "stream": stream,
                    "filters": ["tenant"],
                    "formatter": "tenant",
                }
            },
            "loggers": {"tests.log": {"handlers": ["memory"], "level": "INFO"}},
        }
    )
    logger = logging.getLogger("tests.log")
    try:
        acme = make_tenant("acme")
        logger.info("outside")
        with tenant_context(acme):
            logger.info("inside")
            with schema_context("globex_like"):
                logger.warning("by name")
    finally:
        logger.handlers.clear()
    assert stream.getvalue().splitlines() == [
        "INFO [public] : outside",
        "INFO [acme] Acme (acme): inside",
        "WARNING [globex_like] : by name",
    ]


def test_values_set_earlier_are_kept_and_no_record_is_dropped(make_tenant):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.schema_name = "from_extra"
    with tenant_context(make_tenant("acme")):
        assert TenantContextFilter().filter(record) is True
    assert record.schema_name == "from_extra"
    assert record.tenant == "Acme (acme)"
