"""OpenSLO documents (``openslo/v1``, ``openslo/v1alpha``) -> ``Spec``.

An OpenSLO file holds objects of several kinds that refer to each other by name (an SLO names its
SLI, its alert policies, a policy its condition and notification targets, a metric source its
DataSource), possibly across files. ``load_openslo_files`` reads every OpenSLO object of a run,
resolves the references and turns each SLO objective into one sloforge SLO; SLOs are grouped by
``spec.service`` into one ``Spec`` per service. Each spec is first written as a native-shaped dict
and validated by the model and ``checks`` like a native document, and every problem is reported at
the OpenSLO field it came from (``FILE:LINE: [0].spec.objectives[1].target: ...``).

What OpenSLO can say that sloforge cannot (calendar windows, RatioTimeslices, non-Prometheus data
sources, gauge ratios, ...) is an error naming the field; descriptive fields sloforge has no place
for (display names, annotations, ...) are warnings. Nothing is dropped silently. The mapping is
documented in docs/migrate-openslo.md.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import promql_parser
from pydantic import ValidationError

from sloforge.durations import format_duration, parse_duration
from sloforge.model import API_VERSION, Spec
from sloforge.promql import PromQLError, Selector, bucket_le, check, number
from sloforge.promql import selector as parse_selector
from sloforge.spec import checks, lint, native
from sloforge.spec.errors import Problem, dotted
from sloforge.spec.yamlsafe import YamlDoc

__all__ = ["Imported", "is_openslo", "load_openslo", "load_openslo_files"]

V1 = "openslo/v1"
V1ALPHA = "openslo/v1alpha"
PREFIX = "openslo/"
KINDS = {
    V1: ("Service", "SLO", "SLI", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"),
    V1ALPHA: ("Service", "SLO"),
}
# notification target names are put on the alerts of a tier under this label (see docs/migrate-openslo.md)
TARGET_LABEL = "openslo_{tier}_targets"
# a notification target whose `target` is this means "Alertmanager routing": no label is added
ALERTMANAGER_TARGET = "alertmanager"
# `{{.window}}` (Sloth's OpenSLO template) in a query; replaced by the range sloforge uses
WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")
# a threshold metric under Occurrences: every rule evaluation (the model's default interval) is one data point
OCCURRENCE_SLICE = "1m"
# v1alpha has no timeSliceWindow: its Timeslices get sloforge's default slice
ALPHA_SLICE = "5m"
# duration shorthand: M, Q and Y as the reference SDK (OpenSLO/go-sdk) counts them
_SHORTHAND = re.compile(r"^([0-9]+)([mhdwMQY])$")
_LONG_UNITS = {"M": 30, "Q": 90, "Y": 365}  # days
_ZERO = re.compile(r"^0+[a-zA-Z]$")
_ALPHA_UNITS = {"Second": "s", "Minute": "m", "Hour": "h", "Day": "d", "Week": "w", "Month": "M", "Quarter": "Q"}
_METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
# objective op -> (native bound, strict comparison)
_OPS = {"lte": ("max", False), "lt": ("max", True), "gte": ("min", False), "gt": ("min", True)}
_OP_SYMBOL = {"lte": "<=", "lt": "<", "gte": ">=", "gt": ">"}
_TIERS = {"page": "page", "critical": "page", "ticket": "ticket", "warning": "ticket"}

_SLO_FIELDS = {
    V1: ("description", "service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod", "objectives")
    + ("alertPolicies",),
    V1ALPHA: ("description", "service", "indicator", "timeWindows", "budgetingMethod", "objectives"),
}
_OBJECTIVE_FIELDS = {
    V1: ("displayName", "op", "value", "target", "targetPercent", "timeSliceTarget", "timeSliceWindow")
    + ("indicator", "indicatorRef", "compositeWeight"),
    V1ALPHA: ("displayName", "op", "value", "target", "timeSliceTarget", "ratioMetrics"),
}


# ---------------------------------------------------------------- locations and problems


@dataclass(frozen=True)
class Loc:
    """A place in one YAML document: file, document, path inside it."""

    file: str
    doc: YamlDoc = field(compare=False, repr=False)
    path: tuple = ()

    def __truediv__(self, key: str | int) -> Loc:
        return Loc(self.file, self.doc, self.path + (key,))

    @property
    def line(self) -> int:
        return self.doc.line_of(self.path)

    def problem(self, message: str, level: str = "error") -> Problem:
        return Problem(self.file, self.line, dotted(self.path), message, level)


@dataclass(frozen=True)
class Node:
    """A value read from YAML and where it is."""

    value: Any
    loc: Loc

    def __getitem__(self, key: str | int) -> Node:
        v = self.value
        if isinstance(v, dict):
            child = v.get(key)
        elif isinstance(v, list) and isinstance(key, int) and 0 <= key < len(v):
            child = v[key]
        else:
            child = None
        return Node(child, self.loc / key)

    @property
    def has_value(self) -> bool:
        return self.value is not None

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and self.value.get(key) is not None

    def items(self) -> list[Node]:
        return [self[i] for i in range(len(self.value))] if isinstance(self.value, list) else []


class _Ctx:
    def __init__(self) -> None:
        self.found: list[tuple[Loc, Problem]] = []

    def error(self, where: Node | Loc, message: str) -> None:
        self.found.append((_loc(where), _loc(where).problem(message)))

    def warn(self, where: Node | Loc, message: str) -> None:
        self.found.append((_loc(where), _loc(where).problem(message, level="warning")))

    def drop_warnings(self, inside: Callable[[Loc], bool]) -> None:
        self.found = [(loc, p) for loc, p in self.found if p.level != "warning" or not inside(loc)]

    @property
    def problems(self) -> list[Problem]:
        return sorted({p for _, p in self.found})


def _loc(where: Node | Loc) -> Loc:
    return where.loc if isinstance(where, Node) else where


def _fields(ctx: _Ctx, node: Node, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> bool:
    """Unknown keys (with a did-you-mean) and missing required keys; False if ``node`` is unusable."""
    if not isinstance(node.value, dict):
        what = "nothing" if node.value is None else type(node.value).__name__
        ctx.error(node, f"expected a mapping, got {what}")
        return False
    for key in node.value:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f" (allowed: {', '.join(sorted(allowed))})"
            ctx.error(node[key], f"unknown field {key!r}{hint}")
    missing = [k for k in required if not node.has(k)]
    for key in missing:
        ctx.error(node[key], "required field is missing")
    return not missing


def _text(ctx: _Ctx, node: Node) -> str | None:
    if isinstance(node.value, str) and node.value.strip():
        return node.value
    if node.value is not None:
        ctx.error(node, f"expected a non-empty string, got {node.value!r}")
    return None


def _number(ctx: _Ctx, node: Node) -> float | None:
    v = node.value
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    if v is not None:
        ctx.error(node, f"expected a number, got {v!r}")
    return None


def _flag(ctx: _Ctx, node: Node) -> bool | None:
    if node.value is None or isinstance(node.value, bool):
        return node.value
    ctx.error(node, f"expected true or false, got {node.value!r}")
    return None


def _duration(ctx: _Ctx, node: Node, minutes: bool = False) -> str | None:
    """An OpenSLO duration shorthand as a Prometheus duration (``1M`` -> ``30d``); a bare number is
    minutes where the spec says so (``timeSliceWindow``)."""
    v = node.value
    if minutes and isinstance(v, int) and not isinstance(v, bool) and v > 0:
        return f"{v}m"
    m = _SHORTHAND.match(v) if isinstance(v, str) else None
    if m is None:
        ctx.error(node, f"{v!r} is not an OpenSLO duration: a whole number and one of m, h, d, w, M, Q, Y (e.g. 30d)")
        return None
    count, unit = int(m.group(1)), m.group(2)
    return f"{count * _LONG_UNITS[unit]}d" if unit in _LONG_UNITS else f"{count}{unit}"


# ---------------------------------------------------------------- objects


@dataclass
class Obj:
    """One OpenSLO object, top-level or inline."""

    api: str
    kind: str
    name: str
    node: Node

    @property
    def meta(self) -> Node:
        return self.node["metadata"]

    @property
    def spec(self) -> Node:
        return self.node["spec"]


def _metadata(ctx: _Ctx, node: Node) -> str | None:
    meta = node["metadata"]
    if not _fields(ctx, meta, ("name", "displayName", "labels", "annotations"), required=("name",)):
        return None
    return _text(ctx, meta["name"])


def _header(ctx: _Ctx, node: Node, api: str | None, kind: str | None = None) -> Obj | None:
    """An object's ``apiVersion``/``kind``/``metadata``/``spec``. Top-level objects carry their
    ``apiVersion``; inline ones inherit it (``api``) and may leave out ``kind`` when it is implied."""
    top = api is None
    if top and isinstance(node.value, dict):
        api = node.value.get("apiVersion")
        if api not in KINDS:
            hint = (
                ": a file holds either OpenSLO or sloforge documents, move this one to a file of its own"
                if api == API_VERSION
                else ""
            )
            ctx.error(
                node["apiVersion"], f"apiVersion {api!r} is not supported here (expected {V1} or {V1ALPHA}){hint}"
            )
            return None
    allowed = ("apiVersion", "kind", "metadata", "spec") if top else ("kind", "metadata", "spec")
    if not _fields(ctx, node, allowed, required=("kind", "metadata", "spec") if top else ("spec",)):
        return None
    assert api is not None
    given = node.value.get("kind", kind)
    if given not in KINDS[api] or (kind is not None and given != kind):
        expected = kind or ", ".join(KINDS[api])
        ctx.error(node["kind"], f"kind {given!r} is not valid here: expected {expected} ({api})")
        return None
    if not top and "metadata" not in node.value:
        ctx.error(node["metadata"], "required field is missing")
        return None
    name = _metadata(ctx, node)
    if not isinstance(node.value.get("spec"), dict):
        ctx.error(node["spec"], "expected a mapping")
        return None
    return Obj(api, given, name, node) if name is not None else None


def _uncarried(ctx: _Ctx, obj: Obj, paths: tuple[tuple[str, str], ...], why: str = "") -> None:
    """One warning per object naming the descriptive fields sloforge has no place for."""
    found = [f"{part}.{key}" for part, key in paths if obj.node[part].has(key)]
    if found:
        reason = why or "sloforge has no place for it"
        ctx.warn(obj.node, f"{obj.kind} {obj.name!r}: {', '.join(found)} not carried over ({reason})")


_DESCRIPTIVE = (("metadata", "displayName"), ("metadata", "labels"), ("metadata", "annotations"))


class _Registry:
    """Every top-level object of the run by (kind, name), and which of them an SLO used."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], Obj] = {}
        self.used: set[tuple[str, str]] = set()
        self.sources: dict[str, bool] = {}  # DataSource name -> is Prometheus
        self.indicators: dict[str, Indicator | None] = {}
        self.conditions: dict[str, Burn | None] = {}
        self.targets: dict[str, str | None] = {}  # name -> label value part (None: Alertmanager routing)
        self.policies: dict[str, Policy | None] = {}

    def of(self, kind: str) -> list[Obj]:
        return [o for (k, _), o in self.objects.items() if k == kind]

    def ref(self, ctx: _Ctx, node: Node, kind: str) -> Obj | None:
        name = _text(ctx, node)
        if name is None:
            return None
        obj = self.objects.get((kind, name))
        if obj is None:
            known = sorted(n for k, n in self.objects if k == kind)
            listed = f" (known: {', '.join(known)})" if known else ""
            ctx.error(node, f"no {kind} named {name!r} in the files loaded{listed}")
            return None
        self.used.add((kind, name))
        return obj


def _collect(ctx: _Ctx, files: list[tuple[str, list[YamlDoc]]]) -> _Registry:
    reg = _Registry()
    for file, docs in files:
        for doc in docs:
            top = Node(doc.data, Loc(file, doc))
            for item in top.items() if isinstance(doc.data, list) else [top]:
                obj = _header(ctx, item, None)
                if obj is None:
                    continue
                key = (obj.kind, obj.name)
                if key in reg.objects:
                    first = reg.objects[key].node.loc
                    ctx.error(obj.meta["name"], f"{obj.kind} {obj.name!r} is also defined at {first.file}:{first.line}")
                    continue
                reg.objects[key] = obj
    return reg


# ---------------------------------------------------------------- data sources and SLIs


@dataclass(frozen=True)
class Query:
    """PromQL of one metric source (``{{.window}}`` placeholders kept) and where it is written."""

    text: str
    node: Node


@dataclass
class Indicator:
    """An SLI: a threshold query, good/bad + total queries, or a raw ratio query."""

    node: Node  # the SLI's spec (for errors)
    parts: dict[str, Query] = field(default_factory=dict)  # threshold | good | bad | total | raw
    raw_type: str | None = None
    counter: bool | None = None
    counter_node: Node | None = None
    description: str = ""


def _datasource(ctx: _Ctx, obj: Obj) -> bool:
    spec = obj.spec
    _fields(ctx, spec, ("description", "type", "connectionDetails"), required=("type",))
    _uncarried(
        ctx,
        obj,
        _DESCRIPTIVE + (("spec", "description"), ("spec", "connectionDetails")),
        "sloforge's rules run inside Prometheus: it needs no connection settings",
    )
    kind = _text(ctx, spec["type"])
    if kind is not None and kind.lower() != "prometheus":
        ctx.error(spec["type"], _unsupported_source(kind))
        return False
    return kind is not None


def _unsupported_source(kind: str) -> str:
    return (
        f"data source type {kind!r} is not supported: sloforge generates Prometheus rules, "
        "so only type Prometheus (or a Prometheus-compatible backend) can be read"
    )


def _metric(ctx: _Ctx, node: Node, reg: _Registry) -> Query | None:
    """``{metricSource: {metricSourceRef, type, spec: {query | promql}}}`` of a Prometheus source."""
    if not _fields(ctx, node, ("metricSource",), required=("metricSource",)):
        return None
    src = node["metricSource"]
    if not _fields(ctx, src, ("metricSourceRef", "type", "spec"), required=("spec",)):
        return None
    kind = _text(ctx, src["type"]) if src.has("type") else None
    ref = src["metricSourceRef"]
    # with 'type' given the reference may name a DataSource outside the files loaded
    if ref.has_value and (kind is None or ("DataSource", ref.value) in reg.objects):
        ds = reg.ref(ctx, ref, "DataSource")
        if ds is None:
            return None
        if not reg.sources.get(ds.name):
            ctx.error(ref, f"DataSource {ds.name!r} is not a usable Prometheus data source")
            return None
        kind = kind or "Prometheus"
    if kind is None:
        ctx.error(src["type"], "give 'type: Prometheus' or a 'metricSourceRef' naming a Prometheus DataSource")
        return None
    if kind.lower() != "prometheus":
        ctx.error(src["type"], _unsupported_source(kind))
        return None
    return _promql(ctx, src["spec"], ("query", "promql"))


def _promql(ctx: _Ctx, spec: Node, keys: tuple[str, ...], extra: tuple[str, ...] = ()) -> Query | None:
    """The one PromQL field of a Prometheus metric source; any other field names something sloforge cannot read."""
    if not isinstance(spec.value, dict):
        ctx.error(spec, "expected a mapping holding 'query' (PromQL)")
        return None
    for key in spec.value:
        if key not in keys + extra:
            ctx.error(spec[key], f"{key!r} has no meaning for a Prometheus source: sloforge reads PromQL from 'query'")
    given = [k for k in keys if spec.has(k)]
    if len(given) != 1:
        ctx.error(spec[keys[0]], f"give exactly one of {', '.join(map(repr, keys))} holding PromQL")
        return None
    text = _text(ctx, spec[given[0]])
    if text is None:
        return None
    if err := check(WINDOW.sub("5m", text)):
        ctx.error(spec[given[0]], f"PromQL does not parse: {err}")
        return None
    return Query(text, spec[given[0]])


def _indicator(ctx: _Ctx, obj: Obj, reg: _Registry) -> Indicator | None:
    """A v1 SLI (standalone or inline)."""
    _uncarried(ctx, obj, _DESCRIPTIVE)
    spec = obj.spec
    if not _fields(ctx, spec, ("description", "thresholdMetric", "ratioMetric")):
        return None
    ind = Indicator(spec, description=_text(ctx, spec["description"]) or "")
    given = [k for k in ("thresholdMetric", "ratioMetric") if spec.has(k)]
    if len(given) != 1:
        ctx.error(spec["ratioMetric"], "give exactly one of 'thresholdMetric' or 'ratioMetric'")
        return None
    if given == ["thresholdMetric"]:
        query = _metric(ctx, spec["thresholdMetric"], reg)
        ind.parts = {"threshold": query} if query else {}
        return ind if query else None
    ratio = spec["ratioMetric"]
    if not _fields(ctx, ratio, ("counter", "good", "bad", "total", "rawType", "raw")):
        return None
    ind.counter, ind.counter_node = _flag(ctx, ratio["counter"]), ratio["counter"]
    if ratio.has("raw"):
        for key in ("good", "bad", "total"):
            if ratio.has(key):
                ctx.error(ratio[key], "'raw' is a precomputed ratio: give it alone, without good/bad/total")
        ind.raw_type = _text(ctx, ratio["rawType"])
        if ind.raw_type not in ("success", "failure"):
            ctx.error(ratio["rawType"], "rawType must be 'success' or 'failure' with 'raw'")
            return None
        keys: tuple[str, ...] = ("raw",)
    else:
        if ratio.has("good") == ratio.has("bad") or not ratio.has("total"):
            ctx.error(ratio["total"], "give 'total' and exactly one of 'good' or 'bad' (or 'raw' with 'rawType')")
            return None
        keys = ("good" if ratio.has("good") else "bad", "total")
    for key in keys:
        query = _metric(ctx, ratio[key], reg)
        if query is None:
            return None
        ind.parts[key] = query
    return ind


def _alpha_metric(ctx: _Ctx, node: Node) -> Query | None:
    """v1alpha ``{source, queryType, query}``."""
    if not _fields(ctx, node, ("source", "queryType", "query"), required=("source", "queryType", "query")):
        return None
    source = _text(ctx, node["source"])
    if source is not None and source.lower() != "prometheus":
        ctx.error(node["source"], _unsupported_source(source))
        return None
    qtype = _text(ctx, node["queryType"])
    if qtype is not None and qtype.lower() not in ("query", "promql"):
        ctx.error(node["queryType"], f"queryType {qtype!r}: a Prometheus source has PromQL queries ('query')")
        return None
    return _promql(ctx, node, ("query",), extra=("source", "queryType"))


def _alpha_indicator(ctx: _Ctx, spec: Node, objective: Node) -> Indicator | None:
    if objective.has("ratioMetrics"):
        rm = objective["ratioMetrics"]
        if not _fields(ctx, rm, ("good", "total", "incremental"), required=("good", "total")):
            return None
        ind = Indicator(rm, counter=_flag(ctx, rm["incremental"]), counter_node=rm["incremental"])
        for key in ("good", "total"):
            query = _alpha_metric(ctx, rm[key])
            if query is None:
                return None
            ind.parts[key] = query
        return ind
    if not spec.has("indicator"):
        ctx.error(spec["indicator"], "give 'indicator' (thresholdMetric) or 'ratioMetrics' on every objective")
        return None
    if not _fields(ctx, spec["indicator"], ("thresholdMetric",), required=("thresholdMetric",)):
        return None
    query = _alpha_metric(ctx, spec["indicator"]["thresholdMetric"])
    return Indicator(spec["indicator"], parts={"threshold": query}) if query else None


# ---------------------------------------------------------------- PromQL shapes


@dataclass(frozen=True)
class Shape:
    """A query sloforge can read as a counter selector: ``SEL``, ``sum(SEL)``, ``rate(SEL[w])``,
    ``sum [by (L)] (rate|increase(SEL[w]))``."""

    selector: Selector
    by: tuple[str, ...] = ()
    rated: bool = False


def _shape(text: str) -> Shape | None:
    try:
        node = promql_parser.parse(WINDOW.sub("5m", text))
    except ValueError:
        return None
    by: tuple[str, ...] = ()
    node = _unparen(node)
    if isinstance(node, promql_parser.AggregateExpr):
        if str(node.op) != "sum" or node.param is not None:
            return None
        if node.modifier is not None:
            if "By" not in str(node.modifier.type):
                return None
            by = tuple(node.modifier.labels)
        node = _unparen(node.expr)
    rated = False
    if isinstance(node, promql_parser.Call):
        if node.func.name not in ("rate", "increase") or len(node.args) != 1:
            return None
        arg = node.args[0]
        if not isinstance(arg, promql_parser.MatrixSelector):
            return None
        node, rated = arg.vector_selector, True
    if not isinstance(node, promql_parser.VectorSelector):
        return None
    try:
        return Shape(parse_selector(node.prettify()), by, rated)
    except PromQLError:
        return None


def _unparen(node):
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


# ---------------------------------------------------------------- SLI -> native sli


@dataclass
class Native:
    """A native-shaped dict and the OpenSLO location of each of its paths."""

    data: dict = field(default_factory=dict)
    origins: dict[tuple, Loc] = field(default_factory=dict)

    def put(self, path: tuple, value: Any, where: Node | Loc) -> None:
        cur = self.data
        for key in path[:-1]:
            cur = cur.setdefault(key, {})
        cur[path[-1]] = value
        self.origins[path] = _loc(where)


def _counter_shapes(ctx: _Ctx, ind: Indicator, keys: tuple[str, ...], required: bool) -> dict[str, Shape] | None:
    """The selector shape of each part; ``required``: a part that is no selector is an error."""
    if ind.counter is False:
        where = ind.counter_node or ind.node
        ctx.error(where, "sloforge counts counter increases: a ratio of gauges (counter: false) cannot be counted")
        return None
    shapes: dict[str, Shape] = {}
    ok = True
    for key in keys:
        query = ind.parts[key]
        shape = _shape(query.text)
        if shape is None and required:
            ctx.error(
                query.node,
                "cannot map this query to a counter selector: sloforge reads a selector, sum(SEL), "
                "rate(SEL[w]) or sum [by (labels)] (rate|increase(SEL[w])) here",
            )
            ok = False
        elif shape is not None and not shape.rated and ind.counter is not True:
            ctx.error(query.node, "a selector without rate()/increase() is read as a counter only with 'counter: true'")
            ok = False
        elif shape is not None:
            shapes[key] = shape
    bys = {s.by for s in shapes.values()}
    if not ok:
        return None
    if len(bys) > 1:
        ctx.error(ind.parts[keys[-1]].node, "good/bad and total must group by the same labels (sum by (...))")
        return None
    return shapes


def _events(ctx: _Ctx, ind: Indicator, out: Native) -> None:
    num = "good" if "good" in ind.parts else "bad"
    shapes = _counter_shapes(ctx, ind, (num, "total"), required=True)
    if shapes is None:
        return
    if shapes[num].by:
        out.put(("by",), list(shapes[num].by), ind.parts["total"].node)
    if num == "good" and (lat := _latency(shapes["good"], shapes["total"])):
        out.put(("sli",), {}, ind.node)
        out.put(("sli", "latency"), {}, ind.parts["good"].node)
        out.put(("sli", "latency", "histogram"), lat[0], ind.parts["total"].node)
        out.put(("sli", "latency", "le"), lat[1], ind.parts["good"].node)
        return
    out.put(("sli",), {}, ind.node)
    out.put(("sli", "events"), {}, ind.node)
    for key in (num, "total"):
        out.put(("sli", "events", key), shapes[key].selector.render(), ind.parts[key].node)


def _latency(good: Shape, total: Shape) -> tuple[str, float] | None:
    """``H_bucket{..., le="X"}`` over ``H_count{...}`` (same other matchers) is a latency SLI."""
    g, t = good.selector, total.selector
    base = g.name.removesuffix("_bucket")
    if base == g.name or t.name != base + "_count":
        return None
    le = bucket_le(g)
    rest = [m for m in g.matchers if m.name != "le"]
    if le is None or sorted(map(repr, rest)) != sorted(map(repr, t.matchers)):
        return None
    return Selector(base, t.matchers).render(), le


def _rate_expr(query: Query, shape: Shape | None, window: str) -> str:
    """A ratio part as a per-second rate over a slice: selector shapes canonically, anything else as written."""
    if shape is None:
        return WINDOW.sub(window, query.text).strip()
    agg = f"sum by ({', '.join(shape.by)})" if shape.by else "sum"
    return f"{agg} (rate({shape.selector.render()}[{window}]))"


def _timeslice(ctx: _Ctx, ind: Indicator, objective: Node, method: str, alpha: bool, out: Native) -> None:
    """Threshold and raw SLIs, and ratio SLIs under Timeslices: a condition judged per slice."""
    if method == "Timeslices":
        window = (
            _duration(ctx, objective["timeSliceWindow"], minutes=True)
            if objective.has("timeSliceWindow")
            else (ALPHA_SLICE if alpha else None)
        )
        if window is None and not objective.has("timeSliceWindow"):
            ctx.error(objective["timeSliceWindow"], "budgetingMethod Timeslices needs 'timeSliceWindow' (the slice)")
        tst = _number(ctx, objective["timeSliceTarget"])
        if tst is not None and not 0 < tst <= 1:
            ctx.error(objective["timeSliceTarget"], f"timeSliceTarget {tst:g} is out of range (0, 1]")
            return
    else:
        window, tst = OCCURRENCE_SLICE, None
    if window is None:
        return
    ts: dict[str, Any] = {"slice": window}
    where: dict[str, Node] = {"slice": objective["timeSliceWindow"] if objective.has("timeSliceWindow") else objective}
    if "threshold" in ind.parts:
        if not _threshold(ctx, ind.parts["threshold"], objective, window, tst, ts, where):
            return
    elif tst is None:
        ctx.error(objective["timeSliceTarget"], "budgetingMethod Timeslices needs 'timeSliceTarget' for a ratio")
        return
    elif "raw" in ind.parts:
        ts["expr"] = WINDOW.sub(window, ind.parts["raw"].text)
        where["expr"] = ind.parts["raw"].node
        _ratio_bound(ts, where, ind.raw_type == "success", tst, objective)
    else:
        num = "good" if "good" in ind.parts else "bad"
        shapes = _counter_shapes(ctx, ind, (num, "total"), required=False)
        if shapes is None:
            return
        parts = [_rate_expr(ind.parts[k], shapes.get(k), window) for k in (num, "total")]
        ts["expr"] = f"({parts[0]})\n/\n({parts[1]})"
        where["expr"] = ind.parts[num].node
        _ratio_bound(ts, where, num == "good", tst, objective)
        by = {s.by for s in shapes.values()}
        if by and len(by) == 1 and (labels := next(iter(by))):
            out.put(("by",), list(labels), ind.parts["total"].node)
    out.put(("sli",), {}, ind.node)
    out.put(("sli", "timeslice"), {}, ind.node)
    for key, value in ts.items():
        out.put(("sli", "timeslice", key), value, where[key])


def _ratio_bound(ts: dict, where: dict, success: bool, tst: float, objective: Node) -> None:
    """A slice is good while its success ratio is at least ``timeSliceTarget`` (failure ratio at most 1 - it)."""
    key, value = ("min", tst) if success else ("max", round(1 - tst, 12))
    ts[key] = value
    where[key] = objective["timeSliceTarget"]


def _threshold(ctx: _Ctx, query: Query, objective: Node, window: str, tst: float | None, ts: dict, where: dict) -> bool:
    op = _text(ctx, objective["op"])
    value = _number(ctx, objective["value"])
    if op is None or value is None:
        for key in ("op", "value"):
            if not objective.has(key):
                ctx.error(objective[key], "a thresholdMetric objective needs 'op' and 'value'")
        return False
    if op not in _OPS:
        ctx.error(objective["op"], f"op {op!r} must be one of {', '.join(_OPS)}")
        return False
    expr = WINDOW.sub(window, query.text)
    where["expr"] = query.node
    if tst is not None and tst < 1:
        # a slice is good when at least timeSliceTarget of its data points meet the threshold
        ts["expr"] = f"avg_over_time(({expr.strip()} {_OP_SYMBOL[op]} bool {number(value)})[{window}:])"
        ts["min"] = tst
        where["min"] = objective["timeSliceTarget"]
        return True
    key, strict = _OPS[op]
    if strict:  # x < v  <=>  x <= the float just below v: exact, no rounding
        value = math.nextafter(value, -math.inf if key == "max" else math.inf)
    ts["expr"] = expr
    ts[key] = value
    where[key] = objective["value"]
    return True


def _sli(ctx: _Ctx, ind: Indicator, objective: Node, method: str | None, alpha: bool, out: Native) -> None:
    ratio = "threshold" not in ind.parts
    if ratio and objective.has("op"):
        ctx.error(objective["op"], "op/value compare a thresholdMetric: a ratioMetric objective has only a target")
        return
    if ratio and objective.has("value"):
        ctx.warn(objective["value"], "'value' has no meaning for a ratioMetric and is not carried over")
    if method is None:
        return
    if method == "Occurrences":
        for key in ("timeSliceTarget", "timeSliceWindow"):
            if objective.has(key):
                ctx.error(objective[key], f"{key} applies to budgetingMethod Timeslices, not Occurrences")
                return
        if "raw" in ind.parts:
            ctx.error(
                ind.parts["raw"].node,
                "a precomputed ratio ('raw') cannot be counted as events: give good/bad and total counters, "
                "or use budgetingMethod Timeslices (a slice is good while the ratio meets timeSliceTarget)",
            )
            return
        if ratio:
            _events(ctx, ind, out)
            return
    _timeslice(ctx, ind, objective, method, alpha, out)


# ---------------------------------------------------------------- alerting


@dataclass
class Burn:
    """One burn-rate condition as a native burn window of a tier."""

    tier: str
    window: dict
    origins: dict[str, Loc]


@dataclass
class Policy:
    burn: Burn | None
    targets: list[str]


def short_window(long: float) -> float:
    """The short window OpenSLO cannot state: the Workbook's long / 12, at least the 5m base window."""
    return max(300.0, float(round(long / 12)))


def _condition(ctx: _Ctx, obj: Obj) -> Burn | None:
    _uncarried(ctx, obj, _DESCRIPTIVE + (("spec", "description"),))
    spec = obj.spec
    if not _fields(ctx, spec, ("description", "severity", "condition"), required=("severity", "condition")):
        return None
    severity = _text(ctx, spec["severity"])
    tier = _TIERS.get(severity.lower()) if severity else None
    if severity is not None and tier is None:
        ctx.error(
            spec["severity"],
            f"severity {severity!r} names no sloforge tier: write page (or critical) or ticket (or warning)",
        )
    cond = spec["condition"]
    if not _fields(
        ctx, cond, ("kind", "op", "threshold", "lookbackWindow", "alertAfter"), ("threshold", "lookbackWindow")
    ):
        return None
    kind = cond.value.get("kind", "burnrate")
    if kind != "burnrate":
        ctx.error(cond["kind"], f"condition kind {kind!r} is not supported: sloforge alerts on burn rates ('burnrate')")
        return None
    op = cond.value.get("op", "gt")
    if op not in ("gt", "gte"):
        ctx.error(cond["op"], f"op {op!r}: sloforge alerts when the burn rate exceeds the threshold (gt or gte)")
        return None
    threshold = _number(ctx, cond["threshold"])
    long = _duration(ctx, cond["lookbackWindow"])
    after = _duration(ctx, cond["alertAfter"]) if cond.has("alertAfter") else None
    if tier is None or threshold is None or long is None or (cond.has("alertAfter") and after is None):
        return None
    seconds = 0.0 if _ZERO.match(long) else parse_duration(long)
    if seconds <= 300:
        ctx.error(cond["lookbackWindow"], "lookbackWindow must be longer than 5m (sloforge's base window)")
        return None
    window: dict[str, Any] = {"burn_rate": threshold, "long": long, "short": format_duration(short_window(seconds))}
    origins = {
        "burn_rate": cond["threshold"].loc,
        "long": cond["lookbackWindow"].loc,
        "short": cond["lookbackWindow"].loc,
    }
    if after is not None and not _ZERO.match(after):
        window["for"] = after
        origins["for"] = cond["alertAfter"].loc
    return Burn(tier, window, origins)


def _target(ctx: _Ctx, obj: Obj) -> str | None:
    """The label value part of a notification target, or None for Alertmanager routing."""
    spec = obj.spec
    _fields(ctx, spec, ("target", "description"), required=("target",))
    target = _text(ctx, spec["target"])
    _uncarried(ctx, obj, _DESCRIPTIVE + (("spec", "description"),))
    if target is not None and target.lower() == ALERTMANAGER_TARGET:
        return None
    if target is not None:
        ctx.warn(
            spec["target"],
            f"target {target!r} is not carried over: OpenSLO gives no delivery settings. The alerts carry "
            f"the target's name {obj.name!r} in label {TARGET_LABEL.format(tier='page')} or "
            f"{TARGET_LABEL.format(tier='ticket')}: route on it in the bundle's Alertmanager routing",
        )
    return obj.name


def _policy(ctx: _Ctx, obj: Obj, reg: _Registry) -> Policy | None:
    spec = obj.spec
    _uncarried(ctx, obj, _DESCRIPTIVE + (("spec", "description"),))
    allowed = ("description", "alertWhenNoData", "alertWhenResolved", "alertWhenBreaching", "conditions")
    if not _fields(ctx, spec, allowed + ("notificationTargets",), required=("conditions",)):
        return None
    if _flag(ctx, spec["alertWhenBreaching"]) is False:
        ctx.error(
            spec["alertWhenBreaching"], "sloforge alerts while the condition is breaching; false is not supported"
        )
    if _flag(ctx, spec["alertWhenNoData"]):
        ctx.error(
            spec["alertWhenNoData"],
            "burn-rate alerts do not fire on missing data: write an absent() alert in a native spec's 'alerts'",
        )
    if _flag(ctx, spec["alertWhenResolved"]):
        ctx.warn(
            spec["alertWhenResolved"],
            "not carried over: resolved notifications are a receiver setting (send_resolved) in Alertmanager",
        )
    conditions = spec["conditions"].items()
    if len(conditions) != 1:
        ctx.error(spec["conditions"], f"an AlertPolicy has exactly one condition, got {len(conditions)}")
        return None
    burn = _inline_or_ref(ctx, conditions[0], "AlertCondition", "conditionRef", reg, reg.conditions, _condition)
    targets: list[str] = []
    for item in spec["notificationTargets"].items():
        name = _target_name(ctx, item, reg)
        if name is not None and name not in targets:
            targets.append(name)
    return Policy(burn, targets)


def _target_name(ctx: _Ctx, item: Node, reg: _Registry) -> str | None:
    if isinstance(item.value, dict) and "targetRef" in item.value:
        _fields(ctx, item, ("targetRef",))
        obj = reg.ref(ctx, item["targetRef"], "AlertNotificationTarget")
        return reg.targets.get(obj.name) if obj else None
    obj = _header(ctx, item, V1, "AlertNotificationTarget")
    return _target(ctx, obj) if obj else None


def _inline_or_ref(ctx: _Ctx, item: Node, kind: str, ref_key: str, reg: _Registry, parsed: dict, parse: Callable):
    """An inline object (parsed here) or a reference to a top-level one (parsed once, up front)."""
    if isinstance(item.value, str) or (isinstance(item.value, dict) and ref_key in item.value):
        ref = item if isinstance(item.value, str) else item[ref_key]
        if isinstance(item.value, dict):
            _fields(ctx, item, (ref_key,))
        obj = reg.ref(ctx, ref, kind)
        return parsed.get(obj.name) if obj else None
    obj = _header(ctx, item, V1, kind)
    return parse(ctx, obj) if obj else None


def _alerting(ctx: _Ctx, spec: Node, reg: _Registry, out: Native) -> None:
    """The SLO's alert policies -> tiers; none at all -> sloforge's defaults (the Workbook's)."""
    items = spec["alertPolicies"].items()
    if not items:
        if spec["alertPolicies"].value not in (None, []):
            ctx.error(spec["alertPolicies"], "expected a list of alert policies")
        return
    tiers: dict[str, list] = {"page": [], "ticket": []}
    targets: dict[str, list[str]] = {"page": [], "ticket": []}
    out.put(("alerting",), {}, spec["alertPolicies"])
    for item in items:
        policy = _inline_or_ref(
            ctx, item, "AlertPolicy", "alertPolicyRef", reg, reg.policies, lambda c, o: _policy(c, o, reg)
        )
        if policy is None or policy.burn is None:
            continue
        burn = policy.burn
        j = len(tiers[burn.tier])
        tiers[burn.tier].append(burn.window)
        out.origins[("alerting", burn.tier, j)] = item.loc
        for key, loc in burn.origins.items():
            out.origins[("alerting", burn.tier, j, key)] = loc
        targets[burn.tier] += [t for t in policy.targets if t not in targets[burn.tier]]
    for tier, windows in tiers.items():
        out.data["alerting"][tier] = windows
        out.origins.setdefault(("alerting", tier), spec["alertPolicies"].loc)
    labels = {TARGET_LABEL.format(tier=t): ",".join(names) for t, names in targets.items() if names}
    if labels:
        out.put(("alerting", "labels"), labels, spec["alertPolicies"])


# ---------------------------------------------------------------- SLOs


def _window(ctx: _Ctx, spec: Node, alpha: bool, out: Native) -> None:
    """A rolling window; a calendar-aligned one is refused (see docs/migrate-openslo.md)."""
    key = "timeWindows" if alpha else "timeWindow"
    if not spec.has(key):
        return  # OpenSLO leaves it optional: sloforge's default (30d)
    windows = spec[key].items()
    if len(windows) != 1:
        ctx.error(spec[key], "give exactly one time window")
        return
    w = windows[0]
    allowed = ("unit", "count", "isRolling", "calendar") if alpha else ("duration", "isRolling", "calendar")
    if not _fields(ctx, w, allowed, required=("unit", "count") if alpha else ("duration",)):
        return
    rolling = _flag(ctx, w["isRolling"])
    if w.has("calendar") or rolling is False:
        where = w["calendar"] if w.has("calendar") else w["isRolling"]
        ctx.error(
            where,
            "calendar-aligned windows are not supported: sloforge evaluates rolling windows, and a rolling "
            "window of the same length reports a different budget (it never resets at the period start). "
            "Write 'isRolling: true' without 'calendar' to measure a rolling window of this length",
        )
        return
    if alpha:
        unit, count = w.value["unit"], w.value["count"]
        if unit not in _ALPHA_UNITS or not isinstance(count, int) or isinstance(count, bool) or count < 1:
            ctx.error(w, f"unit must be one of {', '.join(_ALPHA_UNITS)} and count a positive whole number")
            return
        text = f"{count}{_ALPHA_UNITS[unit]}"
        duration = f"{count * _LONG_UNITS[_ALPHA_UNITS[unit]]}d" if _ALPHA_UNITS[unit] in _LONG_UNITS else text
        out.put(("window",), duration, w["count"])
        return
    duration = _duration(ctx, w["duration"])
    if duration is not None:
        out.put(("window",), duration, w["duration"])


def _method(ctx: _Ctx, spec: Node, alpha: bool) -> str | None:
    method = _text(ctx, spec["budgetingMethod"])
    allowed = _METHODS[:2] if alpha else _METHODS
    if method is None:
        return None
    if method not in allowed:
        ctx.error(spec["budgetingMethod"], f"budgetingMethod {method!r} must be one of {', '.join(allowed)}")
        return None
    if method == "RatioTimeslices":
        ctx.error(
            spec["budgetingMethod"],
            "RatioTimeslices (the mean of per-slice ratios) has no sloforge equivalent: sloforge measures "
            "Occurrences (the ratio of all good to all events) or Timeslices (the share of good slices)",
        )
        return None
    return method


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _objective_names(name: str, objectives: list[Node]) -> list[str]:
    """``<slo>`` for one objective; ``<slo>-<display name>`` for several, or ``<slo>-<index>``."""
    if len(objectives) == 1:
        return [name]
    slugs = [_slug(o.value.get("displayName") or "") if isinstance(o.value, dict) else "" for o in objectives]
    if all(slugs) and len(set(slugs)) == len(slugs):
        return [f"{name}-{s}" for s in slugs]
    return [f"{name}-{i}" for i in range(len(objectives))]


def _labels(node: Node) -> dict | None:
    """OpenSLO label values may be lists of strings: joined with ','."""
    if not isinstance(node.value, dict):
        return None
    return {k: ",".join(map(str, v)) if isinstance(v, list) else v for k, v in node.value.items()}


@dataclass
class Entry:
    """One sloforge SLO (native dict and origins) made from one objective of an OpenSLO SLO."""

    service: str
    service_node: Node
    slo: Native
    broken: bool = False  # its SLI could not be mapped (already reported): validated for the other fields only


def _slo(ctx: _Ctx, obj: Obj, reg: _Registry) -> list[Entry]:
    alpha = obj.api == V1ALPHA
    spec = obj.spec
    _uncarried(ctx, obj, (("metadata", "annotations"),))
    _fields(ctx, spec, _SLO_FIELDS[obj.api], required=("service", "budgetingMethod", "objectives"))
    service = _text(ctx, spec["service"])
    method = _method(ctx, spec, alpha)
    base = Native()
    base.origins[("alerting",)] = spec["alertPolicies"].loc  # also where sloforge's default tiers stand in
    _window(ctx, spec, alpha, base)
    if not alpha:
        _alerting(ctx, spec, reg, base)
    shared = None if alpha else _slo_indicator(ctx, spec, reg)
    if obj.meta.has("labels"):
        base.put(("labels",), _labels(obj.meta["labels"]), obj.meta["labels"])
    objectives = spec["objectives"].items()
    if not objectives:
        ctx.error(spec["objectives"], "give at least one objective")
    names = _objective_names(obj.name, objectives)
    entries = []
    for objective, name in zip(objectives, names, strict=True):
        if not _fields(ctx, objective, _OBJECTIVE_FIELDS[obj.api]):
            continue
        composite = [k for k in ("indicator", "indicatorRef", "compositeWeight") if objective.has(k)]
        if composite:
            ctx.error(
                objective[composite[0]],
                "composite SLOs (objectives with their own indicator) are not supported: write one SLO per SLI",
            )
            continue
        ind = _alpha_indicator(ctx, spec, objective) if alpha else shared
        if service is None:
            continue
        out = Native(copy.deepcopy(base.data), dict(base.origins))
        out.put(("name",), name, obj.meta["name"] if len(objectives) == 1 else objective)
        _describe(ctx, obj, objective, ind, out)
        _target_field(ctx, objective, out)
        if ind is not None:
            _sli(ctx, ind, objective, method, alpha, out)
        entries.append(Entry(service, spec["service"], out, broken="sli" not in out.data))
    return entries


def _describe(ctx: _Ctx, obj: Obj, objective: Node, ind: Indicator | None, out: Native) -> None:
    """Title from the SLO's and the objective's display names, description from the SLO's and the SLI's."""
    parts = [obj.meta.value.get("displayName"), objective.value.get("displayName")]
    title = ": ".join(str(p) for p in parts if p)
    if title:
        out.put(("title",), title, obj.meta["displayName"] if parts[0] else objective["displayName"])
    texts = [_text(ctx, obj.spec["description"]) or "", ind.description if ind else ""]
    description = "\n\n".join(dict.fromkeys(t for t in texts if t))
    if description:
        out.put(("description",), description, obj.spec["description"])


def _target_field(ctx: _Ctx, objective: Node, out: Native) -> None:
    given = [k for k in ("target", "targetPercent") if objective.has(k)]
    if len(given) != 1:
        ctx.error(objective["target"], "give exactly one of 'target' (0-1) or 'targetPercent'")
        return
    value = _number(ctx, objective[given[0]])
    if value is not None:
        out.put(("target" if given[0] == "target" else "objective",), value, objective[given[0]])


def _slo_indicator(ctx: _Ctx, spec: Node, reg: _Registry) -> Indicator | None:
    given = [k for k in ("indicator", "indicatorRef") if spec.has(k)]
    if len(given) != 1:
        if not any(o.has("indicator") or o.has("indicatorRef") for o in spec["objectives"].items()):
            ctx.error(spec["indicator"], "give exactly one of 'indicator' or 'indicatorRef'")
        return None
    if given == ["indicatorRef"]:
        obj = reg.ref(ctx, spec["indicatorRef"], "SLI")
        return reg.indicators.get(obj.name) if obj else None
    obj = _header(ctx, spec["indicator"], V1, "SLI")
    return _indicator(ctx, obj, reg) if obj else None


# ---------------------------------------------------------------- specs


@dataclass
class Imported:
    """What ``load_openslo_files`` made: specs, problems (errors and warnings, by ``Problem.level``),
    and per spec (by ``id``) a document mapping native paths to OpenSLO lines, for ``load()``'s late checks."""

    specs: list[Spec] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    docs: dict[int, YamlDoc] = field(default_factory=dict)


# stands in for an SLI that could not be mapped, so that the SLO's other fields are still checked
_PLACEHOLDER = {"sli": {"events": {"bad": "placeholder", "total": "placeholder"}}}


def _at(origins: dict[tuple, Loc], path: tuple) -> Loc:
    path = tuple(path)
    while path not in origins:
        path = path[:-1]
    return origins[path]


def _spec(ctx: _Ctx, service: str, entries: list[Entry], reg: _Registry, out: Imported) -> None:
    """Validate one service's native dict like a native document; problems land on OpenSLO fields."""
    first = entries[0]
    native_doc = Native({"apiVersion": API_VERSION, "service": service}, {(): first.service_node.loc})
    native_doc.origins[("service",)] = first.service_node.loc
    svc = reg.objects.get(("Service", service))
    if svc is not None:
        reg.used.add(("Service", service))
        if svc.spec.has("description"):
            native_doc.put(("description",), svc.spec.value["description"], svc.spec["description"])
        if svc.meta.has("labels"):
            native_doc.put(("labels",), _labels(svc.meta["labels"]), svc.meta["labels"])
    native_doc.data["slos"] = [{**e.slo.data, **(_PLACEHOLDER if e.broken else {})} for e in entries]
    native_doc.origins[("slos",)] = first.service_node.loc
    for i, e in enumerate(entries):
        native_doc.origins[("slos", i)] = e.slo.origins[("name",)]
        native_doc.origins.update({("slos", i) + p: loc for p, loc in e.slo.origins.items()})
    data, origins = native_doc.data, native_doc.origins
    placeholders = [("slos", i, "sli") for i, e in enumerate(entries) if e.broken]
    try:
        spec = Spec.model_validate(data)
    except ValidationError as err:
        for e in err.errors(include_url=False):
            path = native._data_path(data, e["loc"])
            if not any(path[:3] == p for p in placeholders):
                ctx.error(_at(origins, path), _openslo_words(native._message(e, path, Spec)))
        return
    if placeholders:
        return
    spec.source_file = first.service_node.loc.file
    cross = checks.spec_errors(spec)
    for path, message in cross:
        ctx.error(_at(origins, path), message)
    for path, message in lint.spec_warnings(spec):
        ctx.warn(_at(origins, path), message)
    if cross:
        return
    lines = {p: loc.line for p, loc in origins.items() if loc.file == spec.source_file}
    out.specs.append(spec)
    out.docs[id(spec)] = YamlDoc(data, lines, first.service_node.loc.line)


def _openslo_words(message: str) -> str:
    """Native hints in OpenSLO's words."""
    return message.replace("(did you mean objective?)", "(did you mean targetPercent?)")


def _parse_all(ctx: _Ctx, reg: _Registry) -> None:
    """Every top-level object once, in dependency order, so that references find them parsed."""
    for obj in reg.of("DataSource"):
        reg.sources[obj.name] = _datasource(ctx, obj)
    for obj in reg.of("SLI"):
        reg.indicators[obj.name] = _indicator(ctx, obj, reg)
    for obj in reg.of("AlertCondition"):
        reg.conditions[obj.name] = _condition(ctx, obj)
    for obj in reg.of("AlertNotificationTarget"):
        reg.targets[obj.name] = _target(ctx, obj)
    for obj in reg.of("AlertPolicy"):
        reg.policies[obj.name] = _policy(ctx, obj, reg)
    for obj in reg.of("Service"):
        _fields(ctx, obj.spec, ("description",))
        _uncarried(ctx, obj, (("metadata", "displayName"), ("metadata", "annotations")))


def load_openslo_files(files: list[tuple[str, list[YamlDoc]]]) -> Imported:
    """All OpenSLO files of a run at once (``[(file name, its documents)]``): references resolve across files.

    Specs come back only when no problem is an error."""
    ctx = _Ctx()
    reg = _collect(ctx, files)
    _parse_all(ctx, reg)
    by_service: dict[str, list[Entry]] = {}
    for obj in reg.of("SLO"):
        for entry in _slo(ctx, obj, reg):
            by_service.setdefault(entry.service, []).append(entry)
    unused = [
        obj
        for (kind, name), obj in reg.objects.items()
        if kind != "SLO" and (kind, name) not in reg.used and not (kind == "Service" and name in by_service)
    ]
    ctx.drop_warnings(lambda loc: any(_inside(loc, o) for o in unused))
    for obj in unused:
        ctx.warn(
            obj.node, f"{obj.kind} {obj.name!r} is not used by any SLO in the files loaded: nothing is made from it"
        )
    out = Imported()
    for service, entries in by_service.items():
        _spec(ctx, service, entries, reg, out)
    out.problems = ctx.problems
    if any(p.level == "error" for p in out.problems):
        out.specs, out.docs = [], {}  # as load() does: nothing half-read goes downstream
    return out


def _inside(loc: Loc, obj: Obj) -> bool:
    """``loc`` is a field of ``obj`` (whose warnings say nothing while no SLO uses it)."""
    where = obj.node.loc
    return loc.doc is where.doc and loc.path[: len(where.path)] == where.path


def load_openslo(docs: list[YamlDoc], name: str) -> tuple[list[Spec], list[Problem]]:
    """One OpenSLO file: its specs and its problems (errors and warnings)."""
    imported = load_openslo_files([(name, docs)])
    return imported.specs, imported.problems


def is_openslo(docs: list[YamlDoc]) -> bool:
    """The file's first object (first document, or its first list item) has an ``openslo/`` apiVersion."""
    first = docs[0].data if docs else None
    if isinstance(first, list) and first:
        first = first[0]
    api = first.get("apiVersion") if isinstance(first, dict) else None
    return isinstance(api, str) and api.startswith(PREFIX)
