"""The whole examples bundle against the real tools: ``sloforge check``, a real
Prometheus loading the generated prometheus.yml and rules, a real Alertmanager
loading the generated config."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import EXAMPLES, PrometheusServer, free_port, need, run_cli, stop_process

FAST_INTERVAL = "2s"


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("examples") / "build"
    proc = run_cli("generate", str(EXAMPLES), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_bundle_has_every_artifact(build):
    services = sorted(p.stem for p in (build / "prometheus" / "rules").glob("*.yml"))
    assert len(services) >= 2
    for svc in services:
        assert (build / "runbooks" / f"{svc}.md").is_file()
        assert (build / "prometheus" / "tests" / f"{svc}.test.yml").is_file()
    for path in ("prometheus/prometheus.yml", "alertmanager/alertmanager.yml", "k8s/kustomization.yaml"):
        assert (build / path).is_file(), path
    assert list((build / "grafana" / "dashboards").glob("*.json"))
    # the bundle's cross-service rules and the overview dashboard ship to Kubernetes too
    fleet = build / "k8s" / "fleet"
    assert (fleet / "prometheusrule.yaml").is_file() and (fleet / "dashboard-overview.yaml").is_file()
    assert "fleet" in yaml.safe_load((build / "k8s" / "kustomization.yaml").read_text())["resources"]
    assert list((build / "grafana" / "provisioning" / "datasources").glob("*.yml"))


@pytest.mark.promtool
@pytest.mark.slow
def test_sloforge_check_passes_on_the_examples(build):
    """promtool check config/rules, every generated alert test, amtool check-config."""
    need("promtool")
    need("amtool")
    proc = run_cli("check", str(build), "--require-tools", timeout=1500)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
    assert " failed" in proc.stderr and " 0 failed" in proc.stderr


def test_check_fails_on_a_broken_rule(build, tmp_path):
    need("promtool")
    broken = tmp_path / "build"
    shutil.copytree(build / "prometheus" / "rules", broken / "prometheus" / "rules")
    rule = next((broken / "prometheus" / "rules").glob("*.yml"))
    rule.write_text(rule.read_text().replace("expr: ", "expr: sum(", 1))
    proc = run_cli("check", str(broken))
    assert proc.returncode == 1
    assert "failed" in proc.stdout


def _fast_copy(build: Path, dest: Path, alertmanager_port: int) -> Path:
    """The bundle's Prometheus config and rules with every group evaluated every 2s."""
    prom = dest / "prometheus"
    shutil.copytree(build / "prometheus", prom)
    for f in (prom / "rules").glob("*.yml"):
        f.write_text(re.sub(r"(?m)^(\s+interval:) \S+$", rf"\1 {FAST_INTERVAL}", f.read_text()))
    cfg = yaml.safe_load((prom / "prometheus.yml").read_text())
    cfg["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
    (prom / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    return prom / "prometheus.yml"


@pytest.mark.prometheus
def test_real_prometheus_evaluates_every_group_without_error(build, tmp_path):
    config = _fast_copy(build, tmp_path, free_port())
    data = tmp_path / "data"
    data.mkdir()
    server = PrometheusServer(data, config)
    server.start()
    try:
        rule_files = (build / "prometheus" / "rules").glob("*.yml")
        expected = sum(len(yaml.safe_load(f.read_text())["groups"]) for f in rule_files)
        deadline = time.monotonic() + 60
        while True:
            groups = httpx.get(server.url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            evaluated = all(r.get("lastEvaluation", "").startswith("20") for r in rules)
            if len(groups) == expected and evaluated:
                break
            assert time.monotonic() < deadline, f"{len(groups)}/{expected} groups loaded, evaluated={evaluated}"
            time.sleep(1)
        bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
        assert not bad, bad
        assert len(rules) > 100
    finally:
        server.stop()


@pytest.mark.prometheus
def test_real_alertmanager_starts_with_the_generated_config(build, tmp_path):
    binary = need("prometheus-alertmanager")
    port = free_port()
    log = tmp_path / "alertmanager.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={build / 'alertmanager' / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/api/v2/status", timeout=1)
                if status.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        loaded = yaml.safe_load(status.json()["config"]["original"])
        generated = yaml.safe_load((build / "alertmanager" / "alertmanager.yml").read_text())
        assert [r["name"] for r in loaded["receivers"]] == [r["name"] for r in generated["receivers"]]
        assert loaded["inhibit_rules"]
    finally:
        stop_process(proc)
