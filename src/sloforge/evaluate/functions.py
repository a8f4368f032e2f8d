"""PromQL functions over raw series, vectorised over series and evaluation times (Prometheus 2.42).

Every function takes a list of ``Series`` and the evaluation times ``at``
(int64 ms) and returns a 2-D array ``[series, len(at)]``; NaN means "no sample"
(the series is absent from the result at that time).  Per series only two
``searchsorted`` calls run in Python; the rest is array arithmetic.

Semantics (promql/engine.go and promql/functions.go of 2.42):

* range windows are closed at both ends: samples with ``at - range <= t <= at``;
  stale markers are not samples;
* instant selectors take the latest sample in ``[at - 5m, at]`` unless a stale
  marker came after it;
* ``rate``/``increase`` follow ``extrapolatedRate``: counter resets add the
  value before the drop; the result is extrapolated to the window edges when
  the first/last sample is closer to them than 1.1x the average sample
  interval (else by half an interval), and never past the counter's zero point.

Window sums use prefix sums (exact for windows of equal values, otherwise within
a few ulps of Prometheus' Kahan sums), so the cost does not grow with the range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sloforge.evaluate.series import Labels, Series, label

LOOKBACK_MS = 300_000


def range_seconds(range_ms: int) -> float:
    """``time.Duration.Seconds()`` as Go computes it (whole seconds + fraction)."""
    sec, rem = divmod(int(range_ms), 1000)
    return float(sec) + float(rem * 1_000_000) / 1e9


@dataclass
class _Flat:
    """Samples of several series end to end, with per-series prefix sums."""

    t: np.ndarray
    v: np.ndarray
    offsets: np.ndarray  # start index of each series
    tf: np.ndarray | None = None  # t as float64 (exact: ms timestamps are far below 2**53)
    _resets: np.ndarray | None = None
    _sums: tuple[np.ndarray, np.ndarray] | None = None
    _changes: np.ndarray | None = None

    @classmethod
    def of(cls, series: Sequence[Series]) -> _Flat:
        sizes = np.array([s.t.size for s in series], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])) if len(series) else np.zeros(0, np.int64)
        t = np.concatenate([s.t for s in series]) if series else np.zeros(0, np.int64)
        v = np.concatenate([s.v for s in series]) if series else np.zeros(0)
        return cls(t, v, offsets.astype(np.int64), t.astype(np.float64))

    def _first_mask(self) -> np.ndarray:
        first = np.zeros(self.v.size, dtype=bool)
        first[self.offsets[self.offsets < self.v.size]] = True
        return first

    def resets(self) -> np.ndarray:
        """Cumulative counter-reset correction per sample (the value before every drop), per series."""
        if self._resets is None:
            corr = np.zeros(self.v.size)
            if self.v.size > 1:
                drop = self.v[1:] < self.v[:-1]
                corr[1:] = np.where(drop, self.v[:-1], 0.0)
            corr[self._first_mask()] = 0.0
            self._resets = _segment_cumsum(corr, self.offsets)
        return self._resets

    def sums(self) -> tuple[np.ndarray, np.ndarray]:
        """Compensated prefix sums (high, low parts), restarting at each series."""
        if self._sums is None:
            self._sums = _compensated_cumsum(self.v, self.offsets)
        return self._sums

    def changes(self) -> np.ndarray:
        """Cumulative count of value changes, per series (constant windows are averaged exactly)."""
        if self._changes is None:
            ch = np.zeros(self.v.size)
            if self.v.size > 1:
                ch[1:] = self.v[1:] != self.v[:-1]
            ch[self._first_mask()] = 0.0
            self._changes = _segment_cumsum(ch, self.offsets)
        return self._changes


def _segment_cumsum(x: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Cumulative sums of ``x`` restarting at every offset (each series on its own)."""
    out = np.empty_like(x)
    bounds = list(offsets) + [x.size]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        np.cumsum(x[a:b], out=out[a:b])
    return out


def _compensated_cumsum(x: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prefix sums with an error term: ``hi[i] + lo[i]`` is the sum of ``x[start..i]`` to ~1 ulp.

    A window sum ``(hi[b] - hi[a]) + (lo[b] - lo[a])`` then stays accurate even
    when the whole history's sum dwarfs the window's.
    """
    hi = _segment_cumsum(x, offsets)
    prev = np.zeros_like(hi)
    if hi.size > 1:
        prev[1:] = hi[:-1]
    first = np.zeros(x.size, dtype=bool)
    first[offsets[offsets < x.size]] = True
    prev[first] = 0.0
    # two-sum error of prev + x = hi
    bb = hi - prev
    err = (prev - (hi - bb)) + (x - bb)
    return hi, _segment_cumsum(err, offsets)


@dataclass
class Windows:
    """Per series and evaluation time: first and last sample index in the window, and the count."""

    first: np.ndarray  # [series, steps] flat index, valid where count > 0
    last: np.ndarray
    count: np.ndarray
    start: np.ndarray  # window start (ms) per step
    end: np.ndarray


def windows(flat: _Flat, series: Sequence[Series], at: np.ndarray, range_ms: int, offset_ms: int = 0) -> Windows:
    """Closed windows ``[at - offset - range, at - offset]`` over every series."""
    end = np.asarray(at, dtype=np.int64) - offset_ms
    start = end - range_ms
    lo = np.empty((len(series), end.size), dtype=np.int64)
    hi = np.empty_like(lo)
    for i, s in enumerate(series):
        base = flat.offsets[i]
        lo[i] = np.searchsorted(s.t, start, side="left") + base
        hi[i] = np.searchsorted(s.t, end, side="right") + base
    count = hi - lo
    last = np.maximum(hi - 1, lo)
    return Windows(
        np.minimum(lo, max(flat.v.size - 1, 0)), np.minimum(last, max(flat.v.size - 1, 0)), count, start, end
    )


def _empty(series: Sequence[Series], at: np.ndarray) -> np.ndarray | None:
    if not len(series):
        return np.zeros((0, np.asarray(at).size))
    if all(s.t.size == 0 for s in series):
        return np.full((len(series), np.asarray(at).size), np.nan)
    return None


def extrapolated(
    series: Sequence[Series],
    at: np.ndarray,
    range_ms: int,
    *,
    counter: bool = True,
    per_second: bool = True,
    offset_ms: int = 0,
    flat: _Flat | None = None,
) -> np.ndarray:
    """``rate`` (counter, per second), ``increase`` (counter) or ``delta`` (neither): extrapolatedRate of 2.42."""
    if (out := _empty(series, at)) is not None:
        return out
    flat = flat or _Flat.of(series)
    w = windows(flat, series, at, range_ms, offset_ms)
    ok = w.count >= 2
    tf, v = flat.tf, flat.v
    assert tf is not None
    t_first, t_last = tf[w.first], tf[w.last]
    v_first = v[w.first]
    result = v[w.last] - v_first
    if counter:
        r = flat.resets()
        if r.size and r.any():
            result += r[w.last] - r[w.first]  # + 0.0 where no reset: bit-identical
    # integer ms differences, exact in float64 as Prometheus' float64(int64) / 1000
    to_start = (t_first - w.start.astype(np.float64)) / 1000
    to_end = (w.end.astype(np.float64) - t_last) / 1000
    sampled = (t_last - t_first) / 1000
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = sampled / (w.count - 1)
        if counter:
            to_zero = sampled * (v_first / result)
            clamp = (result > 0) & (v_first >= 0) & (to_zero < to_start)
            to_start = np.where(clamp, to_zero, to_start)
        threshold = avg * 1.1
        interval = sampled + np.where(to_start < threshold, to_start, avg / 2)
        interval = interval + np.where(to_end < threshold, to_end, avg / 2)
        factor = interval / sampled
        if per_second:
            factor = factor / range_seconds(range_ms)
        out = result * factor
    return np.where(ok, out, np.nan)


def rate(series: Sequence[Series], at: np.ndarray, range_ms: int, offset_ms: int = 0, **kw) -> np.ndarray:
    return extrapolated(series, at, range_ms, counter=True, per_second=True, offset_ms=offset_ms, **kw)


def increase(series: Sequence[Series], at: np.ndarray, range_ms: int, offset_ms: int = 0, **kw) -> np.ndarray:
    return extrapolated(series, at, range_ms, counter=True, per_second=False, offset_ms=offset_ms, **kw)


def delta(series: Sequence[Series], at: np.ndarray, range_ms: int, offset_ms: int = 0, **kw) -> np.ndarray:
    return extrapolated(series, at, range_ms, counter=False, per_second=False, offset_ms=offset_ms, **kw)


def counted_increase(series: Sequence[Series], at: np.ndarray, range_ms: int) -> np.ndarray:
    """``((x - x offset r) >= 0) or increase(x[r])`` per series: the counted increase since the sample ``r`` ago.

    The left side needs a sample (within the lookback) at both ends and no fall in between the two;
    a series that reset or is new falls back to the extrapolated ``increase`` (absent with < 2 samples).
    """
    at = np.asarray(at, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        d = instant(series, at) - instant(series, at, offset_ms=range_ms)
        need = ~(d >= 0)
    out = np.where(need, np.nan, d)
    cols = np.flatnonzero(need.any(axis=0))  # the fallback only where some series needs it
    if cols.size:
        out[:, cols] = np.where(need[:, cols], increase(series, at[cols], range_ms), out[:, cols])
    return out


def _window_sum(flat: _Flat, w: Windows) -> np.ndarray:
    hi, lo = flat.sums()
    before = w.first - 1
    has_before = w.first > flat.offsets[:, None] if flat.offsets.size else np.zeros_like(w.first, dtype=bool)
    hb = np.where(has_before, hi[np.maximum(before, 0)], 0.0)
    lb = np.where(has_before, lo[np.maximum(before, 0)], 0.0)
    return (hi[w.last] - hb) + (lo[w.last] - lb)


def _constant(flat: _Flat, w: Windows) -> np.ndarray:
    """True where every sample in the window has the same value."""
    ch = flat.changes()
    return (ch[w.last] - ch[w.first]) == 0


def sum_over_time(series: Sequence[Series], at: np.ndarray, range_ms: int, offset_ms: int = 0) -> np.ndarray:
    if (out := _empty(series, at)) is not None:
        return out
    flat = _Flat.of(series)
    w = windows(flat, series, at, range_ms, offset_ms)
    return np.where(w.count > 0, _window_sum(flat, w), np.nan)


def count_over_time(series: Sequence[Series], at: np.ndarray, range_ms: int, offset_ms: int = 0) -> np.ndarray:
    if (out := _empty(series, at)) is not None:
        return out
    flat = _Flat.of(series)
    w = windows(flat, series, at, range_ms, offset_ms)
    return np.where(w.count > 0, w.count.astype(np.float64), np.nan)


def avg_over_time(series: Sequence[Series], at: np.ndarray, range_ms: int, offset_ms: int = 0) -> np.ndarray:
    if (out := _empty(series, at)) is not None:
        return out
    flat = _Flat.of(series)
    w = windows(flat, series, at, range_ms, offset_ms)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = _window_sum(flat, w) / w.count
    mean = np.where(_constant(flat, w), flat.v[w.last], mean)
    return np.where(w.count > 0, mean, np.nan)


def instant(series: Sequence[Series], at: np.ndarray, offset_ms: int = 0, lookback_ms: int = LOOKBACK_MS) -> np.ndarray:
    """Instant selector: the latest sample in ``[at - lookback, at]``, none after a stale marker."""
    at = np.asarray(at, dtype=np.int64) - offset_ms
    out = np.full((len(series), at.size), np.nan)
    for i, s in enumerate(series):
        if not s.t.size:
            continue
        idx = np.searchsorted(s.t, at, side="right") - 1
        safe = np.maximum(idx, 0)
        ts = s.t[safe]
        ok = (idx >= 0) & (ts >= at - lookback_ms)
        if s.stale.size:
            sidx = np.searchsorted(s.stale, at, side="right") - 1
            ok &= ~((sidx >= 0) & (s.stale[np.maximum(sidx, 0)] > ts))
        out[i] = np.where(ok, s.v[safe], np.nan)
    return out


def group_keys(labels: Sequence[Labels], by: Sequence[str]) -> list[tuple[str, ...]]:
    """The ``sum by (...)`` group of every series: its values of the ``by`` labels ('' when absent)."""
    return [tuple(label(ls, b) for b in by) for ls in labels]


def sum_by(values: np.ndarray, keys: Sequence[tuple[str, ...]]) -> dict[tuple[str, ...], np.ndarray]:
    """``sum by``: per group the sum of the present (non-NaN) values; NaN where no member is present."""
    out: dict[tuple[str, ...], np.ndarray] = {}
    if not len(keys):
        return out
    uniq = sorted(set(keys))
    index = {k: i for i, k in enumerate(uniq)}
    gid = np.array([index[k] for k in keys])
    order = np.argsort(gid, kind="stable")
    starts = np.searchsorted(gid[order], np.arange(len(uniq)))
    vals = values[order]
    present = ~np.isnan(vals)
    total = np.add.reduceat(np.where(present, vals, 0.0), starts, axis=0)
    n = np.add.reduceat(present, starts, axis=0)
    total = np.where(n > 0, total, np.nan)
    for k, i in index.items():
        out[k] = total[i]
    return out
