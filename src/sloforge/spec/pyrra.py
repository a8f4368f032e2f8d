"""Pyrra specs -> ``Spec``: ``apiVersion: pyrra.dev/v1alpha1``, ``kind: ServiceLevelObjective``.

One Pyrra object is one SLO; it becomes a service of its own named after ``metadata.name`` (Pyrra has
no service), with one SLO of the same name. The indicator maps to sloforge SLIs: ``ratio`` to events
(bad/total), ``latency`` to a latency SLI (or events good/total when the bucket and count do not match),
``bool_gauge`` to a timeslice SLI judged every evaluation (good while the gauge is 1), ``grouping`` to
``by``. ``latencyNative`` (native histograms) has no sloforge SLI and is refused.

Alerting reproduces Pyrra's own multi-window alerts: Pyrra scales four windows from its 28-day set
(1h/5m 14x, 6h/30m 7x critical; 1d/2h 2x, 4d/6h 1x warning, each with a ``for``) to the SLO window,
with Go's integer duration division and rounding to the minute (``slo.Windows``); the critical ones
become the page tier, the warning ones the ticket tier.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sloforge.durations import DurationError, format_duration, parse_duration
from sloforge.model import Spec
from sloforge.promql import PromQLError, selector
from sloforge.spec.errors import Problem
from sloforge.spec.sloth import Draft, Foreign, Loader, TextMap, fit_windows, good_total_sli, kind_problem, parse_source
from sloforge.spec.yamlsafe import YamlDoc

API = "pyrra.dev/v1alpha1"
KIND = "ServiceLevelObjective"
PROPAGATE = "pyrra.dev/"  # metadata labels/annotations Pyrra copies (prefix stripped) onto its rules
DEFAULT_ALERT = "ErrorBudgetBurn"
EVALUATION_INTERVAL = "30s"  # Pyrra's burn-rate rule group interval

_NS = 10**9
_MINUTE = 60 * _NS
_DAY28 = 28 * 24

# Pyrra's slo.Windows: (severity, factor, window divisor for long, short, for); 28d -> 1h/5m/2m ...
PYRRA_WINDOWS = (
    ("critical", 14, _DAY28, _DAY28 * 12, _DAY28 * 30),
    ("critical", 7, 28 * 4, _DAY28 * 2, _DAY28 * 4),
    ("warning", 2, 28, 28 * 12, _DAY28),
    ("warning", 1, 7, 28 * 4, 28 * 8),
)
TIERS = {"critical": "page", "warning": "ticket"}


def _go_round_minute(ns: int) -> int:
    """Go's ``time.Duration.Round(time.Minute)`` for a positive duration: halves round up."""
    rest = ns % _MINUTE
    return ns - rest + (_MINUTE if rest * 2 >= _MINUTE else 0)


def pyrra_windows(window: float) -> list[tuple[str, dict]]:
    """``(severity, burn window)`` for an SLO window in seconds, exactly as Pyrra computes them."""
    total = round(window * _NS)

    def scaled(divisor: int) -> str:
        return format_duration(_go_round_minute(total // divisor) / _NS)

    return [
        (sev, {"burn_rate": factor, "long": scaled(long), "short": scaled(short), "for": scaled(for_)})
        for sev, factor, long, short, for_ in PYRRA_WINDOWS
    ]


# ---------------------------------------------------------------- Pyrra's CRD


class _Query(Foreign):
    metric: str


class _Ratio(Foreign):
    errors: _Query
    total: _Query
    grouping: list[str] = Field(default_factory=list)


class _Latency(Foreign):
    success: _Query
    total: _Query
    grouping: list[str] = Field(default_factory=list)


class _LatencyNative(Foreign):
    latency: str
    total: _Query
    grouping: list[str] = Field(default_factory=list)


class _BoolGauge(Foreign):
    metric: str
    grouping: list[str] = Field(default_factory=list)


class _Indicator(Foreign):
    ratio: _Ratio | None = None
    latency: _Latency | None = None
    latency_native: _LatencyNative | None = Field(default=None, alias="latencyNative")
    bool_gauge: _BoolGauge | None = None


class _Alerting(Foreign):
    disabled: bool | None = None
    burnrates: bool | None = None
    absent: bool | None = None
    name: str = ""
    absent_name: str = Field(default="", alias="absentName")


class _Spec(Foreign):
    description: str = ""
    target: str | float
    window: str
    indicator: _Indicator
    alerting: _Alerting = Field(default_factory=_Alerting)
    partial_response_strategy: str = ""
    performance_over_accuracy: bool = Field(default=False, alias="performanceOverAccuracy")
    rule_output: dict[str, Any] | None = Field(default=None, alias="ruleOutput")


class _Metadata(BaseModel):
    """Kubernetes object metadata: only name, namespace, labels and annotations matter here."""

    model_config = ConfigDict(extra="allow")
    name: str
    namespace: str = ""
    labels: TextMap = Field(default_factory=dict)
    annotations: TextMap = Field(default_factory=dict)


class _Doc(Foreign):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: _Metadata
    spec: _Spec
    status: Any = None


def to_spec(doc: YamlDoc, file: str) -> tuple[Spec | None, list[Problem]]:
    """A Pyrra ``ServiceLevelObjective`` as a one-SLO ``Spec``."""
    if doc.data.get("kind") != KIND:
        return None, [kind_problem(doc, file, API, [KIND])]
    src, problems = parse_source(_Doc, doc, file)
    if src is None:
        return None, problems
    d = Draft(doc, file)
    meta, spec = src.metadata, src.spec
    d.data.update(service=meta.name, evaluation_interval=EVALUATION_INTERVAL)
    d.mark(("service",), ("metadata", "name"))
    d.mark(("evaluation_interval",), ("spec",))
    if meta.namespace:
        d.data["kubernetes"] = {"namespace": meta.namespace}
        d.mark(("kubernetes",), ("metadata", "namespace"))
    labels = _propagated(meta.labels)
    if labels:
        d.data["labels"] = labels
        d.mark(("labels",), ("metadata", "labels"))
    _refuse_unsupported(d, spec)
    d.data["slos"] = [_slo(d, meta, spec)]
    return d.finish()


def _propagated(values: TextMap) -> dict[str, str]:
    return {k.removeprefix(PROPAGATE): str(v) for k, v in values.items() if k.startswith(PROPAGATE)}


def _refuse_unsupported(d: Draft, spec: _Spec) -> None:
    if spec.partial_response_strategy not in ("", "abort"):
        d.error(
            ("spec", "partial_response_strategy"),
            f"{spec.partial_response_strategy!r}: sloforge's Thanos Ruler groups always abort on partial "
            "responses (an SLO judged on partial data misleads); remove the field or set 'abort'",
        )
    if spec.rule_output is not None:
        d.error(
            ("spec", "ruleOutput"),
            "sloforge writes one rule file per service and cannot split short and long rules "
            "across Prometheus servers by label; remove ruleOutput",
        )
    if spec.alerting.absent_name:
        d.error(
            ("spec", "alerting", "absentName"),
            "sloforge generates no per-SLO absent alert, so its name cannot be imported; "
            "remove absentName (write an 'absent(...)' alert in the native 'alerts' list if you need one)",
        )


def _slo(d: Draft, meta: _Metadata, spec: _Spec) -> dict:
    path = ("slos", 0)
    d.mark(path, ("spec",))
    out: dict[str, Any] = {"name": meta.name, "window": spec.window}
    d.mark(path + ("name",), ("metadata", "name"))
    d.mark(path + ("window",), ("spec", "window"))
    objective = _objective(d, spec.target)
    if objective is not None:
        out["objective"] = objective
        d.mark(path + ("objective",), ("spec", "target"))
    if spec.description:
        out["description"] = spec.description
        d.mark(path + ("description",), ("spec", "description"))
    sli, by = _sli(d, spec.indicator)
    out["sli"] = sli
    d.mark(path + ("sli",), ("spec", "indicator"))
    if by:
        out["by"] = by
        d.mark(path + ("by",), ("spec", "indicator"))
    if objective is not None:
        out["alerting"] = _alerting(d, meta, spec, objective)
        d.mark(path + ("alerting",), ("spec", "window"))
    return out


def _objective(d: Draft, target: str | float) -> float | None:
    """Pyrra's target is a percent written as a string ("99.5")."""
    try:
        value = float(target)
    except ValueError:
        d.error(("spec", "target"), f"{target!r} is not a number: write the target as a percent, e.g. '99.5'")
        return None
    if 0 < value < 1:
        d.error(("spec", "target"), f"target {value:g} is a percent in Pyrra (0-100): did you mean '{value * 100:g}'?")
        return None
    return value


def _sli(d: Draft, ind: _Indicator) -> tuple[dict, list[str]]:
    src = ("spec", "indicator")
    given = [k for k in ("ratio", "latency", "latency_native", "bool_gauge") if getattr(ind, k) is not None]
    if len(given) != 1:
        names = ", ".join(_indicator_key(k) for k in given)
        d.error(
            src,
            "give exactly one of ratio, latency, latencyNative or bool_gauge" + (f" (got {names})" if names else ""),
        )
        return {}, []
    if ind.latency_native is not None:
        d.error(
            src + ("latencyNative",),
            "native histograms (histogram_fraction) have no sloforge SLI: sloforge's latency SLI reads a "
            "classic histogram's _bucket{le} and _count; use indicator.latency with a classic histogram, "
            "or a native timeslice SLI",
        )
        return {}, []
    if ind.ratio is not None:
        r = ind.ratio
        bad = _selector(d, src + ("ratio", "errors", "metric"), r.errors.metric)
        total = _selector(d, src + ("ratio", "total", "metric"), r.total.metric)
        return {"events": {"bad": bad, "total": total}}, list(r.grouping)
    if ind.latency is not None:
        lat = ind.latency
        good = _selector(d, src + ("latency", "success", "metric"), lat.success.metric)
        total = _selector(d, src + ("latency", "total", "metric"), lat.total.metric)
        if good is None or total is None:
            return {}, []
        return good_total_sli(selector(good), selector(total)), list(lat.grouping)
    assert ind.bool_gauge is not None
    gauge = _selector(d, src + ("bool_gauge", "metric"), ind.bool_gauge.metric)
    # Pyrra: errors = samples - sum of samples, over raw samples of a 0/1 gauge; here: the share of
    # series below 1, judged every evaluation (the same when scrape and evaluation intervals match)
    return {"timeslice": {"expr": gauge, "min": 1}}, list(ind.bool_gauge.grouping)


def _indicator_key(field: str) -> str:
    return _Indicator.model_fields[field].alias or field


def _selector(d: Draft, src: tuple, text: str) -> str | None:
    try:
        return selector(text).render()
    except PromQLError as e:
        d.error(src, f"Pyrra needs a plain series selector here: {e}")
        return None


def _alerting(d: Draft, meta: _Metadata, spec: _Spec, objective: float) -> dict:
    a = spec.alerting
    path = ("slos", 0, "alerting")
    out: dict[str, Any] = {"name": a.name or DEFAULT_ALERT}
    d.mark(path + ("name",), ("spec", "alerting", "name"))
    annotations = _propagated(meta.annotations)
    if annotations:
        out["annotations"] = annotations
        d.mark(path + ("annotations",), ("metadata", "annotations"))
    if a.disabled or a.burnrates is False:
        return {**out, "page": False, "ticket": False}
    try:
        window = parse_duration(spec.window)
    except DurationError:
        return out  # the native window check reports it
    tiers: dict[str, list[dict]] = {"page": [], "ticket": []}
    for severity, bw in pyrra_windows(window):
        tiers[TIERS[severity]].append(bw)
    for tier, windows in tiers.items():
        out[tier] = fit_windows(d, windows, objective, ("spec", "window"), f"Pyrra's {spec.window}") or False
    return out


LOADERS: dict[str, Loader] = {API: to_spec}
