"""Raw time series for the engine: a label set, sorted int64 millisecond timestamps and float64 values.

Stale markers (Prometheus' special NaN, promtool's ``stale``) are kept apart from
the samples: range functions never see them, instant selectors stop at them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from sloforge.promql import Selector
from sloforge.promql import selector as parse_selector
from sloforge.promql.steady import STALE, parse_series, parse_values

NAME = "__name__"

Labels = tuple[tuple[str, str], ...]

_EMPTY_MS = np.empty(0, dtype=np.int64)


def labels_of(d: Mapping[str, str]) -> Labels:
    """Sorted label pairs; empty values mean "no such label", as in Prometheus."""
    return tuple(sorted((k, v) for k, v in d.items() if v != ""))


def label(ls: Labels, name: str) -> str:
    for k, v in ls:
        if k == name:
            return v
    return ""


def render(ls: Labels) -> str:
    """``name{a="b",...}``."""
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in ls if k != NAME)
    return f"{label(ls, NAME)}{{{body}}}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True, eq=False)
class Series:
    """One series: ``t`` strictly increasing (ms), ``v`` its values, ``stale`` stale-marker times (ms)."""

    labels: Labels
    t: np.ndarray
    v: np.ndarray
    stale: np.ndarray = field(default_factory=lambda: _EMPTY_MS)

    @classmethod
    def of(
        cls,
        labels: Mapping[str, str] | Labels,
        t: Sequence[int] | np.ndarray,
        v: Sequence[float] | np.ndarray,
        stale: Sequence[int] | np.ndarray = (),
    ) -> Series:
        """A series from unsorted points: sorted by time, the last of equal timestamps kept, NaN dropped."""
        ls = labels_of(labels) if isinstance(labels, Mapping) else tuple(sorted(labels))
        ts = np.asarray(t, dtype=np.int64)
        vs = np.asarray(v, dtype=np.float64)
        if ts.shape != vs.shape:
            raise ValueError(f"{render(ls)}: {ts.size} timestamps but {vs.size} values")
        order = np.argsort(ts, kind="stable")
        ts, vs = ts[order], vs[order]
        if ts.size > 1:
            keep = np.append(ts[1:] != ts[:-1], True)  # last sample of equal timestamps wins
            ts, vs = ts[keep], vs[keep]
        ok = ~np.isnan(vs)
        st = np.unique(np.asarray(stale, dtype=np.int64))
        return cls(ls, ts[ok], vs[ok], st)

    @property
    def name(self) -> str:
        return label(self.labels, NAME)

    def get(self, name: str) -> str:
        return label(self.labels, name)

    def __len__(self) -> int:
        return int(self.t.size)

    def __repr__(self) -> str:
        return f"Series({render(self.labels)}, {self.t.size} samples)"


def matches(sel: Selector, ls: Labels) -> bool:
    """Does the selector select a series with these labels (name and every matcher)?"""
    d = dict(ls)
    return d.get(NAME) == sel.name and all(m.matches(d.get(m.name, "")) for m in sel.matchers)


class SeriesSet:
    """Series indexed by metric name, in storage order (sorted by labels: sums add up in it)."""

    def __init__(self, series: Iterable[Series] = ()):
        merged: dict[Labels, Series] = {}
        for s in series:
            if s.labels in merged:
                raise ValueError(f"series {render(s.labels)} given twice")
            merged[s.labels] = s
        self._series = [merged[k] for k in sorted(merged)]
        self._by_name: dict[str, list[Series]] = {}
        self._index: dict[tuple[str, str], dict[str, list[Series]]] = {}
        for s in self._series:
            self._by_name.setdefault(s.name, []).append(s)

    def __iter__(self) -> Iterator[Series]:
        return iter(self._series)

    def __len__(self) -> int:
        return len(self._series)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def select(self, sel: Selector | str) -> list[Series]:
        """The series a plain selector (``name{label=~"..."}``) selects, in storage order.

        An equality matcher narrows the candidates through a (name, label) -> value index built on first
        use, so many SLOs on one shared metric do not each scan all of its series."""
        s = parse_selector(sel) if isinstance(sel, str) else sel
        candidates = self._by_name.get(s.name, [])
        for m in s.matchers:
            if m.op == "=" and m.value and len(candidates) > 8:
                narrowed = self._values(s.name, m.name).get(m.value, [])
                if len(narrowed) < len(candidates):
                    candidates = narrowed
        return [x for x in candidates if matches(s, x.labels)]

    def _values(self, name: str, label_name: str) -> dict[str, list[Series]]:
        key = (name, label_name)
        index = self._index.get(key)
        if index is None:  # built whole, then published: threads evaluating SLOs never see half of it
            index = {}
            for x in self._by_name.get(name, []):
                index.setdefault(label(x.labels, label_name), []).append(x)
            self._index[key] = index
        return index

    def time_range(self, series: Iterable[Series] | None = None) -> tuple[int, int] | None:
        """(first, last) sample time in ms over ``series`` (default: all), or None without samples."""
        lo, hi = None, None
        for s in self._series if series is None else series:
            if s.t.size:
                lo = int(s.t[0]) if lo is None else min(lo, int(s.t[0]))
                hi = int(s.t[-1]) if hi is None else max(hi, int(s.t[-1]))
        return None if lo is None else (lo, hi)

    def samples(self) -> int:
        return sum(s.t.size for s in self._series)


def from_promtool(series: str, values: str, interval: float, start: float = 0.0) -> Series:
    """A promtool ``input_series`` entry (expanding notation, ``_`` missing, ``stale``) as a Series.

    ``interval`` and ``start`` in seconds; sample k sits at ``start + k * interval``.
    """
    ls = parse_series(series)
    iv, t0 = round(interval * 1000), round(start * 1000)
    t, v, stale = [], [], []
    for k, x in enumerate(parse_values(values)):
        if x is None:
            continue
        if x == STALE:
            stale.append(t0 + k * iv)
        else:
            t.append(t0 + k * iv)
            v.append(float(x))
    return Series.of(ls, t, v, stale)
