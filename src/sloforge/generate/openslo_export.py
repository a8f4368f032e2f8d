"""sloforge specs -> OpenSLO v1 documents (multi-document YAML).

Per spec: one ``Service``; per SLO one ``SLO`` with its SLI inline and one inline ``AlertPolicy``
(holding one burn-rate ``AlertCondition``) per burn window of its page and ticket tiers; once per
file the ``AlertNotificationTarget`` documents those policies name. ``sloforge.spec.openslo`` reads
the result back to the same SLOs (objective, window, SLI, alert tiers and factors, grouping).

What OpenSLO cannot hold is listed in a comment at the top of the output (``openslo_losses``); with
``strict=True`` any loss is an ``ExportError`` instead. Things that would make an invalid OpenSLO
document (names that are no DNS label, durations that are no whole minutes) are always an error.
The mapping is documented in docs/migrate-openslo.md.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache

from sloforge.durations import format_duration
from sloforge.generate.yamlout import dump
from sloforge.model import SLO, Spec
from sloforge.promql import Matcher, Selector, number, selector
from sloforge.spec.openslo import ALERTMANAGER_TARGET, TARGET_LABEL, V1, short_window

__all__ = ["ExportError", "openslo_losses", "to_openslo"]

DESCRIPTION_MAX = 1050  # OpenSLO's limit on descriptions
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")  # RFC 1123 label, as OpenSLO's reference SDK checks
_LABEL_VALUE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$")
_UNITS = (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60))
_WINDOW = "{{.window}}"
# Spec fields an OpenSLO Service or SLO carries; every other field the author set is reported as not exported
_SPEC_EXPORTED = frozenset({"api_version", "kind", "service", "description", "labels", "slos", "source_file"})


class ExportError(ValueError):
    """The specs cannot be written as valid OpenSLO (or, with ``strict``, not without losing something)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class _Out:
    docs: list[dict] = field(default_factory=list)
    targets: dict[str, dict] = field(default_factory=dict)
    losses: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def shorthand(seconds: float) -> str | None:
    """OpenSLO's duration shorthand in the largest whole unit (``28d`` -> ``4w``); None below whole minutes."""
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return None


def _duration(seconds: float, where: str, out: _Out) -> str:
    text = shorthand(seconds)
    if text is None:
        out.errors.append(f"{where}: {format_duration(seconds)} is no whole number of minutes, which OpenSLO needs")
        return format_duration(seconds)
    return text


def _name(name: str, where: str, out: _Out) -> str:
    if not _NAME.match(name):
        out.errors.append(f"{where}: {name!r} is no OpenSLO name (lowercase letters, digits and '-', at most 63)")
    return name


def _labels(labels: dict[str, str], where: str, out: _Out) -> dict[str, str | list[str]]:
    """Label values as OpenSLO allows them; ``a,b`` (how the loader joins a list) as the list ``[a, b]``."""
    values = {k: v.split(",") if "," in v else v for k, v in labels.items()}
    bad = sorted(k for k, v in values.items() if not all(map(_LABEL_VALUE.match, v if isinstance(v, list) else [v])))
    if bad:
        out.losses.append(f"{where}: labels {', '.join(bad)} (OpenSLO label values are at most 63 of a-z, 0-9, ._-)")
    return {k: values[k] for k in sorted(values) if k not in bad}


def _description(text: str, where: str, out: _Out) -> dict:
    if not text:
        return {}
    if len(text) > DESCRIPTION_MAX:
        out.losses.append(f"{where}: description cut to OpenSLO's {DESCRIPTION_MAX} characters")
    return {"description": text[:DESCRIPTION_MAX]}


# ---------------------------------------------------------------- SLIs


def _source(query: str) -> dict:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def _rate(sel: str, by: list[str]) -> str:
    agg = f"sum by ({', '.join(by)}) " if by else "sum"
    return f"{agg}(rate({sel.strip()}[{_WINDOW}]))"


def _ratio(slo: SLO) -> dict:
    """events and latency SLIs: a counter ratio (good or bad over total), grouping as ``sum by``."""
    if slo.sli.latency:
        hist = selector(slo.sli.latency.histogram)
        base = hist.name.removesuffix("_bucket")
        bucket = Selector(base + "_bucket", hist.matchers + (Matcher("le", "=", number(slo.sli.latency.le)),))
        parts = {"good": bucket.render(), "total": Selector(base + "_count", hist.matchers).render()}
    else:
        ev = slo.sli.events
        assert ev
        parts = {"good": ev.good, "total": ev.total} if ev.good else {"bad": ev.bad, "total": ev.total}
    return {"ratioMetric": {"counter": True, **{k: _source(_rate(v, slo.by)) for k, v in parts.items() if v}}}


def _op(ts) -> tuple[str, float]:
    """``max``/``min`` as an objective's op and value; a bound just below (above) a short number is ``lt`` (``gt``),
    which is how the loader writes a strict comparison."""
    key = "max" if ts.max is not None else "min"
    bound = ts.max if ts.max is not None else ts.min
    near = math.nextafter(bound, math.inf if key == "max" else -math.inf)
    if len(repr(near)) < len(repr(bound)):
        return ("lt" if key == "max" else "gt"), near
    return ("lte" if key == "max" else "gte"), bound


def _sli(slo: SLO, where: str, out: _Out) -> tuple[dict, str, dict]:
    """(indicator spec, budgeting method, objective fields of the SLI)."""
    ts = slo.sli.timeslice
    if ts is None:
        if slo.by:
            out.losses.append(
                f"{where}: by [{', '.join(slo.by)}] is written as 'sum by' in the queries; OpenSLO has no grouping, "
                "so tools that expect one SLI series may read it as one SLO"
            )
        return _ratio(slo), "Occurrences", {}
    if slo.by:
        out.losses.append(f"{where}: by [{', '.join(slo.by)}] (OpenSLO has no grouping for a threshold metric)")
    op, value = _op(ts)
    objective = {"op": op, "value": value, "timeSliceTarget": 1, "timeSliceWindow": _duration(ts.slice, where, out)}
    return {"thresholdMetric": _source(ts.expr)}, "Timeslices", objective


# ---------------------------------------------------------------- alerting


def _targets(slo: SLO, tier: str, out: _Out) -> list[dict]:
    label = slo.alerting.labels.get(TARGET_LABEL.format(tier=tier))
    names = [n for n in (label or "").split(",") if n] or [ALERTMANAGER_TARGET]
    for name in names:
        out.targets.setdefault(name, _doc("AlertNotificationTarget", {"name": name}, {"target": name}))
    return [{"targetRef": n} for n in names]


def _policies(slo: SLO, slo_name: str, where: str, out: _Out) -> list[dict]:
    policies = []
    for tier in ("page", "ticket"):
        for j, bw in enumerate(getattr(slo.alerting, tier)):
            at = f"{where}: alerting.{tier}[{j}]"
            name = _name(f"{slo_name}-{tier}-{j}", at, out)
            condition = {
                "kind": "burnrate",
                "op": "gt",
                "threshold": bw.burn_rate,
                "lookbackWindow": _duration(bw.long, at, out),
            }
            if bw.for_:
                condition["alertAfter"] = _duration(bw.for_, at, out)
            if bw.short != short_window(bw.long):
                out.losses.append(
                    f"{at}: short window {format_duration(bw.short)} (OpenSLO has one lookback window; "
                    f"sloforge reads back long/12 = {format_duration(short_window(bw.long))})"
                )
            inline = {"kind": "AlertCondition", "metadata": {"name": name}}
            policies.append(
                {
                    "kind": "AlertPolicy",
                    "metadata": {"name": name},
                    "spec": {
                        "alertWhenBreaching": True,
                        "conditions": [{**inline, "spec": {"severity": tier, "condition": condition}}],
                        "notificationTargets": _targets(slo, tier, out),
                    },
                }
            )
    if not policies:
        out.losses.append(f"{where}: alerting off (an OpenSLO SLO without alert policies reads back with defaults)")
    return policies


@cache
def _defaults() -> SLO:
    return SLO.model_validate({"name": "x", "target": 0.5, "sli": {"events": {"bad": "x", "total": "x"}}})


def _slo_losses(slo: SLO, where: str, out: _Out) -> None:
    d = _defaults()
    unsaid = [f for f in ("runbook", "expected_rate") if getattr(slo, f) != getattr(d, f)]
    unsaid += [
        f"alerting.{f}"
        for f in ("name", "annotations", "runbook_url", "page_severity", "ticket_severity")
        if getattr(slo.alerting, f) != getattr(d.alerting, f)
    ]
    targets = {TARGET_LABEL.format(tier=t) for t in ("page", "ticket")}
    unsaid += [f"alerting.labels.{k}" for k in sorted(slo.alerting.labels) if k not in targets]
    if unsaid:
        out.losses.append(f"{where}: {', '.join(unsaid)}")


# ---------------------------------------------------------------- documents


def _doc(kind: str, metadata: dict, spec: dict) -> dict:
    return {"apiVersion": V1, "kind": kind, "metadata": metadata, "spec": spec}


def _slo_doc(spec: Spec, slo: SLO, name: str, out: _Out) -> dict:
    where = f"{spec.service}/{slo.name}"
    if name != slo.name:
        out.losses.append(f"{where}: named {name!r} (OpenSLO names are unique per file; it reads back so)")
    meta: dict = {"name": _name(name, where, out)}
    if slo.title:
        meta["displayName"] = slo.title
    if slo.labels:
        meta["labels"] = _labels(slo.labels, where, out)
    indicator, method, objective = _sli(slo, where, out)
    goal = {"target": slo.target} if slo.target is not None else {"targetPercent": slo.objective}
    body = {
        **_description(slo.description, where, out),
        "service": spec.service,
        "indicator": {"metadata": {"name": name}, "spec": indicator},
        "timeWindow": [{"duration": _duration(slo.window, where, out), "isRolling": True}],
        "budgetingMethod": method,
        "objectives": [{**objective, **goal}],
    }
    if policies := _policies(slo, name, where, out):
        body["alertPolicies"] = policies
    _slo_losses(slo, where, out)
    return _doc("SLO", meta, body)


def _service(spec: Spec, out: _Out) -> dict:
    meta: dict = {"name": _name(spec.service, spec.service, out)}
    if spec.labels:
        meta["labels"] = _labels(spec.labels, spec.service, out)
    outside = sorted(spec.model_fields_set - _SPEC_EXPORTED)
    if spec.evaluation_interval == 60 and "evaluation_interval" in outside:
        outside.remove("evaluation_interval")
    if outside:
        out.losses.append(f"{spec.service}: {', '.join(outside)} (outside OpenSLO's scope)")
    return _doc("Service", meta, _description(spec.description, spec.service, out))


def _export(specs: list[Spec]) -> _Out:
    """Documents of all ``specs``; an SLO name two services share is prefixed with its service."""
    out = _Out()
    services, slos = [], []
    names = Counter(slo.name for spec in specs for slo in spec.slos)
    for spec in sorted(specs, key=lambda s: s.service):
        services.append(_service(spec, out))
        for slo in spec.slos:
            name = f"{spec.service}-{slo.name}" if names[slo.name] > 1 else slo.name
            slos.append(_slo_doc(spec, slo, name, out))
    out.docs = services + [out.targets[n] for n in sorted(out.targets)] + slos
    return out


def openslo_losses(specs: list[Spec]) -> list[str]:
    """What the OpenSLO export of ``specs`` does not carry, one line per spec or SLO."""
    return _export(specs).losses


def to_openslo(specs: list[Spec], *, strict: bool = False) -> str:
    """OpenSLO v1 multi-document YAML for ``specs``, byte-identical for the same input."""
    out = _export(specs)
    if out.errors or (strict and out.losses):
        raise ExportError(out.errors + ([f"not carried over: {loss}" for loss in out.losses] if strict else []))
    sources = ", ".join(sorted({s.source_file or s.service for s in specs})) or "no specs"
    header = f"# {V1} documents exported by sloforge from {sources}.\n"
    if out.losses:
        header += "# Not carried over (OpenSLO has no place for it):\n"
        header += "".join(f"#   {loss}\n" for loss in out.losses)
    return header + "---\n".join(dump(doc) for doc in out.docs)
