"""Kubernetes manifests per service, for the Prometheus Operator and the Grafana sidecar.

``k8s/<service>/`` holds a PrometheusRule (the rule groups, unchanged), a
ServiceMonitor per scrape job, a ConfigMap per Grafana dashboard, the spec's
HPAs and PDBs, and a ``kustomization.yaml`` listing them; ``k8s/kustomization.yaml``
lists the service directories.  Every name is a DNS-1123 label (at most 63
characters; longer ones are cut and keep a hash of the full name).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from sloforge import conventions as C
from sloforge.durations import format_duration
from sloforge.generate.rules import HEADER
from sloforge.generate.yamlout import dump
from sloforge.model import HPA, PDB, Scrape, Spec

NAME_MAX = 63
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"
APP_NAME = "app.kubernetes.io/name"
MANAGER = "sloforge"
GRAFANA_FOLDER_ANNOTATION = "grafana_folder"
# Client-side `kubectl apply` copies the whole object into the
# kubectl.kubernetes.io/last-applied-configuration annotation, and all annotations of an
# object together may hold at most 256 KiB.  Server-side apply (`kubectl apply
# --server-side`) keeps no such annotation and only meets the 1 MiB object limit of etcd.
LAST_APPLIED_MAX = 262144
APPLY_NOTE = "Server-side apply (kubectl apply --server-side) avoids the 256 KiB last-applied annotation limit."
MONITORING_API = "monitoring.coreos.com/v1"


def k8s_name(text: str) -> str:
    """``text`` as a DNS-1123 label: lowercase, '-' for anything else, hashed down to 63 characters."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    if not name:
        raise ValueError(f"{text!r} gives no usable Kubernetes name")
    if len(name) <= NAME_MAX:
        return name
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return name[: NAME_MAX - 9].rstrip("-") + "-" + digest


def label_value(text: str) -> str:
    """A label value (63 characters at most); '_' and '.' are allowed there, unlike in names."""
    return text if len(text) <= NAME_MAX else k8s_name(text)


def common_labels(spec: Spec) -> dict[str, str]:
    return {PART_OF: label_value(spec.service), MANAGED_BY: MANAGER}


def _namespace(spec: Spec) -> str:
    ns = spec.kubernetes.namespace
    if len(ns) > NAME_MAX or not DNS_LABEL.match(ns):
        raise ValueError(
            f"service {spec.service!r}: kubernetes.namespace {ns!r} is not a DNS-1123 label "
            "(lowercase a-z, 0-9 and '-', at most 63 characters)"
        )
    return ns


def _workload_namespace(spec: Spec) -> str:
    return spec.kubernetes.workload_namespace or _namespace(spec)


def _object(spec: Spec, api: str, kind: str, name: str, body: dict, namespace: str | None = None, **meta: Any) -> dict:
    """An object in ``namespace`` (default: the monitoring namespace)."""
    ns = namespace or _namespace(spec)
    metadata = {"name": k8s_name(name), "namespace": ns, "labels": common_labels(spec)}
    for key, value in meta.items():
        metadata[key] = {**metadata.get(key, {}), **value}
    return {"apiVersion": api, "kind": kind, "metadata": metadata, **body}


def _header(spec: Spec, note: str = "") -> str:
    return HEADER.format(source=spec.source_file or spec.service) + (f"# {note}\n" if note else "")


# ---------------------------------------------------------------- Prometheus Operator


def prometheus_rule(spec: Spec, rule_groups: list[dict]) -> dict:
    return _object(
        spec, MONITORING_API, "PrometheusRule", f"sloforge-{spec.service}", {"spec": {"groups": rule_groups}}
    )


def service_monitor(spec: Spec, scrape: Scrape) -> dict:
    """Selects the job's Service; relabels ``job`` and ``service`` as prometheus.yml has them."""
    endpoint = {
        "port": scrape.port,
        "path": scrape.path,
        "interval": format_duration(scrape.interval),
        "relabelings": [
            {"action": "replace", "targetLabel": "job", "replacement": scrape.job},
            {"action": "replace", "targetLabel": C.LABEL_SERVICE, "replacement": spec.service},
        ],
    }
    body = {
        "selector": {"matchLabels": dict(scrape.selector) or {APP_NAME: scrape.job}},
        "namespaceSelector": {"matchNames": [_workload_namespace(spec)]},
        "endpoints": [endpoint],
    }
    return _object(spec, MONITORING_API, "ServiceMonitor", scrape.job, {"spec": body})


# ---------------------------------------------------------------- Grafana dashboards


def _stem(file_name: str) -> str:
    return file_name.removesuffix(".json")


def dashboard_configmap(spec: Spec, file_name: str, text: str) -> dict:
    """A ConfigMap the Grafana sidecar loads into the service's folder; refused beyond 256 KiB."""
    if not CONFIGMAP_KEY.match(file_name):
        raise ValueError(f"dashboard file name {file_name!r} is no ConfigMap key (a-z, A-Z, 0-9, '-', '_', '.')")
    obj = _object(
        spec,
        "v1",
        "ConfigMap",
        f"grafana-dashboard-{_stem(file_name)}",
        {"data": {file_name: text}},
        labels={C.GRAFANA_DASHBOARD_LABEL: "1"},
        annotations={GRAFANA_FOLDER_ANNOTATION: spec.service},
    )
    size = len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())
    if size > LAST_APPLIED_MAX:
        raise ValueError(
            f"service {spec.service!r}: dashboard {file_name} makes a ConfigMap of {size} bytes; "
            f"client-side `kubectl apply` stores it in an annotation limited to {LAST_APPLIED_MAX} bytes. "
            "Split the dashboard, or apply with `kubectl apply --server-side` (limit 1 MiB)."
        )
    return obj


# ---------------------------------------------------------------- HPA, PDB


def _quantity(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _resource(name: str, utilization: int) -> dict:
    return {
        "type": "Resource",
        "resource": {"name": name, "target": {"type": "Utilization", "averageUtilization": utilization}},
    }


def _scaling_rules(stabilization: float | None, policies: list) -> dict:
    rules: dict = {}
    if stabilization is not None:
        rules["stabilizationWindowSeconds"] = int(stabilization)
    if policies:
        rules["policies"] = [{"type": p.type, "value": p.value, "periodSeconds": int(p.period)} for p in policies]
    return rules


def _behavior(hpa: HPA) -> dict:
    # policies: proposed model fields HPA.scale_up_policies / scale_down_policies (type, value, period)
    behavior = {}
    for key, attr in (("scaleUp", "scale_up"), ("scaleDown", "scale_down")):
        rules = _scaling_rules(getattr(hpa, f"{attr}_stabilization"), getattr(hpa, f"{attr}_policies", []))
        if rules:
            behavior[key] = rules
    return behavior


def hpa_object(spec: Spec, hpa: HPA) -> dict:
    metrics = [
        _resource(name, value)
        for name, value in (("cpu", hpa.cpu_utilization), ("memory", hpa.memory_utilization))
        if value is not None
    ]
    metrics += [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": m.metric},
                "target": {"type": "AverageValue", "averageValue": _quantity(m.average_value)},
            },
        }
        for m in hpa.pods_metrics
    ]
    body: dict = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": hpa.deployment},
        "minReplicas": hpa.min_replicas,
        "maxReplicas": hpa.max_replicas,
    }
    if metrics:
        body["metrics"] = metrics
    behavior = _behavior(hpa)
    if behavior:
        body["behavior"] = behavior
    return _object(
        spec, "autoscaling/v2", "HorizontalPodAutoscaler", hpa.name, {"spec": body}, _workload_namespace(spec)
    )


def _int_or_percent(pdb: PDB, field: str, value: int | str) -> int | str:
    """PDBs take a count or a percentage: ``"50%"``; a string count such as ``"1"`` becomes 1."""
    if isinstance(value, int):
        return value
    if value.isdigit():
        return int(value)
    if re.fullmatch(r"\d+%", value) and int(value[:-1]) <= 100:
        return value
    raise ValueError(f"pdb {pdb.name!r}: {field} {value!r} is neither a count nor a percentage such as '50%'")


def pdb_object(spec: Spec, pdb: PDB) -> dict:
    body: dict = {"selector": {"matchLabels": dict(pdb.selector)}}
    if pdb.min_available is not None:
        body["minAvailable"] = _int_or_percent(pdb, "min_available", pdb.min_available)
    else:
        assert pdb.max_unavailable is not None
        body["maxUnavailable"] = _int_or_percent(pdb, "max_unavailable", pdb.max_unavailable)
    return _object(spec, "policy/v1", "PodDisruptionBudget", pdb.name, {"spec": body}, _workload_namespace(spec))


# ---------------------------------------------------------------- kustomize


def kustomization(spec: Spec, resources: list[str]) -> dict:
    """No ``namespace:`` override: each object keeps its own (HPAs and PDBs live beside the workload)."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "labels": [{"pairs": common_labels(spec), "includeSelectors": False}],
        "resources": sorted(resources),
    }


def _put(objs: dict[str, tuple[dict, str]], spec: Spec, file_name: str, obj: dict, note: str = "") -> None:
    if file_name in objs:
        raise ValueError(f"service {spec.service!r}: two manifests would both be written to {file_name}")
    objs[file_name] = (obj, note)


def _objects(spec: Spec, rule_groups: list[dict], dashboards: dict[str, str]) -> dict[str, tuple[dict, str]]:
    """File name -> (object, extra header note)."""
    objs: dict[str, tuple[dict, str]] = {}
    _put(objs, spec, "prometheusrule.yaml", prometheus_rule(spec, rule_groups))
    for s in spec.scrape:
        _put(objs, spec, f"servicemonitor-{s.job}.yaml", service_monitor(spec, s))
    for file_name, text in sorted(dashboards.items()):
        cm = dashboard_configmap(spec, file_name, text)
        _put(objs, spec, f"dashboard-{k8s_name(_stem(file_name))}.yaml", cm, APPLY_NOTE)
    pods_note = "Pods metrics need a custom metrics API adapter (e.g. prometheus-adapter)."
    for h in spec.kubernetes.hpa:
        _put(objs, spec, f"hpa-{h.name}.yaml", hpa_object(spec, h), pods_note if h.pods_metrics else "")
    for p in spec.kubernetes.pdb:
        _put(objs, spec, f"pdb-{p.name}.yaml", pdb_object(spec, p))
    return objs


def _unique_names(spec: Spec, objs: list[dict]) -> None:
    seen: set[tuple[str, str]] = set()
    for obj in objs:
        key = (obj["kind"], obj["metadata"]["name"])
        if key in seen:
            raise ValueError(f"service {spec.service!r}: two {key[0]} objects would both be named {key[1]!r}")
        seen.add(key)


def manifests(spec: Spec, rule_groups: list[dict], dashboards: dict[str, str]) -> dict[str, str]:
    """``k8s/<service>/<file>`` -> YAML text; ``dashboards`` maps a file name to its JSON text."""
    objs = _objects(spec, rule_groups, dashboards)
    _unique_names(spec, [o for o, _ in objs.values()])
    base = f"k8s/{spec.service}"
    files = {f"{base}/{name}": dump(obj, _header(spec, note)) for name, (obj, note) in objs.items()}
    files[f"{base}/kustomization.yaml"] = dump(kustomization(spec, list(objs)), _header(spec))
    return dict(sorted(files.items()))


def root_kustomization(services: list[str]) -> str:
    """``k8s/kustomization.yaml``: every service directory."""
    body = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(set(services)),
    }
    return dump(body, HEADER.format(source="the specs of " + (", ".join(sorted(set(services))) or "no services")))
