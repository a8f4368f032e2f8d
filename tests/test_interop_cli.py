"""The interop commands end to end: peers' files load as they are, `import`, `export --to openslo`,
`generate --target`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ANCHORS, EXAMPLES, run_cli

from sloforge.spec import load

needs_anchors = pytest.mark.skipif(not ANCHORS.is_dir(), reason="tests/anchors is missing")

PEER_FILES = [
    "sloth/examples/kubernetes-apiserver.yml",
    "pyrra/testcase-http-ratio.slo.yaml",
    "pyrra/testcase-http-latency.slo.yaml",
]


def _same(a, b) -> bool:  # noqa: ANN001 - two specs, compared without where they were read from
    return a.model_copy(update={"source_file": None}) == b.model_copy(update={"source_file": None})


@needs_anchors
@pytest.mark.parametrize("name", PEER_FILES)
def test_peer_files_validate_and_import_to_an_equal_native_spec(name, tmp_path):
    peer = ANCHORS / name
    assert run_cli("validate", str(peer)).returncode == 0
    native = tmp_path / "native.yaml"
    proc = run_cli("import", str(peer), "-o", str(native))
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(native.read_text())["apiVersion"] == "sloforge/v1"
    assert f"from {peer}" in native.read_text().splitlines()[0]
    (a,), (b,) = load(peer).specs, load(native).specs
    assert _same(a, b)


def test_import_of_native_examples_round_trips(tmp_path):
    out = tmp_path / "all.yaml"
    assert run_cli("import", str(EXAMPLES), "-o", str(out)).returncode == 0
    before = {s.service: s for s in load(EXAMPLES).specs}
    after = {s.service: s for s in load(out).specs}
    assert before.keys() == after.keys()
    assert all(_same(before[k], after[k]) for k in before)


def test_export_openslo_loads_back(tmp_path):
    spec = EXAMPLES / "workflowexecution.yaml"
    out = tmp_path / "wf.openslo.yaml"
    proc = run_cli("export", str(spec), "--to", "openslo", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    kinds = {d["kind"] for d in yaml.safe_load_all(out.read_text())}
    assert {"Service", "SLO"} <= kinds
    (orig,), (back,) = load(spec).specs, load(out).specs
    # OpenSLO holds the SLOs (not the metrics, alerts, dashboards): those must come back equal
    assert [s.name for s in back.slos] == [s.name for s in orig.slos]
    for a, b in zip(orig.slos, back.slos, strict=True):
        assert (a.ratio, a.window, a.sli) == (b.ratio, b.window, b.sli)
    strict = run_cli("export", str(spec), "--strict")
    assert strict.returncode == 2 and "not carried over" in strict.stderr
    assert run_cli("export", str(spec), "--to", "sloth").returncode == 2


def test_generate_target_keeps_only_that_rulers_files(tmp_path):
    out = tmp_path / "out"
    proc = run_cli(
        "generate", str(EXAMPLES / "nkudo.yaml"), "--target", "vmalert", "--target", "operator", "-o", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    tops = {p.relative_to(out).parts[0] for p in out.rglob("*") if p.is_file()}
    assert tops == {"vmalert", "k8s", "alertmanager", "grafana", "runbooks"}
    bad = run_cli("generate", str(EXAMPLES / "nkudo.yaml"), "--target", "nagios", "-o", str(tmp_path / "x"))
    assert bad.returncode == 2 and "nagios" in bad.stderr and not (tmp_path / "x").exists()


def test_peer_file_with_what_sloforge_cannot_express_fails_naming_the_field(tmp_path):
    text = Path(ANCHORS / "pyrra/examples/pyrra-connect-latency.yaml").read_text() if ANCHORS.is_dir() else None
    if text is None:
        pytest.skip("tests/anchors is missing")
    f = tmp_path / "native-histogram.yaml"
    f.write_text(text)
    proc = run_cli("validate", str(f))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{f}:14: spec.indicator.latencyNative: native histograms" in proc.stderr


def test_generate_for_mimir_tenant_and_thanos_external_labels(tmp_path):
    out = tmp_path / "out"
    args = ["--target", "mimir", "--target", "thanos", "--mimir-tenant", "team-a", "--thanos-label", "cluster=eu1"]
    proc = run_cli("generate", str(EXAMPLES / "nkudo.yaml"), *args, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    load_sh = (out / "mimir" / "load.sh").read_text()
    assert "mimirtool rules load --address=\"$MIMIR_ADDRESS\" --id='team-a' rules/nkudo.yml" in load_sh
    assert yaml.safe_load((out / "mimir" / "rules" / "nkudo.yml").read_text())["namespace"] == "nkudo"
    assert (out / "thanos" / "ruler.args").read_text().splitlines() == [
        "--rule-file=rules/nkudo.yml",
        '--label=cluster="eu1"',
    ]
    bad = run_cli("generate", str(EXAMPLES / "nkudo.yaml"), "--thanos-label", "cluster", "-o", str(tmp_path / "x"))
    assert bad.returncode == 2 and "--thanos-label" in bad.stderr
