"""Reports from raw history through the evaluation engine (``sloforge report --data FILE``).

Each SLO is evaluated over its whole window before ``at`` (plus what the
alert windows need), exactly as the generated rules would have recorded it, and
the report reads the values at ``at``; the chart history is sampled from the
same evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sloforge.durations import format_duration
from sloforge.evaluate.engine import FIRING, Evaluation, Unsupported, evaluate_slo
from sloforge.evaluate.series import SeriesSet
from sloforge.model import SLO, Spec
from sloforge.report.model import (
    UNKNOWN,
    History,
    SLOReport,
    alert_windows,
    budget,
    exhaustion,
    projection_window,
    status_of,
)

HISTORY_SPAN = 7 * 86_400.0


def _last(a: np.ndarray) -> float | None:
    v = float(a[-1]) if a.size else math.nan
    return v if math.isfinite(v) else None


def _sampled(a: np.ndarray, idx: np.ndarray) -> list[float | None]:
    return [None if not math.isfinite(float(a[i])) else round(float(a[i]), 9) for i in idx]


def _history(ev: Evaluation, at: float, span: float, step: float) -> History:
    times = ev.times
    idx = np.flatnonzero(times >= at - span)
    every = max(1, int(round(step / (times[1] - times[0])))) if times.size > 1 else 1
    idx = idx[(idx - idx[-1]) % every == 0] if idx.size else idx  # aligned to end at `at`
    return History(
        t=[float(times[i]) for i in idx],
        budget_remaining=_sampled(ev.budget_remaining, idx),
        burn_rate={w: _sampled(v, idx) for w, v in ev.burn_rate.items()},
    )


def _events_in_window(ev: Evaluation, slo: SLO, step: float) -> float | None:
    inside = ev.times > ev.times[-1] - slo.window
    rates = ev.events_rate5m[inside]
    if not np.isfinite(rates).any():
        return None
    return float(np.nansum(rates) * step)


def _base(spec: Spec, slo: SLO) -> dict:
    return {
        "service": spec.service,
        "slo": slo.name,
        "title": slo.title or slo.name,
        "description": slo.description,
        "objective": round(slo.ratio * 100, 10),
        "window": format_duration(slo.window),
        "alert_windows": alert_windows(spec, slo),
    }


def unknown(spec: Spec, slo: SLO, reason: str, source: str, labels: dict[str, str] | None = None) -> SLOReport:
    """A report that can say nothing but why."""
    return SLOReport(
        **_base(spec, slo),
        labels=labels or {},
        sli=None,
        error_budget=budget(slo, None),
        burn_rates={},
        status=UNKNOWN,
        exhaustion_at=None,
        alerts_firing=[],
        coverage=None,
        source=source,
        reason=reason,
    )


def report_of(spec: Spec, slo: SLO, ev: Evaluation, at: float, *, history_step: float | None = 3600.0) -> SLOReport:
    step = spec.evaluation_interval
    remaining = _last(ev.budget_remaining)
    burn = {w: _last(v) for w, v in ev.burn_rate.items()}
    status = status_of(remaining)
    return SLOReport(
        **_base(spec, slo),
        labels=dict(ev.labels),
        sli=_last(ev.sli),
        error_budget=budget(slo, None if remaining is None else 1 - remaining, _events_in_window(ev, slo, step)),
        burn_rates=burn,
        status=status,
        exhaustion_at=exhaustion(at, remaining, burn.get(format_duration(projection_window(slo))), slo.window),
        alerts_firing=sorted(name for name, st in ev.alerts.items() if st.size and st[-1] == FIRING),
        coverage=_last(ev.coverage.get(ev.window, np.array([]))),
        source="engine",
        reason="the SLO window has no samples at this time" if status == UNKNOWN else None,
        history=None if history_step is None else _history(ev, at, HISTORY_SPAN, history_step),
    )


def reports_from_engine(
    specs: Sequence[Spec], data: SeriesSet, at: float, *, source: str, history_step: float | None = 3600.0
) -> list[SLOReport]:
    """Every SLO series of ``specs`` at ``at``; SLOs the engine cannot evaluate or without data are unknown."""
    out: list[SLOReport] = []
    for spec in specs:
        for slo in spec.slos:
            margin = max([bw.long for bw in slo.alerting.page + slo.alerting.ticket], default=0.0)
            start = at - max(slo.window, HISTORY_SPAN, margin)
            try:
                evs = evaluate_slo(spec, slo, data, start, at, spec.evaluation_interval)
            except Unsupported as e:
                out.append(unknown(spec, slo, str(e), source))
                continue
            if not evs:
                out.append(unknown(spec, slo, f"no samples of the SLI's series in {source} before {at:.0f}", source))
            out += [report_of(spec, slo, ev, at, history_step=history_step) for ev in evs]
    return out
