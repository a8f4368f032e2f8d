"""promtool unit tests for the spec's operational alerts (free PromQL written by users).

For each alert: a *breaching* input that makes it fire and a *healthy* one that
keeps it quiet, both steady (gauges constant, counters growing at a constant
rate, ``*_timestamp*`` gauges following the clock, histograms with every
observation at one value).  The inputs are found by search: one series per
distinct selector of the expression (recording rules of the same file are read
through), values tried from a short list of magnitudes and of values derived
from the expression's own numbers, each candidate evaluated with
``sloforge.promql.steady`` exactly as promtool will.  The evaluator then
simulates every rule evaluation to predict the exact ``ALERTS`` series:

* breach: ``pending`` shortly before ``for`` has elapsed (when ``for`` >= 2m),
  ``firing`` at warm-up + ``for``, with the expression's labels and the rule's;
* healthy: no ``ALERTS`` for the alert at the same time.

An explicit ``alert.test`` replaces the search.  ``derive`` raises
``Unsynthesizable`` with the reason when no test can be found.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import promql_parser as P

from sloforge import conventions as C
from sloforge.durations import format_duration, parse_duration
from sloforge.generate import rules as R
from sloforge.generate.synth import Unsynthesizable, labels_matching, series_text, value_for
from sloforge.model import Alert
from sloforge.promql import Matcher, PromQLError, Selector, number, parse
from sloforge.promql.steady import (
    NAME,
    EvalError,
    Evaluator,
    Labels,
    Record,
    Scalar,
    Series,
    Unsupported,
    children,
    drop_name,
    labels_of,
    notation,
    render_labels,
    selector_name,
    usages,
    warmup_ms,
)

STEP = 60  # the test file's evaluation_interval (seconds)
LONG_STEP = 300  # the long test file's, for alerts that need hours of input
LONG_AFTER = 6 * 3600  # tests running longer than this go to the long file
INTERVALS = (60, 300, 900, 3600)  # input sample intervals, finest first
SAMPLE_LIMIT = 8000  # promtool 2.42 refuses queries loading more than 10,000 samples
MARGIN = 1e-6  # comparisons closer than this (relative) could flip on float rounding
MAX_EVALUATIONS = 3000  # candidate inputs tried per alert
MAX_WORK = 1_000_000  # samples loaded (and records evaluated) by those tries

_COUNTER_FUNCS = {"rate", "irate", "increase", "resets"}
_COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
_DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
_GAUGES = [1.0, 0.0, 10.0, 0.5, 100.0, 0.1, 1000.0, 0.01, 1e4, 1e-3, 1e6, -1.0]
_RATES = [1.0, 0.0, 10.0, 0.1, 100.0, 0.01, 1000.0, 1e-3, 1e4, 1e6]
_AGES = [0.0, 60.0, 600.0, 3600.0, 86400.0, 604800.0, 30.0, -3600.0, -86400.0, -2592000.0]
_HISTOGRAM_RATES = [1.0, 10.0, 0.1, 1000.0]


# ---------------------------------------------------------------- what the rule file holds


@dataclass
class Rule:
    """An alerting rule as the generated rule file has it."""

    name: str
    expr: str
    node: object
    for_ms: int
    keep_ms: int
    labels: dict[str, str]

    @property
    def templated(self) -> bool:
        return any("{{" in v for v in self.labels.values())


@dataclass
class Context:
    """The parts of a spec's rule file an alert test depends on."""

    rules: list[Rule]
    records: list[Record]
    record_exprs: dict[str, str]
    slo_series: set[str]
    spec: object

    @classmethod
    def of(cls, spec) -> Context:
        rules = []
        for r in R.operational_rules(spec):
            rules.append(
                Rule(
                    r["alert"],
                    r["expr"],
                    parse(r["expr"]),
                    _ms(_seconds(r.get("for"))),
                    _ms(_seconds(r.get("keep_firing_for"))),
                    dict(r["labels"]),
                )
            )
        records, slo_series = [], set()
        for slo in spec.slos:
            for r in R.sli_rules(spec, slo) + R.slo_window_rules(spec, slo):
                if r["record"] in (C.OBJECTIVE, C.PERIOD_SECONDS):
                    records.append(Record(r["record"], r["expr"], tuple(r["labels"].items())))
                else:
                    slo_series.add(r["record"])
        records += [Record(r["record"], r["expr"], tuple(r["labels"].items())) for r in R.record_rules(spec)]
        exprs: dict[str, str] = {}
        for rec in records:
            exprs[rec.name] = f"{exprs[rec.name]} or ({rec.expr})" if rec.name in exprs else f"({rec.expr})"
        return cls(rules, records, exprs, slo_series - set(exprs), spec)

    def named(self, name: str) -> list[Rule]:
        return [r for r in self.rules if r.name == name]


def _seconds(text: str | None) -> float:
    return parse_duration(text) if text else 0.0


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass
class Reads:
    """What an expression reads: input selectors (with the function applied) and every name."""

    selectors: list[tuple[Selector, str | None]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    literals: set[float] = field(default_factory=set)


def reads(ctx: Context, expr: str) -> Reads:
    """Selectors of ``expr`` and of the records it reads (through any depth)."""
    out = Reads()
    todo, seen = [expr], set()
    while todo:
        text = todo.pop()
        node = parse(text)
        _literals(node, out.literals)
        for use in usages(node):
            name = selector_name(use.node)
            if not name:
                raise Unsynthesizable("a selector without a metric name")
            if name in ("ALERTS", "ALERTS_FOR_STATE"):
                raise Unsynthesizable(f"it reads {name}, which promtool writes itself")
            out.names.add(name)
            if name in ctx.record_exprs:
                if name not in seen:
                    seen.add(name)
                    todo.append(ctx.record_exprs[name])
                continue
            if use.node.matchers.or_matchers:
                raise Unsynthesizable("'or' inside a selector")
            matchers = tuple(
                Matcher(m.name, _OPS[str(m.op)], m.value) for m in use.node.matchers.matchers if m.name != NAME
            )
            out.selectors.append((Selector(name, matchers), use.function))
    return out


_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def _literals(node, found: set[float]) -> None:
    """Numbers in the expression, constant sub-expressions (``86400 * 7``) folded."""
    if _constant(node):
        v = Evaluator().query(node, 0)
        if isinstance(v, Scalar) and v.v and math.isfinite(v.v):
            found.add(abs(v.v))
    for c in children(node):
        _literals(c, found)


def _constant(node) -> bool:
    if isinstance(node, P.NumberLiteral):
        return True
    if isinstance(node, P.ParenExpr | P.UnaryExpr | P.BinaryExpr):
        return all(_constant(c) for c in children(node))
    return False


# ---------------------------------------------------------------- knobs: the series a test controls


@dataclass
class Knob:
    """One synthetic input: a series (or a histogram's series) driven by one value."""

    kind: str  # gauge | counter | timestamp | trend (a gauge rising or falling) | histogram
    name: str  # series name; a histogram's base name
    labels: dict[str, str]
    specific: bool  # selected by a selector with label matchers
    candidates: list = field(default_factory=list)  # values to try; None: the series is absent
    bounds: list[float] = field(default_factory=list)  # histogram bucket bounds
    parts: tuple[str, ...] = ()  # histogram series read: bucket, count, sum
    copies: int = 1  # identical series, told apart by ``copy_label``
    copy_label: str = "instance"

    def series(self, value, interval: int, n: int) -> list[tuple[str, str]]:
        """(series, values) in promtool's notation: ``n + 1`` samples ``interval`` seconds apart."""
        if value is None:
            return []
        one = self._series(value, interval, n)
        if self.copies == 1:
            return [(series_text(name, labels), values) for name, labels, values in one]
        return [
            (series_text(name, {**labels, self.copy_label: f"sloforge-{i}"}), values)
            for i in range(self.copies)
            for name, labels, values in one
        ]

    def _series(self, value, interval: int, n: int) -> list[tuple[str, dict[str, str], str]]:
        if self.kind == "gauge":
            return [(self.name, self.labels, notation(value, 0, n))]
        if self.kind in ("counter", "trend"):
            return [(self.name, self.labels, notation(0, value * interval, n))]
        if self.kind == "timestamp":
            return [(self.name, self.labels, notation(-value, interval, n))]
        pos, rate = value
        obs = _observation(self.bounds, pos)
        out = []
        if "bucket" in self.parts:
            for b in [*self.bounds, math.inf]:
                le = "+Inf" if math.isinf(b) else number(b)
                slope = rate if b >= obs else 0.0
                out.append((self.name + "_bucket", {**self.labels, "le": le}, notation(0, slope * interval, n)))
        if "count" in self.parts:
            out.append((self.name + "_count", self.labels, notation(0, rate * interval, n)))
        if "sum" in self.parts:
            out.append((self.name + "_sum", self.labels, notation(0, rate * obs * interval, n)))
        return out


def _observation(bounds: list[float], pos: int) -> float:
    """Every observation at one value: a bucket bound, or above the highest one."""
    if pos < len(bounds):
        return bounds[pos]
    top = bounds[-1] if bounds else 1.0
    return top * 2 if top > 0 else top + 1


@dataclass(frozen=True)
class Variant:
    """How to lay out the synthetic series (tried in order until one finds a test)."""

    shared: bool = False  # copy equality-matched labels across metrics (helps one-to-one matching)
    copies: int = 1  # series per selector (for counts of series)
    trend: bool = False  # gauges under deriv/delta/predict_linear grow or shrink linearly


_TREND_FUNCS = {"deriv", "delta", "idelta", "predict_linear"}


def _variants(found: Reads) -> list[Variant]:
    counts = sorted({int(c) + 1 for c in found.literals if c == int(c) and 1 <= c <= 20} or {3})
    return [Variant(), Variant(shared=True), *(Variant(copies=k) for k in counts[:2]), Variant(trend=True)]


def _kind(ctx: Context, name: str, functions: set[str | None], trend: bool = False) -> str:
    if trend and functions & _TREND_FUNCS and _kind(ctx, name, functions) == "gauge":
        return "trend"
    metric = ctx.spec.metric(name)
    if name in ctx.slo_series or ":" in name:
        return "gauge"  # recorded elsewhere: a gauge here
    if "timestamp" in name.lower() and not name.endswith("_total") and not (metric and metric.type == "counter"):
        return "timestamp"
    if metric is not None:
        if metric.type in ("counter", "gauge") and name == metric.name:
            return metric.type
        if name != metric.name:
            return "counter"  # _bucket, _count, _sum
    if name.endswith(_COUNTER_SUFFIXES) or functions & _COUNTER_FUNCS:
        return "counter"
    return "gauge"


def _candidates(kind: str, literals: set[float]) -> list:
    lits = sorted(literals)
    if kind == "gauge":
        derived = [x for c in lits for x in (c * 2, c / 2, c, c + 1, c - 1, -c)]
        values = _GAUGES[:2] + derived + _GAUGES[2:]
    elif kind == "trend":
        values = [x for v in _RATES + [x for c in lits for x in (c * 2, c / 2)] for x in (v, -v)]
        values = [1.0, 0.0, *values]  # rising, flat, then falling and the rest
    elif kind == "counter":
        values = _RATES[:2] + [x for c in lits for x in (c * 2, c / 2)] + _RATES[2:]
    else:
        values = _AGES[:1] + [x for c in lits for x in (c * 2, c / 2, -c * 2, -c / 2)] + _AGES[1:]
    return [*dict.fromkeys(float(number(v)) for v in values), None]


def _histogram_candidates(bounds: list[float]) -> list:
    values: list = [(p, r) for r in _HISTOGRAM_RATES for p in range(len(bounds) + 1)]
    return [*values, (0, 0.0), None]


def knobs(ctx: Context, found: Reads, variant: Variant = Variant()) -> list[Knob]:
    """Synthetic inputs for every selector: one series per distinct selector, plus one
    selected only by a less specific selector, so classes of series can differ."""
    by_name: dict[str, list[Selector]] = {}
    functions: dict[str, set[str | None]] = {}
    for sel, fn in found.selectors:
        by_name.setdefault(sel.name, [])
        if sel not in by_name[sel.name]:
            by_name[sel.name].append(sel)
        functions.setdefault(sel.name, set()).add(fn)
    common = _shared_labels(found) if variant.shared else {}
    constrained = {m.name for sel, _ in found.selectors for m in sel.matchers} | set(common)
    copy_label = next(n for n in ("instance", "pod", "replica", "sloforge_copy") if n not in constrained)
    families = _families(ctx, by_name)
    out: list[Knob] = []
    for base, (names, bounds) in sorted(families.items()):
        sels = [Selector(base, tuple(m for m in s.matchers if m.name != "le")) for n in names for s in by_name[n]]
        bounds = sorted({*bounds, *_le_values(s for n in names for s in by_name[n])})
        parts = tuple(p[1:] for p in _PARTS if base + p in names)
        for labels, specific in _label_sets(_unique(sels), common):
            cands = _histogram_candidates(bounds)
            out.append(Knob("histogram", base, labels, specific, cands, bounds, parts, variant.copies, copy_label))
    grouped = {n for names, _ in families.values() for n in names}
    for name in sorted(by_name):
        if name in grouped:
            continue
        kind = _kind(ctx, name, functions[name], variant.trend)
        for labels, specific in _label_sets(by_name[name], common):
            cands = _candidates(kind, found.literals)
            out.append(Knob(kind, name, labels, specific, cands, copies=variant.copies, copy_label=copy_label))
    out.sort(key=lambda k: not k.specific)
    return out


def _families(ctx: Context, by_name: dict[str, list[Selector]]) -> dict[str, tuple[list[str], list[float]]]:
    """Histograms read through ``_bucket`` (or declared ones): base name -> (series names read, bounds)."""
    out: dict[str, tuple[list[str], list[float]]] = {}
    for name in by_name:
        base = next((name.removesuffix(sfx) for sfx in _PARTS if name.endswith(sfx)), None)
        if base is None or base in out:
            continue
        metric = ctx.spec.metric(base)
        declared = metric is not None and metric.type == "histogram" and metric.name == base
        if not declared and f"{base}_bucket" not in by_name:
            continue  # a plain counter named *_count or *_sum
        names = [base + sfx for sfx in _PARTS if base + sfx in by_name]
        out[base] = (names, list(metric.bucket_bounds() if declared else _DEFAULT_BUCKETS))
    return out


_PARTS = ("_bucket", "_count", "_sum")


def _le_values(sels) -> set[float]:
    found = set()
    for s in sels:
        for m in s.matchers:
            if m.name == "le" and m.op == "=":
                try:
                    v = float(m.value)
                except ValueError:
                    continue
                if math.isfinite(v):
                    found.add(v)
    return found


def _unique(sels: list[Selector]) -> list[Selector]:
    return list(dict.fromkeys(sels))


def _shared_labels(found: Reads) -> dict[str, str]:
    out: dict[str, str] = {}
    for sel, _ in found.selectors:
        for m in sel.matchers:
            if m.op == "=" and m.name != "le" and m.value:
                out.setdefault(m.name, m.value)
    return out


def _label_sets(sels: list[Selector], common: dict[str, str]) -> list[tuple[dict[str, str], bool]]:
    """Label sets for one metric: one selected by each selector, then for each selector one
    that none of the others selects."""
    ordered = sorted(sels, key=lambda s: -len(s.matchers))
    constrained = {m.name for s in sels for m in s.matchers}
    extra = {k: v for k, v in common.items() if k not in constrained}
    out: list[tuple[dict[str, str], bool]] = []

    def add(labels: dict[str, str] | None, specific: bool) -> None:
        if labels is not None and all(labels != ls for ls, _ in out):
            out.append((labels, specific))

    for s in ordered:
        add({**extra, **labels_matching(s)}, bool(s.matchers))
    for s in ordered:
        add(_avoiding(s, [o for o in ordered if o != s], extra), bool(s.matchers))
    return out


def _selects(sel: Selector, labels: dict[str, str]) -> bool:
    return all(m.matches(labels.get(m.name, "")) for m in sel.matchers)


def _avoiding(sel: Selector, others: list[Selector], extra: dict[str, str]) -> dict[str, str] | None:
    """Labels ``sel`` selects and none of ``others`` does, if a simple flip finds them."""
    labels = {**extra, **labels_matching(sel)}
    done: list[Selector] = []
    for o in others:
        if not _selects(o, labels):
            done.append(o)
            continue
        for m in o.matchers:
            own = [(x, True) for x in sel.matchers if x.name == m.name]
            v = value_for([*own, (m, False)])
            if v is None:
                continue
            trial = dict(labels)
            if v:
                trial[m.name] = v
            else:
                trial.pop(m.name, None)
            if _selects(sel, trial) and not _selects(o, trial) and not any(_selects(d, trial) for d in done):
                labels = trial
                break
        else:
            return None
        done.append(o)
    return labels


# ---------------------------------------------------------------- simulation: what promtool will see


@dataclass
class AlertState:
    state: str  # pending | firing
    active_at: int
    keep_since: int | None = None


def alert_labels(rule: Rule, result: Labels) -> Labels:
    d = dict(drop_name(result))
    d.update(rule.labels)
    d["alertname"] = rule.name
    return labels_of(d)


@dataclass
class Timeline:
    """The alerts after every rule evaluation, and how close each evaluation came to flipping."""

    states: dict[int, dict[tuple[int, Labels], AlertState]] = field(default_factory=dict)  # t -> (rule, labels)
    margins: dict[tuple[int, int], float] = field(default_factory=dict)  # (rule index, t) -> margin

    def robust(self, rule: int, t0: int, t1: int, step: int) -> bool:
        return all(self.margins[(rule, t)] >= MARGIN for t in range(t0, t1 + 1, step))


def simulate(ev: Evaluator, rules: list[Rule], end_ms: int, step_ms: int) -> Timeline:
    """Every rule evaluation from 0 to ``end_ms``, as promtool runs them."""
    states: list[dict[Labels, AlertState]] = [{} for _ in rules]
    out = Timeline()
    for t in range(0, end_ms + 1, step_ms):
        now: dict[tuple[int, Labels], AlertState] = {}
        for i, (rule, active) in enumerate(zip(rules, states, strict=True)):
            ev.margin = math.inf
            _step(ev, rule, active, t)
            out.margins[(i, t)] = ev.margin
            now.update({(i, ls): AlertState(a.state, a.active_at) for ls, a in active.items()})
        out.states[t] = now
    return out


def _step(ev: Evaluator, rule: Rule, active: dict[Labels, AlertState], t: int) -> None:
    seen = set()
    for ls, _ in ev.vector(rule.node, t):
        al = alert_labels(rule, ls)
        if al in seen:
            raise EvalError("vector contains metrics with the same labelset after applying alert labels")
        seen.add(al)
        if al in active:
            active[al].keep_since = None
        else:
            active[al] = AlertState("pending", t)
    for al in list(active):
        a = active[al]
        if al not in seen:
            if a.state == "firing" and rule.keep_ms:
                a.keep_since = t if a.keep_since is None else a.keep_since
                if t - a.keep_since < rule.keep_ms:
                    continue
            del active[al]
        elif a.state == "pending" and t - a.active_at >= rule.for_ms:
            a.state = "firing"


def _alerts_at(timeline: Timeline, t: int) -> list[tuple[Labels, str]]:
    """ALERTS series at ``t``: (labels with alertstate, state)."""
    out = []
    for (_, ls), a in timeline.states[t].items():
        out.append((labels_of({**dict(ls), NAME: "ALERTS", "alertstate": a.state}), a.state))
    return sorted(out)


def _mine(timeline: Timeline, t: int, index: int) -> dict[Labels, AlertState]:
    return {ls: a for (i, ls), a in timeline.states[t].items() if i == index}


# ---------------------------------------------------------------- the search


@dataclass
class Found:
    """A verified input and what promtool will show for it."""

    series: list[tuple[str, str]]
    checks: list[dict]
    end_ms: int


@dataclass
class Plan:
    ctx: Context
    rule: Rule
    knobs: list[Knob]
    interval: int  # input sample interval (s)
    step: int  # rule evaluation interval (s)
    steady_ms: int
    budget: Budget = field(default_factory=lambda: Budget())

    def build(self, assignment: tuple, end_ms: int) -> list[tuple[str, str]]:
        n = end_ms // (self.interval * 1000)
        out = []
        for k, i in zip(self.knobs, assignment, strict=True):
            out += k.series(k.candidates[i], self.interval, n)
        return sorted(out)

    def evaluator(self, series: list[tuple[str, str]]) -> Evaluator:
        data = [Series.from_text(s, v, self.interval * 1000) for s, v in series]
        return Evaluator(data, self.ctx.records, self.step * 1000)

    def judge(self, assignment: tuple) -> tuple[str, bool] | None:
        """('breach' | 'healthy', robust) at the steady time, None if Prometheus would fail."""
        ev = self.evaluator(self.build(assignment, self.steady_ms))
        try:
            out = ev.vector(self.rule.node, self.steady_ms)
        except EvalError:
            return None
        finally:
            self.budget.spend(ev.work)
        if ev.peak > SAMPLE_LIMIT:
            raise _TooManySamples()
        return ("breach" if out else "healthy"), ev.margin >= MARGIN


class _TooManySamples(Exception):
    pass


@dataclass
class Budget:
    """How much searching one alert may do (counted, so the outcome never depends on the clock)."""

    evaluations: int = 0
    work: int = 0

    def spend(self, work: int) -> None:
        self.evaluations += 1
        self.work += work

    @property
    def spent(self) -> bool:
        return self.evaluations >= MAX_EVALUATIONS or self.work >= MAX_WORK


def _assignments(plan: Plan) -> Iterator[tuple]:
    """Candidate inputs, simplest first: all alike, specific vs other series, then the lattice."""
    sizes = [len(k.candidates) for k in plan.knobs]
    for i in range(max(sizes, default=0)):
        yield tuple(min(i, s - 1) for s in sizes)
    classes = [k.specific for k in plan.knobs]
    if any(classes) and not all(classes):
        for i, j in itertools.product(range(max(sizes)), repeat=2):
            yield tuple(min(i if c else j, s - 1) for c, s in zip(classes, sizes, strict=True))
    for total in range(sum(s - 1 for s in sizes) + 1):
        yield from _with_sum(sizes, total)


def _with_sum(sizes: list[int], total: int) -> Iterator[tuple]:
    if not sizes:
        if total == 0:
            yield ()
        return
    for i in range(min(total, sizes[0] - 1) + 1):
        for rest in _with_sum(sizes[1:], total - i):
            yield (i, *rest)


def _neighbours(plan: Plan, a: tuple) -> Iterator[tuple]:
    """``a`` with one knob changed, then two: a contrast that shows what makes the alert fire."""
    longest = max((len(k.candidates) for k in plan.knobs), default=0)
    for c in range(longest):
        for j, k in enumerate(plan.knobs):
            if c < len(k.candidates) and c != a[j]:
                yield a[:j] + (c,) + a[j + 1 :]
    for j1, j2 in itertools.combinations(range(len(plan.knobs)), 2):
        for c1 in range(len(plan.knobs[j1].candidates)):
            for c2 in range(len(plan.knobs[j2].candidates)):
                b = list(a)
                b[j1], b[j2] = c1, c2
                yield tuple(b)


def search(plan: Plan) -> dict[str, tuple[tuple, bool]]:
    """A breaching and a healthy assignment; robust ones preferred, the healthy one close to the breach."""
    found: dict[str, tuple] = {}
    fragile: dict[str, tuple] = {}
    tried: set[tuple] = set()

    def visit(a: tuple) -> None:
        if a in tried or plan.budget.spent:
            return
        tried.add(a)
        verdict = plan.judge(a)
        if verdict is None:
            return
        kind, robust = verdict
        (found if robust else fragile).setdefault(kind, a)

    for a in _assignments(plan):
        visit(a)
        if found or plan.budget.spent:
            break
    if found:
        first = next(iter(found.values()))
        for b in _neighbours(plan, first):
            if len(found) == 2 or plan.budget.spent:
                break
            visit(b)
    for a in _assignments(plan):
        if len(found) == 2 or plan.budget.spent:
            break
        visit(a)
    out = {k: (a, False) for k, a in fragile.items()}
    out.update({k: (a, True) for k, a in found.items()})
    return out


# ---------------------------------------------------------------- test groups


@dataclass
class Case:
    """The promtool test groups for one alert, and what they read and write (for merging)."""

    alert: str
    step: int
    groups: list[dict]
    reads: frozenset[Selector]  # what its checks depend on: the alert's selectors and the records it reads
    explicit: bool = False


def _alerts_expr(name: str) -> str:
    return f'ALERTS{{alertname="{name}"}}'


def _check(name: str, at_ms: int, alerts: list[tuple[Labels, str]], exact: bool) -> dict:
    if exact:
        samples = [{"labels": render_labels(ls), "value": 1} for ls, _ in alerts]
        expr = _alerts_expr(name)
    else:
        states = sorted({s for _, s in alerts})
        samples = [{"labels": f'{{alertname="{name}",alertstate="{s}"}}', "value": 1} for s in states]
        expr = f"group by (alertname, alertstate) ({_alerts_expr(name)})"
    return {"expr": expr, "eval_time": format_duration(at_ms / 1000), "exp_samples": samples}


def _breach(plan: Plan, a: tuple, robust: bool, named: list[Rule]) -> Found | None:
    """Simulate the breaching input; None unless the alert fires at warm-up + for."""
    rule, step_ms, me = plan.rule, plan.step * 1000, named.index(plan.rule)
    fire_at = _ceil(plan.steady_ms + rule.for_ms, step_ms)
    series = plan.build(a, fire_at)
    ev = plan.evaluator(series)
    try:
        timeline = simulate(ev, named, fire_at, step_ms)
    except EvalError:
        return None
    mine = _mine(timeline, fire_at, me)
    if not mine or any(s.state != "firing" for s in mine.values()) or ev.peak > SAMPLE_LIMIT:
        return None
    if robust and not timeline.robust(me, plan.steady_ms, fire_at, step_ms):
        return None
    exact = not any(r.templated for r in named)
    checks = []
    pending_at = _pending_time(timeline, me, min(s.active_at for s in mine.values()), rule.for_ms, step_ms)
    if pending_at is not None:
        checks.append(_check(rule.name, pending_at, _alerts_at(timeline, pending_at), exact))
    checks.append(_check(rule.name, fire_at, _alerts_at(timeline, fire_at), exact))
    return Found(series, checks, fire_at)


def _pending_time(timeline: Timeline, me: int, active_at: int, for_ms: int, step_ms: int) -> int | None:
    """Shortly before ``for`` has elapsed: a time the alert is pending even if evaluations
    that came close to flipping went the other way in Prometheus."""
    if for_ms < 120_000:
        return None
    lo = active_at
    while lo - step_ms >= 0 and timeline.margins[(me, lo - step_ms)] < MARGIN:
        lo -= step_ms
    hi = active_at
    while timeline.margins[(me, hi)] < MARGIN and (me, hi + step_ms) in timeline.margins:
        hi += step_ms
    at = lo + for_ms - step_ms
    states = _mine(timeline, at, me) if at in timeline.states else {}
    if at < hi or not states or any(s.state != "pending" for s in states.values()):
        return None
    return at


def _healthy(plan: Plan, a: tuple, named: list[Rule], at_ms: int, robust: bool) -> Found | None:
    me = named.index(plan.rule)
    series = plan.build(a, at_ms)
    ev = plan.evaluator(series)
    try:
        timeline = simulate(ev, named, at_ms, plan.step * 1000)
    except EvalError:
        return None
    if _mine(timeline, at_ms, me) or ev.peak > SAMPLE_LIMIT:
        return None
    if robust and not timeline.robust(me, plan.steady_ms, at_ms, plan.step * 1000):
        return None
    exact = not any(r.templated for r in named)
    return Found(series, [_check(plan.rule.name, at_ms, _alerts_at(timeline, at_ms), exact)], at_ms)


def _ceil(x: int, step: int) -> int:
    return -(-x // step) * step


def _group(name: str, interval: int, found: Found) -> dict:
    return {
        "name": name,
        "interval": format_duration(interval),
        "input_series": [{"series": s, "values": v} for s, v in found.series],
        "promql_expr_test": found.checks,
    }


def _layouts(ctx: Context, rule: Rule) -> Iterator[tuple[int, int, int]]:
    """(evaluation step, input interval, steady time in ms), finest first."""
    warm = warmup_ms(rule.node, ctx.record_exprs)
    step = STEP if max(warm, STEP * 1000) + rule.for_ms <= LONG_AFTER * 1000 else LONG_STEP
    steady = max(_ceil(warm, step * 1000), step * 1000)
    for interval in INTERVALS:
        if interval % step == 0 or step % interval == 0:
            yield step, interval, _ceil(steady, interval * 1000)


def derive(spec, index: int, ctx: Context | None = None) -> Case:
    """The breaching and healthy test groups for ``spec.alerts[index]`` (searched, or its explicit ``test``)."""
    ctx = ctx or Context.of(spec)
    alert: Alert = spec.alerts[index]
    rule = ctx.rules[index]
    named = ctx.named(rule.name)
    found = Reads()
    watched: set[Selector] = set()
    for r in named:
        part = reads(ctx, r.expr)
        watched |= {sel for sel, _ in part.selectors} | {Selector(n) for n in part.names & set(ctx.record_exprs)}
        if r is rule:
            found = part
    try:
        if alert.test is not None:
            return _explicit(ctx, rule, named, alert, frozenset(watched))
        return _searched(ctx, rule, named, found, frozenset(watched))
    except Unsupported as e:
        raise Unsynthesizable(f"the test generator does not evaluate {e}") from None


def _searched(ctx: Context, rule: Rule, named: list[Rule], found: Reads, watched: frozenset[Selector]) -> Case:
    budget = Budget()
    reason = "no input found that makes it fire"
    for step, interval, steady in _layouts(ctx, rule):
        too_many, seen = False, []
        for variant in _variants(found):
            ks = knobs(ctx, found, variant)
            if ks in seen:
                continue
            seen.append(ks)
            plan = Plan(ctx, rule, ks, interval, step, steady, budget)
            try:
                case = _attempt(plan, named, watched)
            except _TooManySamples:
                reason, too_many = "its range windows need more than promtool's 10,000 samples per query", True
                break
            except Unsynthesizable as e:
                reason = str(e)
                continue
            return case
        if not too_many:
            break
    raise Unsynthesizable(reason)


def _attempt(plan: Plan, named: list[Rule], watched: frozenset[Selector]) -> Case:
    rule = plan.rule
    picked = search(plan)
    if "breach" not in picked:
        raise Unsynthesizable("no input found that makes it fire")
    if "healthy" not in picked:
        raise Unsynthesizable("no input found that keeps it quiet")
    fired = _breach(plan, *picked["breach"], named=named)
    if fired is None:
        raise Unsynthesizable("its breaching input does not keep it firing for its 'for' duration")
    quiet = _healthy(plan, picked["healthy"][0], named, fired.end_ms, picked["healthy"][1])
    if quiet is None:
        raise Unsynthesizable("its healthy input does not keep it quiet")
    desc = f"fires after {format_duration(rule.for_ms / 1000)}" if rule.for_ms else "fires"
    groups = [
        _group(f"{rule.name}: {desc} on a breaching steady input", plan.interval, fired),
        _group(f"{rule.name}: quiet on a healthy steady input", plan.interval, quiet),
    ]
    return Case(rule.name, plan.step, groups, watched)


def _explicit(ctx: Context, rule: Rule, named: list[Rule], alert: Alert, watched: frozenset[Selector]) -> Case:
    """The author's own inputs: assert what they claim, with exact labels when predictable."""
    test = alert.test
    assert test is not None
    interval = round(test.interval)
    at_ms = _ms(test.eval_time)
    exact = not any(r.templated for r in named)
    groups = []
    for kind, inputs in (("breach", test.breach), ("healthy", test.healthy)):
        series = [(s.series, s.values) for s in inputs]
        predicted = _predict(ctx, named, series, interval, at_ms)
        fires = predicted is not None and any(("alertname", rule.name) in ls and s == "firing" for ls, s in predicted)
        quiet = predicted is not None and not any(("alertname", rule.name) in ls for ls, _ in predicted)
        if predicted is not None and (fires if kind == "breach" else quiet):
            check = _check(rule.name, at_ms, predicted, exact)
        else:  # not predictable (or the prediction disagrees): assert what the author claims
            check = _claim(rule.name, at_ms, kind == "breach")
        groups.append(_group(f"{rule.name}: {kind} input given in the spec", interval, Found(series, [check], at_ms)))
    return Case(rule.name, STEP, groups, watched, explicit=True)


def _claim(name: str, at_ms: int, fires: bool) -> dict:
    if fires:
        expr = f'group by (alertname) (ALERTS{{alertname="{name}",alertstate="firing"}})'
        samples = [{"labels": f'{{alertname="{name}"}}', "value": 1}]
    else:
        expr, samples = _alerts_expr(name), []
    return {"expr": expr, "eval_time": format_duration(at_ms / 1000), "exp_samples": samples}


def _predict(ctx: Context, named: list[Rule], series: list[tuple[str, str]], interval: int, at_ms: int):
    try:
        data = [Series.from_text(s, v, interval * 1000) for s, v in series]
        ev = Evaluator(data, ctx.records, STEP * 1000)
        timeline = simulate(ev, named, _ceil(at_ms, STEP * 1000), STEP * 1000)
    except (Unsupported, EvalError, PromQLError, ValueError):
        return None
    if at_ms % (STEP * 1000):
        return None
    return _alerts_at(timeline, at_ms)


# ---------------------------------------------------------------- per spec


_CACHE: dict[str, list[Case | str]] = {}


def _key(spec) -> str:
    rules = [{k: v for k, v in r.items() if k != "annotations"} for r in R.operational_rules(spec)]
    parts = [spec.service, repr(rules), repr(R.record_rules(spec))]
    parts += [m.model_dump_json() for m in spec.metrics]
    parts += [s.model_dump_json() for s in spec.slos]
    parts += [a.test.model_dump_json() if a.test else "" for a in spec.alerts]
    return "\n".join(parts)


def derive_all(spec) -> list[Case | str]:
    """Per alert of ``spec`` (a Spec or a Bundle): its test case, or why it has none."""
    if not spec.alerts:
        return []
    try:
        key = _key(spec)
        if key in _CACHE:
            return _CACHE[key]
        ctx = Context.of(spec)
    except Exception as e:  # noqa: BLE001 - a spec the rule generator cannot handle has other errors to show
        return [f"the rule file cannot be built ({type(e).__name__}: {e})"] * len(spec.alerts)
    out: list[Case | str] = []
    for i in range(len(spec.alerts)):
        try:
            out.append(derive(spec, i, ctx))
        except (Unsynthesizable, PromQLError) as e:
            out.append(str(e))
        except Exception as e:  # noqa: BLE001 - a generator bug must not stop loading or generating
            out.append(f"the test generator failed ({type(e).__name__}: {e})")
    if len(_CACHE) > 64:
        _CACHE.clear()
    _CACHE[key] = out
    return out


def cases(spec) -> tuple[list[Case], list[str]]:
    """The test cases of ``spec``'s alerts, and a line for each alert without one."""
    done, skipped = [], []
    for alert, c in zip(spec.alerts, derive_all(spec), strict=True):
        if isinstance(c, Case):
            done.append(c)
        else:
            skipped.append(f"alert {alert.name}: {c}")
    return done, skipped


def untestable(spec) -> dict[int, str]:
    """``{alert index: reason}`` for alerts without ``test:`` that get no generated test."""
    return {
        i: c
        for i, (a, c) in enumerate(zip(spec.alerts, derive_all(spec), strict=True))
        if isinstance(c, str) and a.test is None
    }
