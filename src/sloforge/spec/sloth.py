"""Sloth specs -> ``Spec``.

Three Sloth document kinds:

* ``version: prometheus/v1``: Sloth's own file format (snake_case keys);
* ``apiVersion: sloth.slok.dev/v1``, ``kind: PrometheusServiceLevel``: the Kubernetes CRD, the same
  fields under ``spec`` with camelCase keys;
* ``apiVersion: sloth.slok.dev/v1``, ``kind: AlertWindows``: Sloth's alert windows for one SLO period
  (``--slo-period-windows-path``). They are no SLO spec: read them with ``read_alert_windows`` and pass
  them to ``make_loaders``, as Sloth takes them on its command line.

Sloth's queries are templated with ``{{.window}}``; sloforge's SLIs are selectors. The common shapes
(``sum(rate(SEL[{{.window}}]))``, ``sum by (...)``, ``... or vector(0)``, ``TOTAL - GOOD``, and for raw
SLIs ``BAD / TOTAL``) map to selectors; anything else is refused naming the field and why.

The module also holds what every foreign loader shares (``Draft``, ``parse_source``, ``good_total_sli``):
a foreign document is validated against a model of its own format (unknown fields get a did-you-mean in
the foreign field names), turned into a native document that remembers where each part came from, and
validated as a native ``Spec``; every problem names the foreign file, line and field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import promql_parser
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from sloforge.durations import format_duration, parse_duration
from sloforge.model import API_VERSION, Duration, Spec
from sloforge.promql import PromQLError, Selector, bucket_le, selector
from sloforge.spec import checks, native
from sloforge.spec.errors import Problem, SpecError, dotted
from sloforge.spec.yamlsafe import YamlDoc, read_documents

Loader = Callable[[YamlDoc, str], tuple[Spec | None, list[Problem]]]

CRD_API = "sloth.slok.dev/v1"
FILE_API = "prometheus/v1"
DEFAULT_PERIOD = "30d"  # Sloth's --default-slo-period
MIN_SHORT = 300.0  # sloforge's recorded base window: no alert window can be shorter

# ---------------------------------------------------------------- shared by the foreign loaders


class Draft:
    """A native document built from a foreign one; every native path remembers its foreign path."""

    def __init__(self, doc: YamlDoc, file: str):
        self.doc = doc
        self.file = file
        self.data: dict[str, Any] = {"apiVersion": API_VERSION}
        self.origin: dict[tuple, tuple] = {(): ()}
        self.problems: list[Problem] = []

    def mark(self, path: tuple, src: tuple) -> None:
        """Native ``path`` came from foreign ``src``."""
        self.origin[path] = src

    def error(self, src: tuple, message: str) -> None:
        self.problems.append(Problem(self.file, self.doc.line_of(src), dotted(src), message))

    def warn(self, src: tuple, message: str) -> None:
        self.problems.append(Problem(self.file, self.doc.line_of(src), dotted(src), message, level="warning"))

    def source_of(self, path: tuple) -> tuple:
        """Foreign path of the deepest known prefix of a native ``path``."""
        path = tuple(path)
        while path not in self.origin:
            path = path[:-1]
        return self.origin[path]

    def finish(self) -> tuple[Spec | None, list[Problem]]:
        """Validate the native document and its cross-field checks; problems name the foreign fields.

        On success the native paths are added to the YAML document's line table, so that checks
        and lint run later on the ``Spec`` still point at the foreign lines.
        """
        if any(p.level == "error" for p in self.problems):
            return None, self.problems
        try:
            spec = Spec.model_validate(self.data)
        except ValidationError as e:
            return None, self.problems + self._translate(e)
        spec.source_file = self.file
        cross = checks.spec_errors(spec)
        if cross:
            return None, self.problems + [self._problem(p, m) for p, m in cross]
        for path, src in self.origin.items():
            self.doc.lines.setdefault(path, self.doc.line_of(src))
        return spec, self.problems

    def _translate(self, err: ValidationError) -> list[Problem]:
        out: list[Problem] = []
        for e in err.errors(include_url=False):
            path = native._data_path(self.data, e["loc"])
            problem = self._problem(path, native._message(e, path, Spec))
            if problem not in out:
                out.append(problem)
        return out

    def _problem(self, path: tuple, message: str) -> Problem:
        src = self.source_of(path)
        return Problem(self.file, self.doc.line_of(src), dotted(src), message)


class Foreign(BaseModel):
    """A model of a foreign format: unknown fields are errors (with a did-you-mean)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)


M = TypeVar("M", bound=BaseModel)

# label maps: Sloth and Pyrra write numbers and booleans unquoted; Prometheus gets their text
TextMap = dict[str, str | bool | int | float]


def texts(values: TextMap) -> dict[str, str]:
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in values.items()}


def parse_source(model: type[M], doc: YamlDoc, file: str) -> tuple[M | None, list[Problem]]:
    """Validate a foreign document against its format's model; problems name the foreign fields."""
    try:
        return model.model_validate(doc.data), []
    except ValidationError as e:
        return None, native._problems(e, doc, file, model)


def key(obj: BaseModel, field: str) -> str:
    """The YAML key of ``field`` in ``obj``'s format (its alias)."""
    return type(obj).model_fields[field].alias or field


def kind_problem(doc: YamlDoc, file: str, api: str, kinds: Iterable[str]) -> Problem:
    kind = doc.data.get("kind")
    return Problem(
        file,
        doc.line_of(("kind",)),
        "kind",
        f"{api} kind {kind!r} is not supported (expected {' or '.join(kinds)})",
    )


def good_total_sli(good: Selector, total: Selector) -> dict:
    """Native SLI of ``good``/``total`` counters: a latency SLI when they are one histogram's
    ``_bucket{le=...}`` and ``_count`` with the same matchers, else an events SLI."""
    le = bucket_le(good)
    base = good.name.removesuffix("_bucket")
    same = {m for m in good.matchers if m.name != "le"} == set(total.matchers)
    if le is not None and good.name.endswith("_bucket") and total.name == base + "_count" and same:
        return {"latency": {"histogram": Selector(base, total.matchers).render(), "le": le}}
    return {"events": {"good": good.render(), "total": total.render()}}


def error_budget(objective: float) -> float:
    """As ``SLO.error_budget`` computes it from a percent objective."""
    return round(1.0 - round(objective / 100.0, 12), 12)


def fit_windows(draft: Draft, windows: list[dict], objective: float, src: tuple, source: str) -> list[dict]:
    """Burn windows as sloforge can hold them, with a warning for each change.

    A short window under 5m becomes 5m (sloforge's recorded base window): the alert resets a few
    minutes later. A window whose factor needs an error ratio of 100 % or more can never fire at
    this objective, in the peer as here: it is left out.
    """
    out = []
    budget = error_budget(objective)
    for w in windows:
        pair = f"{source} window {w['long']}/{w['short']} ({w['burn_rate']:g}x)"
        if w["burn_rate"] * budget >= 1:
            draft.warn(
                src, f"{pair} needs an error ratio >= 100 % at objective {objective:g}: it can never fire, not imported"
            )
            continue
        if parse_duration(w["short"]) < MIN_SHORT:
            draft.warn(
                src, f"{pair}: short window raised to 5m, sloforge's shortest window (resets up to {_later(w)} later)"
            )
            w = {**w, "short": "5m"}
        out.append(w)
    return out


def _later(w: dict) -> str:
    return format_duration(MIN_SHORT - parse_duration(w["short"]))


# ---------------------------------------------------------------- queries with {{.window}}

_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")
_SENTINEL = timedelta(seconds=40271)  # stands in for {{.window}} while parsing: 11h11m11s
_SHAPE = "sum(rate(SELECTOR[{{.window}}])) (optionally sum by (...), or vector(0))"


class Unmappable(ValueError):
    """A Sloth query that has no faithful sloforge SLI; the message says why."""


@dataclass(frozen=True)
class Counted:
    """``sum by (by) (rate(selector[{{.window}}]))``: a counter selector and its grouping."""

    selector: Selector
    by: tuple[str, ...]

    def same_as(self, other: Counted) -> bool:
        return set(self.selector.matchers) == set(other.selector.matchers) and (
            self.selector.name == other.selector.name and set(self.by) == set(other.by)
        )


def parse_templated(query: str) -> Any:
    if not isinstance(query, str) or not query.strip():
        raise Unmappable("empty query")
    if not _WINDOW.search(query):
        raise Unmappable("has no [{{.window}}] range; Sloth requires one and sloforge reads the selector inside it")
    text = _WINDOW.sub(format_duration(_SENTINEL.total_seconds()), query)
    if "{{" in text:
        raise Unmappable("uses Go template syntax other than {{.window}}")
    try:
        return promql_parser.parse(text)
    except ValueError as e:
        raise Unmappable(f"PromQL does not parse: {e}") from None


def _unparen(node: Any) -> Any:
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


def _is_zero_vector(node: Any) -> bool:
    node = _unparen(node)
    return (
        isinstance(node, promql_parser.Call)
        and node.func.name == "vector"
        and isinstance(node.args[0], promql_parser.NumberLiteral)
        and node.args[0].val == 0
    )


def counted(node: Any) -> Counted:
    """The counter selector and grouping of ``sum [by (...)] (rate(SEL[{{.window}}])) [or vector(0)]``."""
    node = _unparen(node)
    if isinstance(node, promql_parser.BinaryExpr) and str(node.op) == "or" and _is_zero_vector(node.rhs):
        node = _unparen(node.lhs)
    if not isinstance(node, promql_parser.AggregateExpr) or str(node.op) != "sum":
        raise Unmappable(f"is not {_SHAPE}: {_text(node)}")
    by: tuple[str, ...] = ()
    if node.modifier is not None:
        if str(node.modifier.type) != "AggModifierType.By":
            raise Unmappable(
                f"'sum without (...)' has no sloforge equivalent (sloforge groups with 'by'): {_text(node)}"
            )
        by = tuple(node.modifier.labels)
    inner = _unparen(node.expr)
    if not isinstance(inner, promql_parser.Call) or inner.func.name not in ("rate", "increase"):
        raise Unmappable(f"sums {_text(inner)}, not rate() or increase() of a counter; expected {_SHAPE}")
    arg = inner.args[0]
    if not isinstance(arg, promql_parser.MatrixSelector) or arg.range != _SENTINEL:
        raise Unmappable(f"reads {_text(arg)} instead of a selector over [{{{{.window}}}}]")
    vs = arg.vector_selector
    if vs.offset is not None or vs.at is not None:
        raise Unmappable(f"offset and @ have no sloforge equivalent: {_text(arg)}")
    try:
        return Counted(selector(str(vs)), by)
    except PromQLError as e:
        raise Unmappable(str(e)) from None


def _text(node: Any) -> str:
    """The query as its author wrote it (back to ``{{.window}}``, no empty ``{}``)."""
    return str(node).replace(format_duration(_SENTINEL.total_seconds()), "{{.window}}").replace("{}", "")


def events_sli(error_query: str, total_query: str) -> tuple[dict, tuple[str, ...]]:
    """``(native SLI, by)`` of Sloth's events SLI: ``error_query`` is ``sum(rate(BAD))`` or
    ``sum(rate(TOTAL)) - sum(rate(GOOD))``. ``Unmappable`` names the failing field in ``args[1]``."""
    total = _field(lambda: counted(parse_templated(total_query)), "total_query")
    node = _field(lambda: parse_templated(error_query), "error_query")
    try:
        bad = counted(node)
    except Unmappable as first:
        return _total_minus_good(node, total, first)
    _same_by(bad, total, "error_query")
    return {"events": {"bad": bad.selector.render(), "total": total.selector.render()}}, total.by


def _total_minus_good(node: Any, total: Counted, first: Unmappable) -> tuple[dict, tuple[str, ...]]:
    node = _unparen(node)
    if not (isinstance(node, promql_parser.BinaryExpr) and str(node.op) == "-" and node.modifier is None):
        raise Unmappable(f"{first} (or TOTAL - GOOD of two such sums)", "error_query")
    lhs = _field(lambda: counted(node.lhs), "error_query")
    good = _field(lambda: counted(node.rhs), "error_query")
    if not lhs.same_as(total):
        raise Unmappable(
            f"is A - GOOD where A ({lhs.selector.render()}) is not total_query's selector "
            f"({total.selector.render()}): the events it subtracts from are not the total",
            "error_query",
        )
    _same_by(good, total, "error_query")
    return good_total_sli(good.selector, total.selector), total.by


def raw_sli(query: str) -> tuple[dict, tuple[str, ...]]:
    """Sloth's raw error ratio, when it is ``BAD / TOTAL`` or ``1 - GOOD / TOTAL`` of counted events."""
    node = _unparen(parse_templated(query))
    complement = False
    if (
        isinstance(node, promql_parser.BinaryExpr)
        and str(node.op) == "-"
        and isinstance(node.lhs, promql_parser.NumberLiteral)
        and node.lhs.val == 1
    ):
        complement, node = True, _unparen(node.rhs)
    if not (isinstance(node, promql_parser.BinaryExpr) and str(node.op) == "/" and node.modifier is None):
        raise Unmappable(
            f"is not a ratio of counted events, sum(rate(BAD[{{{{.window}}}}])) / sum(rate(TOTAL[{{{{.window}}}}])); "
            f"sloforge SLIs count events, so an error ratio computed some other way cannot be imported "
            f"(write it as sli.events, or as a native timeslice SLI): {_text(node)}"
        )
    try:
        part, total = counted(node.lhs), counted(node.rhs)
    except Unmappable as e:
        raise Unmappable(f"is a ratio, but {e}; sloforge SLIs count events (sum(rate(...)) of counters)") from None
    _same_by(part, total, "")
    if complement:
        return good_total_sli(part.selector, total.selector), total.by
    return {"events": {"bad": part.selector.render(), "total": total.selector.render()}}, total.by


def _same_by(part: Counted, total: Counted, field: str) -> None:
    if set(part.by) != set(total.by):
        raise Unmappable(
            f"groups by ({', '.join(part.by)}) but the total by ({', '.join(total.by)}): "
            "sloforge needs one grouping for both",
            field,
        )


T = TypeVar("T")


def _field(fn: Callable[[], T], field: str) -> T:
    try:
        return fn()
    except Unmappable as e:
        if len(e.args) > 1:
            raise
        raise Unmappable(e.args[0], field) from None


# ---------------------------------------------------------------- alert windows


@dataclass(frozen=True)
class Window:
    error_budget_percent: float
    short: float  # seconds
    long: float

    def burn_rate(self, period: float) -> float:
        """Sloth's factor: the speed that spends ``error_budget_percent`` of a ``period`` budget in ``long``.

        The arithmetic is Sloth's (``Windows.getBurnRateFactor``, float64 hours), so the factors are
        bit-identical: ``errorBudgetPercent * period.Hours() / 100 / longWindow.Hours()``.
        """
        return self.error_budget_percent * _go_hours(period) / 100 / _go_hours(self.long)

    def burn_window(self, period: float) -> dict:
        return {
            "burn_rate": self.burn_rate(period),
            "long": format_duration(self.long),
            "short": format_duration(self.short),
        }


def _go_hours(seconds: float) -> float:
    """Go's ``time.Duration.Hours()``: whole hours plus the remainder in nanoseconds / 3.6e12."""
    hours, rest = divmod(round(seconds * 1e9), 3600 * 10**9)
    return float(hours) + rest / 3.6e12


@dataclass(frozen=True)
class AlertWindows:
    """One Sloth AlertWindows document: page and ticket (quick, slow) windows for an SLO period."""

    period: float
    page: tuple[Window, Window]
    ticket: tuple[Window, Window]
    source: str = "Sloth's built-in"

    def tier(self, name: str) -> list[dict]:
        return [w.burn_window(self.period) for w in getattr(self, name)]


def _google(period: str) -> AlertWindows:
    """Sloth's embedded defaults (internal/alert/windows/google-30d.yaml, google-28d.yaml): the SRE Workbook's."""
    return AlertWindows(
        parse_duration(period),
        page=(Window(2, 300, 3600), Window(5, 1800, 6 * 3600)),
        ticket=(Window(10, 2 * 3600, 86400), Window(10, 6 * 3600, 3 * 86400)),
        source=f"Sloth's built-in {period}",
    )


DEFAULT_WINDOWS: dict[float, AlertWindows] = {w.period: w for w in (_google("30d"), _google("28d"))}


class _WindowSpec(Foreign):
    error_budget_percent: float = Field(alias="errorBudgetPercent", gt=0)
    short_window: Duration = Field(alias="shortWindow")
    long_window: Duration = Field(alias="longWindow")


class _QuickSlow(Foreign):
    quick: _WindowSpec
    slow: _WindowSpec


class _AlertWindowsSpec(Foreign):
    slo_period: Duration = Field(alias="sloPeriod")
    page: _QuickSlow
    ticket: _QuickSlow


class _AlertWindowsDoc(Foreign):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: _AlertWindowsSpec


def alert_windows(doc: YamlDoc, file: str) -> tuple[AlertWindows | None, list[Problem]]:
    """An ``AlertWindows`` document, validated with FILE:LINE problems."""
    src, problems = parse_source(_AlertWindowsDoc, doc, file)
    if src is None:
        return None, problems
    if src.kind != "AlertWindows" or src.api_version != CRD_API:
        return None, [kind_problem(doc, file, CRD_API, ["AlertWindows"])]

    def window(w: _WindowSpec) -> Window:
        return Window(w.error_budget_percent, w.short_window, w.long_window)

    def pair(t: _QuickSlow) -> tuple[Window, Window]:
        return window(t.quick), window(t.slow)

    s = src.spec
    return AlertWindows(s.slo_period, pair(s.page), pair(s.ticket), source=f"{file}'s"), []


def read_alert_windows(*paths: str | Path) -> dict[float, AlertWindows]:
    """Every AlertWindows document in ``paths`` (files or directories of *.yaml/*.yml), by SLO period,
    as Sloth's ``--slo-period-windows-path`` reads them; a period defined twice is an error."""
    from sloforge.spec import spec_files

    out: dict[float, AlertWindows] = {}
    where: dict[float, str] = {}
    errors: list[Problem] = []
    for f in (f for p in paths for f in spec_files(p)):
        docs, problems = read_documents(str(f), f.read_bytes())
        errors += problems
        for doc in docs:
            windows, problems = alert_windows(doc, str(f)) if isinstance(doc.data, dict) else (None, [])
            errors += problems
            if windows is None:
                continue
            if windows.period in out:
                errors.append(
                    Problem(
                        str(f),
                        doc.line_of(("spec", "sloPeriod")),
                        "spec.sloPeriod",
                        f"SLO period {format_duration(windows.period)} is already defined in {where[windows.period]}",
                    )
                )
            out.setdefault(windows.period, windows)
            where.setdefault(windows.period, str(f))
    if errors:
        raise SpecError(errors)
    return out


# ---------------------------------------------------------------- Sloth's spec formats


def _models(camel: bool) -> type[BaseModel]:
    """The SLO-spec models: snake_case keys for prometheus/v1, camelCase under the CRD's ``spec``."""

    class F(Foreign):
        model_config = ConfigDict(extra="forbid", alias_generator=to_camel if camel else None)

    class Alert(F):
        disable: bool = False
        labels: TextMap = Field(default_factory=dict)
        annotations: TextMap = Field(default_factory=dict)

    class Alerting(F):
        name: str = ""
        labels: TextMap = Field(default_factory=dict)
        annotations: TextMap = Field(default_factory=dict)
        page_alert: Alert = Field(default_factory=Alert)
        ticket_alert: Alert = Field(default_factory=Alert)

    class Events(F):
        error_query: str
        total_query: str

    class Raw(F):
        error_ratio_query: str

    class Plugin(F):
        id: str
        options: dict[str, Any] = Field(default_factory=dict)

    class SLI(F):
        raw: Raw | None = None
        events: Events | None = None
        plugin: Plugin | None = None

    class SLO(F):
        name: str
        description: str = ""
        objective: float
        labels: TextMap = Field(default_factory=dict)
        sli: SLI
        alerting: Alerting = Field(default_factory=Alerting)
        plugins: Any = None

    class Service(F):
        service: str
        labels: TextMap = Field(default_factory=dict)
        slos: list[SLO] = Field(default_factory=list)
        slo_plugins: Any = None

    return Service


_SlothSpec = _models(camel=False)
_CRDSpec = _models(camel=True)


class _FileDoc(_SlothSpec):
    version: str


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = ""
    namespace: str = ""


class _CRDDoc(Foreign):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: _Metadata = Field(default_factory=_Metadata)
    spec: _CRDSpec
    status: Any = None


@dataclass(frozen=True)
class _Options:
    period: float
    windows: dict[float, AlertWindows]


def make_loaders(period: str = DEFAULT_PERIOD, windows: dict[float, AlertWindows] | None = None) -> dict[str, Loader]:
    """Loaders for Sloth documents by apiVersion (``prometheus/v1`` is Sloth's ``version`` key).

    ``period`` is Sloth's ``--default-slo-period``: every imported SLO's window. ``windows`` replaces
    Sloth's built-in 30d and 28d windows, as ``--slo-period-windows-path`` does (``read_alert_windows``).
    """
    opts = _Options(parse_duration(period), DEFAULT_WINDOWS if windows is None else dict(windows))

    def file_loader(doc: YamlDoc, file: str) -> tuple[Spec | None, list[Problem]]:
        return _load(doc, file, _FileDoc, (), opts)

    def crd_loader(doc: YamlDoc, file: str) -> tuple[Spec | None, list[Problem]]:
        kind = doc.data.get("kind")
        if kind == "AlertWindows":
            return None, [
                Problem(
                    file,
                    doc.line_of(("kind",)),
                    "kind",
                    "AlertWindows sets Sloth's alert windows for an SLO period and is not an SLO spec: "
                    "give it to the importer (Sloth: --slo-period-windows-path) instead of loading it as a spec",
                )
            ]
        if kind != "PrometheusServiceLevel":
            return None, [kind_problem(doc, file, CRD_API, ["PrometheusServiceLevel", "AlertWindows"])]
        return _load(doc, file, _CRDDoc, ("spec",), opts)

    return {FILE_API: file_loader, CRD_API: crd_loader}


def _load(
    doc: YamlDoc, file: str, model: type[BaseModel], base: tuple, opts: _Options
) -> tuple[Spec | None, list[Problem]]:
    src, problems = parse_source(model, doc, file)
    if src is None:
        return None, problems
    draft = Draft(doc, file)
    svc = getattr(src, "spec", src)
    namespace = getattr(getattr(src, "metadata", None), "namespace", "")
    if namespace:
        draft.data["kubernetes"] = {"namespace": namespace}
        draft.mark(("kubernetes",), ("metadata", "namespace"))
    windows = opts.windows.get(opts.period)
    if windows is None:
        known = ", ".join(format_duration(p) for p in sorted(opts.windows)) or "none"
        draft.error(
            (),
            f"Sloth has no alert windows for a {format_duration(opts.period)} SLO period (known: {known}): "
            "give AlertWindows for it",
        )
    _service(draft, svc, base, opts.period, windows)
    return draft.finish()


def _service(d: Draft, svc: Any, base: tuple, period: float, windows: AlertWindows | None) -> None:
    d.data["service"] = svc.service
    d.mark(("service",), base + ("service",))
    if svc.labels:
        d.data["labels"] = texts(svc.labels)
        d.mark(("labels",), base + ("labels",))
    if svc.slo_plugins is not None:
        d.error(base + (key(svc, "slo_plugins"),), _plugins_message(svc.slo_plugins))
    d.mark(("slos",), base + ("slos",))
    d.data["slos"] = [_slo(d, slo, base + ("slos", i), ("slos", i), period, windows) for i, slo in enumerate(svc.slos)]


def _plugins_message(plugins: Any) -> str:
    chain = plugins.get("chain") if isinstance(plugins, dict) else None
    ids = [p.get("id") for p in chain if isinstance(p, dict)] if isinstance(chain, list) else []
    named = f" ({', '.join(str(i) for i in ids)})" if ids else ""
    return (
        f"Sloth SLO plugins{named} rewrite the generated rules in Go; sloforge does not run them, "
        "so the rules would silently differ: remove the plugins to import the SLOs"
    )


def _slo(d: Draft, s: Any, src: tuple, path: tuple, period: float, windows: AlertWindows | None) -> dict:
    out: dict[str, Any] = {"name": s.name, "objective": s.objective, "window": format_duration(period)}
    for f in ("name", "objective", "description", "labels"):
        d.mark(path + (f,), src + (f,))
    d.mark(path, src)
    d.mark(path + ("window",), src)
    if s.description:
        out["description"] = s.description
    if s.labels:
        out["labels"] = texts(s.labels)
    if s.plugins is not None:
        d.error(src + ("plugins",), _plugins_message(s.plugins))
    sli, by = _sli(d, s.sli, src + ("sli",))
    out["sli"] = sli
    d.mark(path + ("sli",), src + ("sli",))
    if by:
        out["by"] = list(by)
        d.mark(path + ("by",), src + ("sli",))
    out["alerting"] = _alerting(d, s, src, path, period, windows)
    return out


def _sli(d: Draft, sli: Any, src: tuple) -> tuple[dict, tuple[str, ...]]:
    given = [k for k in ("events", "raw", "plugin") if getattr(sli, k) is not None]
    if len(given) != 1:
        d.error(
            src,
            "give exactly one SLI kind: 'events', 'raw' or 'plugin'" + (f" (got {', '.join(given)})" if given else ""),
        )
        return {}, ()
    if sli.plugin is not None:
        d.error(
            src + ("plugin",),
            f"SLI plugin {sli.plugin.id!r} is Go code that Sloth runs; sloforge cannot run it: "
            "write the SLI as events (error_query / total_query) to import it",
        )
        return {}, ()
    if sli.raw is not None:
        field = src + ("raw", key(sli.raw, "error_ratio_query"))
        try:
            return raw_sli(sli.raw.error_ratio_query)
        except Unmappable as e:
            d.error(field, f"raw SLI {e.args[0]}")
            return {}, ()
    ev = sli.events
    try:
        native_sli, by = events_sli(ev.error_query, ev.total_query)
    except Unmappable as e:
        field = e.args[1] if len(e.args) > 1 and e.args[1] else "error_query"
        d.error(src + ("events", key(ev, field)), e.args[0])
        return {}, ()
    return native_sli, by


def _alerting(d: Draft, s: Any, src: tuple, path: tuple, period: float, windows: AlertWindows | None) -> dict:
    a = s.alerting
    asrc = src + ("alerting",)
    apath = path + ("alerting",)
    d.mark(apath, asrc)
    out: dict[str, Any] = {}
    if a.name:
        out["name"] = a.name
        d.mark(apath + ("name",), asrc + ("name",))
    tiers = {t: getattr(a, f"{t}_alert") for t in ("page", "ticket")}
    for tier, alert in tiers.items():
        tsrc = asrc + (key(a, f"{tier}_alert"),)
        d.mark(apath + (tier,), tsrc)
        if alert.disable:
            out[tier] = False
            continue
        if windows is not None:
            fitted = fit_windows(d, windows.tier(tier), s.objective, src + ("objective",), windows.source)
            out[tier] = fitted or False
        severity = texts(alert.labels).get("severity")
        if severity is not None:
            out[f"{tier}_severity"] = severity
            d.mark(apath + (f"{tier}_severity",), tsrc + ("labels", "severity"))
    enabled = {t: (asrc + (key(a, f"{t}_alert"),), alert) for t, alert in tiers.items() if not alert.disable}
    for what in ("labels", "annotations"):
        shared = texts(getattr(a, what))
        if shared:
            out[what] = shared
            d.mark(apath + (what,), asrc + (what,))
        for t, (tsrc, alert) in enabled.items():
            own = {k: v for k, v in texts(getattr(alert, what)).items() if (what, k) != ("labels", "severity")}
            if own:  # on this tier's alert only
                out[f"{t}_{what}"] = own
                d.mark(apath + (f"{t}_{what}",), tsrc + (what,))
    return out


LOADERS: dict[str, Loader] = make_loaders()
