"""Generated rules and tests: accepted by promtool, alerts behave as the Workbook says."""

from __future__ import annotations

import pytest
import yaml
from conftest import EXAMPLES

from sloforge import conventions as C
from sloforge.generate.bundle import render_bundle, write_atomically
from sloforge.generate.promtool_tests import detection_seconds
from sloforge.model import BurnWindow
from sloforge.spec import load


def test_output_is_deterministic():
    loaded = load(EXAMPLES)
    a = render_bundle(loaded.specs, loaded.bundle)
    b = render_bundle(list(reversed(load(EXAMPLES).specs)), loaded.bundle)
    assert a == b
    assert any(k.startswith("prometheus/rules/") for k in a)


# promtool check rules / test rules over every example: tests/test_bundle_integration.py (sloforge check)


def test_no_rule_reads_raw_series_over_more_than_5m():
    """Cheap by design: only the 5m base rules touch raw series; long windows read recorded ones."""
    for spec in load(EXAMPLES).specs:
        groups = yaml.safe_load(render_bundle([spec])[f"prometheus/rules/{spec.service}.yml"])
        for g in groups["groups"]:
            if not g["name"].startswith("sloforge-") or g["name"].endswith(("-alerts", "-records")):
                continue
            for r in g["rules"]:
                if r.get("record") in (C.ERRORS_RATE, C.TOTAL_RATE, C.SLICES_BAD, C.SLICES_TOTAL):
                    assert "[5m]" in r["expr"] or "rate(" not in r["expr"]
                    continue
                assert "rate(" not in r["expr"] and "increase(" not in r["expr"], r


def test_slo_alert_label_contract():
    spec = load(EXAMPLES / "kubernetesexecution.yaml").specs[0]
    groups = yaml.safe_load(render_bundle([spec])["prometheus/rules/kubernetesexecution.yml"])
    alerts = [r for g in groups["groups"] for r in g["rules"] if "alert" in r and g["name"].endswith("-sli")]
    assert {a["labels"]["severity"] for a in alerts} == {"critical", "warning"}
    for a in alerts:
        assert set(a["annotations"]) >= {"summary", "description", "runbook_url"}
        assert "$value" in a["annotations"]["description"]
        # service and slo come from the recorded series the alert reads
        assert 'service="kubernetesexecution"' in a["expr"] and "slo=" in a["expr"]
    per_action = [a for a in alerts if "PerAction" in a["alert"]]
    assert per_action and all("action={{ $labels.action }}" in a["annotations"]["summary"] for a in per_action)


@pytest.mark.parametrize(
    ("objective", "expected_minutes"),
    [(0.999, 0.864), (0.99, 8.64), (0.98, 17.28)],
)
def test_detection_time_is_the_workbook_formula(objective, expected_minutes):
    """(1 - SLO) / error ratio x window x burn rate, for a 100 % outage on a clean window."""
    page = [BurnWindow(burn_rate=14.4, long="1h", short="5m"), BurnWindow(burn_rate=6, long="6h", short="30m")]
    t = detection_seconds(page, round(1 - objective, 12), 0.0, 1.0)
    # the 5m short window needs the same fraction of its length: max of both
    assert t == pytest.approx(max(expected_minutes, 14.4 * (1 - objective) * 5) * 60)


def test_failed_generate_leaves_existing_bundle(tmp_path):
    out = tmp_path / "build"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(ValueError):
        write_atomically({"../escape.yml": "x"}, out)
    assert (out / "keep.txt").read_text() == "old"
    assert not (tmp_path / "escape.yml").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["build"]
