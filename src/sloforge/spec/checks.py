"""Checks across fields that the typed model alone cannot make (errors, not warnings)."""

from __future__ import annotations

from sloforge import conventions as C
from sloforge.model import SLO, Alert, Bundle, Panel, Record, Spec
from sloforge.promql import PromQLError, check, selector


def spec_errors(spec: Spec) -> list[tuple[tuple, str]]:
    """``(path, message)`` for every cross-field error in one spec."""
    out: list[tuple[tuple, str]] = []
    seen: dict[str, int] = {}
    for i, slo in enumerate(spec.slos):
        if slo.name in seen:
            out.append((("slos", i, "name"), f"duplicate SLO name {slo.name!r} (first at slos[{seen[slo.name]}])"))
        seen.setdefault(slo.name, i)
        out += [(("slos", i) + p, m) for p, m in _slo_errors(spec, slo)]
    out += _rules_and_panels(spec.alerts, spec.records, spec.queries, spec.dashboard)
    out += _runbook_errors(spec)
    for d, dash in enumerate(spec.dashboards):
        out += [(("dashboards", d) + p, m) for p, m in _rules_and_panels([], [], [], dash.panels, "panels")]
    out += _routing_errors(spec)
    names: dict[str, int] = {}
    for i, m in enumerate(spec.metrics):
        if m.name in names:
            out.append((("metrics", i, "name"), f"metric {m.name!r} is declared twice"))
        names.setdefault(m.name, i)
    return out


RESERVED_BY = (C.LABEL_SERVICE, C.LABEL_SLO, C.LABEL_WINDOW)


def _slo_errors(spec: Spec, slo: SLO) -> list[tuple[tuple, str]]:
    out: list[tuple[tuple, str]] = []
    for i, label in enumerate(slo.by):
        if label in RESERVED_BY:
            out.append((("by", i), f"{label!r} is a label sloforge sets on every SLO series; rename it in the metric"))
    sli = slo.sli
    by_checked: set[str] = set()
    if sli.events:
        for field in ("good", "bad", "total"):
            expr = getattr(sli.events, field)
            if expr is None:
                continue
            path = ("sli", "events", field)
            if err := check(expr):
                out.append((path, f"PromQL does not parse: {err}"))
                continue
            try:
                sel = selector(expr)
            except PromQLError as e:
                out.append((path, str(e)))
                continue
            metric = spec.metric(sel.name)
            if metric and metric.type not in ("counter", "histogram", "summary"):
                out.append((path, f"{sel.name!r} is declared as a {metric.type}; events SLIs need counters"))
            if metric and metric.name not in by_checked:
                by_checked.add(metric.name)
                out += _by_errors(spec, slo, sel.name, path)
    elif sli.latency:
        path = ("sli", "latency", "histogram")
        try:
            sel = selector(sli.latency.histogram)
        except PromQLError as e:
            out.append((path, str(e)))
        else:
            base = sel.name.removesuffix("_bucket")
            metric = spec.metric(base)
            if metric and metric.type != "histogram":
                out.append((path, f"{base!r} is declared as a {metric.type}, a latency SLI needs a histogram"))
            if "le" in sel.label_names():
                out.append((path, "do not match 'le' in the selector: set the threshold with 'le:'"))
            out += _by_errors(spec, slo, base, path)
    elif sli.timeslice:
        if err := check(sli.timeslice.expr):
            out.append((("sli", "timeslice", "expr"), f"PromQL does not parse: {err}"))
        if sli.timeslice.slice > min(slo.windows()):
            out.append((("sli", "timeslice", "slice"), "slice must not be longer than the shortest alert window"))
    for tier in ("page", "ticket"):
        for j, bw in enumerate(getattr(slo.alerting, tier)):
            if bw.long > slo.window:
                out.append((("alerting", tier, j, "long"), "alert window is longer than the SLO window"))
            if bw.burn_rate * slo.error_budget >= 1:
                out.append(
                    (
                        ("alerting", tier, j, "burn_rate"),
                        f"burn rate {bw.burn_rate} needs an error ratio >= 100% at objective "
                        f"{slo.ratio:g}: this alert can never fire",
                    )
                )
    if slo.window < 3600:
        out.append((("window",), "the SLO window must be at least 1h"))
    return out


def _by_errors(spec: Spec, slo: SLO, metric_name: str, path: tuple) -> list[tuple[tuple, str]]:
    metric = spec.metric(metric_name)
    if metric is None or not slo.by:
        return []
    missing = [b for b in slo.by if b not in metric.labels]
    if not missing:
        return []
    return [
        (
            ("by",),
            f"label(s) {', '.join(missing)} not declared on metric {metric.name!r} "
            f"(its labels: {', '.join(metric.labels) or 'none'})",
        )
    ]


def bundle_errors(bundle: Bundle) -> list[tuple[tuple, str]]:
    return _rules_and_panels(bundle.alerts, bundle.records, bundle.queries, bundle.dashboard) + _routing_errors(bundle)


def _rules_and_panels(
    alerts: list[Alert], records: list[Record], queries: list, panels: list[Panel], panels_key: str = "dashboard"
) -> list[tuple[tuple, str]]:
    out: list[tuple[tuple, str]] = []
    alert_names: dict[str, int] = {}
    for i, alert in enumerate(alerts):
        if alert.name in alert_names:
            out.append((("alerts", i, "name"), f"duplicate alert name {alert.name!r}"))
        alert_names.setdefault(alert.name, i)
        if err := check(alert.expr):
            out.append((("alerts", i, "expr"), f"PromQL does not parse: {err}"))
        if alert.test:
            for part in ("breach", "healthy"):
                for j, series in enumerate(getattr(alert.test, part)):
                    if err := check(series.series):
                        out.append((("alerts", i, "test", part, j, "series"), f"not a series selector: {err}"))
    for i, r in enumerate(records):
        if err := check(r.expr):
            out.append((("records", i, "expr"), f"PromQL does not parse: {err}"))
    for i, q in enumerate(queries):
        if err := check(q.expr):
            out.append((("queries", i, "expr"), f"PromQL does not parse: {err}"))
    for i, panel in enumerate(panels):
        for j, t in enumerate(panel.targets):
            if err := check(t.expr):
                out.append(((panels_key, i, "targets", j, "expr"), f"PromQL does not parse: {err}"))
    return out


def _routing_errors(doc: Spec | Bundle) -> list[tuple[tuple, str]]:
    """Severities the alerts use but no route matches are fine (the default receiver takes them);
    receivers nobody routes to are not."""
    r = doc.routing
    if r is None:
        return []
    used = {r.receiver} | {route.receiver for route in r.routes}
    return [
        (("routing", "receivers", i, "name"), f"receiver {rec.name!r} is never routed to")
        for i, rec in enumerate(r.receivers)
        if rec.name not in used
    ]


# without these (globally or per email config) Alertmanager 0.25 rejects an email receiver
SMTP_REQUIRED = ("smarthost", "from")


def routing_across(specs: list[Spec], bundle: Bundle | None) -> list[tuple[Spec | Bundle, tuple, str]]:
    """Routing errors only visible across documents: email receivers without SMTP smarthost/from
    anywhere (config, spec, bundle), receiver names that collide once prefixed with their service."""
    root_smtp = bundle.routing.smtp if bundle and bundle.routing else {}
    docs: list[Spec | Bundle] = [*([bundle] if bundle else []), *sorted(specs, key=lambda s: s.service)]
    out: list[tuple[Spec | Bundle, tuple, str]] = []
    owner: dict[str, Spec | Bundle] = {}
    for doc in docs:
        routing = doc.routing
        if routing is None:
            continue
        service = doc.service if isinstance(doc, Spec) else None
        for i, rec in enumerate(routing.receivers):
            for j, cfg in enumerate(rec.email):
                given = {**root_smtp, **routing.smtp, **cfg.model_dump(exclude_none=True)}
                out += [
                    (
                        doc,
                        ("routing", "receivers", i, "email", j),
                        f"no SMTP '{key}': set routing.smtp.{key} in this spec or in the bundle, "
                        f"or '{key}' on this email config",
                    )
                    for key in SMTP_REQUIRED
                    if not given.get(key)
                ]
            name = C.receiver_name(service, rec.name)
            if name in owner:
                other = owner[name]
                msg = f"receiver name {name!r} is also made by {other.source_file}"
                out.append((doc, ("routing", "receivers", i, "name"), msg))
            owner.setdefault(name, doc)
    return out


def _runbook_errors(spec: Spec) -> list[tuple[tuple, str]]:
    """Investigate entries name a query or are PromQL; alert and procedure headings are unique."""
    out: list[tuple[tuple, str]] = []
    queries = {q.name for q in spec.queries}
    books = [(("slos", i, "runbook"), slo.runbook) for i, slo in enumerate(spec.slos)]
    books += [(("alerts", i, "runbook"), a.runbook) for i, a in enumerate(spec.alerts)]
    for path, book in books:
        for j, entry in enumerate(book.investigate):
            if entry not in queries and (err := check(entry)):
                out.append((path + ("investigate", j), f"neither a name in 'queries' nor PromQL that parses: {err}"))
    slo_alert_names = {name: i for i, slo in enumerate(spec.slos) for _, name, _ in slo.alerts(spec.service)}
    for i, a in enumerate(spec.alerts):
        if a.name in slo_alert_names:
            out.append(
                (("alerts", i, "name"), f"{a.name!r} is also the name of an alert of slos[{slo_alert_names[a.name]}]")
            )
    headings = {C.runbook_anchor(n) for n in [*slo_alert_names, *(a.name for a in spec.alerts)]}
    for i, proc in enumerate(spec.runbooks.procedures):
        anchor = C.runbook_anchor(proc.title).replace(" ", "-")
        if anchor in headings:
            out.append((("runbooks", "procedures", i, "title"), f"{proc.title!r} repeats an earlier runbook heading"))
        headings.add(anchor)
    return out
