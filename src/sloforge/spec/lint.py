"""Warnings: the spec is valid but probably not what its author meant."""

from __future__ import annotations

import difflib

from sloforge.durations import format_duration
from sloforge.generate import alert_tests
from sloforge.model import Bundle, Spec
from sloforge.promql import PromQLError, metric_names, selector, selectors

# series every Prometheus has, never declared by a service
_BUILTIN = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped"}


def spec_warnings(spec: Spec) -> list[tuple[tuple, str]]:
    out: list[tuple[tuple, str]] = []
    out += _latency_bounds(spec)
    out += _undeclared(spec)
    out += _short_for(spec)
    out += _low_traffic(spec)
    out += _timeslice_bounds(spec)
    out += _counter_suffix(spec)
    out += untestable_alerts(spec)
    return out


def untestable_alerts(spec: Spec | Bundle) -> list[tuple[tuple, str]]:
    """Alerts without ``test:`` for which the generator finds no breaching and healthy input."""
    return [
        (("alerts", i, "expr"), f"no promtool test can be derived ({reason}); add alerts[{i}].test")
        for i, reason in alert_tests.untestable(spec).items()
    ]


def _counter_suffix(spec: Spec) -> list[tuple[tuple, str]]:
    """prometheus_client and OpenMetrics expose a counter as ``<name>_total`` (client_golang's text format does not)."""
    return [
        (
            ("metrics", i, "name"),
            f"counter {m.name!r} has no '_total' suffix: prometheus_client and OpenMetrics expose it as "
            f"'{m.name}_total', and PromQL on the declared name then finds nothing",
        )
        for i, m in enumerate(spec.metrics)
        if m.type == "counter" and not m.name.endswith("_total")
    ]


def _timeslice_bounds(spec: Spec) -> list[tuple[tuple, str]]:
    """A quantile of a histogram never exceeds its highest finite bucket boundary."""
    out = []
    for i, slo in enumerate(spec.slos):
        ts = slo.sli.timeslice
        if not ts or ts.max is None or "histogram_quantile" not in ts.expr:
            continue
        try:
            found = selectors(ts.expr)
        except PromQLError:
            continue
        for sel in found:
            metric = spec.metric(sel.name)
            if metric is None or metric.type != "histogram":
                continue
            top = metric.bucket_bounds()[-1]
            if ts.max >= top:
                out.append(
                    (
                        ("slos", i, "sli", "timeslice", "max"),
                        f"max {ts.max:g} is not below the highest bucket boundary of {metric.name!r} ({top:g}): "
                        "histogram_quantile never exceeds it, so no slice can be bad",
                    )
                )
    return out


def _latency_bounds(spec: Spec) -> list[tuple[tuple, str]]:
    out = []
    for i, slo in enumerate(spec.slos):
        lat = slo.sli.latency
        if not lat:
            continue
        try:
            base = selector(lat.histogram).name.removesuffix("_bucket")
        except PromQLError:
            continue
        metric = spec.metric(base)
        if metric is None or metric.type != "histogram":
            continue
        bounds = metric.bucket_bounds()
        if not any(abs(b - lat.le) <= 1e-9 * max(1.0, abs(b)) for b in bounds):
            nearest = min(bounds, key=lambda b: abs(b - lat.le))
            out.append(
                (
                    (("slos", i, "sli", "latency", "le")),
                    f"le {lat.le:g} is not a bucket boundary of {base!r} "
                    f"(nearest: {nearest:g}); the SLI would have no data",
                )
            )
    return out


def _referenced(spec: Spec) -> list[tuple[tuple, str]]:
    refs: list[tuple[tuple, str]] = []
    for i, slo in enumerate(spec.slos):
        sli = slo.sli
        if sli.events:
            for f in ("good", "bad", "total"):
                if getattr(sli.events, f):
                    refs.append((("slos", i, "sli", "events", f), getattr(sli.events, f)))
        elif sli.latency:
            refs.append((("slos", i, "sli", "latency", "histogram"), sli.latency.histogram))
        elif sli.timeslice:
            refs.append((("slos", i, "sli", "timeslice", "expr"), sli.timeslice.expr))
    refs += [(("alerts", i, "expr"), a.expr) for i, a in enumerate(spec.alerts)]
    refs += [(("queries", i, "expr"), q.expr) for i, q in enumerate(spec.queries)]
    for i, p in enumerate(spec.dashboard):
        refs += [(("dashboard", i, "targets", j, "expr"), t.expr) for j, t in enumerate(p.targets)]
    return refs


def _undeclared(spec: Spec) -> list[tuple[tuple, str]]:
    if not spec.metrics:
        return []  # nothing declared: the spec does not claim to list its metrics
    known = [n for m in spec.metrics for n in m.series_names()]
    out = []
    for path, expr in _referenced(spec):
        try:
            names = metric_names(expr)
        except PromQLError:
            continue
        for name in names:
            if name in _BUILTIN or ":" in name or spec.metric(name):
                continue
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.append((path, f"metric {name!r} is used but not declared in 'metrics'{hint}"))
    return out


def _short_for(spec: Spec) -> list[tuple[tuple, str]]:
    out = []
    interval = spec.evaluation_interval
    for i, a in enumerate(spec.alerts):
        if a.for_ is not None and 0 < a.for_ < interval:
            out.append(
                (
                    (("alerts", i, "for")),
                    f"for: {format_duration(a.for_)} is shorter than the rule-group interval "
                    f"({format_duration(interval)}): it acts as for: {format_duration(interval)}",
                )
            )
    for i, slo in enumerate(spec.slos):
        for tier in ("page", "ticket"):
            for j, bw in enumerate(getattr(slo.alerting, tier)):
                if bw.for_ and bw.for_ < interval:
                    out.append(
                        (
                            (("slos", i, "alerting", tier, j, "for")),
                            f"for: {format_duration(bw.for_)} is shorter than the rule-group "
                            f"interval ({format_duration(interval)})",
                        )
                    )
    return out


def _low_traffic(spec: Spec) -> list[tuple[tuple, str]]:
    out = []
    for i, slo in enumerate(spec.slos):
        if not slo.expected_rate or slo.sli.timeslice:
            continue
        budget_events = slo.error_budget * slo.expected_rate * slo.window
        if budget_events < 1:
            out.append(
                (
                    (("slos", i, "objective" if slo.objective is not None else "target")),
                    f"at {slo.expected_rate:g} events/s the {format_duration(slo.window)} budget "
                    f"is {budget_events:.2f} events: one failure breaks the SLO",
                )
            )
            continue
        for tier in ("page", "ticket"):
            for j, bw in enumerate(getattr(slo.alerting, tier)):
                events = slo.expected_rate * bw.long
                if events and 1.0 / events > bw.burn_rate * slo.error_budget:
                    out.append(
                        (
                            (("slos", i, "alerting", tier, j)),
                            f"at {slo.expected_rate:g} events/s a single failure in "
                            f"{format_duration(bw.long)} exceeds burn rate {bw.burn_rate:g}: "
                            "this alert fires on one error",
                        )
                    )
    return out
