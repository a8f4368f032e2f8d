"""Synthetic request counters with incidents, written as OpenMetrics for promtool backfill."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DAY = 86400.0
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z

# one SLO over the series write_requests() makes (accuracy test and rule-cost bench)
SHOP_BUDGET = 0.001
SHOP_SPEC = """\
apiVersion: sloforge/v1
service: shop
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        bad: http_requests_total{code="500"}
        total: http_requests_total
"""


@dataclass(frozen=True)
class Incident:
    start: float  # seconds from the data start
    duration: float
    error_ratio: float


def error_ratio_at(t: np.ndarray, baseline: float, incidents: list[Incident]) -> np.ndarray:
    ratio = np.full(t.shape, baseline)
    for inc in incidents:
        ratio[(t >= inc.start) & (t < inc.start + inc.duration)] = inc.error_ratio
    return ratio


def write_requests(
    path: Path,
    start: float,
    duration: float,
    scrape: float,
    instances: int,
    rate_per_instance: float,
    baseline: float,
    incidents: list[Incident],
    seed: int = 1,
) -> None:
    """``http_requests_total{instance, code="200"|"500"}`` counters, Poisson traffic."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, duration + scrape / 2, scrape)
    ratio = error_ratio_at(t, baseline, incidents)
    with path.open("w") as f:
        f.write("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n")
        for i in range(instances):
            events = rng.poisson(rate_per_instance * scrape, size=t.size).astype(float)
            errors = rng.binomial(events.astype(np.int64), ratio).astype(float)
            events[0] = errors[0] = 0.0
            for code, inc in (("200", events - errors), ("500", errors)):
                cum = np.cumsum(inc)
                lines = [
                    f'http_requests_total{{code="{code}",instance="i{i}"}} {v:.0f} {start + ts:.0f}\n'
                    for ts, v in zip(t, cum, strict=True)
                ]
                f.writelines(lines)
        f.write("# EOF\n")
