"""SLO evaluation over history with the derivation the generated rules use.

``evaluate(spec, data, start, end)`` replays the rule groups of
``sloforge.generate.rules`` on their own evaluation grids (multiples of the
group interval since the epoch, as promtool aligns them), vectorised over
evaluation times and ``by`` groups:

1. SLI group, every ``evaluation_interval``: ``sloforge:slo_errors:rate5m`` and
   ``sloforge:slo_events:rate5m`` from the raw series (``sum by`` of each
   counter's counted 5m increase, ``((x - x offset 5m) >= 0) or increase(x[5m])``, per second;
   ``clamp_min(total - (good or total * 0), 0)`` for good/total and latency SLIs).
   Timeslice SLIs first record ``sloforge:slo_slices_bad`` and ``_total`` from
   their own PromQL (``promql_eval``, a subset of PromQL: ``unsupported`` names
   the SLOs beyond it), then take ``avg_over_time`` of those over
   ``5m - evaluation_interval``.  Then, for every SLI:
   the 1h blocks (twelve abutting 5m rates, ``or`` the cold-start average);
   the error ratio of every alert window (abutting 5m or 1h terms, else
   ``avg_over_time(rate5m[w - 5m])``), burn rates, and the MWMBR alerts with
   ``for`` (pending, then firing once active for ``for``).
2. SLO group, every ``max(5m, evaluation_interval)``: the SLO-window ratio, SLI,
   budget remaining, status and coverage.

Recorded series are arrays over their group's grid with NaN where the rule
returned nothing; reading them back (offsets, ``avg_over_time``) follows
Prometheus: a rule result that disappears leaves a stale marker, so an instant
read sees exactly the sample of that evaluation.  Outputs are then sampled at
``start + k * step`` like a ``query_range`` over the recorded series.  At a
timestamp both groups evaluate, the SLO group reads the SLI group's samples of
that same evaluation (promtool with ``group_eval_order`` does so; a live
Prometheus runs the groups at phase offsets, which a backtest cannot know).

"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from sloforge import conventions as C
from sloforge.durations import format_duration
from sloforge.evaluate import functions as F
from sloforge.evaluate import promql_eval as PE
from sloforge.evaluate.series import Series, SeriesSet
from sloforge.generate.rules import SLOW_GROUP_INTERVAL, coverage_samples, sli_expressions, slo_alerts
from sloforge.model import SLO, BurnWindow, Spec
from sloforge.promql import PromQLError, Selector, number, selectors

BASE_MS = round(C.BASE_WINDOW * 1000)
BLOCK_MS = round(C.BLOCK_WINDOW * 1000)
BLOCK_SUM_MAX_MS = round(C.BLOCK_SUM_MAX * 1000)
FLOOR = float(C.DENOMINATOR_FLOOR)

INACTIVE, PENDING, FIRING = 0, 1, 2


class Unsupported(ValueError):
    """The engine cannot evaluate this SLO (yet)."""


def ms(seconds: float) -> int:
    return round(seconds * 1000)


def literal(x: float) -> float:
    """A number as the rule text writes it (``number()``), read back the way Prometheus parses it."""
    return float(number(x))


# ---------------------------------------------------------------- grids and recorded series


@dataclass(frozen=True)
class Grid:
    """Evaluation times ``start + k * step`` (ms), k < n."""

    start: int
    step: int
    n: int

    @classmethod
    def aligned(cls, start_ms: int, end_ms: int, step_ms: int) -> Grid:
        """Multiples of ``step`` in ``[start, end]`` (a rule group's evaluations)."""
        first = -(-start_ms // step_ms) * step_ms
        last = (end_ms // step_ms) * step_ms
        return cls(first, step_ms, max(0, (last - first) // step_ms + 1))

    def times(self) -> np.ndarray:
        return self.start + self.step * np.arange(self.n, dtype=np.int64)


class Recorded:
    """A recorded series per group (rows) over its rule group's grid; NaN where the rule returned nothing."""

    def __init__(self, grid: Grid, values: np.ndarray):
        self.grid = grid
        self.values = values
        self._prep: tuple[np.ndarray, ...] | None = None

    def _own(self, at: np.ndarray) -> bool:
        """Is ``at`` this series' own evaluation grid?"""
        g = self.grid
        return at.size == g.n > 0 and at[0] == g.start and at[-1] == g.start + (g.n - 1) * g.step

    def instant(self, at: np.ndarray, offset_ms: int = 0) -> np.ndarray:
        """``x offset o`` at ``at``: the sample of the latest evaluation within the 5m lookback."""
        g = self.grid
        at = np.asarray(at, dtype=np.int64)
        if offset_ms % g.step == 0 and self._own(at):  # a rule reading its own group's series: a shift
            k = offset_ms // g.step
            if k == 0:
                return self.values
            out = np.full(self.values.shape, np.nan)
            if k < g.n:
                out[:, k:] = self.values[:, : g.n - k]
            return out
        t = at - offset_ms
        idx = (t - g.start) // g.step
        safe = np.clip(idx, 0, max(g.n - 1, 0))
        ok = (idx >= 0) & (g.start + safe * g.step >= t - F.LOOKBACK_MS) & (g.n > 0)
        if not g.n:
            return np.full((self.values.shape[0], t.size), np.nan)
        return np.where(ok, self.values[:, safe], np.nan)

    def _prefix(self) -> tuple[np.ndarray, ...]:
        if self._prep is None:
            v = self.values
            rows, n = v.shape
            present = ~np.isnan(v)
            z = np.where(present, v, 0.0)
            hi = np.cumsum(z, axis=1)
            prev = np.zeros_like(hi)
            prev[:, 1:] = hi[:, :-1]
            bb = hi - prev
            lo = np.cumsum((prev - (hi - bb)) + (z - bb), axis=1)
            idx = np.broadcast_to(np.arange(n), (rows, n))
            last = np.maximum.accumulate(np.where(present, idx, -1), axis=1)
            before = np.full((rows, n), -1)
            before[:, 1:] = last[:, :-1]
            prev_val = np.take_along_axis(v, np.maximum(before, 0), axis=1)
            change = present & (before >= 0) & (v != prev_val)
            nxt = np.minimum.accumulate(np.where(present, idx, n)[:, ::-1], axis=1)[:, ::-1]

            def pad(a: np.ndarray) -> np.ndarray:
                return np.concatenate((np.zeros((rows, 1), dtype=a.dtype), a), axis=1)

            self._prep = (pad(hi), pad(lo), pad(np.cumsum(present, axis=1)), pad(np.cumsum(change, axis=1)), nxt)
        return self._prep

    def _window(self, at: np.ndarray, range_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """Grid indices ``[lo, hi]`` of the closed window ``[at - range, at]``."""
        g = self.grid
        t = np.asarray(at, dtype=np.int64)
        lo = -((g.start - (t - range_ms)) // g.step)  # ceil
        hi = (t - g.start) // g.step
        return np.clip(lo, 0, g.n), np.clip(hi, -1, g.n - 1)

    def count_over_time(self, at: np.ndarray, range_ms: int) -> np.ndarray:
        if not self.grid.n:
            return np.full((self.values.shape[0], np.asarray(at).size), np.nan)
        _, _, cnt, _, _ = self._prefix()
        lo, hi = self._window(at, range_ms)
        hi1 = np.maximum(hi + 1, lo)
        count = (cnt[:, hi1] - cnt[:, lo]).astype(np.float64)
        return np.where(count > 0, count, np.nan)

    def avg_over_time(self, at: np.ndarray, range_ms: int) -> np.ndarray:
        """Mean of the samples in the window: exact for windows of equal values, else within ulps."""
        if not self.grid.n:
            return np.full((self.values.shape[0], np.asarray(at).size), np.nan)
        hi_s, lo_s, cnt, chg, nxt = self._prefix()
        lo, hi = self._window(at, range_ms)
        hi1 = np.maximum(hi + 1, lo)
        count = cnt[:, hi1] - cnt[:, lo]
        total = (hi_s[:, hi1] - hi_s[:, lo]) + (lo_s[:, hi1] - lo_s[:, lo])
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = total / count
        first = np.minimum(nxt[:, np.minimum(lo, self.grid.n - 1)], self.grid.n - 1)
        constant = chg[:, hi1] - np.take_along_axis(chg, first + 1, axis=1)  # value changes after the first
        first_val = np.take_along_axis(self.values, first, axis=1)
        mean = np.where((constant == 0) & (count > 0), first_val, mean)
        return np.where(count > 0, mean, np.nan)


def _abutting(rec: Recorded, at: np.ndarray, n: int, step_ms: int) -> np.ndarray:
    """``x + x offset s + ... or avg_over_time(x[(n-1)s]) * n`` (rules._abutting)."""
    total = rec.instant(at)
    for k in range(1, n):
        total = total + rec.instant(at, k * step_ms)
    cols = np.flatnonzero(np.isnan(total).any(axis=0))  # cold start and gaps only: the `or` branch
    if cols.size:
        cold = rec.avg_over_time(at[cols], (n - 1) * step_ms) * float(n)
        part = total[:, cols]
        total[:, cols] = np.where(np.isnan(part), cold, part)
    return total


def window_mean(base: Recorded, block: Recorded, at: np.ndarray, window_ms: int) -> np.ndarray:
    """Proportional to the mean rate over ``window`` exactly as ``rules.window_mean`` derives it."""
    if window_ms <= BASE_MS:
        return base.instant(at)
    if window_ms == BLOCK_MS:
        return block.instant(at)
    if window_ms <= BLOCK_MS and window_ms % BASE_MS == 0:
        return _abutting(base, at, window_ms // BASE_MS, BASE_MS)
    if window_ms <= BLOCK_SUM_MAX_MS and window_ms % BLOCK_MS == 0:
        return _abutting(block, at, window_ms // BLOCK_MS, BLOCK_MS)
    return base.avg_over_time(at, window_ms - BASE_MS)


def window_ratio(errors: tuple[Recorded, Recorded], events: tuple[Recorded, Recorded], at, window_ms) -> np.ndarray:
    e = window_mean(*errors, at, window_ms)
    t = window_mean(*events, at, window_ms)
    return e / np.maximum(t, FLOOR)


def alert_states(active: np.ndarray, times: np.ndarray, for_ms: int) -> np.ndarray:
    """Prometheus alert states per evaluation: pending from the first active evaluation,
    firing once active for ``for`` (at once without it), inactive when the condition drops."""
    n = active.shape[-1]
    prev = np.zeros_like(active)
    prev[..., 1:] = active[..., :-1]
    starts = np.where(active & ~prev, np.arange(n), -1)
    run_start = np.maximum.accumulate(starts, axis=-1)
    since = times - times[np.maximum(run_start, 0)]
    firing = active & (since >= for_ms)
    return np.where(firing, FIRING, np.where(active, PENDING, INACTIVE)).astype(np.int8)


def firing_intervals(times: np.ndarray, state: np.ndarray) -> list[tuple[float, float]]:
    """``[(start, end), ...]`` in the units of ``times``: from the first firing step to the first step after."""
    firing = np.asarray(state) == FIRING
    if not firing.any():
        return []
    edges = np.diff(np.concatenate(([0], firing.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    step = float(times[1] - times[0]) if len(times) > 1 else 0.0
    out = []
    for a, b in zip(starts, ends, strict=True):
        end = float(times[b]) if b < len(times) else float(times[-1]) + step
        out.append((float(times[a]), end))
    return out


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class AlertInfo:
    name: str
    tier: str  # page | ticket
    severity: str
    for_seconds: tuple[float, ...]  # the distinct `for` of the tier's rules


@dataclass
class Evaluation:
    """One SLO series (one ``by`` label set) over the output grid ``times`` (unix seconds).

    Arrays hold NaN where the recorded series is absent; alert states are
    ``INACTIVE`` (0), ``PENDING`` (1) or ``FIRING`` (2) per alert name.
    """

    service: str
    slo: str
    labels: dict[str, str]
    times: np.ndarray
    window: str  # the SLO window, e.g. '30d'
    errors_rate5m: np.ndarray
    events_rate5m: np.ndarray
    errors_rate1h: np.ndarray
    events_rate1h: np.ndarray
    error_ratio: dict[str, np.ndarray]  # window text -> ratio (alert windows and the SLO window)
    burn_rate: dict[str, np.ndarray]
    sli: np.ndarray
    budget_remaining: np.ndarray
    status: np.ndarray
    coverage: dict[str, np.ndarray]
    alerts: dict[str, np.ndarray]
    alert_info: list[AlertInfo] = field(default_factory=list)

    def firing(self, alert: str) -> list[tuple[float, float]]:
        return firing_intervals(self.times, self.alerts[alert])


# ---------------------------------------------------------------- the SLI group


@dataclass(frozen=True)
class SLISelectors:
    """The raw selectors the level-1 rules read: ``bad`` (errors) or ``good``, and ``total``."""

    total: Selector
    bad: Selector | None = None
    good: Selector | None = None


def sli_selectors(slo: SLO) -> SLISelectors:
    """Taken from the level-1 rule expressions themselves, so engine and rules cannot drift apart."""
    if slo.sli.timeslice:
        raise Unsupported(f"SLO {slo.name}: a timeslice SLI has no counter selectors (see check_supported)")
    errors, total = sli_expressions(slo)
    (tot,) = _distinct(selectors(total))  # Δ5m reads its selector three times
    found = _distinct(selectors(errors))
    if slo.sli.events and slo.sli.events.bad:
        (bad,) = found
        return SLISelectors(tot, bad=bad)
    # clamp_min(total - (good or total * 0), 0)
    assert len(found) == 2 and found[0] == tot, errors
    return SLISelectors(tot, good=found[1])


def check_supported(slo: SLO) -> None:
    """Raise ``Unsupported`` if the engine cannot evaluate ``slo`` (a timeslice expression beyond the subset)."""
    if not slo.sli.timeslice:
        return
    for expr in sli_expressions(slo):
        try:
            PE.check(expr)
        except PE.UnsupportedPromQL as e:
            raise Unsupported(
                f"SLO {slo.name}: the timeslice expression uses {e}, which the engine cannot evaluate"
            ) from None
        except PromQLError as e:
            raise Unsupported(f"SLO {slo.name}: {e}") from None


def read_selectors(slo: SLO) -> list[Selector]:
    """Every raw selector the SLO's level-1 rules read (raises ``Unsupported``)."""
    check_supported(slo)
    if slo.sli.timeslice:
        return _distinct(selectors(slo.sli.timeslice.expr))
    sels = sli_selectors(slo)
    return [s for s in (sels.total, sels.bad, sels.good) if s is not None]


def _distinct(found: list[Selector]) -> list[Selector]:
    out: list[Selector] = []
    for sel in found:
        if sel not in out:
            out.append(sel)
    return out


def _summed(
    data: SeriesSet, sels: Sequence[Selector], by: Sequence[str], at: np.ndarray
) -> list[dict[tuple[str, ...], np.ndarray]]:
    """``sum by (<by>) (Δ5m(<sel>)) / 300`` at every time of ``at``, per selector, each series computed once.

    ``Δ5m(x) = ((x - x offset 5m) >= 0) or increase(x[5m])``, the generated rules' level-1 piece.
    """
    chosen = [data.select(sel) for sel in sels]
    union: dict[int, Series] = {}
    for group in chosen:
        for s in group:
            union.setdefault(id(s), s)
    series = list(union.values())
    pieces = F.counted_increase(series, at, BASE_MS) if series else np.zeros((0, at.size))
    row = {id(s): i for i, s in enumerate(series)}
    out = []
    for group in chosen:
        rows = pieces[[row[id(s)] for s in group]] if group else pieces[:0]
        summed = F.sum_by(rows, F.group_keys([s.labels for s in group], by))
        out.append({k: v / F.range_seconds(BASE_MS) for k, v in summed.items()})
    return out


def _rows(d: dict[tuple[str, ...], np.ndarray], keys: list[tuple[str, ...]], n: int) -> np.ndarray:
    out = np.full((len(keys), n), np.nan)
    for i, k in enumerate(keys):
        if k in d:
            out[i] = d[k]
    return out


def level1(
    sels: SLISelectors, data: SeriesSet, by: Sequence[str], at: np.ndarray
) -> tuple[list[tuple[str, ...]], np.ndarray, np.ndarray]:
    """Group keys, errors/s and events/s over 5m per group (``sloforge:slo_{errors,events}:rate5m``)."""
    total, other = _summed(data, [sels.total, sels.bad or sels.good], by, at)  # type: ignore[list-item]
    if sels.bad is not None:
        keys = sorted(set(total) | set(other))
        return keys, _rows(other, keys, at.size), _rows(total, keys, at.size)
    keys = sorted(total)
    n = _rows(total, keys, at.size)
    good = _rows(other, keys, at.size)
    good = np.where(np.isnan(good), n * 0.0, good)  # good or total * 0
    return keys, np.maximum(n - good, 0.0), n


def timeslice_level1(
    spec: Spec, slo: SLO, data: SeriesSet, grid: Grid
) -> tuple[list[tuple[str, ...]], np.ndarray, np.ndarray]:
    """Group keys, errors and events "per second" of a timeslice SLI: ``sloforge:slo_slices_{bad,total}``
    recorded from its PromQL at every evaluation, then their ``avg_over_time`` over ``5m - evaluation_interval``
    (the share of bad evaluations over 5m, and the number of judged series)."""
    at = grid.times()
    recorded = []
    for expr in sli_expressions(slo):
        vec = PE.record(expr, data, at)
        recorded.append(dict(zip(F.group_keys(vec.labels, slo.by), vec.masked(), strict=True)))
    keys = sorted(set(recorded[0]) | set(recorded[1]))
    rng = ms(C.BASE_WINDOW - spec.evaluation_interval)
    bad, total = (Recorded(grid, _rows(r, keys, at.size)).avg_over_time(at, rng) for r in recorded)
    return keys, bad, total


@dataclass(frozen=True)
class AlertRule:
    """One generated alert rule: a tier's pairs sharing one ``for``."""

    name: str
    tier: str
    severity: str
    for_ms: int
    pairs: tuple[BurnWindow, ...]


def alert_rules(spec: Spec, slo: SLO) -> list[AlertRule]:
    """The alert rules ``rules.alert_rules`` writes for the SLO (one per tier and distinct ``for``)."""
    out = []
    for tier, name, severity in slo_alerts(spec, slo):
        by_for: dict[float, list[BurnWindow]] = {}
        for bw in getattr(slo.alerting, tier):
            by_for.setdefault(bw.for_ or 0.0, []).append(bw)
        for for_, group in sorted(by_for.items()):
            out.append(AlertRule(name, tier, severity, ms(for_), tuple(group)))
    return out


def _active(rule: AlertRule, burn: dict[int, np.ndarray]) -> np.ndarray:
    act = None
    for bw in rule.pairs:
        f = literal(bw.burn_rate)
        with np.errstate(invalid="ignore"):
            pair = (burn[ms(bw.long)] > f) & (burn[ms(bw.short)] > f)
        act = pair if act is None else act | pair
    assert act is not None
    return act


# ---------------------------------------------------------------- entry points


def _margin_ms(spec: Spec, slo: SLO) -> int:
    """History the value at one time depends on: the longest window read, plus the longest ``for``."""
    fors = [bw.for_ or 0.0 for bw in slo.alerting.page + slo.alerting.ticket]
    return ms(max([slo.window, *slo.windows()]) + max(fors, default=0.0) + 2 * C.BASE_WINDOW)


@dataclass
class SLIGroup:
    """The SLI group's recorded series on its grid: 5m and 1h rates, error ratio per alert window, alert
    states per alert name."""

    grid: Grid
    keys: list[tuple[str, ...]]
    e5: Recorded
    n5: Recorded
    e1h: Recorded
    n1h: Recorded
    ratio: dict[int, Recorded]  # window (ms) -> error ratio
    states: dict[str, np.ndarray]


def sli_group(spec: Spec, slo: SLO, data: SeriesSet, grid: Grid) -> SLIGroup | None:
    """Level 1 (5m rates from raw series), the 1h blocks, every alert window's ratio, the MWMBR alerts."""
    at = grid.times()
    if slo.sli.timeslice:
        keys, err5, tot5 = timeslice_level1(spec, slo, data, grid)
    else:
        keys, err5, tot5 = level1(sli_selectors(slo), data, slo.by, at)
    if not keys:
        return None
    e5, n5 = Recorded(grid, err5), Recorded(grid, tot5)
    n = BLOCK_MS // BASE_MS
    e1h = Recorded(grid, _abutting(e5, at, n, BASE_MS) / float(n))
    n1h = Recorded(grid, _abutting(n5, at, n, BASE_MS) / float(n))
    budget = literal(slo.error_budget)
    ratio = {ms(w): Recorded(grid, window_ratio((e5, e1h), (n5, n1h), at, ms(w))) for w in slo.windows()}
    burn = {w: r.values / budget for w, r in ratio.items()}
    states: dict[str, np.ndarray] = {}
    for rule in alert_rules(spec, slo):
        s = alert_states(_active(rule, burn), at, rule.for_ms)
        states[rule.name] = np.maximum(states[rule.name], s) if rule.name in states else s
    return SLIGroup(grid, keys, e5, n5, e1h, n1h, ratio, states)


@dataclass
class SLOGroup:
    """The SLO-window group's recorded series on its (5m) grid."""

    ratio: Recorded
    remaining: Recorded
    status: Recorded
    coverage: dict[str, Recorded]


def slo_group(spec: Spec, slo: SLO, g: SLIGroup, grid: Grid) -> SLOGroup:
    """SLO-window ratio, remaining budget, status and coverage (``rules.slo_window_rules``)."""
    at = grid.times()
    win = ms(slo.window)
    ratio = g.ratio[win].instant(at) if win in g.ratio else window_ratio((g.e5, g.e1h), (g.n5, g.n1h), at, win)
    remaining = 1.0 - ratio / literal(slo.error_budget)
    with np.errstate(invalid="ignore"):
        status = 1.0 - (remaining < literal(C.AT_RISK_BELOW)) - (remaining <= 0.0)
    status = np.where(np.isnan(remaining), np.nan, status)
    longs = [bw.long for bw in slo.alerting.page + slo.alerting.ticket]
    coverage = {}
    for lw in sorted({slo.window} | ({max(longs)} if longs else set())):
        expected = literal(coverage_samples(lw, spec.evaluation_interval))
        count = g.n5.count_over_time(at, ms(lw) - BASE_MS)
        coverage[format_duration(lw)] = Recorded(grid, np.minimum(count / expected, 1.0))
    return SLOGroup(Recorded(grid, ratio), Recorded(grid, remaining), Recorded(grid, status), coverage)


def _results(spec: Spec, slo: SLO, g: SLIGroup, s: SLOGroup, out_at: np.ndarray) -> list[Evaluation]:
    """Every recorded series sampled at ``out_at``, as a range query over them would; one result per group."""
    window = format_duration(slo.window)
    ratio = {format_duration(w / 1000): r.instant(out_at) for w, r in sorted(g.ratio.items())}
    slow = s.ratio.instant(out_at)
    ratio.setdefault(window, slow)
    budget = literal(slo.error_budget)
    alerts = {
        name: np.nan_to_num(Recorded(g.grid, st.astype(np.float64)).instant(out_at)).astype(np.int8)
        for name, st in g.states.items()
    }
    rates = [r.instant(out_at) for r in (g.e5, g.n5, g.e1h, g.n1h)]
    remaining, status = s.remaining.instant(out_at), s.status.instant(out_at)
    coverage = {w: r.instant(out_at) for w, r in s.coverage.items()}
    times = out_at.astype(np.float64) / 1000
    info = _alert_info(spec, slo)
    return [
        Evaluation(
            service=spec.service,
            slo=slo.name,
            labels={b: v for b, v in zip(slo.by, key, strict=True) if v},
            times=times,
            window=window,
            errors_rate5m=rates[0][i],
            events_rate5m=rates[1][i],
            errors_rate1h=rates[2][i],
            events_rate1h=rates[3][i],
            error_ratio={w: r[i] for w, r in ratio.items()},
            burn_rate={w: r[i] / budget for w, r in ratio.items()},
            sli=1.0 - slow[i],
            budget_remaining=remaining[i],
            status=status[i],
            coverage={w: c[i] for w, c in coverage.items()},
            alerts={name: st[i] for name, st in alerts.items()},
            alert_info=info,
        )
        for i, key in enumerate(g.keys)
    ]


def evaluate_slo(
    spec: Spec,
    slo: SLO,
    data: SeriesSet,
    start: float,
    end: float,
    step: float | None = None,
    *,
    history_start: float | None = None,
    slo_group_interval: float | None = None,
) -> list[Evaluation]:
    """Evaluate one SLO over ``[start, end]`` (unix seconds); one ``Evaluation`` per ``by`` label set.

    The rules are assumed to have run since ``history_start`` (default: the first
    raw sample the SLO reads): windows reaching before it see the cold start the
    live rules would.  ``step`` (default ``evaluation_interval``) is the output
    grid.  ``slo_group_interval`` overrides the SLO-window group's 5m interval
    (promtool evaluates every group at its test's ``evaluation_interval``).
    """
    iv = ms(spec.evaluation_interval)
    start_ms, end_ms = ms(start), ms(end)
    first = data.time_range([s for sel in read_selectors(slo) for s in data.select(sel)])
    if first is None or end_ms < start_ms:
        return []
    begin = first[0] if history_start is None else ms(history_start)
    from_ms = max(-(-begin // iv) * iv, ((start_ms - _margin_ms(spec, slo)) // iv) * iv)
    g = sli_group(spec, slo, data, Grid.aligned(from_ms, end_ms, iv))
    if g is None:
        return []
    slow = ms(slo_group_interval or max(SLOW_GROUP_INTERVAL, spec.evaluation_interval))
    s = slo_group(spec, slo, g, Grid.aligned(from_ms, end_ms, slow))
    out_step = ms(step or spec.evaluation_interval)
    out_at = start_ms + out_step * np.arange((end_ms - start_ms) // out_step + 1, dtype=np.int64)
    return _results(spec, slo, g, s, out_at)


def _alert_info(spec: Spec, slo: SLO) -> list[AlertInfo]:
    out = []
    for tier, name, severity in slo_alerts(spec, slo):
        fors = tuple(sorted({bw.for_ or 0.0 for bw in getattr(slo.alerting, tier)}))
        out.append(AlertInfo(name, tier, severity, fors))
    return out


def required_metrics(spec: Spec) -> set[str]:
    """Metric names the raw selectors of the supported SLOs read (to read only those from a source)."""
    left_out = unsupported_slos(spec)
    return {sel.name for slo in spec.slos if slo.name not in left_out for sel in read_selectors(slo)}


def unsupported_slos(spec: Spec) -> dict[str, str]:
    """SLO name -> why ``evaluate`` leaves it out."""
    out = {}
    for slo in spec.slos:
        try:
            check_supported(slo)
        except Unsupported as e:
            out[slo.name] = str(e)
    return out


def unsupported(spec: Spec) -> list[str]:
    """Why SLOs of ``spec`` are left out of ``evaluate`` (one line each)."""
    return list(unsupported_slos(spec).values())


def evaluate(
    spec: Spec,
    data: SeriesSet,
    start: float,
    end: float,
    step: float | None = None,
    *,
    history_start: float | None = None,
    slo_group_interval: float | None = None,
    workers: int | None = None,
) -> list[Evaluation]:
    """Every supported SLO of ``spec`` over ``[start, end]`` (see ``evaluate_slo``), in spec order;
    ``unsupported(spec)`` says which are left out.  SLOs run on ``workers`` threads (default: one per
    CPU): NumPy releases the GIL in the array work."""
    left_out = unsupported_slos(spec)
    slos = [slo for slo in spec.slos if slo.name not in left_out]

    def one(slo: SLO) -> list[Evaluation]:
        return evaluate_slo(
            spec, slo, data, start, end, step, history_start=history_start, slo_group_interval=slo_group_interval
        )

    n = min(workers or os.cpu_count() or 1, len(slos))
    if n <= 1:
        return [e for slo in slos for e in one(slo)]
    with ThreadPoolExecutor(n) as pool:
        return [e for part in pool.map(one, slos) for e in part]
