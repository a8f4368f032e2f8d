"""Synthetic history for specs: realistic raw series with known incidents, for demos and benchmarks.

``history(specs, start, days)`` drives every SLI the series synthesizer
(``sloforge.generate.synth``) can drive: Poisson traffic with a daily cycle,
errors at a baseline share of the budget, and a fixed set of incidents per SLO
on its first ``by`` value (a full outage, a fast burn, a slow burn, a blip), so
a backtest has something to page on, something to ticket and something that
should stay quiet.  Timeslice SLIs get steps that are wholly good or bad.
Deterministic for a given seed; counters two SLOs share add up.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sloforge.evaluate.series import Series, SeriesSet
from sloforge.generate.synth import Unsynthesizable, sli_plan
from sloforge.model import SLO, Spec
from sloforge.promql.steady import parse_series

DAY = 86_400.0

# label values that read naturally in reports; others become <label>-1, <label>-2, ...
_VALUES = {
    "action": ["create", "scale", "delete"],
    "model_name": ["ranker", "classifier"],
    "mesh_service": ["checkout", "payments", "catalog"],
    "route": ["/api/items", "/api/orders"],
}


@dataclass(frozen=True)
class Incident:
    """An incident on an SLO's first ``by`` value: from ``day`` (days from the start) for ``hours``."""

    day: float
    hours: float
    burn: float | None = None  # burn rate (error ratio = burn * budget), or
    error_ratio: float | None = None  # a fixed error ratio

    def ratio(self, budget: float) -> float:
        return min(1.0, self.error_ratio if self.error_ratio is not None else (self.burn or 0.0) * budget)


# pages within minutes, pages after hours (6x over 6h), tickets (2x over days), and a 2-minute blip
DEFAULT_INCIDENTS = (
    Incident(day=5.4, hours=0.25, error_ratio=1.0),
    Incident(day=12.6, hours=3.0, burn=10.0),
    Incident(day=19.2, hours=36.0, burn=2.0),
    Incident(day=25.7, hours=2 / 60, error_ratio=1.0),
)


def by_values(slo: SLO, count: int = 2) -> list[dict[str, str]]:
    """The label sets of an SLO's series: the first value of every ``by`` label fails."""
    if not slo.by:
        return [{}]
    sets = []
    for i in range(count):
        values = {}
        for b in slo.by:
            names = _VALUES.get(b, [f"{b}-{k + 1}" for k in range(count)])
            values[b] = names[i % len(names)]
        sets.append(values)
    return sets


def _shared_labels(spec: Spec) -> dict[str, str]:
    """A fixed value for every ``by`` label of the spec: an SLO without it reads series that carry it, as the
    SLOs that split by it do (otherwise a shared counter would grow a series with the label missing)."""
    return {b: v for slo in spec.slos for b, v in by_values(slo, 1)[0].items()}


def _seed(seed: int, *parts: str) -> int:
    return zlib.crc32("/".join(parts).encode(), seed)


def _ratio(t: np.ndarray, start: float, budget: float, baseline: float, incidents: Iterable[Incident]) -> np.ndarray:
    ratio = np.full(t.shape, baseline * budget)
    for inc in incidents:
        a = start + inc.day * DAY
        ratio[(t > a) & (t <= a + inc.hours * 3600)] = inc.ratio(budget)
    return ratio


def history(
    specs: Iterable[Spec],
    start: float,
    days: float,
    scrape: float = 60.0,
    *,
    seed: int = 1,
    events_per_second: float = 2.0,
    baseline_burn: float = 0.3,
    incidents: Iterable[Incident] = DEFAULT_INCIDENTS,
    skipped: list[str] | None = None,
) -> SeriesSet:
    """Raw series for every SLO of ``specs`` over ``[start, start + days]``, one sample per ``scrape``.

    SLOs the synthesizer cannot drive are listed in ``skipped`` (``service/slo: why``) if given.
    """
    incidents = list(incidents)
    t = np.arange(start, start + days * DAY + scrape / 2, scrape)
    t_ms = np.round(t * 1000).astype(np.int64)
    daily = 1 + 0.4 * np.sin(2 * np.pi * (t - start) / DAY)  # a daily cycle of traffic
    counters: dict[str, np.ndarray] = {}
    gauges: dict[str, np.ndarray] = {}
    for spec in specs:
        shared = _shared_labels(spec)
        for slo in spec.slos:
            for i, by in enumerate(by_values(slo)):
                try:
                    plan = sli_plan(spec, slo, {**shared, **by})
                except Unsynthesizable as e:
                    if skipped is not None:
                        skipped.append(f"{spec.service}/{slo.name}: {e}")
                    break
                rng = np.random.default_rng(_seed(seed, spec.service, slo.name, *by.values()))
                ratio = _ratio(t, start, slo.error_budget, baseline_burn, incidents if i == 0 else ())
                events = rng.poisson(events_per_second * scrape * daily).astype(float)
                if plan.binary:  # timeslice: each step wholly bad with the error ratio's probability
                    bad_step = rng.random(t.size) < ratio
                    errors = np.where(bad_step, events, 0.0)
                    for name, (good, bad) in plan.gauges.items():
                        gauges[name] = np.where(bad_step, bad, good)
                else:
                    errors = rng.binomial(events.astype(np.int64), ratio).astype(float)
                events[0] = errors[0] = 0.0
                for names, inc in ((plan.bad, errors), (plan.good, events - errors)):
                    for name in names:
                        counters[name] = counters.get(name, 0.0) + inc
    out = [Series.of(parse_series(name), t_ms, np.cumsum(inc)) for name, inc in counters.items()]
    out += [Series.of(parse_series(name), t_ms, v) for name, v in gauges.items() if name not in counters]
    return SeriesSet(out)
