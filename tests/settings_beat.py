"""Settings of the ``celery beat`` process tests/test_celery.py starts: the workers'
settings plus a beat schedule written as docs/celery.rst ("Celery beat") tells users to
write it, with schedules of one second."""

from tenancy_app.contrib.celery import tenant_headers
from tests.settings_worker import *  # noqa: F403

CELERY_BEAT_SCHEDULE = {
    "tick-every-tenant": {
        "task": "tenancy_app.contrib.celery.tasks.fan_out",
        "schedule": 1.0,
        "args": ["tests.celery_tasks.tick", "every tenant"],  # task name, then its args
    },
    "acme-tick": {  # one tenant only
        "task": "tests.celery_tasks.tick",
        "schedule": 1.0,
        "args": ["acme only"],
        "options": {"headers": tenant_headers("acme")},
    },
}
