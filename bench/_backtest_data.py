"""Synthetic workload for bench/backtest.py: a spec of N request SLOs and their counters with incidents.

Every SLO ``eNNN`` reads its own pair of counters, ``requests_total{endpoint="eNNN",code="200"|"500"}``
(bad: the 500s, total: both).  Traffic is Poisson around a per-SLO rate with a daily swing; the error
ratio sits well inside the budget except during incidents (short outages for the page tier, longer
degradations and slow burns for the ticket tier); each SLO's process restarts now and then (both
counters reset).  Objectives cycle through 99 / 99.5 / 99.9 %; every fourth SLO pages only after
``for: 2m``.  A fixed seed makes the data deterministic.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from datagen import DAY, Incident, error_ratio_at  # noqa: E402

from sloforge.evaluate import Series, SeriesSet  # noqa: E402
from sloforge.model import SLO, Spec  # noqa: E402
from sloforge.spec import load  # noqa: E402

SERVICE = "bench"
METRIC = "requests_total"
OBJECTIVES = ("99", "99.5", "99.9")
PAGE_WITH_FOR = (
    "      page: [{burn_rate: 14.4, long: 1h, short: 5m, for: 2m}, {burn_rate: 6, long: 6h, short: 30m, for: 2m}]"
)

# incident kinds: (share, duration range in seconds, burn-rate range)
KINDS = (
    (0.5, (5 * 60, 45 * 60), (15.0, 60.0)),  # outage: pages
    (0.3, (1 * 3600, 6 * 3600), (4.0, 10.0)),  # degradation: slow page / ticket
    (0.2, (6 * 3600, 30 * 3600), (1.2, 3.5)),  # slow burn: ticket
)


def endpoint(i: int) -> str:
    return f"e{i:03d}"


def spec_text(slos: int, evaluation_interval: str = "1m") -> str:
    """The spec YAML: ``slos`` events SLOs on their own counters, default alerting (some with ``for``)."""
    lines = [
        "apiVersion: sloforge/v1",
        f"service: {SERVICE}",
        f"evaluation_interval: {evaluation_interval}",
        "metrics:",
        f"  - {{name: {METRIC}, type: counter, labels: [code, endpoint]}}",
        "slos:",
    ]
    for i in range(slos):
        ep = endpoint(i)
        lines += [
            f"  - name: {ep}",
            f"    objective: {OBJECTIVES[i % len(OBJECTIVES)]}",
            "    sli:",
            "      events:",
            f'        bad: \'{METRIC}{{endpoint="{ep}",code="500"}}\'',
            f"        total: '{METRIC}{{endpoint=\"{ep}\"}}'",
        ]
        if i % 4 == 3:
            lines += ["    alerting:", PAGE_WITH_FOR]
    return "\n".join(lines) + "\n"


def load_spec(text: str, name: str = "bench.yaml") -> Spec:
    """A validated Spec from YAML text (through the loader, as ``sloforge`` reads files)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text)
        return load(path).specs[0]


def incidents(rng: np.random.Generator, duration: float, budget: float) -> list[Incident]:
    """At least one incident per SLO, about one per 5 days; error ratios are burn rates times the budget."""
    out = []
    for _ in range(1 + rng.poisson(duration / (5 * DAY))):
        kind = rng.choice(len(KINDS), p=[k[0] for k in KINDS])
        _, (d_lo, d_hi), (b_lo, b_hi) = KINDS[kind]
        length = min(float(rng.uniform(d_lo, d_hi)), duration / 2)
        start = float(rng.uniform(0, duration - length))
        out.append(Incident(start, length, min(1.0, float(rng.uniform(b_lo, b_hi)) * budget)))
    return sorted(out, key=lambda inc: inc.start)


def counters(rng: np.random.Generator, slo: SLO, t: np.ndarray, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (good, bad) request counts at the scrape offsets ``t`` (seconds from the start)."""
    scrape = float(t[1] - t[0]) if t.size > 1 else 60.0
    rate = float(rng.lognormal(np.log(20.0), 0.8))  # requests/s
    swing = 1.0 + 0.5 * np.sin(2 * np.pi * (t / DAY + rng.random()))
    baseline = slo.error_budget * float(rng.uniform(0.05, 0.5))
    ratio = error_ratio_at(t, baseline, incidents(rng, duration, slo.error_budget))
    events = rng.poisson(rate * scrape * swing)
    bad = rng.binomial(events, ratio)
    good = (events - bad).astype(np.float64)
    bad = bad.astype(np.float64)
    good[0] = bad[0] = 0.0
    restarts = sorted(rng.choice(np.arange(1, t.size), min(t.size - 1, rng.poisson(duration / (10 * DAY))), False))
    cuts = np.zeros(t.size, dtype=np.int64)
    cuts[restarts] = 1
    segment = np.cumsum(cuts)  # restarts so far: each process counts from zero
    return _segment_cumsum(good, segment), _segment_cumsum(bad, segment)


def _segment_cumsum(x: np.ndarray, segment: np.ndarray) -> np.ndarray:
    total = np.cumsum(x)
    starts = np.flatnonzero(np.diff(segment, prepend=-1))
    before = np.concatenate(([0.0], total[starts[1:] - 1]))
    return total - before[segment]


def requests(spec: Spec, duration: float, scrape: float, start: float, seed: int = 1) -> SeriesSet:
    """Both counters of every SLO, scraped every ``scrape`` seconds over ``[start, start + duration]``."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, duration + scrape / 2, scrape)
    t_ms = np.round((start + t) * 1000).astype(np.int64)
    out = []
    for slo in spec.slos:
        good, bad = counters(rng, slo, t, duration)
        for code, v in (("200", good), ("500", bad)):
            out.append(Series.of({"__name__": METRIC, "endpoint": slo.name, "code": code}, t_ms, v))
    return SeriesSet(out)
