"""Rule cost: samples touched per minute of rule evaluation, sloforge vs Sloth-style rules.

For one SLO (99.9 % over 30d) over N raw series, the same history is backfilled
into a real Prometheus (promtool), sloforge's recorded series are backfilled
with ``sloforge backfill``, and every rule expression of both styles is run
through ``/api/v1/query?stats=all`` at the end of the history.  Samples are
weighted by how often their group runs (per minute).

Sloth-style = every window computed from raw counters, ``sum(rate(x[w]))`` for
5m ... 3d (Sloth 0.16's rules, ``tests/anchors/sloth``), 30d as the mean of
the recorded 5m ratio.

    python bench/rule_cost.py [--series 10 100 1000] [--days 3.2]

Prints a table and writes bench/results/rule_cost.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import backfilled_prometheus  # noqa: E402
from datagen import DAY, SHOP_SPEC, T0, Incident, write_requests  # noqa: E402

from sloforge.backfill import run_backfill  # noqa: E402
from sloforge.durations import parse_duration  # noqa: E402
from sloforge.generate.rules import rule_file  # noqa: E402
from sloforge.spec import load  # noqa: E402

SLOTH_WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
BAD, TOTAL = 'http_requests_total{code="500"}', "http_requests_total"


def sloth_rules() -> list[tuple[str, float]]:
    rules = [(f"(sum(rate({BAD}[{w}])))\n/\n(sum(rate({TOTAL}[{w}])))", 60.0) for w in SLOTH_WINDOWS]
    # 30d: mean of the recorded 5m ratio; the recorded 5m series is one series at 1m,
    # as sloforge's own recorded base series, so it is measured on that series
    rules.append(("avg_over_time(sloforge:slo_errors:rate5m[30d])", 60.0))
    return rules


def sloforge_rules(text: str) -> list[tuple[str, float]]:
    out = []
    for g in yaml.safe_load(text)["groups"]:
        every = parse_duration(g.get("interval", "1m"))
        out += [(r["expr"], every) for r in g["rules"]]
    return out


def samples_per_minute(prom, rules: list[tuple[str, float]], at: float) -> tuple[float, float]:
    total, seconds = 0.0, 0.0
    for expr, every in rules:
        t = time.perf_counter()
        body = prom.query(expr, at, stats=True)
        seconds += (time.perf_counter() - t) * 60.0 / every
        total += body["data"]["stats"]["samples"]["totalQueryableSamples"] * 60.0 / every
    return total, seconds


def run(series: int, days: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        data = tmp / "requests.om"
        instances = max(1, series // 2)
        write_requests(
            data,
            T0,
            days * DAY,
            60.0,
            instances=instances,
            rate_per_instance=200.0 / instances,
            baseline=0.0005,
            incidents=[Incident(days * DAY - 4 * 3600, 1800, 0.02)],
        )
        prom = backfilled_prometheus(tmp, data)
        try:
            spec_file = tmp / "shop.yaml"
            spec_file.write_text(SHOP_SPEC)
            text = rule_file(load(spec_file).specs[0])
            rules_path = tmp / "shop.yml"
            rules_path.write_text(text)
            end = T0 + days * DAY
            for _ in run_backfill(rules_path, tmp / "blocks", prom.url, str(T0), str(end), between=prom.load_blocks):
                pass
            ours, ours_t = samples_per_minute(prom, sloforge_rules(text), end)
            theirs, theirs_t = samples_per_minute(prom, sloth_rules(), end)
        finally:
            prom.stop()
    return {
        "raw_series": instances * 2,
        "history_days": days,
        "sloforge_samples_per_min": round(ours),
        "sloth_style_samples_per_min": round(theirs),
        "ratio": round(theirs / ours, 1),
        "sloforge_query_seconds_per_min": round(ours_t, 4),
        "sloth_style_query_seconds_per_min": round(theirs_t, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--days", type=float, default=3.2)
    args = ap.parse_args()
    rows = [run(n, args.days) for n in args.series]
    head = f"{'raw series':>10} {'sloforge samples/min':>21} {'sloth-style samples/min':>24} {'ratio':>7}"
    print(head)
    for r in rows:
        print(
            f"{r['raw_series']:>10} {r['sloforge_samples_per_min']:>21,} "
            f"{r['sloth_style_samples_per_min']:>24,} {r['ratio']:>6}x"
        )
    out = ROOT / "bench" / "results" / "rule_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"generated_at": time.time(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
