"""Bench of the request path: tenancy_app against plain single-tenant Django, side by side.

    python bench/request_path.py                      # everything (about 30 minutes)
    python bench/request_path.py --parts counts       # statements, round trips, CPU
    python bench/request_path.py --parts instructions # instructions per request (callgrind)
    python bench/request_path.py --duration 15 --rounds 5 --tenants 100 --scale-tenants 10000

Two tenant views, each served with plain Django as the baseline: a dashboard (3 queries)
and a one-query view (where the request path's own cost shows most).

1. counts: statements, round trips and CPU time per request, in process with Django's
   test Client and libpq's trace.
2. throughput: requests/s under gunicorn (sync workers, persistent connections:
   CONN_MAX_AGE=None) driven by wrk, plain vs tenancy with one tenant and over many.
3. scale: latency with --scale-tenants tenant schemas in the database vs 10.
4. instructions: instructions per request of the Django process, counted by valgrind's
   callgrind (the same whatever else the machine does), in process.

The configurations run interleaved, in rounds, and medians are reported: timings on a
small machine are noisy. Nothing is asserted. The databases (tenancy_bench_*) live on the
embedded server in .pgdata/bench, or on DATABASE_URL's server; they are kept between runs
and reused when their tenant count matches (--rebuild makes them again).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any, NoReturn

sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # tenancy_app from a checkout

from _support import (
    REPO,
    VIEWS,
    CpuMonitor,
    Server,
    Traffic,
    Wrk,
    callgrind_helper,
    child_env,
    connect,
    create_database,
    database_server,
    gunicorn,
    host_of,
    instructions,
    require_binary,
    run_django,
    workdir,
)

PLAIN_DB = "tenancy_bench_plain"
PARTS = ("counts", "throughput", "scale", "instructions")
_prepared: set[str] = set()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tenancy_db(tenants: int) -> str:
    return f"tenancy_bench_{tenants}"


def prepare(server: dict[str, Any], tenants: int | None, *, rebuild: bool) -> str:
    """Create (or reuse) the plain database or a tenancy database with ``tenants`` tenants."""
    name = PLAIN_DB if tenants is None else tenancy_db(tenants)
    if name in _prepared:
        return name
    _prepared.add(name)
    create_database(server, name, fresh=rebuild)
    if tenants is None:
        run_django(["prepare-plain"], child_env(server, name, "settings_plain"))
        return name
    log(f"preparing {name} ({tenants} tenants)...")
    result = run_django(
        ["prepare-tenancy", str(tenants)], child_env(server, name, "settings_tenancy")
    )
    if not result["cached"]:
        log(f"  made {tenants} tenants in {result['seconds']} s")
    return name


# 1. Statements, round trips and CPU in process ---------------------------------------------

COUNT_CASES = [
    ("(a) plain Django", "settings_plain", "plain", "session"),
    ("(b) tenancy, same tenant again", "settings_tenancy", "same", "session"),
    ("(c) tenancy, another tenant each request", "settings_tenancy", "switch", "session"),
    ("(d) (c) with SEARCH_PATH_SCOPE=transaction", "settings_tenancy", "switch", "transaction"),
    ("    (b) with SEARCH_PATH_SCOPE=transaction", "settings_tenancy", "same", "transaction"),
    ("(e) first request to an uncached tenant", "settings_tenancy", "first", "session"),
]
VIEW_TITLES = {
    "dashboard": "the dashboard view (count + 20 rows + aggregate)",
    "one-query": "the one-query view (a count)",
}


def case_env(server: dict[str, Any], tenant_db: str, settings: str, scope: str) -> dict[str, str]:
    db = PLAIN_DB if settings == "settings_plain" else tenant_db
    return child_env(server, db, settings, BENCH_SEARCH_PATH_SCOPE=scope)


def spread(values: list[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}" if len(values) > 1 else ""


def run_counts(server: dict[str, Any], tenant_db: str, args: argparse.Namespace) -> None:
    """Per view, each case ``args.cpu_rounds`` times, interleaved with the order rotating;
    the CPU ratio of each round is taken against plain Django's in the same round."""
    for number, view in enumerate(VIEWS, start=1):
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in COUNT_CASES}
        for r in range(args.cpu_rounds):
            shift = r % len(COUNT_CASES)
            for label, settings, case, scope in COUNT_CASES[shift:] + COUNT_CASES[:shift]:
                env = case_env(server, tenant_db, settings, scope)
                runs[label].append(run_django(["counts", case, view, str(args.cpu_requests)], env))
        base_runs = runs[COUNT_CASES[0][0]]
        base = base_runs[0]
        print(f"\n1.{number} Per request of {VIEW_TITLES[view]}, in process, Django test Client")
        print(
            f"   {'configuration':<44}{'statements':>11}{'round trips':>12}{'vs plain':>10}"
            f"{'CPU µs: Django':>16}{'+ PostgreSQL':>13}{'= ratio':>9}{'rounds':>13}"
        )
        for label, results in runs.items():
            r = results[0]
            extra = (
                f"+{r['statements'] - base['statements']:g}"
                f"/+{r['round_trips'] - base['round_trips']:g}"
            )
            cpu = ""
            if "client_us" in r:
                ratios = [
                    (x["client_us"] + x["server_us"]) / (b["client_us"] + b["server_us"])
                    for x, b in zip(results, base_runs, strict=True)
                ]
                client, server_us = (
                    statistics.median(x[key] for x in results) for key in ("client_us", "server_us")
                )
                cpu = (
                    f"{client:>16.0f}{server_us:>13.0f}{statistics.median(ratios):>9.3f}"
                    f"{spread(ratios):>13}"
                )
            print(
                f"   {label:<44}{r['statements']:>11.2f}{r['round_trips']:>12.2f}{extra:>10}{cpu}"
            )
        print(
            f"   CPU: {args.cpu_requests} requests per configuration after warm-up, median of"
            f" {args.cpu_rounds} interleaved rounds (ratio against plain in the same round;"
            " rounds: the lowest and highest)"
        )
        print("   messages of one (c) request, as libpq sent them:")
        for statement in runs[COUNT_CASES[2][0]][0]["example"]:
            print(f"     {statement[:90]}")


# 4. Instructions per request (callgrind) ----------------------------------------------------

INSTRUCTION_CASES = COUNT_CASES[:3]


def run_instructions(
    server: dict[str, Any], tenant_db: str, args: argparse.Namespace, valgrind: str, helper: Path
) -> None:
    """Instructions of the Django process per request, counted by callgrind over
    ``args.instruction_requests`` requests after a warm-up, in ``args.layouts`` memory
    layouts per case (see _support.instructions); the ratio is that of the means.

    Lookups are kept from expiring during the slow run (REGISTRY_MAX_AGE=3600): at full
    speed a process reloads each tenant once per REGISTRY_MAX_AGE, not per request."""
    print(
        "\n4. Instructions per request of the Django process (valgrind --tool=callgrind),"
        f" in process, Django test Client, {args.instruction_requests} requests after warm-up,"
        f" mean of {args.layouts} memory layouts"
    )
    print(
        f"   {'view':<11}{'configuration':<44}{'instructions':>14}{'layouts: from':>15}"
        f"{'to':>11}{'ratio':>8}"
    )
    for view in args.instruction_views:
        base = 0.0
        for label, settings, case, scope in INSTRUCTION_CASES:
            env = {**case_env(server, tenant_db, settings, scope), "BENCH_REGISTRY_MAX_AGE": "3600"}
            counts = [
                instructions(
                    ["requests", case, view, str(args.instruction_requests)],
                    env,
                    valgrind,
                    helper,
                    layout,
                )
                / args.instruction_requests
                for layout in range(args.layouts)
            ]
            log(f"  {view} {label}: {[round(c) for c in counts]}")
            mean = statistics.mean(counts)
            base = base or mean
            print(
                f"   {view:<11}{label:<44}{mean:>14,.0f}{min(counts):>15,.0f}{max(counts):>11,.0f}"
                f"{mean / base:>8.3f}"
            )
    print(
        "   (the PostgreSQL server's side is not counted: for (b) it runs the same statements"
        " as for (a), see the CPU of part 1)"
    )


# 2 and 3. Load under gunicorn + wrk --------------------------------------------------------

Run = Callable[[], dict[str, float]]


def rounds(
    configs: list[tuple[str, Run, Run]], args: argparse.Namespace, monitor: CpuMonitor
) -> dict[str, list[dict[str, float]]]:
    """Run each (name, warm_up, measure) ``args.rounds`` times, interleaved, order rotating.

    Each run waits (up to ``args.max_wait`` s) for a quiet machine first; a run during
    which other processes used more than ``args.max_other_load`` cores anyway is redone
    (up to ``args.retries`` times; the quietest attempt is kept).
    """
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in configs}
    for r in range(args.rounds):
        shift = r % len(configs)
        for name, warm_up, measure in configs[shift:] + configs[:shift]:
            attempts = []
            for _ in range(args.retries + 1):
                monitor.wait_quiet(args.max_other_load, args.max_wait)
                warm_up()
                with monitor.measure() as load:
                    result = measure()
                result.update(load)
                result["cpu_us"] = load["server_cpu_s"] / max(result["requests"], 1) * 1e6
                attempts.append(result)
                flag = " (redo: machine busy)" if load["other_cores"] > args.max_other_load else ""
                bad = f" ({int(result['bad'])} errors/non-2xx!)" if result["bad"] else ""
                log(
                    f"  round {r + 1}/{args.rounds} {name:<30}{result['rps']:7.1f} req/s"
                    f"  p50 {result['p50_ms']:5.2f} ms  p99 {result['p99_ms']:6.2f} ms"
                    f"  CPU/req {result['cpu_us']:5.0f} µs  other load {load['other_cores']:.2f}"
                    f"{bad}{flag}"
                )
                if not flag:
                    break
            results[name].append(min(attempts, key=lambda a: a["other_cores"]))
    return results


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def load(wrk: Wrk, server: Server, traffic: Traffic, args: argparse.Namespace, **opts: int) -> Any:
    """(warm_up, measure) runs of wrk with ``opts`` (threads, connections)."""

    def run(seconds: float) -> dict[str, float]:
        return wrk.run(server.port, traffic, seconds=seconds, **opts)

    return (lambda: run(args.warmup)), (lambda: run(args.duration))


def serve(stack: ExitStack, name: str, env: dict[str, str], probe: str, workers: int) -> Server:
    return stack.enter_context(gunicorn(name, env, workers=workers, probe_host=probe))


def print_runs(results: dict[str, list[dict[str, float]]], *, latency: bool) -> None:
    """One line per configuration: medians, ratios to the first configuration, each round.

    Throughput (``latency`` false): ratio = req/s over the first's; CPU ratio = the first's
    CPU per request over this one's (a capacity ratio: both read "higher is better").
    Latency: ratio = mean latency over the first's; CPU ratio = CPU per request over the
    first's (both read "lower is better").
    """
    first = next(iter(results.values()))
    base_rps, base_ms, base_cpu = (median(first, k) for k in ("rps", "mean_ms", "cpu_us"))
    print(
        f"   {'configuration':<32}{'req/s':>7}{'mean ms':>8}{'p50 ms':>7}{'p99 ms':>7}"
        f"{'ratio':>7}{'CPU µs/req':>11}{'CPU ratio':>10}   req/s per round (other load)"
    )
    for name, runs in results.items():
        rps, ms, cpu = (median(runs, k) for k in ("rps", "mean_ms", "cpu_us"))
        ratio, cpu_ratio = (
            (ms / base_ms, cpu / base_cpu) if latency else (rps / base_rps, base_cpu / cpu)
        )
        rounds_ = " ".join(f"{run['rps']:.0f} ({run['other_cores']:.2f})" for run in runs)
        print(
            f"   {name:<32}{rps:>7.0f}{ms:>8.2f}{median(runs, 'p50_ms'):>7.2f}"
            f"{median(runs, 'p99_ms'):>7.2f}{ratio:>7.3f}{cpu:>11.0f}{cpu_ratio:>10.3f}   {rounds_}"
        )
    print(
        "   CPU µs/req: CPU time of the gunicorn workers and the PostgreSQL server per request"
        " (wrk excluded); other load: cores used by processes not the bench's during the run"
    )


def run_throughput(
    wrk: Wrk, server: dict[str, Any], tenant_db: str, args: argparse.Namespace, monitor: CpuMonitor
) -> None:
    opts = {"connections": args.connections, "threads": args.threads}
    one = VIEWS["one-query"]
    with ExitStack() as stack:
        plain_env = child_env(server, PLAIN_DB, "settings_plain")
        plain = serve(stack, "plain", plain_env, "plain.bench", args.workers)
        tenancy_env = child_env(server, tenant_db, "settings_tenancy")
        tenancy = serve(stack, "tenancy", tenancy_env, host_of(1), args.workers)
        mixed = f"tenancy, mixed {args.tenants} tenants"
        configs = [
            ("plain Django", *load(wrk, plain, Traffic(fixed_host="plain.bench"), args, **opts)),
            ("tenancy, 1 tenant", *load(wrk, tenancy, Traffic(1, 1), args, **opts)),
            (mixed, *load(wrk, tenancy, Traffic(0, args.tenants), args, **opts)),
            (
                "one query: plain Django",
                *load(wrk, plain, Traffic(fixed_host="plain.bench", path=one), args, **opts),
            ),
            (
                "one query: tenancy, 1 tenant",
                *load(wrk, tenancy, Traffic(1, 1, path=one), args, **opts),
            ),
            (
                f"one query: {mixed}",
                *load(wrk, tenancy, Traffic(0, args.tenants, path=one), args, **opts),
            ),
        ]
        log(f"throughput: {args.rounds} rounds of {args.duration:g} s, {args.warmup:g} s warm-up")
        configs[2][1]()  # the first visit of every tenant is not what is measured
        results = rounds(configs, args, monitor)
    print(
        f"\n2. Throughput: gunicorn {args.workers} sync workers, CONN_MAX_AGE=None (persistent"
        f" connections), wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s;"
        f" median of {args.rounds} interleaved rounds"
    )
    names = list(results)
    print(f"   {VIEW_TITLES['dashboard']}:")
    print_runs({name: results[name] for name in names[:3]}, latency=False)
    print("   targets: ratio >= 0.97 for 1 tenant, >= 0.95 mixed")
    print(f"   {VIEW_TITLES['one-query']}:")
    print_runs({name: results[name] for name in names[3:]}, latency=False)
    print("   target: CPU ratio >= 0.97 (<= 1.03x plain's CPU per request) for 1 tenant")


def run_scale(
    wrk: Wrk, server: dict[str, Any], dbs: tuple[str, str], args: argparse.Namespace,
    monitor: CpuMonitor,
) -> None:  # fmt: skip
    small_n, large_n = args.scale_small, args.scale_tenants
    spread = min(args.scale_spread, large_n)
    opts = {"connections": args.scale_connections, "threads": 1}
    with ExitStack() as stack:
        env_small = child_env(server, dbs[0], "settings_tenancy")
        small = serve(stack, f"{small_n} tenants", env_small, host_of(1), args.workers)
        env_large = child_env(server, dbs[1], "settings_tenancy")
        large = serve(stack, f"{large_n} tenants", env_large, host_of(1), args.workers)
        few, many = Traffic(0, small_n), Traffic(0, spread)
        configs = [
            (f"{small_n} present, traffic over {small_n}", *load(wrk, small, few, args, **opts)),
            (f"{large_n} present, traffic over {small_n}", *load(wrk, large, few, args, **opts)),
            (f"{large_n} present, traffic over {spread}", *load(wrk, large, many, args, **opts)),
        ]
        log(f"scale: {args.rounds} rounds, wrk -t1 -c{args.scale_connections}")
        for target, traffic in ((small, few), (large, few), (large, many)):
            # Prime: every worker's connection visits every tenant of the traffic first.
            seconds = max(args.warmup, traffic.count / 100)
            wrk.run(target.port, traffic, seconds=seconds, threads=2, connections=16)
        results = rounds(configs, args, monitor)
    print(
        f"\n3. Scale: per-request latency, wrk -t1 -c{args.scale_connections}"
        f" -d{args.duration:g}s against gunicorn {args.workers} sync workers;"
        f" median of {args.rounds} interleaved rounds"
    )
    print_runs(results, latency=True)
    print(
        f"   target: ratio (of mean latency) <= 1.1 for {large_n} present, traffic over {small_n}"
    )


# Main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    add("--duration", type=float, default=10, help="seconds per measured run (10)")
    add("--warmup", type=float, default=3, help="seconds of warm-up before each run (3)")
    add("--rounds", type=int, default=3, help="interleaved rounds; medians reported (3)")
    add("--tenants", type=int, default=100, help="tenants of the mixed traffic (100)")
    add("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    add("--threads", type=int, default=2, help="wrk threads (2)")
    add("--connections", type=int, default=16, help="wrk connections (16)")
    add("--scale-tenants", type=int, default=10_000, help="tenant schemas present (10000)")
    add("--scale-small", type=int, default=10, help="tenants of the reference run (10)")
    add("--scale-spread", type=int, default=1_000, help="tenants of the informative run (1000)")
    add("--scale-connections", type=int, default=1, help="wrk connections for latency (1)")
    add("--cpu-requests", type=int, default=2000, help="requests timed per counts case (2000)")
    add("--cpu-rounds", type=int, default=3, help="interleaved rounds of the counts part (3)")
    add(
        "--instruction-requests", type=int, default=200,
        help="requests counted under callgrind per run (200)",
    )  # fmt: skip
    add("--layouts", type=int, default=6, help="memory layouts per callgrind case (6)")
    add(
        "--instruction-views", nargs="+", choices=list(VIEWS), default=["one-query"],
        help="views whose instructions are counted (one-query)",
    )  # fmt: skip
    add("--max-other-load", type=float, default=0.3, help="redo a run above this (cores, 0.3)")
    add("--retries", type=int, default=2, help="redos per run on a busy machine (2)")
    add("--max-wait", type=float, default=60, help="wait for a quiet machine up to (60 s)")
    add("--pgdata", type=Path, default=REPO / ".pgdata" / "bench", help="embedded server data")
    add("--rebuild", action="store_true", help="make the bench databases afresh")
    args = parser.parse_args(argv)
    if args.tenants < 50:
        parser.error("--tenants must be at least 50 (the counts visit 50 tenants)")
    return args


def _terminate(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # so that every finally: stops its processes


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    wrk_binary = require_binary("wrk", "wrk") if {"throughput", "scale"} & set(args.parts) else ""
    valgrind = require_binary("valgrind", "valgrind") if "instructions" in args.parts else ""
    server = database_server(args.pgdata)
    with connect(server, "postgres") as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    import django

    where = "DATABASE_URL" if os.environ.get("DATABASE_URL") else f"embedded in {args.pgdata}"
    print(
        f"tenancy_app request path bench: Python {platform.python_version()},"
        f" Django {django.__version__}, PostgreSQL {pg_version} ({where}), {os.cpu_count()} CPUs"
    )
    started = time.monotonic()
    prepare(server, None, rebuild=args.rebuild)
    tenant_db = prepare(server, args.tenants, rebuild=args.rebuild)
    databases = {
        PLAIN_DB,
        *(tenancy_db(n) for n in (args.tenants, args.scale_small, args.scale_tenants)),
    }
    with workdir() as tmp, closing(CpuMonitor(server, databases)) as monitor:
        wrk = Wrk(wrk_binary, tmp)
        if "counts" in args.parts:
            run_counts(server, tenant_db, args)
        if "throughput" in args.parts:
            run_throughput(wrk, server, tenant_db, args, monitor)
        if "scale" in args.parts:
            dbs = (
                prepare(server, args.scale_small, rebuild=args.rebuild),
                prepare(server, args.scale_tenants, rebuild=args.rebuild),
            )
            run_scale(wrk, server, dbs, args, monitor)
        if "instructions" in args.parts:
            run_instructions(server, tenant_db, args, valgrind, callgrind_helper(tmp))
    print(f"\n(total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
