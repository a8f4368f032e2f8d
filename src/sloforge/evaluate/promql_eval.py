"""PromQL evaluated at every time of a grid at once, with Prometheus 2.42's semantics (a documented subset).

``evaluate(expr, data, at)`` answers like ``/api/v1/query_range`` at the int64 ms
times ``at`` over a ``SeriesSet``; ``record(expr, data, at)`` like a recording rule
evaluated at each of them.  Work is vectorised over time (and series where it can
be); the raw-series functions are those of ``functions``.

A scalar is a float64 array over ``at``; an instant vector a ``Vector``: label sets
and, per series and time, a value and whether a sample is present.  Presence is
kept apart from the value because a present sample may hold NaN
(``histogram_quantile`` of a histogram without traffic, ``0 / 0``) and then still
counts: ``count(NaN)`` is 1, ``NaN > bool 1`` is 0.

The subset (anything else raises ``UnsupportedPromQL`` naming the construct):

* number literals, parentheses, unary minus;
* vector selectors with a literal metric name, label matchers and ``offset``
  (5m lookback, staleness markers respected);
* range functions of a selector: ``rate``, ``increase``, ``delta``, ``irate``,
  ``idelta``, ``avg/sum/min/max/count_over_time``;
* aggregations ``sum``, ``min``, ``max``, ``avg``, ``count``, ``group`` with
  ``by``/``without``;
* functions ``histogram_quantile`` (bucketQuantile: buckets sorted by ``le``, equal
  bounds merged, +Inf bucket required, monotonicity forced, linear interpolation
  from 0 in the first bucket), ``abs``, ``ceil``, ``floor``, ``exp``, ``sqrt``,
  ``ln``, ``log2``, ``log10``, ``sgn``, ``clamp``, ``clamp_min``, ``clamp_max``,
  ``vector``, ``scalar``, ``time``;
* binary ``+ - * / % ^`` and comparisons (filtering, or 0/1 with ``bool``) between
  scalars and vectors, and between vectors one-to-one with ``on``/``ignoring``;
  ``and``, ``or``, ``unless``.

Metric names are dropped as Prometheus drops them (arithmetic, ``bool``, functions,
``without``).  Where Prometheus fails an evaluation (one label set twice in a
result, many-to-many or multiple matches), ``evaluate`` raises
``PromQLEvalError`` and ``record`` returns nothing at those times, as a rule
evaluation that failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import promql_parser as P

from sloforge.evaluate import functions as F
from sloforge.evaluate.series import NAME, Labels, Series, SeriesSet, label
from sloforge.promql import Matcher, Selector, parse


class UnsupportedPromQL(ValueError):
    """The expression uses PromQL outside the evaluator's subset."""


class PromQLEvalError(ValueError):
    """Prometheus itself fails the query (duplicate label sets, many-to-many matching)."""


@dataclass
class Vector:
    """An instant vector over the grid: ``values[i, k]`` of series ``labels[i]`` at time k, if ``present[i, k]``."""

    labels: list[Labels]
    values: np.ndarray  # float64 [series, times]
    present: np.ndarray  # bool [series, times]

    @classmethod
    def empty(cls, n: int) -> Vector:
        return cls([], np.zeros((0, n)), np.zeros((0, n), dtype=bool))

    def masked(self) -> np.ndarray:
        """Values with NaN where absent (a present NaN is NaN too)."""
        return np.where(self.present, self.values, np.nan)


# ---------------------------------------------------------------- entry points


def evaluate(expr: str, data: SeriesSet, at: np.ndarray) -> Vector | np.ndarray:
    """``expr`` at every time of ``at`` (int64 ms), as a range query answers it: a ``Vector`` or a scalar array."""
    ev = _Evaluator(data, at)
    out = ev.eval(parse(expr))
    if ev.failed.any():
        times = np.asarray(at)[ev.failed]
        raise PromQLEvalError(f"{expr}: Prometheus fails this query at {times.size} time(s), first at {times[0]} ms")
    return out


def record(expr: str, data: SeriesSet, at: np.ndarray) -> Vector:
    """What a recording rule of ``expr`` records at each time of ``at`` (scalars as one unlabelled series)."""
    ev = _Evaluator(data, at)
    out = ev.eval(parse(expr))
    if not isinstance(out, Vector):
        out = Vector([()], out[None, :].copy(), np.ones((1, out.size), dtype=bool))
    out.present &= ~ev.failed
    return out


def check(expr: str) -> None:
    """Raise ``UnsupportedPromQL`` if ``expr`` uses anything outside the subset (evaluated on no data)."""
    _Evaluator(SeriesSet(), np.zeros(1, dtype=np.int64)).eval(parse(expr))


# ---------------------------------------------------------------- range functions the functions module lacks


def _bounds(s: Series, at: np.ndarray, range_ms: int, offset_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices ``[lo, hi)`` of the closed window ``[at - offset - range, at - offset]``."""
    end = at - offset_ms
    return np.searchsorted(s.t, end - range_ms, side="left"), np.searchsorted(s.t, end, side="right")


def _range_reduce(fn: Callable, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``fn``-reduction of ``v[lo:hi]`` for every pair (``hi > lo``) in O(1) each, from a sparse table."""
    levels = [v]
    while 2 ** len(levels) <= v.size:
        k = 2 ** (len(levels) - 1)
        levels.append(fn(levels[-1][:-k], levels[-1][k:]))
    _, exp = np.frexp((hi - lo).astype(np.float64))
    j = exp - 1  # floor(log2(length)), exact
    out = np.empty(lo.shape)
    for level in np.unique(j):
        m = j == level
        out[m] = fn(levels[level][lo[m]], levels[level][hi[m] - 2**level])
    return out


def _over_time(fn: Callable) -> Callable:
    """``min_over_time`` / ``max_over_time``."""

    def over(series: Sequence[Series], at: np.ndarray, range_ms: int, offset_ms: int = 0) -> np.ndarray:
        out = np.full((len(series), at.size), np.nan)
        for i, s in enumerate(series):
            lo, hi = _bounds(s, at, range_ms, offset_ms)
            ok = hi > lo
            if ok.any():
                lo = np.minimum(lo, s.v.size - 1)
                out[i] = np.where(ok, _range_reduce(fn, s.v, lo, np.maximum(hi, lo + 1)), np.nan)
        return out

    return over


def _last_two(rate: bool) -> Callable:
    """``irate`` (counter, per second) or ``idelta``: the last two samples in the window."""

    def last_two(series: Sequence[Series], at: np.ndarray, range_ms: int, offset_ms: int = 0) -> np.ndarray:
        out = np.full((len(series), at.size), np.nan)
        for i, s in enumerate(series):
            lo, hi = _bounds(s, at, range_ms, offset_ms)
            ok = hi - lo >= 2
            if not ok.any():
                continue
            b, a = np.maximum(hi - 1, 1), np.maximum(hi - 2, 0)
            v1, v0 = s.v[b], s.v[a]
            result = np.where(v1 < v0, v1, v1 - v0) if rate else v1 - v0
            if rate:
                result = result / ((s.t[b] - s.t[a]).astype(np.float64) / 1000)
            out[i] = np.where(ok, result, np.nan)
        return out

    return last_two


RANGE_FUNCTIONS: dict[str, Callable] = {
    "rate": F.rate,
    "increase": F.increase,
    "delta": F.delta,
    "irate": _last_two(rate=True),
    "idelta": _last_two(rate=False),
    "avg_over_time": F.avg_over_time,
    "sum_over_time": F.sum_over_time,
    "count_over_time": F.count_over_time,
    "min_over_time": _over_time(np.fmin),
    "max_over_time": _over_time(np.fmax),
}

MATH_FUNCTIONS: dict[str, Callable] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sgn": np.sign,
}

AGGREGATIONS = ("sum", "min", "max", "avg", "count", "group")
ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "%": np.fmod, "^": np.power}
COMPARISONS = {
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}
SET_OPERATORS = ("and", "or", "unless")
_MATCH_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


# ---------------------------------------------------------------- helpers


def _ms(td) -> int:
    return 0 if td is None else round(td.total_seconds() * 1000)


def _drop_name(ls: Labels) -> Labels:
    return tuple(kv for kv in ls if kv[0] != NAME)


def _selector(node) -> Selector:
    if node.at is not None:
        raise UnsupportedPromQL("the @ modifier")
    if node.matchers.or_matchers:
        raise UnsupportedPromQL("'or' inside a selector")
    name = node.name or ""
    matchers = []
    for m in node.matchers.matchers:
        op = _MATCH_OPS[str(m.op)]
        if m.name == NAME and op == "=" and not name:
            name = m.value
        else:
            matchers.append(Matcher(m.name, op, m.value))
    if not name:
        raise UnsupportedPromQL("a selector without a metric name")
    return Selector(name, tuple(matchers))


def _apply(op: str, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Element-wise ``a op b``: (value, None) for arithmetic, (a, outcome) for comparisons."""
    with np.errstate(all="ignore"):
        if op in ARITHMETIC:
            return ARITHMETIC[op](a, b), None
        return a, COMPARISONS[op](a, b)


def _signature(ls: Labels, on: bool, names: Sequence[str]) -> Labels:
    """The vector-matching key: ``on`` labels, or all but the ``ignoring`` ones and the name."""
    if on:
        return tuple(kv for kv in ls if kv[0] in names)
    return tuple(kv for kv in ls if kv[0] not in names and kv[0] != NAME)


def _group_rows(keys: Sequence[Labels]) -> dict[Labels, list[int]]:
    rows: dict[Labels, list[int]] = {}
    for i, k in enumerate(keys):
        rows.setdefault(k, []).append(i)
    return rows


def _reduce(op: str, values: np.ndarray, present: np.ndarray, gid: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Aggregate rows by group id: (values, present) per group, over present samples only."""
    order = np.argsort(gid, kind="stable")
    starts = np.searchsorted(gid[order], np.arange(n))
    v, p = values[order], present[order]
    count = np.add.reduceat(p.astype(np.int64), starts, axis=0)
    with np.errstate(all="ignore"):
        if op in ("sum", "avg"):
            out = np.add.reduceat(np.where(p, v, 0.0), starts, axis=0)
            out = out / count if op == "avg" else out
        elif op in ("min", "max"):
            # Go keeps the first non-NaN value it compares: NaN only if all are NaN
            ufunc = np.fmin if op == "min" else np.fmax
            out = ufunc.reduceat(np.where(p, v, np.nan), starts, axis=0)
        elif op == "count":
            out = count.astype(np.float64)
        else:
            out = np.ones(count.shape)
    return out, count > 0


def bucket_quantile(q: np.ndarray, bounds: np.ndarray, counts: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Prometheus 2.42's ``bucketQuantile`` at every time: ``bounds`` sorted and distinct (last +Inf for a
    result), ``counts``/``present`` ``[bucket, time]``; absent buckets are not part of the histogram."""
    nb, nt = counts.shape
    idx = np.arange(nb)[:, None]
    cols = np.arange(nt)
    real = present & ~np.isnan(counts)
    env = np.maximum.accumulate(np.where(real, counts, -np.inf), axis=0)  # ensureMonotonic
    c = np.where(real, env, counts)
    last_present = np.maximum.accumulate(np.where(present, idx, -1), axis=0)
    prev = np.vstack([np.full((1, nt), -1), last_present[:-1]])  # the previous present bucket
    observations = c[-1]
    rank = q * observations
    below = present & (idx < nb - 1)  # sort.Search runs over all buckets but the last (+Inf)
    with np.errstate(invalid="ignore"):
        hit = below & (c >= rank)
    found = hit.any(axis=0)
    b = np.argmax(hit, axis=0)
    pb = prev[b, cols]
    has_prev = pb >= 0
    start = np.where(has_prev, bounds[np.maximum(pb, 0)], 0.0)
    below_b = np.where(has_prev, c[np.maximum(pb, 0), cols], 0.0)
    end = bounds[b]
    with np.errstate(all="ignore"):
        interpolated = start + (end - start) * ((rank - below_b) / (c[b, cols] - below_b))
    in_first = ~has_prev & (end <= 0)
    second_highest = bounds[np.maximum(np.where(below, idx, -1).max(axis=0), 0)]
    out = np.where(found, np.where(in_first, end, interpolated), second_highest)
    invalid = ~(np.isposinf(bounds[-1]) & present[-1]) | (present.sum(axis=0) < 2) | (observations == 0)
    out = np.where(invalid, np.nan, out)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(q), np.nan, np.where(q < 0, -np.inf, np.where(q > 1, np.inf, out)))


# ---------------------------------------------------------------- the evaluator


class _Evaluator:
    """One evaluation over the grid ``at``; ``failed`` marks the times at which Prometheus fails the query."""

    def __init__(self, data: SeriesSet, at: np.ndarray):
        self.data = data
        self.at = np.asarray(at, dtype=np.int64)
        self.n = self.at.size
        self.failed = np.zeros(self.n, dtype=bool)
        self._selected: dict[Selector, list[Series]] = {}

    def eval(self, node) -> Vector | np.ndarray:  # noqa: C901 - one branch per node type
        if isinstance(node, P.NumberLiteral):
            return np.full(self.n, float(node.val))
        if isinstance(node, P.ParenExpr):
            return self.eval(node.expr)
        if isinstance(node, P.UnaryExpr):
            v = self.eval(node.expr)
            if isinstance(v, Vector):
                return self._vector([_drop_name(ls) for ls in v.labels], -v.values, v.present)
            return -v
        if isinstance(node, P.VectorSelector):
            series = self._select(node)
            values = F.instant(series, self.at, _ms(node.offset))
            return self._vector([s.labels for s in series], values, ~np.isnan(values))
        if isinstance(node, P.Call):
            return self._call(node)
        if isinstance(node, P.AggregateExpr):
            return self._aggregate(node)
        if isinstance(node, P.BinaryExpr):
            return self._binary(node)
        if isinstance(node, P.MatrixSelector):
            raise UnsupportedPromQL("a range vector outside rate/increase/delta/irate/idelta/*_over_time")
        if isinstance(node, P.SubqueryExpr):
            raise UnsupportedPromQL("subqueries")
        if isinstance(node, P.StringLiteral):
            raise UnsupportedPromQL("string literals")
        raise UnsupportedPromQL(f"{type(node).__name__} expressions")

    # -- building blocks

    def _select(self, node) -> list[Series]:
        sel = _selector(node)
        if sel not in self._selected:
            self._selected[sel] = self.data.select(sel)
        return self._selected[sel]

    def _vector(self, labels: Sequence[Labels], values: np.ndarray, present: np.ndarray) -> Vector:
        """A result vector: series never present dropped, equal label sets merged (both present: a failure)."""
        present = present & np.ones(values.shape, dtype=bool)
        keep = present.any(axis=1)
        labels = [ls for ls, k in zip(labels, keep, strict=True) if k]
        values, present = values[keep], present[keep]
        rows = _group_rows(labels)
        if len(rows) == len(labels):
            return Vector(labels, values, present)
        out_v = np.full((len(rows), self.n), np.nan)
        out_p = np.zeros((len(rows), self.n), dtype=bool)
        for j, idx in enumerate(rows.values()):
            self.failed |= present[idx].sum(axis=0) > 1
            for i in reversed(idx):  # the first present one wins
                out_v[j] = np.where(present[i], values[i], out_v[j])
            out_p[j] = present[idx].any(axis=0)
        return Vector(list(rows), out_v, out_p)

    def _instant_vector(self, node, what: str) -> Vector:
        v = self.eval(node)
        if not isinstance(v, Vector):
            raise UnsupportedPromQL(f"{what} of a scalar")
        return v

    def _scalar(self, node, what: str) -> np.ndarray:
        v = self.eval(node)
        if isinstance(v, Vector):
            raise UnsupportedPromQL(f"{what} with an instant vector where a scalar belongs")
        return v

    # -- functions

    def _call(self, node) -> Vector | np.ndarray:
        fn = node.func.name
        args = node.args
        if fn in RANGE_FUNCTIONS:
            return self._range_call(fn, args[0])
        if fn in MATH_FUNCTIONS:
            v = self._instant_vector(args[0], fn)
            with np.errstate(all="ignore"):
                return self._vector([_drop_name(ls) for ls in v.labels], MATH_FUNCTIONS[fn](v.values), v.present)
        method = getattr(self, "_f_" + fn, None)
        if method is None:
            raise UnsupportedPromQL(f"function {fn}()")
        return method(args)

    def _range_call(self, fn: str, arg) -> Vector:
        if not isinstance(arg, P.MatrixSelector):
            raise UnsupportedPromQL(f"{fn}() of anything but a range selector (subqueries)")
        vs = arg.vector_selector
        series = self._select(vs)
        values = RANGE_FUNCTIONS[fn](series, self.at, _ms(arg.range), _ms(vs.offset))
        return self._vector([_drop_name(s.labels) for s in series], values, ~np.isnan(values))

    def _f_histogram_quantile(self, args) -> Vector:
        q = self._scalar(args[0], "histogram_quantile")
        vec = self._instant_vector(args[1], "histogram_quantile")
        groups: dict[Labels, dict[float, list[int]]] = {}
        for i, ls in enumerate(vec.labels):
            try:
                bound = float(label(ls, "le"))
            except ValueError:
                continue  # no (numeric) le: ignored
            key = tuple(kv for kv in ls if kv[0] not in (NAME, "le"))
            groups.setdefault(key, {}).setdefault(bound, []).append(i)
        labels, values, present = [], [], []
        for key, by_bound in groups.items():
            bounds = np.array(sorted(by_bound))
            rows = [by_bound[b] for b in bounds]  # equal bounds merged (coalesceBuckets)
            counts = np.array([np.where(vec.present[r], vec.values[r], 0.0).sum(axis=0) for r in rows])
            here = np.array([vec.present[r].any(axis=0) for r in rows])
            labels.append(key)
            values.append(bucket_quantile(q, bounds, counts, here))
            present.append(here.any(axis=0))
        return self._stack(labels, values, present)

    def _stack(self, labels: list[Labels], values: list[np.ndarray], present: list[np.ndarray]) -> Vector:
        if not labels:
            return Vector.empty(self.n)
        return self._vector(labels, np.array(values), np.array(present))

    def _clamped(self, node, lo: np.ndarray | None, hi: np.ndarray | None) -> Vector:
        v = self._instant_vector(node, "clamp")
        out = v.values
        if hi is not None:
            out = np.minimum(hi, out)  # Go's math.Min/Max: NaN wins
        if lo is not None:
            out = np.maximum(lo, out)
        return self._vector([_drop_name(ls) for ls in v.labels], out, v.present)

    def _f_clamp(self, args) -> Vector:
        lo, hi = self._scalar(args[1], "clamp"), self._scalar(args[2], "clamp")
        v = self._clamped(args[0], lo, hi)
        v.present &= ~(hi < lo)  # an empty result where max < min
        return v

    def _f_clamp_min(self, args) -> Vector:
        return self._clamped(args[0], self._scalar(args[1], "clamp_min"), None)

    def _f_clamp_max(self, args) -> Vector:
        return self._clamped(args[0], None, self._scalar(args[1], "clamp_max"))

    def _f_vector(self, args) -> Vector:
        return Vector([()], self._scalar(args[0], "vector")[None, :].copy(), np.ones((1, self.n), dtype=bool))

    def _f_scalar(self, args) -> np.ndarray:
        v = self._instant_vector(args[0], "scalar")
        one = v.present.sum(axis=0) == 1
        picked = np.where(v.present, v.values, 0.0).sum(axis=0) if len(v.labels) else np.zeros(self.n)
        return np.where(one, picked, np.nan)

    def _f_time(self, args) -> np.ndarray:
        return self.at / 1000.0

    # -- aggregations

    def _aggregate(self, node) -> Vector:
        op = str(node.op)
        if op not in AGGREGATIONS:
            raise UnsupportedPromQL(f"aggregation {op}")
        vec = self._instant_vector(node.expr, op)
        mod = node.modifier
        names = set(mod.labels) if mod is not None else set()
        if mod is not None and str(mod.type) == "AggModifierType.Without":
            keys = [tuple(kv for kv in ls if kv[0] not in names and kv[0] != NAME) for ls in vec.labels]
        else:
            keys = [tuple(kv for kv in ls if kv[0] in names) for ls in vec.labels]
        if not keys:
            return Vector.empty(self.n)
        rows = _group_rows(keys)
        index = {k: j for j, k in enumerate(rows)}
        gid = np.array([index[k] for k in keys])
        values, present = _reduce(op, vec.values, vec.present, gid, len(rows))
        return self._vector(list(rows), values, present)

    # -- binary operators

    def _binary(self, node) -> Vector | np.ndarray:
        op = str(node.op)
        mod = node.modifier
        return_bool = bool(mod is not None and mod.return_bool)
        lhs, rhs = self.eval(node.lhs), self.eval(node.rhs)
        if op not in ARITHMETIC and op not in COMPARISONS and op not in SET_OPERATORS:
            raise UnsupportedPromQL(f"operator {op}")
        if not isinstance(lhs, Vector) and not isinstance(rhs, Vector):
            value, keep = _apply(op, lhs, rhs)
            return value if keep is None else keep.astype(np.float64)
        if not isinstance(lhs, Vector) or not isinstance(rhs, Vector):
            return self._vector_scalar(op, lhs, rhs, return_bool)
        matching = mod.matching if mod is not None else None
        on = matching is not None and str(matching.type) == "LabelModifierType.Include"
        names = list(matching.labels) if matching is not None else []
        if op in SET_OPERATORS:
            return self._set(op, lhs, rhs, on, names)
        if mod is not None and str(mod.card) != "VectorMatchCardinality.OneToOne":
            raise UnsupportedPromQL("group_left/group_right (many-to-one matching)")
        return self._one_to_one(op, lhs, rhs, on, names, return_bool)

    def _vector_scalar(self, op: str, lhs, rhs, return_bool: bool) -> Vector:
        vec: Vector = lhs if isinstance(lhs, Vector) else rhs
        value, keep = _apply(op, lhs.values if vec is lhs else lhs, rhs.values if vec is rhs else rhs)
        present = vec.present
        if keep is not None:
            value = vec.values  # a comparison keeps the vector's value, on either side
            if return_bool:
                value = keep.astype(np.float64)
            else:
                present = present & keep
        drop = keep is None or return_bool
        return self._vector([_drop_name(ls) if drop else ls for ls in vec.labels], value, present)

    def _one_to_one(self, op: str, lhs: Vector, rhs: Vector, on: bool, names: list[str], return_bool: bool) -> Vector:
        lhs_any = lhs.present.any(axis=0)
        right: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}
        for sig, idx in _group_rows([_signature(ls, on, names) for ls in rhs.labels]).items():
            p = rhs.present[idx]
            self.failed |= (p.sum(axis=0) > 1) & lhs_any  # many-to-many
            v = rhs.values[idx[0]]
            for i in idx[1:]:
                v = np.where(rhs.present[i], rhs.values[i], v)
            right[sig] = (v, p.any(axis=0))
        labels, values, present, sigs = [], [], [], []
        for i, ls in enumerate(lhs.labels):
            sig = _signature(ls, on, names)
            if sig not in right:
                continue
            rv, rp = right[sig]
            value, keep = _apply(op, lhs.values[i], rv)
            here = lhs.present[i] & rp
            if keep is not None:
                value = keep.astype(np.float64) if return_bool else value
                here = here if return_bool else here & keep
            metric = ls if keep is not None and not return_bool else _drop_name(ls)
            metric = tuple(kv for kv in metric if (kv[0] in names) == on)  # on: keep those; ignoring: drop them
            labels.append(metric)
            values.append(value)
            present.append(here)
            sigs.append(sig)
        for idx in _group_rows(sigs).values():
            if len(idx) > 1:  # "multiple matches for labels"
                self.failed |= np.array([present[i] for i in idx]).sum(axis=0) > 1
        return self._stack(labels, values, present)

    def _set(self, op: str, lhs: Vector, rhs: Vector, on: bool, names: list[str]) -> Vector:
        def any_present(vec: Vector) -> dict[Labels, np.ndarray]:
            rows = _group_rows([_signature(ls, on, names) for ls in vec.labels])
            return {sig: vec.present[idx].any(axis=0) for sig, idx in rows.items()}

        none = np.zeros(self.n, dtype=bool)
        if op == "or":
            left = any_present(lhs)
            extra = [rhs.present[i] & ~left.get(_signature(ls, on, names), none) for i, ls in enumerate(rhs.labels)]
            present = np.concatenate([lhs.present, np.array(extra, dtype=bool).reshape(-1, self.n)])
            return self._vector(lhs.labels + rhs.labels, np.concatenate([lhs.values, rhs.values]), present)
        right = any_present(rhs)
        rows = [right.get(_signature(ls, on, names), none) for ls in lhs.labels]
        matched = np.array(rows, dtype=bool).reshape(-1, self.n)
        present = lhs.present & (matched if op == "and" else ~matched)
        return self._vector(lhs.labels, lhs.values, present)
