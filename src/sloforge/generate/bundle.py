"""The output bundle: ``{relative path: text}`` from specs, and an atomic writer.

Layout (see docs/architecture.md)::

    prometheus/prometheus.yml            scrape configs, rule_files, alerting
    prometheus/rules/<service>.yml       recording + alerting rules
    prometheus/tests/<service>*.test.yml promtool unit tests for every alert
    alertmanager/alertmanager.yml        routes, receivers, inhibition
    grafana/dashboards/*.json            + grafana/provisioning/{datasources,dashboards}/
    runbooks/<service>.md                one section per alert
    k8s/<service>/...                    PrometheusRule, ServiceMonitor, dashboard ConfigMaps, HPA, PDB
    thanos/ mimir/ vmalert/              rule files in each ruler's dialect
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sloforge import conventions as C
from sloforge.generate import (
    alertmanager,
    grafana,
    kubernetes,
    prometheus_config,
    promtool_tests,
    rulers,
    rules,
    runbooks,
)
from sloforge.model import Bundle, Spec


def _with_bundle_defaults(spec: Spec, bundle: Bundle | None) -> Spec:
    """Bundle-wide settings a spec leaves open (the runbook base URL)."""
    if bundle is None or spec.runbooks.base_url or not bundle.runbooks.base_url:
        return spec
    copy = spec.model_copy(deep=True)
    copy.runbooks.base_url = bundle.runbooks.base_url
    return copy


def render_bundle(
    specs: list[Spec], bundle: Bundle | None = None, deploy: rulers.Deployment | None = None
) -> dict[str, str]:
    deploy = deploy or rulers.Deployment()
    specs = [_with_bundle_defaults(s, bundle) for s in sorted(specs, key=lambda s: s.service)]
    docs: list[Spec | Bundle] = [*specs, *([bundle] if bundle else [])]
    files: dict[str, str] = {}
    rule_paths = []
    for doc in docs:
        groups = rules.rule_groups(doc)
        if not groups:
            continue
        rule_path = f"rules/{doc.service}.yml"
        rule_paths.append(rule_path)
        files[f"prometheus/{rule_path}"] = rules.rule_file(doc)
        for name, text in promtool_tests.test_files(doc).items():
            files[f"prometheus/tests/{name}"] = text
        files.update(rulers.ruler_files(doc.service, groups, deploy))
        files[f"{C.RUNBOOK_DIR}/{doc.service}.md"] = runbooks.runbook_page(doc)
    files.update(grafana.dashboard_files(specs, bundle))
    for spec in specs:
        mine = {Path(f).name: grafana.render(d) for f, d in grafana.service_dashboards(spec).items()}
        files.update(kubernetes.manifests(spec, rules.rule_groups(spec), mine))
    if bundle is not None:  # cross-service rules and the overview dashboard
        overview = {"overview.json": grafana.render(grafana.overview_dashboard(specs, bundle))}
        files.update(kubernetes.manifests(bundle, rules.rule_groups(bundle), overview))
    files["k8s/kustomization.yaml"] = kubernetes.root_kustomization([d.service for d in docs])
    files["prometheus/prometheus.yml"] = prometheus_config.prometheus_config(specs, bundle, rule_paths)
    files["alertmanager/alertmanager.yml"] = alertmanager.alertmanager_config(specs, bundle)
    services = [p.removeprefix("rules/").removesuffix(".yml") for p in rule_paths]
    if deploy.mimir_tenant:
        files["mimir/load.sh"] = rulers.mimir_load_script(services, deploy.mimir_tenant)
    files["thanos/ruler.args"] = rulers.thanos_ruler_args(services, deploy.thanos_labels)
    return files


# where each rule engine's files live; everything else (dashboards, routing, runbooks) serves every target
TARGETS = {
    "prometheus": ("prometheus/",),
    "operator": ("k8s/",),
    "thanos": ("thanos/",),
    "mimir": ("mimir/",),
    "vmalert": ("vmalert/",),
}


def select_targets(files: dict[str, str], targets: list[str]) -> dict[str, str]:
    """Only the rule files of ``targets`` (plus the target-neutral artifacts); all of them when none is given."""
    if not targets:
        return files
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        raise ValueError(f"unknown target(s) {', '.join(unknown)}: choose from {', '.join(TARGETS)}")
    owned = tuple(p for prefixes in TARGETS.values() for p in prefixes)
    kept = tuple(p for t in targets for p in TARGETS[t])
    return {path: text for path, text in files.items() if path.startswith(kept) or not path.startswith(owned)}


def write_atomically(files: dict[str, str], out: str | Path) -> None:
    """Write the whole bundle to a sibling temp dir, then swap it in.

    A failure at any point leaves an existing ``out`` exactly as it was.
    """
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for rel, text in sorted(files.items()):
            target = (tmp / rel).resolve()
            if tmp not in target.parents:
                raise ValueError(f"refusing to write outside the bundle: {rel}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
