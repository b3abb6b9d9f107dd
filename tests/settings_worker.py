"""Settings of the Celery workers and ASGI servers the integration tests start.

The suite's settings, plus a lookup cache shared through Redis when
TENANCY_TEST_LOOKUP_REDIS is set, so that registry changes made by the test process
reach the worker at once (as LOOKUP_CACHE_ALIAS does in a deployment).
"""

from tests.settings import *  # noqa: F403
from tests.settings import CACHES, TENANCY, env

if env.str("TENANCY_TEST_LOOKUP_REDIS", default=""):
    CACHES = {
        **CACHES,
        "lookup": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.str("TENANCY_TEST_LOOKUP_REDIS"),
            "KEY_FUNCTION": "tenancy_app.cache.make_key",
        },
    }
    TENANCY = {**TENANCY, "LOOKUP_CACHE_ALIAS": "lookup"}
