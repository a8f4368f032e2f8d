"""A small PromQL evaluator for synthetic inputs, with Prometheus 2.42's semantics.

The alert test generator searches *steady* inputs (gauges constant, counters
growing linearly, timestamps following the clock) that make an alert fire or
stay quiet, and predicts the exact ``ALERTS`` series promtool will see.  Inputs
are promtool ``input_series``: values at ``start + k * interval`` written in
expanding notation (``0+60x70``), so the evaluator sees exactly the samples
promtool loads, warm-up included.

Instant queries only (``Evaluator.query(expr, t_ms)``): selectors with the 5m
lookback and closed range windows, rate/increase extrapolation, ``*_over_time``,
subqueries, aggregations, vector matching, ``histogram_quantile`` and the usual
math and label functions.  Recording rules of the same rule file are evaluated
in place of the series they record.  Anything else raises ``Unsupported``.
"""

from __future__ import annotations

import calendar
import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import promql_parser as P

from sloforge.promql import number, parse

NAME = "__name__"
LOOKBACK_MS = 300_000
STALE = "stale"
RECORD_WORK = 20  # a recording rule evaluation costs about as much as loading this many samples

Labels = tuple[tuple[str, str], ...]
Sample = tuple[Labels, float]
Vector = list[Sample]


class Unsupported(ValueError):
    """The expression uses PromQL this evaluator does not implement."""


class EvalError(ValueError):
    """Prometheus itself would fail to evaluate the expression (e.g. many-to-many matching)."""


def labels_of(d: dict[str, str]) -> Labels:
    return tuple(sorted((k, v) for k, v in d.items() if v != ""))


def drop_name(ls: Labels) -> Labels:
    return tuple(kv for kv in ls if kv[0] != NAME)


def label(ls: Labels, name: str) -> str:
    for k, v in ls:
        if k == name:
            return v
    return ""


def render_labels(ls: Labels) -> str:
    """``name{a="b",...}`` as promtool's input_series and exp_samples write it."""
    name = label(ls, NAME)
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in ls if k != NAME)
    return f"{name}{{{body}}}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# ---------------------------------------------------------------- input series


_NUM = r"(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|[iI]nf|NaN))"
_ITEM = re.compile(rf"^(?P<a>{_NUM})(?:(?P<op>[+-])(?P<b>{_NUM.replace('[+-]?', '')}))?(?:x(?P<n>\d+))?$")


def parse_values(text: str) -> list[float | None | str]:
    """promtool's expanding notation: ``1 _ 2x3 0+10x5 _x2 stale`` -> values (None missing, STALE)."""
    out: list[float | None | str] = []
    for tok in str(text).split():
        if tok == "_":
            out.append(None)
        elif tok.startswith("_x") and tok[2:].isdigit():
            out += [None] * int(tok[2:])
        elif tok == "stale":
            out.append(STALE)
        else:
            m = _ITEM.match(tok)
            if not m:
                raise ValueError(f"not promtool's expanding notation: {tok!r}")
            a = float(m["a"])
            if m["n"] is None:
                if m["b"] is not None:
                    raise ValueError(f"'{tok}' needs a repeat count (e.g. {tok}x10)")
                out.append(a)
                continue
            b = float(m["b"] or 0) * (-1 if m["op"] == "-" else 1)
            for _ in range(int(m["n"]) + 1):
                out.append(a)
                a += b
    return out


def notation(start: float, step: float, n: int) -> str:
    """``start+stepxn`` (n + 1 values), the way promtool expands it."""
    start += 0.0  # no '-0'
    if step == 0:
        return f"{number(start)}x{n}"
    sign = "-" if step < 0 else "+"
    return f"{number(start)}{sign}{number(abs(step))}x{n}"


@dataclass(frozen=True)
class Series:
    """One input series: ``values[k]`` is the sample at ``start_ms + k * interval_ms``."""

    labels: Labels
    values: tuple[float | None | str, ...]
    interval_ms: int
    start_ms: int = 0

    @classmethod
    def from_text(cls, series: str, values: str, interval_ms: int, start_ms: int = 0) -> Series:
        return cls(parse_series(series), tuple(parse_values(values)), interval_ms, start_ms)

    @property
    def name(self) -> str:
        return label(self.labels, NAME)

    def latest(self, t: int) -> tuple[int, float] | None:
        """The sample an instant selector sees at ``t`` (5m lookback, staleness respected)."""
        k = min((t - self.start_ms) // self.interval_ms, len(self.values) - 1)
        while k >= 0:
            ts = self.start_ms + k * self.interval_ms
            if ts < t - LOOKBACK_MS:
                return None
            v = self.values[k]
            if v == STALE:
                return None
            if v is not None:
                return ts, float(v)
            k -= 1
        return None

    def window(self, lo: int, hi: int) -> list[tuple[int, float]]:
        """Samples with ``lo <= t <= hi`` (Prometheus 2.x range windows are closed)."""
        iv = self.interval_ms
        k0 = max(0, -((self.start_ms - lo) // iv))
        k1 = min(len(self.values) - 1, (hi - self.start_ms) // iv)
        out = []
        for k in range(k0, k1 + 1):
            v = self.values[k]
            if v is not None and v != STALE:
                out.append((self.start_ms + k * iv, float(v)))
        return out


def parse_series(text: str) -> Labels:
    """Labels of ``name{a="b"}`` (a promtool input series)."""
    node = parse(text)
    if not isinstance(node, P.VectorSelector):
        raise ValueError(f"not a series: {text!r}")
    d = {NAME: node.name} if node.name else {}
    for m in node.matchers.matchers:
        if str(m.op) != "MatchOp.Equal":
            raise ValueError(f"a series takes label=value pairs only: {text!r}")
        d[m.name] = m.value
    return labels_of(d)


@dataclass(frozen=True)
class Record:
    """A recording rule of the same rule file: ``name`` is ``expr`` with ``labels`` set."""

    name: str
    expr: str
    labels: tuple[tuple[str, str], ...] = ()


# ---------------------------------------------------------------- values


@dataclass
class Scalar:
    v: float


@dataclass
class String:
    v: str


@dataclass
class Matrix:
    series: list[tuple[Labels, list[tuple[int, float]]]]
    start: int
    end: int
    range_ms: int


_ARITH = {"+", "-", "*", "/", "%", "^", "atan2"}
_CMP = {"==", "!=", ">", "<", ">=", "<="}
_SET = {"and", "or", "unless"}


def _arith(op: str, a: float, b: float) -> float:
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return _div(a, b)
        if op == "%":
            return math.fmod(a, b) if b != 0 and not math.isinf(a) else math.nan
        if op == "^":
            return math.pow(a, b)
        if op == "atan2":
            return math.atan2(a, b)
    except (OverflowError, ValueError):
        return math.inf if op in ("^", "*") and not math.isnan(a) else math.nan
    raise Unsupported(f"operator {op}")


def _div(a: float, b: float) -> float:
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _compare(op: str, a: float, b: float) -> bool:
    return {
        "==": a == b,
        "!=": a != b,
        ">": a > b,
        "<": a < b,
        ">=": a >= b,
        "<=": a <= b,
    }[op]


def _duration_ms(td) -> int:
    if td is None:
        return 0
    return round(td.total_seconds() * 1000)


def _unwrap(node):
    while isinstance(node, P.ParenExpr):
        node = node.expr
    return node


def children(node) -> list:
    """Direct sub-expressions of a parsed node."""
    if isinstance(node, P.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, P.AggregateExpr):
        return [node.param, node.expr] if node.param is not None else [node.expr]
    if isinstance(node, P.Call):
        return list(node.args)
    if isinstance(node, P.ParenExpr | P.UnaryExpr | P.SubqueryExpr):
        return [node.expr]
    if isinstance(node, P.MatrixSelector):
        return [node.vector_selector]
    return []


def selector_name(node) -> str:
    """The literal metric name of a VectorSelector ('' for ``{__name__=~...}``)."""
    if node.name:
        return node.name
    for m in node.matchers.matchers:
        if m.name == NAME and str(m.op) == "MatchOp.Equal":
            return m.value
    return ""


@dataclass
class Usage:
    """How an expression reads a selector: the enclosing function of its range, if any."""

    node: object
    function: str | None
    ranged: bool


def usages(node, function: str | None = None) -> Iterable[Usage]:
    """Every VectorSelector below ``node`` with the function that consumes it."""
    node = _unwrap(node)
    if isinstance(node, P.VectorSelector):
        yield Usage(node, function, False)
        return
    if isinstance(node, P.MatrixSelector):
        yield Usage(node.vector_selector, function, True)
        return
    if isinstance(node, P.Call):
        for a in node.args:
            yield from usages(a, node.func.name)
        return
    for c in children(node):
        yield from usages(c, function if isinstance(node, P.SubqueryExpr) else None)


_MATCH = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def _matcher_ok(m, ls: Labels) -> bool:
    v = label(ls, m.name)
    op = _MATCH[str(m.op)]
    if op == "=":
        return v == m.value
    if op == "!=":
        return v != m.value
    hit = _regex(m.value).fullmatch(v) is not None
    return hit if op == "=~" else not hit


@functools.lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern:
    """Prometheus regexes are RE2 and fully anchored; Python's ``re`` reads nearly all of them."""
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as e:
        raise Unsupported(f"the regex {pattern!r} ({e})") from None


def matches(node, ls: Labels) -> bool:
    """Does the VectorSelector ``node`` select a series with labels ``ls``?"""
    if node.name and label(ls, NAME) != node.name:
        return False
    return all(_matcher_ok(m, ls) for m in node.matchers.matchers)


# ---------------------------------------------------------------- the evaluator


@dataclass
class Evaluator:
    """Instant queries over ``series`` and the rule file's ``records``.

    ``step_ms`` is the rule evaluation interval (recorded series have a sample
    every step from 0).  ``margin`` is the smallest relative distance of any
    ``<``/``>``-style comparison seen: a tiny margin means the outcome hangs on
    float rounding.  ``peak`` is the most samples one query (the alert or a
    record) loaded, to stay under promtool's 10,000-sample limit.  ``work``
    counts samples loaded and records evaluated.
    """

    series: Sequence[Series] = ()
    records: Sequence[Record] = ()
    step_ms: int = 60_000
    margin: float = math.inf
    peak: int = 0
    work: int = 0
    _by_name: dict[str, list[Series]] = field(default_factory=dict)
    _recs: dict[str, list[tuple[int, object, Labels]]] = field(default_factory=dict)
    _cache: dict[tuple[str, int], Vector] = field(default_factory=dict)
    _loaded: list[int] = field(default_factory=lambda: [0])
    _reader: list[int] = field(default_factory=lambda: [1 << 30])

    def __post_init__(self) -> None:
        self.series = sorted(self.series, key=lambda s: s.labels)  # storage order: sums add up in it
        for s in self.series:
            self._by_name.setdefault(s.name, []).append(s)
        for i, r in enumerate(self.records):
            self._recs.setdefault(r.name, []).append((i, parse(r.expr), tuple(r.labels)))

    # -- entry points

    def query(self, expr, t: int) -> Vector | Scalar | String:
        """Evaluate ``expr`` (text or parsed) at ``t`` milliseconds, like an instant query."""
        node = parse(expr) if isinstance(expr, str) else expr
        self._loaded.append(0)
        try:
            out = self._eval(node, t)
        finally:
            self.peak = max(self.peak, self._loaded.pop())
        if isinstance(out, Matrix):
            raise Unsupported("a range vector is not an instant query result")
        if isinstance(out, list):
            _unique(out)
        return out

    def vector(self, expr, t: int) -> Vector:
        """An alert or record expression: scalars become one unlabelled sample."""
        out = self.query(expr, t)
        if isinstance(out, Scalar):
            return [((), out.v)]
        if isinstance(out, String):
            raise EvalError("a string is not a vector")
        return out

    # -- dispatch

    def _eval(self, node, t: int):  # noqa: C901 - one branch per node type
        if isinstance(node, P.NumberLiteral):
            return Scalar(float(node.val))
        if isinstance(node, P.StringLiteral):
            return String(node.val)
        if isinstance(node, P.ParenExpr):
            return self._eval(node.expr, t)
        if isinstance(node, P.UnaryExpr):
            v = self._eval(node.expr, t)
            if isinstance(v, Scalar):
                return Scalar(-v.v)
            return [(drop_name(ls), -x) for ls, x in v]
        if isinstance(node, P.VectorSelector):
            return [(ls, v) for ls, _, v in self._select(node, t)]
        if isinstance(node, P.MatrixSelector):
            return self._matrix(node, t)
        if isinstance(node, P.SubqueryExpr):
            return self._subquery(node, t)
        if isinstance(node, P.Call):
            return self._call(node, t)
        if isinstance(node, P.AggregateExpr):
            return self._aggregate(node, t)
        if isinstance(node, P.BinaryExpr):
            return self._binary(node, t)
        raise Unsupported(f"{type(node).__name__} expressions")

    def _time(self, node, t: int) -> int:
        at = getattr(node, "at", None)
        if at is not None and str(at.type) == "AtModifierType.At":
            t = round(at.at.timestamp() * 1000)
        return t - _duration_ms(getattr(node, "offset", None))

    def _count(self, n: int) -> None:
        self._loaded[-1] += n
        self.work += n

    # -- selectors

    def _select(self, node, t: int) -> list[tuple[Labels, int, float]]:
        """Instant selection: (labels, sample time, value) per selected series."""
        t = self._time(node, t)
        name = selector_name(node)
        if node.matchers.or_matchers:
            raise Unsupported("'or' inside a selector")
        out = []
        if name in self._recs:
            g = (t // self.step_ms) * self.step_ms
            if t - g <= LOOKBACK_MS:
                out = [(ls, g, v) for ls, v in self._recorded(name, g) if matches(node, ls)]
        else:
            for s in self._by_name.get(name, []) if name else self.series:
                if matches(node, s.labels):
                    hit = s.latest(t)
                    if hit is not None:
                        out.append((s.labels, hit[0], hit[1]))
        self._count(len(out))
        return out

    def _matrix(self, node, t: int) -> Matrix:
        vs = node.vector_selector
        end = self._time(vs, t)
        rng = _duration_ms(node.range)
        start = end - rng
        name = selector_name(vs)
        out: list[tuple[Labels, list[tuple[int, float]]]] = []
        if name in self._recs:
            pts: dict[Labels, list[tuple[int, float]]] = {}
            g = -((-max(start, 0)) // self.step_ms) * self.step_ms
            while g <= end:
                for ls, v in self._recorded(name, g):
                    if matches(vs, ls):
                        pts.setdefault(ls, []).append((g, v))
                g += self.step_ms
            out = sorted(pts.items())
        else:
            for s in self._by_name.get(name, []) if name else self.series:
                if matches(vs, s.labels):
                    w = s.window(start, end)
                    if w:
                        out.append((s.labels, w))
        self._count(sum(len(p) for _, p in out))
        return Matrix(out, start, end, rng)

    def _subquery(self, node, t: int) -> Matrix:
        end = self._time(node, t)
        rng = _duration_ms(node.range)
        step = _duration_ms(node.step) or self.step_ms
        start = end - rng
        s = -((-start) // step) * step
        pts: dict[Labels, list[tuple[int, float]]] = {}
        while s <= end:
            v = self._eval(node.expr, s)
            if isinstance(v, Scalar):
                v = [((), v.v)]
            if not isinstance(v, list):
                raise Unsupported("subquery of a non-vector")
            for ls, x in v:
                pts.setdefault(ls, []).append((s, x))
            s += step
        self._count(sum(len(p) for p in pts.values()))
        return Matrix(sorted(pts.items()), start, end, rng)

    def _recorded(self, name: str, g: int) -> Vector:
        """The series ``name`` the rule file records at evaluation time ``g``."""
        out: Vector = []
        for index, expr, extra in self._recs[name]:
            # a record defined later in the file (or itself) is read from the previous evaluation
            at = g - self.step_ms if index >= self._reader[-1] else g
            out += self._record_value(name, index, expr, extra, at)
        if len(self._recs[name]) > 1:
            _unique(out)  # promtool: "duplicate sample for timestamp"
            out.sort()
        return out

    def _record_value(self, name: str, index: int, expr, extra: Labels, g: int) -> Vector:
        if g < 0:
            return []
        key = (f"{index}:{name}", g)
        if key not in self._cache:
            self.work += RECORD_WORK
            self._reader.append(index)
            self._loaded.append(0)
            try:
                res = self.vector(expr, g)
            finally:
                self.peak = max(self.peak, self._loaded.pop())
                self._reader.pop()
            out = []
            for ls, v in res:
                d = dict(ls)
                d[NAME] = name
                d.update(extra)
                out.append((labels_of(d), v))
            self._cache[key] = sorted(out)  # read back in storage order
        return self._cache[key]

    # -- functions

    def _call(self, node, t: int):
        fn = node.func.name
        args = node.args
        impl = _RANGE_FUNCS.get(fn)
        if impl is not None:
            return self._range_call(fn, impl, args, t)
        if fn in _MATH:
            return _math(fn, self._vec(args[0], t))
        method = getattr(self, "_f_" + fn, None)
        if method is None:
            raise Unsupported(f"function {fn}()")
        return method(args, t)

    def _vec(self, node, t: int) -> Vector:
        v = self._eval(node, t)
        if not isinstance(v, list):
            raise Unsupported("expected an instant vector")
        return v

    def _scalar(self, node, t: int) -> float:
        v = self._eval(node, t)
        if not isinstance(v, Scalar):
            raise Unsupported("expected a scalar")
        return v.v

    def _string(self, node, t: int) -> str:
        v = self._eval(node, t)
        if not isinstance(v, String):
            raise Unsupported("expected a string")
        return v.v

    def _range_call(self, fn: str, impl, args, t: int) -> Vector:
        scalar_args = []
        if fn in ("quantile_over_time",):
            scalar_args.append(self._scalar(args[0], t))
            args = args[1:]
        elif fn == "predict_linear":
            scalar_args.append(self._scalar(args[1], t))
        m = self._eval(args[0], t)
        if not isinstance(m, Matrix):
            raise Unsupported(f"{fn}() needs a range vector")
        if fn == "absent_over_time":
            if any(p for _, p in m.series):
                return []
            return [(_absent_labels(_unwrap(args[0])), 1.0)]
        out = []
        for ls, pts in m.series:
            v = impl(pts, m, t, *scalar_args)
            if v is None:
                continue
            out.append((ls if fn == "last_over_time" else drop_name(ls), v))
        return out

    def _f_time(self, args, t: int) -> Scalar:
        return Scalar(t / 1000)

    def _f_vector(self, args, t: int) -> Vector:
        return [((), self._scalar(args[0], t))]

    def _f_scalar(self, args, t: int) -> Scalar:
        v = self._vec(args[0], t)
        return Scalar(v[0][1] if len(v) == 1 else math.nan)

    def _f_timestamp(self, args, t: int) -> Vector:
        arg = _unwrap(args[0])
        if isinstance(arg, P.VectorSelector):
            return [(drop_name(ls), ts / 1000) for ls, ts, _ in self._select(arg, t)]
        return [(drop_name(ls), t / 1000) for ls, _ in self._vec(arg, t)]

    def _f_absent(self, args, t: int) -> Vector:
        if self._vec(args[0], t):
            return []
        return [(_absent_labels(_unwrap(args[0])), 1.0)]

    def _f_sort(self, args, t: int) -> Vector:
        return sorted(self._vec(args[0], t), key=lambda s: s[1])

    def _f_sort_desc(self, args, t: int) -> Vector:
        return sorted(self._vec(args[0], t), key=lambda s: -s[1])

    def _f_clamp(self, args, t: int) -> Vector:
        lo, hi = self._scalar(args[1], t), self._scalar(args[2], t)
        if hi < lo:
            return []
        return [(drop_name(ls), _gomax(lo, _gomin(hi, v))) for ls, v in self._vec(args[0], t)]

    def _f_clamp_min(self, args, t: int) -> Vector:
        lo = self._scalar(args[1], t)
        return [(drop_name(ls), _gomax(lo, v)) for ls, v in self._vec(args[0], t)]

    def _f_clamp_max(self, args, t: int) -> Vector:
        hi = self._scalar(args[1], t)
        return [(drop_name(ls), _gomin(hi, v)) for ls, v in self._vec(args[0], t)]

    def _f_round(self, args, t: int) -> Vector:
        to = self._scalar(args[1], t) if len(args) > 1 else 1.0
        inv = 1.0 / to
        return [(drop_name(ls), math.floor(v * inv + 0.5) / inv) for ls, v in self._vec(args[0], t)]

    def _f_label_replace(self, args, t: int) -> Vector:
        dst, repl, src, regex = (self._string(a, t) for a in args[1:5])
        pattern = _regex(regex)
        out = []
        for ls, v in self._vec(args[0], t):
            m = pattern.fullmatch(label(ls, src))
            if m is not None:
                d = dict(ls)
                d[dst] = _expand(repl, m)
                ls = labels_of(d)
            out.append((ls, v))
        return out

    def _f_label_join(self, args, t: int) -> Vector:
        dst, sep = self._string(args[1], t), self._string(args[2], t)
        srcs = [self._string(a, t) for a in args[3:]]
        out = []
        for ls, v in self._vec(args[0], t):
            d = dict(ls)
            d[dst] = sep.join(label(ls, s) for s in srcs)
            out.append((labels_of(d), v))
        return out

    def _f_histogram_quantile(self, args, t: int) -> Vector:
        q = self._scalar(args[0], t)
        groups: dict[Labels, list[tuple[float, float]]] = {}
        for ls, v in self._vec(args[1], t):
            le = label(ls, "le")
            try:
                bound = float(le)
            except ValueError:
                continue
            key = tuple(kv for kv in ls if kv[0] not in (NAME, "le"))
            groups.setdefault(key, []).append((bound, v))
        return [(k, bucket_quantile(q, b)) for k, b in groups.items()]

    def _date(self, args, t: int, part) -> Vector:
        v = self._vec(args[0], t) if args else [((), t / 1000)]
        out = []
        for ls, x in v:
            d = datetime.fromtimestamp(x, UTC)
            out.append((drop_name(ls), float(part(d))))
        return out

    def _f_minute(self, args, t):
        return self._date(args, t, lambda d: d.minute)

    def _f_hour(self, args, t):
        return self._date(args, t, lambda d: d.hour)

    def _f_day_of_week(self, args, t):
        return self._date(args, t, lambda d: (d.weekday() + 1) % 7)

    def _f_day_of_month(self, args, t):
        return self._date(args, t, lambda d: d.day)

    def _f_days_in_month(self, args, t):
        return self._date(args, t, lambda d: calendar.monthrange(d.year, d.month)[1])

    def _f_month(self, args, t):
        return self._date(args, t, lambda d: d.month)

    def _f_year(self, args, t):
        return self._date(args, t, lambda d: d.year)

    # -- aggregations

    def _aggregate(self, node, t: int) -> Vector:
        op = str(node.op)
        vec = self._vec(node.expr, t)
        mod = node.modifier
        by = mod is None or str(mod.type) == "AggModifierType.By"
        names = list(mod.labels) if mod is not None else []
        param = None
        if op in ("topk", "bottomk", "quantile"):
            param = self._scalar(node.param, t)
        elif op == "count_values":
            param = self._string(node.param, t)
        elif op not in _AGG:
            raise Unsupported(f"aggregation {op}")
        groups: dict[Labels, list[Sample]] = {}
        for ls, v in vec:
            if by:
                key = tuple(kv for kv in ls if kv[0] in names)
            else:
                key = tuple(kv for kv in ls if kv[0] not in names and kv[0] != NAME)
            if op == "count_values":
                key = labels_of({**dict(key), param: _format_value(v)})
            groups.setdefault(key, []).append((ls, v))
        out: Vector = []
        for key, members in groups.items():
            values = [v for _, v in members]
            if op in ("topk", "bottomk"):
                out += self._top(members, param, op == "topk")
            elif op == "quantile":
                out.append((key, quantile(param, values)))
            elif op == "count_values":
                out.append((key, float(len(values))))
            else:
                out.append((key, _AGG[op](values)))
        return out

    def _top(self, members: list[Sample], k: float, top: bool) -> Vector:
        n = int(k)
        if n < 1:
            return []
        ordered = sorted(members, key=lambda s: (-s[1] if top else s[1]) if not math.isnan(s[1]) else math.inf)
        if n < len(ordered) and ordered[n - 1][1] == ordered[n][1]:
            self.margin = 0.0  # a tie at the cut: Prometheus may pick either
        return ordered[:n]

    # -- binary operators

    def _binary(self, node, t: int):
        op = str(node.op)
        mod = node.modifier
        return_bool = bool(mod and mod.return_bool)
        lhs = self._eval(node.lhs, t)
        rhs = self._eval(node.rhs, t)
        if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
            if op in _CMP:
                return Scalar(1.0 if self._cmp(op, lhs.v, rhs.v) else 0.0)
            return Scalar(_arith(op, lhs.v, rhs.v))
        if isinstance(lhs, Scalar) or isinstance(rhs, Scalar):
            swap = isinstance(lhs, Scalar)
            vec, s = (rhs, lhs.v) if swap else (lhs, rhs.v)
            return self._vector_scalar(op, vec, s, swap, return_bool)
        if not isinstance(lhs, list) or not isinstance(rhs, list):
            raise Unsupported("binary operation on non-vectors")
        matching = mod.matching if mod is not None else None
        on = matching is not None and str(matching.type) == "LabelModifierType.Include"
        names = list(matching.labels) if matching is not None else []
        if op in _SET:
            return _set_op(op, lhs, rhs, on, names)
        card = str(mod.card).rsplit(".", 1)[-1] if mod is not None else "OneToOne"
        include = list(mod.group_labels or []) if mod is not None else []
        return self._vector_vector(op, lhs, rhs, card, on, names, include, return_bool)

    def _cmp(self, op: str, a: float, b: float) -> bool:
        if op not in ("==", "!=") and math.isfinite(a) and math.isfinite(b) and not (a == b == 0):
            scale = max(abs(a), abs(b))
            self.margin = min(self.margin, abs(a - b) / scale if scale else 0.0)
        return _compare(op, a, b)

    def _elem(self, op: str, a: float, b: float) -> tuple[float, bool]:
        if op in _CMP:
            return a, self._cmp(op, a, b)
        return _arith(op, a, b), True

    def _vector_scalar(self, op: str, vec: Vector, s: float, swap: bool, return_bool: bool) -> Vector:
        out = []
        for ls, v in vec:
            lv, rv = (s, v) if swap else (v, s)
            value, keep = self._elem(op, lv, rv)
            if op in _CMP and swap:
                value = rv
            if return_bool:
                value, keep = (1.0 if keep else 0.0), True
            if keep:
                out.append((drop_name(ls) if op in _ARITH or return_bool else ls, value))
        return out

    def _vector_vector(
        self, op: str, lhs: Vector, rhs: Vector, card: str, on: bool, names: list[str], include: list[str], rb: bool
    ) -> Vector:
        if card == "OneToMany":
            lhs, rhs = rhs, lhs
        right: dict[Labels, Sample] = {}
        for s in rhs:
            sig = _signature(s[0], on, names)
            if sig in right:
                raise EvalError("many-to-many matching not allowed: matching labels must be unique on one side")
            right[sig] = s
        matched: dict[Labels, set[Labels]] = {}
        out = []
        for ls, lv in lhs:
            sig = _signature(ls, on, names)
            if sig not in right:
                continue
            rs, rv = right[sig]
            vl, vr = (rv, lv) if card == "OneToMany" else (lv, rv)
            value, keep = self._elem(op, vl, vr)
            if rb:
                value = 1.0 if keep else 0.0
            elif not keep:
                continue
            metric = _result_metric(ls, rs, op, card, on, names, include)
            if rb:
                metric = drop_name(metric)
            seen = matched.setdefault(sig, set())
            if card == "OneToOne" and seen or metric in seen:
                raise EvalError("multiple matches for labels: many-to-one matching must be explicit")
            seen.add(metric)
            out.append((metric, value))
        return out


def _gomax(a: float, b: float) -> float:
    """Go's math.Max: NaN wins."""
    return math.nan if math.isnan(a) or math.isnan(b) else max(a, b)


def _gomin(a: float, b: float) -> float:
    return math.nan if math.isnan(a) or math.isnan(b) else min(a, b)


def _unique(vec: Vector) -> None:
    seen = set()
    for ls, _ in vec:
        if ls in seen:
            raise EvalError(f"vector cannot contain metrics with the same labelset: {render_labels(ls)}")
        seen.add(ls)


def _signature(ls: Labels, on: bool, names: list[str]) -> Labels:
    if on:
        return tuple(kv for kv in ls if kv[0] in names)
    return tuple(kv for kv in ls if kv[0] not in names and kv[0] != NAME)


def _result_metric(lhs: Labels, rhs: Labels, op: str, card: str, on: bool, names: list[str], inc: list[str]) -> Labels:
    d = dict(lhs)
    if op in _ARITH:
        d.pop(NAME, None)
    if card == "OneToOne":
        d = {k: v for k, v in d.items() if k in names} if on else {k: v for k, v in d.items() if k not in names}
    for ln in inc:
        v = label(rhs, ln)
        if v:
            d[ln] = v
        else:
            d.pop(ln, None)
    return labels_of(d)


def _set_op(op: str, lhs: Vector, rhs: Vector, on: bool, names: list[str]) -> Vector:
    if op == "and":
        if not lhs or not rhs:
            return []
        sigs = {_signature(ls, on, names) for ls, _ in rhs}
        return [s for s in lhs if _signature(s[0], on, names) in sigs]
    if op == "unless":
        sigs = {_signature(ls, on, names) for ls, _ in rhs}
        return [s for s in lhs if _signature(s[0], on, names) not in sigs]
    sigs = {_signature(ls, on, names) for ls, _ in lhs}
    return list(lhs) + [s for s in rhs if _signature(s[0], on, names) not in sigs]


def _absent_labels(node) -> Labels:
    if isinstance(node, P.MatrixSelector):
        node = node.vector_selector
    if not isinstance(node, P.VectorSelector):
        return ()
    d: dict[str, str] = {}
    dup = set()
    for m in node.matchers.matchers:
        if str(m.op) == "MatchOp.Equal" and m.name != NAME:
            if m.name in d:
                dup.add(m.name)
            d[m.name] = m.value
    return labels_of({k: v for k, v in d.items() if k not in dup})


def _expand(template: str, m: re.Match) -> str:
    """Go's regexp Expand: ``$1``, ``${1}``, ``$name``; unknown groups expand to ''."""

    def group(g: re.Match) -> str:
        ref = g.group(1) or g.group(2)
        if ref is None:
            return "$"
        try:
            return (m.group(int(ref)) if ref.isdigit() else m.group(ref)) or ""
        except IndexError:
            return ""

    return re.sub(r"\$(?:\{(\w+)\}|(\w+)|\$)", group, template)


def _format_value(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    text = format(Decimal(repr(v)), "f")
    return text[:-2] if text.endswith(".0") else text


def quantile(q: float, values: list[float]) -> float:
    """Prometheus' ``quantile`` (linear interpolation between closest ranks)."""
    if not values:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    vs = sorted(values)
    rank = q * (len(vs) - 1)
    lo = max(0, math.floor(rank))
    hi = min(len(vs) - 1, lo + 1)
    w = rank - math.floor(rank)
    return vs[lo] * (1 - w) + vs[hi] * w


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """``histogram_quantile`` over (upper bound, cumulative count) pairs, as in Prometheus 2.42."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    bs = sorted(buckets)
    if not math.isinf(bs[-1][0]):
        return math.nan
    merged: list[list[float]] = []
    for ub, c in bs:
        if merged and merged[-1][0] == ub:
            merged[-1][1] += c
        else:
            merged.append([ub, c])
    top = -math.inf
    for b in merged:
        if b[1] > top:
            top = b[1]
        elif b[1] < top:
            b[1] = top
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[b][0], merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)


# ---------------------------------------------------------------- range functions


def _extrapolated(pts: list[tuple[int, float]], m: Matrix, counter: bool, rate: bool) -> float | None:
    if len(pts) < 2:
        return None
    result = pts[-1][1] - pts[0][1]
    if counter:
        last = 0.0
        for _, v in pts:
            if v < last:
                result += last
            last = v
    to_start = (pts[0][0] - m.start) / 1000
    to_end = (m.end - pts[-1][0]) / 1000
    sampled = (pts[-1][0] - pts[0][0]) / 1000
    avg = sampled / (len(pts) - 1)
    if counter and result > 0 and pts[0][1] >= 0:
        to_zero = sampled * (pts[0][1] / result)
        if to_zero < to_start:
            to_start = to_zero
    threshold = avg * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else avg / 2
    interval += to_end if to_end < threshold else avg / 2
    factor = interval / sampled  # Prometheus scales by one factor: rounding as it does matters at thresholds
    if rate:
        factor /= m.range_ms / 1000
    return result * factor


def _instant(pts: list[tuple[int, float]], rate: bool) -> float | None:
    if len(pts) < 2:
        return None
    (t0, v0), (t1, v1) = pts[-2], pts[-1]
    result = v1 if rate and v1 < v0 else v1 - v0
    dt = (t1 - t0) / 1000
    if dt == 0:
        return None
    return result / dt if rate else result


def _regression(pts: list[tuple[int, float]], origin: int) -> tuple[float, float]:
    ys = [v for _, v in pts]
    if all(y == ys[0] for y in ys):
        return (math.nan, math.nan) if math.isinf(ys[0]) else (0.0, ys[0])
    n = len(pts)
    xs = [(t - origin) / 1000 for t, _ in pts]
    sx, sy = sum(xs), sum(ys)
    sxy = sum(x * y for x, y in zip(xs, ys, strict=True))
    sx2 = sum(x * x for x in xs)
    cov = sxy - sx * sy / n
    var = sx2 - sx * sx / n
    slope = cov / var
    return slope, sy / n - slope * sx / n


def _deriv(pts, m, t):
    return None if len(pts) < 2 else _regression(pts, pts[0][0])[0]


def _predict(pts, m, t, seconds):
    if len(pts) < 2:
        return None
    slope, intercept = _regression(pts, t)
    return slope * seconds + intercept


def _values(pts) -> list[float]:
    return [v for _, v in pts]


def _changes(pts, m, t):
    vs = _values(pts)
    return float(sum(1 for a, b in zip(vs, vs[1:], strict=False) if a != b and not (math.isnan(a) and math.isnan(b))))


def _resets(pts, m, t):
    vs = _values(pts)
    return float(sum(1 for a, b in zip(vs, vs[1:], strict=False) if b < a))


# Prometheus 2.42 sums and averages samples over time with Kahan compensation, and
# aggregates across series with plain running sums: the same rounding, bit for bit.


def _kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    t = total + inc
    if math.isinf(t):
        return t, 0.0
    c += (total - t) + inc if abs(total) >= abs(inc) else (inc - t) + total
    return t, c


def _kahan_sum(vs: list[float]) -> float:
    total = c = 0.0
    for v in vs:
        total, c = _kahan_inc(v, total, c)
    return total + c


def _kahan_mean(vs: list[float]) -> float:
    mean = c = 0.0
    for n, v in enumerate(vs, 1):
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        mean, c = _kahan_inc(v / n - mean / n, mean, c)
    return mean if math.isinf(mean) else mean + c


def _stdvar(vs: list[float]) -> float:
    """Welford's algorithm with Kahan compensation, as stdvar_over_time."""
    mean = cm = aux = ca = 0.0
    for n, v in enumerate(vs, 1):
        delta = v - (mean + cm)
        mean, cm = _kahan_inc(delta / n, mean, cm)
        aux, ca = _kahan_inc(delta * (v - (mean + cm)), aux, ca)
    return (aux + ca) / len(vs)


def _running_mean(vs: list[float]) -> float:
    mean = 0.0
    for n, v in enumerate(vs, 1):
        mean += v / n - mean / n
    return mean


def _welford(vs: list[float]) -> float:
    mean = aux = 0.0
    for n, v in enumerate(vs, 1):
        delta = v - mean
        mean += delta / n
        aux += delta * (v - mean)
    return aux / len(vs)


def _plain_sum(vs: list[float]) -> float:
    total = 0.0
    for v in vs:
        total += v
    return total


_RANGE_FUNCS = {
    "rate": lambda p, m, t: _extrapolated(p, m, True, True),
    "increase": lambda p, m, t: _extrapolated(p, m, True, False),
    "delta": lambda p, m, t: _extrapolated(p, m, False, False),
    "irate": lambda p, m, t: _instant(p, True),
    "idelta": lambda p, m, t: _instant(p, False),
    "deriv": _deriv,
    "predict_linear": _predict,
    "changes": _changes,
    "resets": _resets,
    "avg_over_time": lambda p, m, t: _kahan_mean(_values(p)),
    "sum_over_time": lambda p, m, t: _kahan_sum(_values(p)),
    "min_over_time": lambda p, m, t: min(_values(p)),
    "max_over_time": lambda p, m, t: max(_values(p)),
    "count_over_time": lambda p, m, t: float(len(p)),
    "last_over_time": lambda p, m, t: p[-1][1],
    "present_over_time": lambda p, m, t: 1.0,
    "stddev_over_time": lambda p, m, t: math.sqrt(_stdvar(_values(p))),
    "stdvar_over_time": lambda p, m, t: _stdvar(_values(p)),
    "quantile_over_time": lambda p, m, t, q: quantile(q, _values(p)),
    "absent_over_time": lambda p, m, t: None,
}


def _safe(f):
    def g(x: float) -> float:
        try:
            return float(f(x))
        except OverflowError:  # ceil/floor of +-Inf: Go's math.Ceil returns it unchanged
            return x
        except ValueError:
            return math.nan

    return g


def _sgn(x: float) -> float:
    return math.nan if math.isnan(x) else float((x > 0) - (x < 0))


_MATH = {
    "abs": abs,
    "ceil": _safe(math.ceil),
    "floor": _safe(math.floor),
    "exp": _safe(math.exp),
    "sqrt": _safe(math.sqrt),
    "ln": _safe(math.log),
    "log2": _safe(math.log2),
    "log10": _safe(math.log10),
    "sgn": _sgn,
    "sin": _safe(math.sin),
    "cos": _safe(math.cos),
    "tan": _safe(math.tan),
    "asin": _safe(math.asin),
    "acos": _safe(math.acos),
    "atan": _safe(math.atan),
    "deg": math.degrees,
    "rad": math.radians,
}


def _math(fn: str, vec: Vector) -> Vector:
    f = _MATH[fn]
    return [(drop_name(ls), f(v)) for ls, v in vec]


def _nanmin(vs: list[float]) -> float:
    real = [v for v in vs if not math.isnan(v)]
    return min(real) if real else math.nan


def _nanmax(vs: list[float]) -> float:
    real = [v for v in vs if not math.isnan(v)]
    return max(real) if real else math.nan


_AGG = {
    "sum": _plain_sum,
    "avg": _running_mean,
    "min": _nanmin,
    "max": _nanmax,
    "count": lambda vs: float(len(vs)),
    "group": lambda vs: 1.0,
    "stddev": lambda vs: math.sqrt(_welford(vs)),
    "stdvar": _welford,
}


def warmup_ms(node, records: dict[str, str] | None = None, _seen: frozenset = frozenset()) -> int:
    """How far back ``node`` looks: the longest chain of ranges and offsets (records included)."""
    node = _unwrap(node)
    records = records or {}
    if isinstance(node, P.VectorSelector):
        own = max(0, _duration_ms(node.offset))
        name = selector_name(node)
        if name in records and name not in _seen:
            own += warmup_ms(parse(records[name]), records, _seen | {name})
        return own
    if isinstance(node, P.MatrixSelector):
        return _duration_ms(node.range) + warmup_ms(node.vector_selector, records, _seen)
    if isinstance(node, P.SubqueryExpr):
        return _duration_ms(node.range) + max(0, _duration_ms(node.offset)) + warmup_ms(node.expr, records, _seen)
    return max((warmup_ms(c, records, _seen) for c in children(node)), default=0)
