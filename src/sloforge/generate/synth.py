"""Synthetic input series for an SLO's SLI: label sets that match (or miss) its selectors.

Used by the promtool test generator; kept apart because the engine's
simulations need the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from re import _parser as sre  # the stdlib's own regex parser

from sloforge.model import SLO, Spec
from sloforge.promql import Matcher, Selector, number, selector, selectors

_COMMON = [
    "",
    "sloforge",
    "500",
    "503",
    "429",
    "404",
    "200",
    "201",
    "completed",
    "failed",
    "success",
    "error",
    "ok",
    "true",
    "false",
    "0",
    "1",
    "GET",
    "POST",
]


class Unsynthesizable(ValueError):
    pass


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def regex_example(pattern: str) -> str | None:
    """A string that fully matches ``pattern`` (Go RE2 syntax, as Prometheus anchors it)."""
    try:
        tree = sre.parse(pattern)
    except re.error:
        return None
    text = _emit(tree)
    if text is not None and re.fullmatch(pattern, text):
        return text
    return None


def _emit(items) -> str | None:  # noqa: C901 - a small interpreter over sre opcodes
    out = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(arg) != "a" else "b")
        elif name == "ANY":
            out.append("x")
        elif name == "IN":
            ch = _in(arg)
            if ch is None:
                return None
            out.append(ch)
        elif name == "BRANCH":
            s = _emit(arg[1][0])
            if s is None:
                return None
            out.append(s)
        elif name == "SUBPATTERN":
            s = _emit(arg[-1])
            if s is None:
                return None
            out.append(s)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, _hi, sub = arg
            s = _emit(sub)
            if s is None:
                return None
            out.append(s * lo)
        elif name == "AT":
            continue
        else:
            return None
    return "".join(out)


def _in(items) -> str | None:
    negate = any(str(op) == "NEGATE" for op, _ in items)
    if negate:
        for c in "azZ09_-x":
            if re.fullmatch("[" + "".join(_in_text(items)) + "]", c):
                return c
        return None
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            return chr(arg)
        if name == "RANGE":
            return chr(arg[0])
        if name == "CATEGORY":
            cat = str(arg)
            return {"CATEGORY_DIGIT": "0", "CATEGORY_WORD": "a", "CATEGORY_SPACE": " "}.get(cat, "a")
    return None


def _in_text(items) -> list[str]:
    parts = []
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            parts.append("^")
        elif name == "LITERAL":
            parts.append(re.escape(chr(arg)))
        elif name == "RANGE":
            parts.append(f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}")
        elif name == "CATEGORY":
            parts.append({"CATEGORY_DIGIT": r"\d", "CATEGORY_WORD": r"\w", "CATEGORY_SPACE": r"\s"}.get(str(arg), ""))
    return parts


def value_for(constraints: list[tuple[Matcher, bool]]) -> str | None:
    """A label value meeting every ``(matcher, should_match)``; '' means the label is absent."""
    candidates = list(_COMMON)
    for m, _want in constraints:
        if m.op == "=":
            candidates.insert(0, m.value)
        elif m.op in ("=~", "!~"):
            ex = regex_example(m.value)
            if ex is not None:
                candidates.insert(0, ex)
    for c in candidates:
        if all(m.matches(c) == want for m, want in constraints):
            return c
    return None


def labels_matching(sel: Selector, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Labels of a series that ``sel`` selects (plus ``extra``, which must be compatible)."""
    labels = dict(extra or {})
    by_label: dict[str, list[tuple[Matcher, bool]]] = {}
    for m in sel.matchers:
        by_label.setdefault(m.name, []).append((m, True))
    for name, cons in by_label.items():
        if name in labels:
            if not all(m.matches(labels[name]) for m, _ in cons):
                raise Unsynthesizable(f"label {name}={labels[name]!r} conflicts with {sel.render()}")
            continue
        v = value_for(cons)
        if v is None:
            raise Unsynthesizable(f"no value of {name!r} matches {sel.render()}")
        if v:
            labels[name] = v
    return labels


def labels_matching_not(sel: Selector, avoid: Selector, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Labels selected by ``sel`` but not by ``avoid`` (same metric name)."""
    base = labels_matching(sel, extra)
    sel_cons: dict[str, list[tuple[Matcher, bool]]] = {}
    for m in sel.matchers:
        sel_cons.setdefault(m.name, []).append((m, True))
    for m in avoid.matchers:
        if m in sel.matchers or (extra and m.name in extra):
            continue
        v = value_for(sel_cons.get(m.name, []) + [(m, False)])
        if v is not None:
            out = dict(base)
            if v:
                out[m.name] = v
            else:
                out.pop(m.name, None)
            if not all(x.matches(out.get(x.name, "")) for x in avoid.matchers):
                return out
    raise Unsynthesizable(f"every series of {sel.render()} is also selected by {avoid.render()}")


def series_text(name: str, labels: dict[str, str]) -> str:
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return f"{name}{{{body}}}" if body else name


def sli_series(spec: Spec, slo: SLO, by_values: dict[str, str]) -> tuple[list[str], list[str]]:
    """Series names for ``(error events, good events)`` whose increments drive the SLI.

    Each bad event increases every series of the first list by one; each good
    event every series of the second list; the SLI's total is their sum.
    """
    sli = slo.sli
    if sli.events:
        total = selector(sli.events.total)
        if sli.events.bad:
            bad = selector(sli.events.bad)
            if bad.name == total.name:
                bad_l = labels_matching(_merge(bad, total), by_values)
                good_l = labels_matching_not(total, bad, by_values)
                return [series_text(bad.name, bad_l)], [series_text(total.name, good_l)]
            bad_s = series_text(bad.name, labels_matching(bad, by_values))
            tot_s = series_text(total.name, labels_matching(total, by_values))
            return [bad_s, tot_s], [tot_s]
        good = selector(sli.events.good or "")
        if good.name == total.name:
            good_l = labels_matching(_merge(good, total), by_values)
            bad_l = labels_matching_not(total, good, by_values)
            return [series_text(total.name, bad_l)], [series_text(good.name, good_l)]
        good_s = series_text(good.name, labels_matching(good, by_values))
        tot_s = series_text(total.name, labels_matching(total, by_values))
        return [tot_s], [good_s, tot_s]
    if sli.latency:
        sel = selector(sli.latency.histogram)
        base = sel.name.removesuffix("_bucket")
        labels = labels_matching(sel, by_values)
        count = series_text(base + "_count", labels)
        bucket = series_text(base + "_bucket", {**labels, "le": number(sli.latency.le)})
        return [count], [count, bucket]
    raise Unsynthesizable("timeslice SLIs have no event series")


@dataclass
class SeriesPlan:
    """How to drive an SLI: counters per bad/good event, gauges per state."""

    bad: list[str]
    good: list[str]
    gauges: dict[str, tuple[float, float]] = field(default_factory=dict)  # series -> (good, bad) value
    binary: bool = False  # timeslice: each step is wholly good or wholly bad


def sli_plan(spec: Spec, slo: SLO, by_values: dict[str, str]) -> SeriesPlan:
    if slo.sli.timeslice is None:
        bad, good = sli_series(spec, slo, by_values)
        return SeriesPlan(bad, good)
    return _timeslice_plan(spec, slo, by_values)


def _timeslice_plan(spec: Spec, slo: SLO, by_values: dict[str, str]) -> SeriesPlan:
    """Timeslice expressions over declared histograms (quantiles) or gauges.

    A low observation lands in every bucket, a high one only in ``+Inf``, so the
    quantile of a step is the lowest or the highest boundary.
    """
    ts = slo.sli.timeslice
    assert ts is not None
    plan = SeriesPlan([], [], binary=True)
    found = selectors(ts.expr)
    if not found:
        raise Unsynthesizable("the timeslice expression reads no series")
    for sel in found:
        metric = spec.metric(sel.name)
        if metric is None:
            raise Unsynthesizable(f"{sel.name!r} is not declared in 'metrics'")
        labels = labels_matching(sel, {k: v for k, v in by_values.items() if k in metric.labels})
        if metric.type == "histogram" and sel.name == metric.name + "_bucket":
            bounds = metric.bucket_bounds()
            high = [series_text(sel.name, {**labels, "le": "+Inf"})]
            low = [series_text(sel.name, {**labels, "le": le}) for le in [*map(number, bounds), "+Inf"]]
            if ts.max is not None:
                if bounds[-1] <= ts.max or bounds[0] > ts.max:
                    raise Unsynthesizable(f"max {ts.max:g} is outside the buckets of {metric.name!r}")
                plan.bad += high
                plan.good += low
            else:
                assert ts.min is not None
                if bounds[0] >= ts.min or bounds[-1] < ts.min:
                    raise Unsynthesizable(f"min {ts.min:g} is outside the buckets of {metric.name!r}")
                plan.bad += low
                plan.good += high
        elif metric.type == "gauge" and sel.name == metric.name:
            if plan.gauges:
                # later gauges (e.g. a baseline the first one is divided by) hold at 1: only the first decides
                plan.gauges.setdefault(series_text(sel.name, labels), (1.0, 1.0))
                continue
            bound = ts.max if ts.max is not None else ts.min
            assert bound is not None
            above, below = (bound * 2, bound / 2) if bound > 0 else (bound + 1, bound - 1)
            good, bad = (below, above) if ts.max is not None else (above, below)
            plan.gauges[series_text(sel.name, labels)] = (good, bad)
        else:
            raise Unsynthesizable(f"cannot synthesize {sel.name!r} ({metric.type}) for a timeslice")
    return plan


def _merge(a: Selector, b: Selector) -> Selector:
    return Selector(a.name, tuple(dict.fromkeys(a.matchers + b.matchers)))
