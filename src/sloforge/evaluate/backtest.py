"""Replay history through an SLO spec's generated rules: what the alerts would have done.

``backtest(spec, data, start, end)`` evaluates every SLO with the engine (the
same derivation the rules use) and judges the alerts against the budget they
guard, per SLO series (one per ``by`` label set):

* ``alerts``: each alert's firing intervals ``[start, end)`` (unix seconds).
* ``budget_remaining``: the SLO-window budget left, sampled every ``resolution``.
* ``budget_burned_per_day``: per UTC day, the share of the SLO window's budget
  its errors spent: ``errors(day) / ((1 - objective) * events(window ending at
  the day's end))``, the ratio ``budget_remaining`` subtracts from 1.  While the
  history is shorter than the window, its events are scaled to the whole
  window (``budget_remaining`` itself shows what the rules see: the short
  history's own budget).
* ``incidents``: maximal spans where the 5m burn rate is at least
  ``incident_burn`` (default 2x), joined across gaps shorter than ``join``
  (30m), that burned at least ``noise_share`` (1 %) of the budget (shorter
  blips are Poisson noise at low traffic), with the budget each burned and
  whether a page / a ticket fired.  An incident that burned more than
  ``missed_share`` (10 %) with no page firing from its start until
  ``page_grace`` after its end (the page tier's shortest short window plus one
  evaluation interval) is **missed**.
* ``noise``: firings of an alert while less than ``noise_share`` (1 %) of the
  budget burned from one long window (the tier's shortest) before the firing
  began until it ended.

Event counts come from the recorded 5m rates: ``sum(rate5m(t) * step)`` over
the output grid, exact over whole 5m pieces when ``step`` divides 5m.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from sloforge import conventions as C
from sloforge.evaluate.engine import FIRING, Evaluation, evaluate_slo, firing_intervals, unsupported_slos
from sloforge.evaluate.series import SeriesSet
from sloforge.model import SLO, Spec

DAY = 86_400.0


@dataclass(frozen=True)
class Thresholds:
    """What counts as an incident, a missed incident and a noisy alert (see the module docstring)."""

    incident_burn: float = 2.0
    join: float = 1800.0
    missed_share: float = 0.10
    noise_share: float = 0.01


def _counts(ev: Evaluation, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative errors and events up to each output time."""
    return np.cumsum(np.nan_to_num(ev.errors_rate5m) * step), np.cumsum(np.nan_to_num(ev.events_rate5m) * step)


class _Budget:
    """Budget share burned between two times: of the full SLO window's budget ending at the later one.

    While the history is shorter than the window, the window's events are the history's scaled to the
    whole window (its mean traffic), so a share means the same in the first days as later on.
    """

    def __init__(self, ev: Evaluation, slo: SLO, step: float):
        self.t = ev.times
        self.errors, self.events = _counts(ev, step)
        self.budget, self.window = slo.error_budget, slo.window
        present = np.flatnonzero(~np.isnan(ev.events_rate5m))
        self.first = float(ev.times[present[0]]) - C.BASE_WINDOW if present.size else float(ev.times[0])

    def _at(self, cum: np.ndarray, t: float) -> float:
        return float(np.interp(t, self.t, cum, left=0.0))

    def share(self, a: float, b: float) -> float:
        errors = self._at(self.errors, b) - self._at(self.errors, a)
        covered = min(self.window, b - self.first)
        if covered <= 0:
            return 0.0
        events = (self._at(self.events, b) - self._at(self.events, b - covered)) * self.window / covered
        allowed = self.budget * events
        return errors / allowed if allowed > 0 else 0.0


def _spans(mask: np.ndarray, times: np.ndarray, join: float) -> list[tuple[float, float]]:
    """Runs of ``mask`` as ``[start, end)``, joined across gaps shorter than ``join``."""
    out: list[tuple[float, float]] = []
    for a, b in firing_intervals(times, np.where(mask, FIRING, 0)):
        if out and a - out[-1][1] < join:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _daily(budget: _Budget, start: float, end: float) -> list[list[float]]:
    first = np.floor(start / DAY) * DAY
    days = np.arange(first, end, DAY)
    return [[float(d), round(budget.share(max(d, start), min(d + DAY, end)), 9)] for d in days]


def _tier_windows(slo: SLO, tier: str) -> tuple[float, float]:
    """(shortest long window, shortest short window) of a tier's pairs."""
    pairs = getattr(slo.alerting, tier)
    return min(p.long for p in pairs), min(p.short for p in pairs)


def judge(spec: Spec, slo: SLO, ev: Evaluation, step: float, th: Thresholds = Thresholds()) -> dict:
    """One SLO series' backtest (JSON-ready)."""
    times = ev.times
    budget = _Budget(ev, slo, step)
    alerts = []
    fired: dict[str, list[tuple[float, float]]] = {"page": [], "ticket": []}
    noise = []
    for info in ev.alert_info:
        firing = ev.firing(info.name)
        alerts.append({"name": info.name, "severity": info.severity, "tier": info.tier, "firing": firing})
        fired.setdefault(info.tier, []).extend(firing)
        long_window, _ = _tier_windows(slo, info.tier)
        for a, b in firing:
            share = budget.share(a - long_window, b)
            if share < th.noise_share:
                noise.append({"alert": info.name, "start": a, "end": b, "budget_burned": round(share, 9)})
    with np.errstate(divide="ignore", invalid="ignore"):
        burn = ev.errors_rate5m / ev.events_rate5m / slo.error_budget
    grace = (_tier_windows(slo, "page")[1] if slo.alerting.page else 0.0) + spec.evaluation_interval
    incidents = []
    for a, b in _spans(np.nan_to_num(burn) >= th.incident_burn, times, th.join):
        share = budget.share(a - C.BASE_WINDOW, b)
        if share < th.noise_share:
            continue
        paged, ticketed = (any(fa < b + grace and fb > a for fa, fb in fired[tier]) for tier in ("page", "ticket"))
        incidents.append(
            {
                "start": a,
                "end": b,
                "budget_burned": round(share, 9),
                "paged": paged,
                "ticketed": ticketed,
                "missed": bool(share > th.missed_share and not paged),
            }
        )
    return {"alerts": alerts, "incidents": incidents, "noise": noise, "_budget": budget}


def _sampled(times: np.ndarray, values: np.ndarray, resolution: float) -> list[list[float | None]]:
    every = max(1, int(round(resolution / (times[1] - times[0])))) if times.size > 1 else 1
    idx = np.arange(0, times.size, every)
    if times.size and idx[-1] != times.size - 1:
        idx = np.append(idx, times.size - 1)
    return [[float(times[i]), None if np.isnan(values[i]) else round(float(values[i]), 9)] for i in idx]


def backtest(
    spec: Spec,
    data: SeriesSet,
    start: float,
    end: float,
    *,
    resolution: float = 3600.0,
    thresholds: Thresholds = Thresholds(),
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> list[dict]:
    """Every SLO series of ``spec`` the engine evaluates, over ``[start, end]`` (unix seconds).

    Each result: ``service``, ``slo``, ``labels``, ``objective`` (percent), ``window``, ``alerts``
    (``name``, ``severity``, ``tier``, ``firing``: ``[[start, end], ...]``), ``budget_remaining``
    (``[[t, v], ...]`` every ``resolution``), ``budget_burned_per_day``, ``incidents``, ``missed``,
    ``noise``.  ``progress(slo_name)`` is called as each SLO finishes.
    """
    step = spec.evaluation_interval
    left_out = unsupported_slos(spec)
    slos = [slo for slo in spec.slos if slo.name not in left_out]

    def one(slo: SLO) -> list[dict]:
        try:
            evs = evaluate_slo(spec, slo, data, start, end, step)
        finally:
            if progress is not None:
                progress(slo.name)
        return [_result(spec, slo, ev, step, resolution, thresholds) for ev in evs]

    n = max(1, min(workers or os.cpu_count() or 1, len(slos)))
    with ThreadPoolExecutor(n) as pool:
        return [r for part in pool.map(one, slos) for r in part]


def _result(spec: Spec, slo: SLO, ev: Evaluation, step: float, resolution: float, th: Thresholds) -> dict:
    j = judge(spec, slo, ev, step, th)
    budget: _Budget = j.pop("_budget")
    start, end = float(ev.times[0]), float(ev.times[-1])
    return {
        "service": spec.service,
        "slo": slo.name,
        "labels": dict(ev.labels),
        "objective": round(slo.ratio * 100, 10),
        "window": ev.window,
        "alerts": j["alerts"],
        "budget_remaining": _sampled(ev.times, ev.budget_remaining, resolution),
        "budget_burned_per_day": _daily(budget, start, end),
        "budget_burned": round(budget.share(start, end), 9),
        "incidents": j["incidents"],
        "missed": [i for i in j["incidents"] if i["missed"]],
        "noise": j["noise"],
    }
