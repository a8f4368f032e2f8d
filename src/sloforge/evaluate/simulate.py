"""Incident scenarios through the engine: how fast each alert tier fires, how long it keeps firing, and
how much error budget is gone before anyone hears of it (SRE Workbook, "Alerting on SLOs").

Per SLO and scenario, synthetic raw counters (the same label sets the promtool
tests use, ``generate.synth``; for a timeslice SLI an indicator that marks the
scenario's share of slices bad, see ``slice_stand_in``) carry ``events_per_second`` with
``baseline_error_ratio`` errors, first for the longest alert window (so no
window is in cold start), then the scenario's error ratio for its duration, then
the baseline again until every tier has reset.  Scrapes land on the rule
evaluation grid, so every 5m rate is exact and the results differ from the
Workbook's continuous formula only by the evaluation step (and, for windows the
rules derive with ``avg_over_time``, by its 2.5-minute ramp).

Precision and recall (``summarize``): an event is *significant* for a tier when
it consumes at least the smallest budget share any pair of that tier is built
to catch (``burn_rate x long / SLO window``: 2 % for the Workbook's page, 10 %
for its ticket).  Blips are sized per SLO to a quarter of the smallest such
share (one evaluation step, 5 and 15 minutes long): with a 99.9 % objective a
single minute of total outage already spends 2.3 % of a 30-day budget, so what is
harmless depends on the objective.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from sloforge.evaluate.engine import FIRING, Evaluation, evaluate_slo
from sloforge.evaluate.series import Series, SeriesSet
from sloforge.generate.promtool_tests import detection_seconds
from sloforge.generate.synth import sli_plan
from sloforge.model import SLO, BurnWindow, Spec
from sloforge.promql.steady import parse_series

FAILING = "failing"
EVENTS_PER_SECOND = 10.0
INCIDENT_RATIOS = (1.0, 0.1, 0.01, 0.005)
INCIDENT_DURATIONS = (300.0, 1800.0, 3600.0, 21600.0, 86400.0)
TAIL = 900.0  # baseline after the slowest reset could happen


@dataclass(frozen=True)
class Scenario:
    error_ratio: float
    duration: float  # seconds
    kind: str = "incident"  # incident | blip

    def as_dict(self, budget: float) -> dict:
        return {
            "kind": self.kind,
            "error_ratio": self.error_ratio,
            "duration_seconds": self.duration,
            "burn_rate": round(self.error_ratio / budget, 9),
        }


BLIP_SHARE = 0.25  # of the smallest significant budget share
BLIP_DURATIONS = (None, 300.0, 900.0)  # None: one evaluation step


def _pairs(slo: SLO, tier: str) -> list[BurnWindow]:
    return list(getattr(slo.alerting, tier))


def significant_share(slo: SLO, tier: str) -> float:
    """The smallest SLO-window budget share a pair of ``tier`` is built to catch: min(factor x long) / window."""
    return min(bw.burn_rate * bw.long for bw in _pairs(slo, tier)) / slo.window


def blips(spec: Spec, slo: SLO) -> list[Scenario]:
    """Short error bursts spending a quarter of the smallest budget share any alert tier is built to catch."""
    tiers = [t for t in ("page", "ticket") if _pairs(slo, t)]
    share = BLIP_SHARE * min(significant_share(slo, t) for t in tiers)
    out = []
    for d in BLIP_DURATIONS:
        duration = d or spec.evaluation_interval
        ratio = min(1.0, float(f"{share * slo.error_budget * slo.window / duration:.4g}"))
        out.append(Scenario(ratio, duration, "blip"))
    return out


def default_scenarios(spec: Spec, slo: SLO) -> list[Scenario]:
    """Error ratios 100 %, 10 %, 1 %, 0.5 % for 5m, 30m, 1h, 6h, 1d; then the SLO's harmless blips."""
    return [Scenario(r, d) for r in INCIDENT_RATIOS for d in INCIDENT_DURATIONS] + blips(spec, slo)


@dataclass
class Run:
    """One scenario's synthetic history and the engine's answer for the failing series."""

    start: float  # incident start (s)
    end: float
    times: np.ndarray  # scrape times (s); increment k covers (times[k-1], times[k]]
    bad: np.ndarray  # cumulative bad events (bad slices for a timeslice SLI)
    evaluation: Evaluation
    events_per_second: float  # what the budget is counted in: events, or slices per second


def _increments(spec: Spec, slo: SLO, sc: Scenario, baseline: float, eps: float) -> tuple[np.ndarray, ...]:
    step = spec.evaluation_interval
    warm = math.ceil(max(bw.long for bw in slo.alerting.page + slo.alerting.ticket) / step) * step
    tail = max(bw.short + (bw.for_ or 0.0) for bw in slo.alerting.page + slo.alerting.ticket) + TAIL
    duration = math.ceil(sc.duration / step) * step
    end = warm + duration + tail
    t = np.arange(0.0, end + step / 2, step)
    ratio = np.where((t > warm) & (t <= warm + duration), sc.error_ratio, baseline)
    per = eps * step
    bad = np.where(np.arange(t.size) > 0, per * ratio, 0.0)
    good = np.where(np.arange(t.size) > 0, per - bad, 0.0)
    return t, bad, good, np.array([warm, warm + duration])


def run(
    spec: Spec, slo: SLO, sc: Scenario, baseline_error_ratio: float = 0.0, events_per_second: float = EVENTS_PER_SECOND
) -> Run:
    """Simulate one scenario on the SLO's failing ``by`` value."""
    by = {b: FAILING for b in slo.by}
    if slo.sli.timeslice:
        return _run_slices(spec, slo, sc, baseline_error_ratio, by)
    plan = sli_plan(spec, slo, by)
    t, bad, good, (start, end) = _increments(spec, slo, sc, baseline_error_ratio, events_per_second)
    counters: dict[str, np.ndarray] = {}
    for names, inc in ((plan.bad, bad), (plan.good, good)):
        for name in names:
            counters[name] = counters.get(name, 0.0) + inc
    t_ms = np.round(t * 1000).astype(np.int64)
    data = SeriesSet(Series.of(parse_series(name), t_ms, np.cumsum(inc)) for name, inc in counters.items())
    return Run(start, end, t, np.cumsum(bad), _evaluated(spec, slo, data, start, t, by), events_per_second)


def _evaluated(spec: Spec, slo: SLO, data: SeriesSet, start: float, t: np.ndarray, by: dict) -> Evaluation:
    evals = evaluate_slo(spec, slo, data, start - spec.evaluation_interval, float(t[-1]), history_start=0.0)
    (ev,) = [e for e in evals if e.labels == by]
    return ev


SLICE_INDICATOR = "sloforge_simulated_slice_bad"


def slice_stand_in(slo: SLO) -> SLO:
    """The SLO judged on a stand-in indicator (1 on a bad slice): what is simulated is the alert policy over
    the share of bad slices, whatever PromQL decides a slice in production."""
    ts = slo.sli.timeslice.model_copy(update={"expr": SLICE_INDICATOR, "max": 0.5, "min": None})  # type: ignore[union-attr]
    return slo.model_copy(update={"sli": slo.sli.model_copy(update={"timeslice": ts})})


def _run_slices(spec: Spec, slo: SLO, sc: Scenario, baseline: float, by: dict[str, str]) -> Run:
    """A timeslice SLI: the error ratio is the share of bad slices, spread evenly (error diffusion), one slice
    per evaluation; the indicator is scraped on the evaluation grid, so each slice reads its own sample."""
    step = spec.evaluation_interval
    t, bad_share, _, (start, end) = _increments(spec, slo, sc, baseline, 1.0 / step)
    due = np.floor(np.cumsum(bad_share) + 1e-9)
    bad = np.diff(due, prepend=0.0)
    t_ms = np.round(t * 1000).astype(np.int64)
    data = SeriesSet([Series.of({"__name__": SLICE_INDICATOR, **by}, t_ms, bad)])
    ev = _evaluated(spec, slice_stand_in(slo), data, start, t, by)
    return Run(start, end, t, np.cumsum(bad), ev, 1.0 / step)


def _first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def _bad_between(r: Run, a: float, b: float) -> float:
    """Bad events in ``(a, b]``."""
    return float(np.interp(b, r.times, r.bad) - np.interp(a, r.times, r.bad))


def _row(spec: Spec, slo: SLO, sc: Scenario, r: Run, info, baseline: float) -> dict:
    ev = r.evaluation
    times = ev.times
    state = ev.alerts[info.name]
    budget_events = slo.error_budget * r.events_per_second * slo.window
    after = times >= r.start
    i_fire = _first(after & (state == FIRING))
    detection = reset = spent = None
    if i_fire is not None:
        t_fire = float(times[i_fire])
        detection = t_fire - r.start
        spent = round(_bad_between(r, r.start, t_fire) / budget_events, 9)
        i_reset = _first((times >= max(r.end, t_fire)) & (state != FIRING))
        reset = None if i_reset is None else float(times[i_reset]) - r.end
    consumed = _bad_between(r, r.start, r.end) / budget_events
    expected = detection_seconds(_pairs(slo, info.tier), slo.error_budget, baseline, sc.error_ratio)
    return {
        "service": spec.service,
        "slo": slo.name,
        "labels": dict(ev.labels),
        "scenario": sc.as_dict(slo.error_budget),
        "alert": info.name,
        "tier": info.tier,
        "severity": info.severity,
        "fired": i_fire is not None,
        "detection_seconds": detection,
        "expected_detection_seconds": None if expected is None else round(expected, 3),
        "reset_seconds": reset,
        "budget_spent": spent,
        "budget_consumed": round(consumed, 9),
        "significant": consumed >= significant_share(slo, info.tier) - 1e-12,
    }


def simulate(
    spec: Spec,
    scenarios: Sequence[Scenario] | None = None,
    *,
    baseline_error_ratio: float = 0.0,
    events_per_second: float = EVENTS_PER_SECOND,
    workers: int | None = None,
) -> list[dict]:
    """One row per SLO, scenario and alert tier (see the module docstring; JSON-ready, deterministic).

    ``scenarios`` default to ``default_scenarios(spec, slo)`` per SLO; scenarios run on ``workers`` threads
    (default: one per CPU), rows keep spec and scenario order.

    Keys: ``service``, ``slo``, ``labels``, ``scenario`` (``kind``, ``error_ratio``, ``duration_seconds``,
    ``burn_rate``), ``alert``, ``tier``, ``severity``, ``fired``, ``detection_seconds`` (from the incident
    start), ``expected_detection_seconds`` (the Workbook formula), ``reset_seconds`` (from the incident end
    until the alert stops firing), ``budget_spent`` (share of the SLO window's budget burned before the
    first alert), ``budget_consumed`` (by the whole incident), ``significant``.  For a timeslice SLI the
    error ratio is the share of bad slices and the budget is counted in slices.  SLOs without alert tiers
    are left out.
    """
    jobs = [
        (slo, sc)
        for slo in spec.slos
        if slo.alerting.page or slo.alerting.ticket
        for sc in (scenarios or default_scenarios(spec, slo))
    ]

    def rows_of(job: tuple[SLO, Scenario]) -> list[dict]:
        slo, sc = job
        r = run(spec, slo, sc, baseline_error_ratio, events_per_second)
        infos = r.evaluation.alert_info
        return [_row(spec, slo, sc, r, info, baseline_error_ratio) for info in infos]

    with ThreadPoolExecutor(max(1, min(workers or os.cpu_count() or 1, len(jobs)))) as pool:
        return [row for rows in pool.map(rows_of, jobs) for row in rows]


def summarize(rows: Sequence[dict]) -> list[dict]:
    """Precision and recall per SLO and alert over the rows' incidents and blips (None where undefined)."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["service"], row["slo"], row["alert"]), []).append(row)
    out = []
    for (service, slo, alert), rs in groups.items():
        tp = sum(1 for r in rs if r["fired"] and r["significant"])
        fp = sum(1 for r in rs if r["fired"] and not r["significant"])
        fn = sum(1 for r in rs if not r["fired"] and r["significant"])
        detections = [r["detection_seconds"] for r in rs if r["fired"] and r["significant"]]
        out.append(
            {
                "service": service,
                "slo": slo,
                "alert": alert,
                "tier": rs[0]["tier"],
                "severity": rs[0]["severity"],
                "events": len(rs),
                "significant": tp + fn,
                "true_positives": tp,
                "false_positives": fp,
                "false_negatives": fn,
                "precision": round(tp / (tp + fp), 6) if tp + fp else None,
                "recall": round(tp / (tp + fn), 6) if tp + fn else None,
                "median_detection_seconds": float(np.median(detections)) if detections else None,
            }
        )
    return out
