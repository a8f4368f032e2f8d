"""Reports from any Prometheus-compatible API (``sloforge report --prometheus URL``).

Per service a few batched queries read what the generated rules recorded, so
the number of queries grows with services, not with SLOs or ``by`` values:

1. one instant query at ``at`` for every recorded value of the service
   (``{__name__=~"sloforge:slo_burn_rate|...", service="x"}``): burn rates per
   window, SLI, budget remaining, coverage and objective;
2. one for the events in each SLO window: the mean recorded event rate over the
   window times the window (``avg_over_time`` over ``w - 5m`` of the 5m rates,
   the rules' own derivation of long windows);
3. ``ALERTS{alertstate="firing", service="x"}``;
4. with ``history``, one range query over the last 7 days (budget remaining and
   burn rates, every ``history_step``, default 1h).

An SLO without recorded burn rates or budget (rules not deployed, or deployed
moments ago) falls back to its raw series with one query per SLO holding every
window: ``sum by (<by>) (increase(<bad>[w])) / sum by (<by>) (increase(<total>[w]))``
(``total - good`` for good/total and latency SLIs; zero traffic is a ratio of 0,
as in the rules).  ``increase`` extrapolates where the rules count exactly, so
these numbers differ slightly from what the rules would record.  Timeslice SLIs
judge their condition in a subquery at the evaluation interval, as the rules do
at every evaluation; that reads every raw sample of the window and can be slow.

Data problems never raise: a failed query, an empty answer or a NaN makes the
SLO (or the whole service) ``unknown`` with the reason; a failed side query
(events, alerts, history) leaves a caveat in ``reason``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from sloforge import conventions as C
from sloforge.durations import format_duration, format_time
from sloforge.evaluate.engine import sli_selectors
from sloforge.generate.rules import sli_expressions, static_labels
from sloforge.model import SLO, Spec
from sloforge.promql import Matcher, number
from sloforge.report.from_engine import HISTORY_SPAN, unknown
from sloforge.report.model import UNKNOWN, History, SLOReport, budget, exhaustion, projection_window, status_of
from sloforge.sources.prometheus import PrometheusSource, SourceError

RECORDED, RAW = "recorded", "raw"
NAME = "__name__"
READ = (C.BURN_RATE, C.SLI, C.BUDGET_REMAINING, C.COVERAGE, C.OBJECTIVE)  # at ``at``
HISTORY_READ = (C.BURN_RATE, C.BUDGET_REMAINING)  # over the history span
MAX_POINTS = 11_000  # Prometheus refuses range queries with more points per series

Identity = tuple[tuple[str, str], ...]  # the labels of one SLO series, without __name__ and window
Values = dict[tuple[str, str], float]  # (metric, window) -> value
T = TypeVar("T")


@dataclass
class _Queries:
    """The source, counting the queries issued (retries inside the client are not counted)."""

    source: PrometheusSource
    count: int = 0

    def instant(self, expr: str, at: float) -> list[tuple[dict[str, str], float]]:
        self.count += 1
        return self.source.query(expr, at)

    def range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], np.ndarray, np.ndarray]]:
        self.count += 1
        return self.source.query_range(expr, start, end, step)


@dataclass
class _Service:
    """What the service-wide queries found, shared by its SLOs' reports."""

    at: float
    events: dict[Identity, float]
    alerts: list[dict[str, str]]
    history: dict[Identity, History] | None
    caveats: list[str]


@dataclass
class _Numbers:
    """What one SLO series says at ``at``, whatever the path; ``burn`` may hold more windows than are shown."""

    sli: float | None
    remaining: float | None
    burn: dict[str, float | None]
    events: float | None = None
    coverage: float | None = None


# ---------------------------------------------------------------------- small helpers


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _identity(labels: dict[str, str]) -> Identity:
    return tuple(sorted((k, v) for k, v in labels.items() if k not in (NAME, C.LABEL_WINDOW) and v != ""))


def _selector(spec: Spec, names: Sequence[str], *extra: Matcher) -> str:
    """``{__name__=~"a|b",service="x",...}`` (metric names hold no regex metacharacters)."""
    matchers = [Matcher(NAME, "=~", "|".join(names)), Matcher(C.LABEL_SERVICE, "=", spec.service), *extra]
    return "{" + ",".join(m.render() for m in matchers) + "}"


def _windows(slo: SLO) -> list[str]:
    """The windows a report shows burn rates for: every alert window and the SLO window, ascending."""
    return [format_duration(w) for w in sorted({*slo.windows(), slo.window})]


def _raw_windows(slo: SLO) -> list[float]:
    """The windows the raw fallback computes: those shown and the one exhaustion projects from."""
    return sorted({*slo.windows(), slo.window, projection_window(slo)})


def _side(what: str, fn: Callable[[], T], caveats: list[str], default: T) -> T:
    """A query whose failure only leaves a caveat."""
    try:
        return fn()
    except SourceError as e:
        caveats.append(f"{what} unknown: {e}")
        return default


# ---------------------------------------------------------------------- one report


def _report(
    spec: Spec, slo: SLO, labels: dict[str, str], source: str, n: _Numbers, svc: _Service, reasons: list[str]
) -> SLOReport:
    remaining = _finite(n.remaining)
    burn = {w: _finite(b) for w, b in n.burn.items()}
    names = {name for _, name, _ in slo.alerts(spec.service)}
    firing = {
        a["alertname"]
        for a in svc.alerts
        if a.get("alertname") in names
        and a.get(C.LABEL_SLO, slo.name) == slo.name
        and all(a.get(k, v) == v for k, v in labels.items())
    }
    return replace(
        unknown(spec, slo, "", source, labels),
        sli=_finite(n.sli),
        error_budget=budget(slo, None if remaining is None else 1.0 - remaining, _finite(n.events)),
        burn_rates={w: burn.get(w) for w in _windows(slo)},
        status=status_of(remaining),
        exhaustion_at=exhaustion(svc.at, remaining, burn.get(format_duration(projection_window(slo))), slo.window),
        alerts_firing=sorted(firing),
        coverage=_finite(n.coverage),
        reason="; ".join([*reasons, *svc.caveats]) or None,
    )


def _not_finite(what: str, value: float | None, at: float) -> list[str]:
    """The reason a status is unknown, if ``value`` is missing or not finite."""
    if _finite(value) is not None:
        return []
    return [f"{what} is {'missing' if value is None else value} at {format_time(at)}"]


# ---------------------------------------------------------------------- the recorded path


def _by_slo(rows: list[tuple[dict[str, str], float]]) -> dict[str, dict[Identity, Values]]:
    """Recorded rows per SLO name, then per series identity: (metric, window) -> value."""
    out: dict[str, dict[Identity, Values]] = {}
    for labels, value in rows:
        if C.LABEL_SLO in labels:
            key = (labels.get(NAME, ""), labels.get(C.LABEL_WINDOW, ""))
            out.setdefault(labels[C.LABEL_SLO], {}).setdefault(_identity(labels), {})[key] = value
    return out


def _has_budget(series: dict[Identity, Values]) -> bool:
    return any(name in (C.BURN_RATE, C.BUDGET_REMAINING) for values in series.values() for name, _ in values)


def events_query(spec: Spec, slos: Sequence[SLO]) -> str | None:
    """Events in each SLO's window from the recorded 5m event rates: one ``or`` term per distinct window."""
    by_window: dict[float, list[str]] = {}
    for slo in slos:
        if not slo.sli.timeslice:  # a timeslice "event rate" counts judged series, not events
            by_window.setdefault(slo.window, []).append(slo.name)
    terms = []
    for w, names in sorted(by_window.items()):
        sel = _selector(spec, [C.TOTAL_RATE], Matcher(C.LABEL_SLO, "=~", "|".join(names)))
        rng = format_duration(max(w - C.BASE_WINDOW, spec.evaluation_interval))
        terms.append(f"avg_over_time({sel}[{rng}]) * {number(w)}")
    return " or ".join(terms) or None


def _coverage_caveat(spec: Spec, slo: SLO, coverage: float | None) -> list[str]:
    """Cold start: the recorded history does not yet cover the SLO window."""
    if coverage is None or coverage >= 1:
        return []
    return [
        f"recorded history covers {coverage:.1%} of the {format_duration(slo.window)} window (rules deployed "
        "recently): SLI and budget are over that part only"
    ]


def _objective_caveat(slo: SLO, series: dict[Identity, Values]) -> list[str]:
    deployed = sorted({v for values in series.values() for (name, _), v in values.items() if name == C.OBJECTIVE})
    wrong = [v for v in deployed if math.isfinite(v) and abs(v - slo.ratio) > 1e-12]
    if not wrong:
        return []
    return [
        f"the deployed rules use objective {number(wrong[0] * 100)}%, the spec {number(slo.ratio * 100)}%: "
        "regenerate and deploy the rules"
    ]


def _recorded_reports(spec: Spec, slo: SLO, series: dict[Identity, Values], svc: _Service) -> list[SLOReport]:
    static = set(static_labels(spec, slo))
    w = format_duration(slo.window)
    out = []
    for ident, values in sorted(series.items()):
        if {name for name, _ in values} == {C.OBJECTIVE}:
            continue  # the SLO's metadata, not one of its series
        labels = {k: v for k, v in ident if k not in static}
        n = _Numbers(
            sli=values.get((C.SLI, w)),
            remaining=values.get((C.BUDGET_REMAINING, w)),
            burn={x: values.get((C.BURN_RATE, x)) for x in _windows(slo)},
            events=svc.events.get(ident),
            coverage=values.get((C.COVERAGE, w)),
        )
        reasons = _not_finite(f"the recorded {C.BUDGET_REMAINING}{{window={w!r}}}", n.remaining, svc.at)
        reasons += _coverage_caveat(spec, slo, _finite(n.coverage)) + _objective_caveat(slo, series)
        report = _report(spec, slo, labels, RECORDED, n, svc, reasons)
        report.history = None if svc.history is None else svc.history.get(ident) or History()
        out.append(report)
    return out


# ---------------------------------------------------------------------- history


def history_grid(at: float, step: float | None) -> tuple[float, float, int]:
    """``(start, step, points)`` of the history: every ``step`` (default 1h, coarser if a range query needs
    it) over the 7 days up to ``at``, rounded to milliseconds as the API reads times."""
    step = round(max(step or 3600.0, HISTORY_SPAN / MAX_POINTS), 3)
    n = int(HISTORY_SPAN // step)
    return round(at - n * step, 3), step, n + 1


def _read_history(q: _Queries, spec: Spec, at: float, step: float | None) -> dict[Identity, History]:
    """One range query for the whole service; values on the grid, None where a series has no point."""
    start, step, size = history_grid(at, step)
    grid = [round(start + k * step, 3) for k in range(size)]
    rows = q.range(_selector(spec, HISTORY_READ), start, grid[-1], step)
    slos = {slo.name: slo for slo in spec.slos}
    found: dict[Identity, dict[tuple[str, str], list[float | None]]] = {}
    for labels, t, v in rows:
        column: list[float | None] = [None] * size
        for i, x in zip(np.rint((t - start) / step).astype(int).tolist(), v.tolist(), strict=True):
            if 0 <= i < size and math.isfinite(x):
                column[i] = x
        found.setdefault(_identity(labels), {})[(labels.get(NAME, ""), labels.get(C.LABEL_WINDOW, ""))] = column
    out = {}
    for ident, columns in found.items():
        slo = slos.get(dict(ident).get(C.LABEL_SLO, ""))
        if slo is None:
            continue
        empty: list[float | None] = [None] * size
        out[ident] = History(
            t=grid,
            budget_remaining=columns.get((C.BUDGET_REMAINING, format_duration(slo.window)), empty),
            burn_rate={w: columns[(C.BURN_RATE, w)] for w in _windows(slo) if (C.BURN_RATE, w) in columns},
        )
    return out


# ---------------------------------------------------------------------- the raw fallback


def _sum(slo: SLO, expr: str) -> str:
    return f"sum by ({', '.join(slo.by)}) ({expr})" if slo.by else f"sum ({expr})"


def raw_ratio(spec: Spec, slo: SLO, w: float) -> str:
    """PromQL for the error ratio over ``w`` from raw series, as the rules mean it (no traffic: 0)."""
    rng = format_duration(w)
    floor = C.DENOMINATOR_FLOOR
    if slo.sli.timeslice:
        bad, total = sli_expressions(slo)  # judged at every evaluation, as the rules do
        sub = f"[{rng}:{format_duration(spec.evaluation_interval)}]"
        return f"sum_over_time(({bad}){sub}) / clamp_min(sum_over_time(({total}){sub}), {floor})"
    sels = sli_selectors(slo)
    total = _sum(slo, f"increase({sels.total.render()}[{rng}])")
    if sels.bad is not None:
        errors = _sum(slo, f"increase({sels.bad.render()}[{rng}])")
    else:
        assert sels.good is not None
        good = _sum(slo, f"increase({sels.good.render()}[{rng}])")
        errors = f"clamp_min({total} - ({good} or {total} * 0), 0)"
    return f"({errors}) / clamp_min({total}, {floor})"


def raw_query(spec: Spec, slo: SLO) -> str:
    """One query for an SLO from raw series: the error ratio of every window (``window`` label set) and, for
    event SLIs, the events in the SLO window (no ``window`` label)."""
    terms = [
        f'label_replace({raw_ratio(spec, slo, w)}, "{C.LABEL_WINDOW}", "{format_duration(w)}", "", "")'
        for w in _raw_windows(slo)
    ]
    if not slo.sli.timeslice:
        terms.append(_sum(slo, f"increase({sli_selectors(slo).total.render()}[{format_duration(slo.window)}])"))
    return "\nor\n".join(terms)


def _raw_reports(q: _Queries, spec: Spec, slo: SLO, svc: _Service) -> list[SLOReport]:
    try:
        rows = q.instant(raw_query(spec, slo), svc.at)
    except SourceError as e:
        return [unknown(spec, slo, f"no recorded series; reading the raw series failed: {e}", RAW)]
    ratios: dict[Identity, dict[str, float]] = {}
    events: dict[Identity, float] = {}
    for labels, value in rows:
        ident = tuple(sorted((k, v) for k, v in labels.items() if k in slo.by and v != ""))
        if C.LABEL_WINDOW in labels:
            ratios.setdefault(ident, {})[labels[C.LABEL_WINDOW]] = value
        else:
            events[ident] = value
    when = format_time(svc.at)
    if not ratios:
        what = "its timeslice expression" if slo.sli.timeslice else "the SLI's raw series"
        return [unknown(spec, slo, f"no recorded sloforge series and no samples of {what} at {when}", RAW)]
    caveat = f"no recorded sloforge series at {when}: numbers from raw series (increase() per window)"
    budget_ratio = float(number(slo.error_budget))  # as the rules write it
    w = format_duration(slo.window)
    out = []
    for ident, r in sorted(ratios.items()):
        ratio = _finite(r.get(w))
        n = _Numbers(
            sli=None if ratio is None else 1.0 - ratio,
            remaining=None if ratio is None else 1.0 - ratio / budget_ratio,
            burn={x: r[x] / budget_ratio for x in r},
            events=events.get(ident),
        )
        reasons = _not_finite(f"the raw error ratio over {w}", r.get(w), svc.at) + [caveat]
        out.append(_report(spec, slo, dict(ident), RAW, n, svc, reasons))
    return out


# ---------------------------------------------------------------------- per service


def _alerts(q: _Queries, spec: Spec, at: float) -> list[dict[str, str]]:
    sel = f'ALERTS{{alertstate="firing",{Matcher(C.LABEL_SERVICE, "=", spec.service).render()}}}'
    return [labels for labels, _ in q.instant(sel, at)]


def _service_reports(q: _Queries, spec: Spec, at: float, history: bool, step: float | None) -> list[SLOReport]:
    try:
        recorded = _by_slo(q.instant(_selector(spec, READ), at))
    except SourceError as e:
        return [unknown(spec, slo, f"cannot read the recorded series: {e}", RECORDED) for slo in spec.slos]
    caveats: list[str] = []
    alerts = _side("firing alerts", lambda: _alerts(q, spec, at), caveats, [])
    have = [slo for slo in spec.slos if _has_budget(recorded.get(slo.name, {}))]
    names = {slo.name for slo in have}
    expr = events_query(spec, have)
    rows = _side("events in the SLO window", lambda: q.instant(expr, at), caveats, []) if expr else []
    events = {_identity(labels): v for labels, v in rows}
    hist = _side("history", lambda: _read_history(q, spec, at, step), caveats, {}) if history and have else None
    svc = _Service(at, events, alerts, hist, caveats)
    raw_svc = replace(svc, caveats=[*caveats, "no history from raw series"] if history else caveats)
    out = []
    for slo in spec.slos:
        if slo.name in names:
            out += _recorded_reports(spec, slo, recorded[slo.name], svc)
        else:
            out += _raw_reports(q, spec, slo, raw_svc)
    return out


def reports_from_prometheus(
    specs: list[Spec],
    source: PrometheusSource,
    at: float,
    *,
    history: bool = False,
    history_step: float | None = None,
) -> tuple[list[SLOReport], dict]:
    """Every SLO series of ``specs`` at ``at`` (unix seconds), in spec order, and stats: ``queries`` issued,
    ``services``, ``reports``, how many reports came from ``recorded`` and ``raw`` series, how many are ``unknown``."""
    q = _Queries(source)
    reports: list[SLOReport] = []
    for spec in specs:
        reports += _service_reports(q, spec, at, history, history_step)
    stats = {
        "queries": q.count,
        "services": len(specs),
        "reports": len(reports),
        RECORDED: sum(r.source == RECORDED and r.status != UNKNOWN for r in reports),
        RAW: sum(r.source == RAW and r.status != UNKNOWN for r in reports),
        UNKNOWN: sum(r.status == UNKNOWN for r in reports),
    }
    return reports, stats
