"""Alertmanager configuration: the bundle's root route and receivers, one subtree per service
(``service="<name>"``) with that service's routes and receivers, and one inhibition rule: a firing
page silences the ticket of the same SLO.

Checked against Alertmanager 0.25 (``amtool check-config``). Receiver names are made unique per
service as ``<service>-<name>``; matchers use the ``matchers`` syntax (``match``/``match_re`` are
deprecated in Alertmanager).
"""

from __future__ import annotations

from collections.abc import Callable

from sloforge import conventions as C
from sloforge.durations import format_duration
from sloforge.generate.rules import HEADER
from sloforge.generate.yamlout import dump
from sloforge.model import Bundle, Receiver, Route, Routing, Spec

DEFAULT_RECEIVER = "default"

# model field -> Alertmanager receiver key
KINDS = (
    ("email", "email_configs"),
    ("opsgenie", "opsgenie_configs"),
    ("pagerduty", "pagerduty_configs"),
    ("slack", "slack_configs"),
    ("webhook", "webhook_configs"),
)

# smtp settings Alertmanager reads as booleans (the model keeps smtp values as strings)
SMTP_BOOLS = frozenset({"require_tls"})

Doc = Spec | Bundle
Rename = Callable[[str], str]


def _default_root() -> Routing:
    """Without a bundle routing: alerts go to a receiver without integrations (dropped)."""
    return Routing.model_validate({"receiver": DEFAULT_RECEIVER, "receivers": [{"name": DEFAULT_RECEIVER}]})


def _root(bundle: Bundle | None) -> Routing:
    return bundle.routing if bundle and bundle.routing else _default_root()


def _routed(specs: list[Spec]) -> list[Spec]:
    return sorted((s for s in specs if s.routing), key=lambda s: s.service)


def _rename(doc: Doc | None) -> Rename:
    """Root receivers keep their names; a service's become ``<service>-<name>``."""
    service = doc.service if isinstance(doc, Spec) else None
    return lambda name: C.receiver_name(service, name)


# ---------------------------------------------------------------- matchers


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def matcher(label: str, op: str, value: str) -> str:
    """One matcher in Alertmanager's syntax: ``label="value"`` (``=``, ``!=``, ``=~``, ``!~``)."""
    return f"{label}{op}{_quote(value)}"


def _matchers(route: Route) -> list[str]:
    return [matcher(k, "=", v) for k, v in sorted(route.match.items())] + [
        matcher(k, "=~", v) for k, v in sorted(route.match_re.items())
    ]


# ---------------------------------------------------------------- routes


def _grouping(r: Routing | Route) -> dict:
    out: dict = {}
    if r.group_by is not None:
        out["group_by"] = list(r.group_by)
    for key in ("group_wait", "group_interval", "repeat_interval"):
        value = getattr(r, key)
        if value is not None:
            out[key] = format_duration(value)
    return out


def _child(route: Route, rename: Rename) -> dict:
    out: dict = {"receiver": rename(route.receiver)}
    if matchers := _matchers(route):
        out["matchers"] = matchers
    if route.continue_:
        out["continue"] = True
    out.update(_grouping(route))
    return out


def _with_children(route: dict, children: list[dict]) -> dict:
    if children:
        route["routes"] = children
    return route


def service_route(spec: Spec) -> dict:
    """The subtree of one service: ``service="<name>"``, its grouping, its routes as children."""
    assert spec.routing
    rename = _rename(spec)
    route = {
        "receiver": rename(spec.routing.receiver),
        "matchers": [matcher(C.LABEL_SERVICE, "=", spec.service)],
        **_grouping(spec.routing),
    }
    return _with_children(route, [_child(r, rename) for r in spec.routing.routes])


def root_route(specs: list[Spec], bundle: Bundle | None) -> dict:
    """Service subtrees first, then the bundle's own routes."""
    root = _root(bundle)
    rename = _rename(bundle)
    route = {"receiver": rename(root.receiver), **_grouping(root)}
    children = [service_route(s) for s in _routed(specs)] + [_child(r, rename) for r in root.routes]
    return _with_children(route, children)


# ---------------------------------------------------------------- receivers and smtp


def _smtp_value(key: str, value: str | bool) -> str | bool:
    if key in SMTP_BOOLS and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _smtp(settings: dict[str, str], prefix: str = "") -> dict:
    return {prefix + k: _smtp_value(k, v) for k, v in sorted(settings.items())}


def _config(config, defaults: dict) -> dict:
    """A receiver config as written (extra fields included), over ``defaults``; keys sorted."""
    data = {**defaults, **config.model_dump(exclude_none=True)}
    return {k: data[k] for k in sorted(data)}


def _receiver(rec: Receiver, name: str, smtp: dict) -> dict:
    out: dict = {"name": name}
    for kind, key in KINDS:
        configs = [_config(c, smtp if kind == "email" else {}) for c in getattr(rec, kind)]
        if configs:
            out[key] = configs
    return out


def receivers(specs: list[Spec], bundle: Bundle | None) -> list[dict]:
    """The root's receivers, then each routed service's (spec-level smtp in its email configs)."""
    root = _root(bundle)
    out = [_receiver(r, r.name, {}) for r in root.receivers]
    for spec in _routed(specs):
        assert spec.routing
        rename, smtp = _rename(spec), _smtp(spec.routing.smtp)
        out += [_receiver(r, rename(r.name), smtp) for r in spec.routing.receivers]
    return out


def global_settings(bundle: Bundle | None) -> dict:
    """Bundle-level smtp as ``smtp_*`` globals."""
    return _smtp(_root(bundle).smtp, "smtp_")


# ---------------------------------------------------------------- inhibition


def inhibit_rule(specs: list[Spec]) -> dict:
    """A firing page silences the ticket of the same SLO (and the same ``by`` values).

    ``equal`` holds the union of every SLO's ``by`` labels: a label missing on both alerts counts
    as equal, so this one rule serves every SLO, and a page on action=A leaves action=B's ticket alone.
    """
    fixed = [C.LABEL_SERVICE, C.LABEL_SLO]
    by = sorted({b for s in specs for slo in s.slos for b in slo.by} - set(fixed))
    return {
        "source_matchers": [matcher(C.LABEL_TIER, "=", "page")],
        "target_matchers": [matcher(C.LABEL_TIER, "=", "ticket")],
        "equal": fixed + by,
    }


# ---------------------------------------------------------------- the file


def _sources(specs: list[Spec], bundle: Bundle | None) -> str:
    docs: list[Doc] = [*specs, *([bundle] if bundle else [])]
    return ", ".join(sorted({d.source_file or d.service for d in docs})) or "no specs"


def alertmanager_config(specs: list[Spec], bundle: Bundle | None = None) -> str:
    """alertmanager.yml for all ``specs`` under the bundle's root route (the loader has already
    refused routing Alertmanager 0.25 would reject: see ``spec.checks.routing_across``)."""
    config: dict = {}
    if settings := global_settings(bundle):
        config["global"] = settings
    config["route"] = root_route(specs, bundle)
    config["inhibit_rules"] = [inhibit_rule(specs)]
    config["receivers"] = receivers(specs, bundle)
    return dump(config, HEADER.format(source=_sources(specs, bundle)))
