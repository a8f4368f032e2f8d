"""Per-event cost of ``SLOTracker.record`` against a bare ``prometheus_client`` Counter.

Each case runs ``--number`` calls ``--repeat`` times (timeit); the table shows the
median ns per call. Target: ``record`` at most 1.5x ``Counter.inc``; the labelled
case is compared with ``Counter.labels(...).inc()``, what instrumented code calls
per event.

    python bench/instrument_tracker.py [--number 200000] [--repeat 7]

Prints a table and writes bench/results/instrument_tracker.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import timeit
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

from sloforge.instrument import SLOTracker
from sloforge.model import Spec

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "instrument_tracker.json"
TARGET = 1.5
BAD = 'req_total{code="5"}'

SPEC = Spec.model_validate(
    {
        "apiVersion": "sloforge/v1",
        "service": "bench",
        "metrics": [
            {"name": "req_total", "type": "counter", "labels": ["code", "route"]},
            {"name": "req_seconds", "type": "histogram", "labels": ["route"], "buckets": [0.1, 0.5, 1]},
        ],
        "slos": [
            {"name": "avail", "objective": 99.9, "sli": {"events": {"bad": BAD, "total": "req_total"}}},
            {
                "name": "avail-by-route",
                "objective": 99.9,
                "by": ["route"],
                "sli": {"events": {"bad": BAD, "total": "req_total"}},
            },
            {"name": "fast", "objective": 99, "sli": {"latency": {"histogram": "req_seconds", "le": 0.5}}},
        ],
    }
)


STMTS = {
    "Counter.inc()": "counter.inc()",
    "SLOTracker.record(True)": "tracker.record(True)",
    "SLOTracker.record(False)": "tracker.record(False)",
    "Counter.labels(route).inc()": "labelled.labels(route='/a').inc()",
    "child Counter.inc()": "child.inc()",
    "SLOTracker.record(True, route)": "by_route.record(True, route='/a')",
    "SLOTracker.observe(0.2)": "latency.observe(0.2)",
}


def cases() -> dict[str, tuple[str, dict]]:
    reg = CollectorRegistry()
    plain = Counter("plain_total", "bare counter", registry=reg)
    labelled = Counter("labelled_total", "bare labelled counter", ["route"], registry=reg)
    env = {
        "counter": plain,
        "labelled": labelled,
        "child": labelled.labels(route="/a"),
        "tracker": SLOTracker(SPEC, "avail", registry=reg),
        "by_route": SLOTracker(SPEC, "avail-by-route", registry=reg),
        "latency": SLOTracker(SPEC, "fast", registry=reg),
    }
    return {name: (stmt, env) for name, stmt in STMTS.items()}


def measure(number: int, repeat: int) -> dict[str, list[float]]:
    """ns per call of every case, ``repeat`` rounds; the cases alternate within a round,
    so a busy machine slows all of them alike."""
    all_cases = cases()
    for stmt, env in all_cases.values():
        timeit.timeit(stmt, globals=env, number=number // 10)  # warm up
    runs: dict[str, list[float]] = {name: [] for name in all_cases}
    for _ in range(repeat):
        for name, (stmt, env) in all_cases.items():
            runs[name].append(timeit.timeit(stmt, globals=env, number=number) / number * 1e9)
    return runs


RATIOS = {
    "record / Counter.inc": ("SLOTracker.record(True)", "Counter.inc()"),
    "record(False) / Counter.inc": ("SLOTracker.record(False)", "Counter.inc()"),
    "record(route) / Counter.labels(route).inc": ("SLOTracker.record(True, route)", "Counter.labels(route).inc()"),
    "record(route) / child Counter.inc": ("SLOTracker.record(True, route)", "child Counter.inc()"),
    "observe / Counter.inc": ("SLOTracker.observe(0.2)", "Counter.inc()"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--number", type=int, default=200_000, help="calls per run")
    ap.add_argument("--repeat", type=int, default=9, help="rounds")
    args = ap.parse_args()
    runs = measure(args.number, args.repeat)
    # the median of the per-round ratios: both sides of a ratio ran back to back
    ratios = {
        name: statistics.median(a / b for a, b in zip(runs[num], runs[den], strict=True))
        for name, (num, den) in RATIOS.items()
    }
    print(f"{'case':<34} {'median ns':>10}  runs (ns)")
    for name, r in runs.items():
        print(f"{name:<34} {statistics.median(r):>10.0f}  {' '.join(f'{x:.0f}' for x in r)}")
    print()
    print(f"{'ratio (median over rounds)':<44} {'value':>6}  (target <= {TARGET})")
    for name, v in ratios.items():
        print(f"{name:<44} {v:>6.2f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "number": args.number,
                "repeat": args.repeat,
                "python": platform.python_version(),
                "prometheus_client": _version(),
                "target_ratio": TARGET,
                "cases": {
                    name: {"stmt": cases_stmt, "median_ns": statistics.median(runs[name]), "runs_ns": runs[name]}
                    for name, cases_stmt in STMTS.items()
                },
                "ratios": ratios,
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    print(f"\nwrote {OUT.relative_to(ROOT)}")


def _version() -> str:
    from importlib.metadata import version

    return version("prometheus_client")


if __name__ == "__main__":
    main()
