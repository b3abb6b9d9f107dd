"""What the tenant_activated request hook costs when nobody listens.

TenantMiddleware's sync path is timed in process, without a database (a resolver
that answers one in-memory tenant, a view that returns at once), so the figure is the
middleware alone, where the hook weighs most. Three configurations run interleaved in
rounds, with the same request:

- baseline: the middleware's sync path without the hook (a copy of it, below);
- no receiver: TenantMiddleware as shipped, nobody connected to tenant_activated;
- one receiver: for information, an empty receiver connected.

    $ python bench/request_hook.py            # ~20 s
    $ python bench/request_hook.py --rounds 400 --calls 2000

Many short rounds, so that load from other processes hits all three alike. Prints,
per configuration, the fastest round (the least disturbed: the cost itself) and the
median round, each per request and as a ratio to the baseline's, and the spread of
the per-round ratios (25th-75th percentile).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=["django.contrib.contenttypes", "tenancy_app"],
    DATABASES={"default": {"ENGINE": "tenancy_app.backends.postgresql", "NAME": "unused"}},
    TENANCY={
        "SHARED_APPS": ["tenancy_app", "django.contrib.contenttypes"],
        "TENANT_APPS": ["django.contrib.contenttypes"],
        "RESOLVERS": ["__main__.MemoryResolver"],
    },
)
django.setup()

from django.http import HttpRequest, HttpResponse, HttpResponseBase  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from tenancy_app.exceptions import TenantNotFound  # noqa: E402
from tenancy_app.middleware import TenantMiddleware  # noqa: E402
from tenancy_app.models import Tenant, TenantStatus  # noqa: E402
from tenancy_app.resolvers import BaseResolver, Resolution  # noqa: E402
from tenancy_app.signals import tenant_activated  # noqa: E402

TENANT = Tenant(pk=1, schema_name="acme", name="Acme", status=TenantStatus.ACTIVE)


class MemoryResolver(BaseResolver):
    def resolve(self, request: HttpRequest) -> Resolution | None:
        return Resolution(TENANT)


class WithoutHook(TenantMiddleware):
    """The sync path as it is without the hook: the baseline."""

    def __call__(self, request: HttpRequest) -> Any:
        try:
            resolution = self.resolve(request)
        except TenantNotFound as exc:
            return self.not_found(request, exc)
        serving = self.prepare(request, resolution)
        if isinstance(serving, HttpResponseBase):
            return serving
        with serving:
            return self.get_response(request)


RESPONSE = HttpResponse("ok")


def view(request: HttpRequest) -> HttpResponse:
    return RESPONSE


def receiver(sender: Any, **kwargs: Any) -> None:
    pass


def per_call(middleware: TenantMiddleware, request: HttpRequest, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        middleware(request)
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--calls", type=int, default=2_000)
    args = parser.parse_args()

    request = RequestFactory().get("/", HTTP_HOST="acme.bench")
    baseline, shipped = WithoutHook(view), TenantMiddleware(view)
    assert shipped(request) is RESPONSE and request.tenant is TENANT
    times: dict[str, list[float]] = {"baseline": [], "no receiver": [], "one receiver": []}
    for _ in range(args.rounds):
        times["baseline"].append(per_call(baseline, request, args.calls))
        times["no receiver"].append(per_call(shipped, request, args.calls))
        tenant_activated.connect(receiver)
        times["one receiver"].append(per_call(shipped, request, args.calls))
        tenant_activated.disconnect(receiver)

    print(f"{args.rounds} rounds x {args.calls} requests, interleaved; per request:")
    base = times["baseline"]
    for name, values in times.items():
        ratios = [value / b for value, b in zip(values, base, strict=True)]
        quartiles = statistics.quantiles(ratios, n=4)
        print(
            f"  {name:13} fastest {min(values) * 1e6:6.2f} us ({min(values) / min(base):.3f}x)"
            f"   median {statistics.median(values) * 1e6:6.2f} us"
            f" ({statistics.median(values) / statistics.median(base):.3f}x)"
            f"   per-round ratio {quartiles[0]:.3f}-{quartiles[2]:.3f}"
        )


if __name__ == "__main__":
    main()
