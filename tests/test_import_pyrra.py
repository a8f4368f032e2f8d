"""Pyrra specs into sloforge: every anchor spec loads (or is refused for a stated reason), fields
map, burn windows, factors and ``for`` equal Pyrra's generated rules, and promtool shows sloforge's
alerts firing on the same incidents as Pyrra's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from test_import_sloth import (
    ANCHORS,
    compare,
    counters,
    distinct_alert_labels,
    first_firing,
    loader_result,
    problems_of,
    register,
    series_text,
)

from sloforge.durations import parse_duration
from sloforge.generate.rules import rule_file
from sloforge.spec import load, pyrra

PYRRA = ANCHORS / "pyrra"
pytestmark = pytest.mark.skipif(not PYRRA.is_dir(), reason=f"peer anchors not found at {PYRRA}")


@pytest.fixture(autouse=True)
def _pyrra(monkeypatch):
    register(monkeypatch, pyrra.LOADERS)


# ---------------------------------------------------------------- every anchor spec

SHORT_RAISED = "short window raised to 5m"
# file -> ("loads", []) | ("warns", problems) | ("refused", problems); a problem is (line, field, words)
ANCHOR_SPECS = {
    "testcase-http-ratio.slo.yaml": ("loads", []),
    "testcase-http-latency.slo.yaml": ("loads", []),
    "testcase-prometheus-up-targets.slo.yaml": ("loads", []),
    # performanceOverAccuracy only changes Pyrra's window-availability rules, never its alerts
    "testcase-prometheus-up-targets-less-accuracy.slo.yaml": ("loads", []),
    "examples/thanos-http.yaml": ("loads", []),
    "testcase-operator-ratio.slo.yaml": ("warns", [(9, "spec.window", "2w window 30m/3m (14x): " + SHORT_RAISED)]),
    "testcase-apiserver-read-resource-latency.slo.yaml": ("warns", [(9, "spec.window", SHORT_RAISED)]),
    "examples/prometheus-http.yaml": ("warns", [(10, "spec.window", "7d window 15m/1m (14x): " + SHORT_RAISED)]),
    "examples/prometheus-probe-success.yaml": ("warns", [(10, "spec.window", SHORT_RAISED)]),
    "examples/pyrra-filesystem-errors.yaml": (
        "warns",
        [(11, "spec.window", "1w window 15m/1m (14x): " + SHORT_RAISED)],
    ),
    "examples/caddy-response-latency.yaml": (
        "warns",
        [(15, "spec.window", "4w window 1h/5m (14x) needs an error ratio >= 100 % at objective 90: it can never fire")],
    ),
    "controller-http.slo.yaml": ("refused", [(17, "spec.partial_response_strategy", "always abort on partial")]),
    "testcase-http-latency-native.slo.yaml": ("refused", [(11, "spec.indicator.latencyNative", "native histograms")]),
    "examples/pyrra-connect-latency.yaml": (
        "refused",
        [(14, "spec.indicator.latencyNative", "native histograms")],  # the window's warning is no error
    ),
    "testcase-http-ratio-less-accuracy.slo.yaml": ("refused", [(11, "spec.ruleOutput", "cannot split short and long")]),
}


def _matches(text: str, path: Path, line: int, field: str, words: str) -> bool:
    return text.startswith(f"{path}:{line}: ") and f" {field}: " in text and words in text


@pytest.mark.parametrize("name", sorted(ANCHOR_SPECS))
def test_anchor_spec_loads_or_is_refused_with_reason(name):
    path = PYRRA / name
    outcome, expected = ANCHOR_SPECS[name]
    if outcome == "loads":
        loaded = load(path)
        assert loaded.specs and not loaded.warnings
        return
    if outcome == "warns":  # straight from the loader: load() counts loader warnings once wired
        spec, problems = loader_result(path, pyrra.LOADERS)
        assert spec is not None and {p.level for p in problems} == {"warning"}
        got = [str(p) for p in problems]
    else:
        got = problems_of(path)
    assert len(got) == len(expected), got
    for text, want in zip(got, expected, strict=True):
        assert _matches(text, path, *want), text


def test_every_pyrra_spec_anchor_is_covered():
    specs = {
        str(p.relative_to(PYRRA)) for p in PYRRA.rglob("*.yaml") if not p.name.endswith(("rules.yaml", "rule.yaml"))
    }
    assert specs == set(ANCHOR_SPECS)


# ---------------------------------------------------------------- field mapping


def test_ratio_fields_map():
    spec = load(PYRRA / "testcase-http-ratio.slo.yaml").specs[0]
    assert (spec.service, spec.evaluation_interval, spec.labels) == ("monitoring-http-errors", 30, {})
    slo = spec.slos[0]
    assert (slo.name, slo.objective, slo.window, slo.by) == ("monitoring-http-errors", 99, 28 * 86400, [])
    assert slo.sli.events.bad == 'http_requests_total{job="thanos-receive-default",code=~"5.."}'
    assert slo.sli.events.total == 'http_requests_total{job="thanos-receive-default"}'
    assert [n for _, n, _ in slo.alerts(spec.service)] == ["ErrorBudgetBurnPage", "ErrorBudgetBurnTicket"]
    assert (slo.alerting.page_severity, slo.alerting.ticket_severity) == ("critical", "warning")


def test_latency_grouping_and_bool_gauge_map():
    lat = load(PYRRA / "testcase-http-latency.slo.yaml").specs[0].slos[0]
    assert (
        lat.sli.latency.histogram
        == 'http_request_duration_seconds{job="metrics-service-thanos-receive-default",code=~"2.."}'
    )
    assert (lat.objective, lat.sli.latency.le) == (99.5, 1.0)
    spec, _ = loader_result(PYRRA / "testcase-apiserver-read-resource-latency.slo.yaml", pyrra.LOADERS)
    api = spec.slos[0]
    assert api.by == ["resource", "verb"] and api.window == 14 * 86400
    assert (
        api.sli.latency.histogram
        == 'apiserver_request_duration_seconds{job="apiserver",verb=~"LIST|GET",resource=~"resource|"}'
    )
    assert api.sli.latency.le == 0.1
    up = load(PYRRA / "testcase-prometheus-up-targets.slo.yaml").specs[0].slos[0]
    assert up.sli.timeslice.expr == "up" and up.sli.timeslice.min == 1 and up.sli.timeslice.max is None
    spec, _ = loader_result(PYRRA / "examples/prometheus-probe-success.yaml", pyrra.LOADERS)
    assert spec.slos[0].by == ["target"] and spec.slos[0].sli.timeslice.expr == "probe_success"


def test_latency_whose_bucket_and_count_differ_maps_to_events(tmp_path):
    f = tmp_path / "slo.yaml"
    text = (PYRRA / "testcase-http-latency.slo.yaml").read_text()
    f.write_text(text.replace('code=~"2..",le="1"}', 'code="200",le="1"}'))
    slo = load(f).specs[0].slos[0]
    assert (
        slo.sli.events.good
        == 'http_request_duration_seconds_bucket{job="metrics-service-thanos-receive-default",code="200",le="1"}'
    )
    assert slo.sli.events.total.startswith("http_request_duration_seconds_count{")


def test_propagated_labels_annotations_and_namespace(tmp_path):
    """controller-http without its Thanos-only partial_response_strategy: Pyrra copies pyrra.dev/
    labels onto its rules and pyrra.dev/ annotations onto its alerts (prefix stripped)."""
    f = tmp_path / "slo.yaml"
    text = (PYRRA / "controller-http.slo.yaml").read_text().replace("  partial_response_strategy: warn\n", "")
    f.write_text(text.replace("  uid: ", "  namespace: monitoring\n  uid: "))
    spec = load(f).specs[0]
    assert spec.labels == {"team": "foo"}
    assert spec.kubernetes.namespace == "monitoring"
    assert spec.slos[0].alerting.annotations == {"description": "foo"}
    assert spec.slos[0].objective == 99.5 and spec.slos[0].window == 28 * 86400


def test_disabled_alerting_and_alert_name(tmp_path):
    base = (PYRRA / "testcase-http-ratio.slo.yaml").read_text()
    f = tmp_path / "slo.yaml"
    f.write_text(base + "  alerting:\n    burnrates: false\n    name: HttpErrorsBurn\n")
    a = load(f).specs[0].slos[0].alerting
    assert (a.page, a.ticket, a.name) == ([], [], "HttpErrorsBurn")


# ---------------------------------------------------------------- windows, factors, for


def pyrra_generated_windows(path: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    """``{critical|warning: [(factor, long, short, for), ...]}`` from Pyrra's generated alerts
    (a rule file, or the PrometheusRule its Kubernetes operator writes)."""
    doc = yaml.safe_load(path.read_text())
    out: dict[str, list] = {}
    for group in doc["spec"]["groups"] if "spec" in doc else doc["groups"]:
        for r in group["rules"]:
            if r.get("alert") != "ErrorBudgetBurn":
                continue
            factor = float(r["expr"].split("> (")[1].split(" *")[0])
            lab = r["labels"]
            for_ = parse_duration(r["for"].removesuffix("0s") or "0s")  # Go writes 2m0s
            out.setdefault(lab["severity"], []).append(
                (factor, parse_duration(lab["long"]), parse_duration(lab["short"]), for_)
            )
    return out


RULES = {
    "testcase-http-ratio.rules.yaml": "4w",
    "testcase-http-latency.rules.yaml": "4w",
    "testcase-prometheus-up-targets.rules.yaml": "4w",
    "testcase-operator-ratio.rules.yaml": "2w",
    "testcase-apiserver-read-resource-latency.rules.yaml": "2w",
    "controller-http.prometheusrule.yaml": "28d",
}


def _as_tuples(w: dict) -> tuple[float, float, float, float]:
    return (w["burn_rate"], parse_duration(w["long"]), parse_duration(w["short"]), parse_duration(w["for"]))


@pytest.mark.parametrize("name", sorted(RULES))
def test_windows_equal_pyrras_generated_rules(name):
    computed: dict[str, list] = {}
    for severity, w in pyrra.pyrra_windows(parse_duration(RULES[name])):
        computed.setdefault(severity, []).append(_as_tuples(w))
    assert computed == pyrra_generated_windows(PYRRA / name)


def test_imported_spec_alerts_on_pyrras_windows():
    """4w: the spec holds Pyrra's windows as they are; 2w: the same but the 3m short window is 5m."""
    slo = load(PYRRA / "testcase-http-ratio.slo.yaml").specs[0].slos[0]
    golden = pyrra_generated_windows(PYRRA / "testcase-http-ratio.rules.yaml")
    tiers = {"page": "critical", "ticket": "warning"}
    for tier, severity in tiers.items():
        assert [(b.burn_rate, b.long, b.short, b.for_) for b in getattr(slo.alerting, tier)] == golden[severity]
    spec, _ = loader_result(PYRRA / "testcase-operator-ratio.slo.yaml", pyrra.LOADERS)
    golden = pyrra_generated_windows(PYRRA / "testcase-operator-ratio.rules.yaml")
    got = [(b.burn_rate, b.long, b.short, b.for_) for b in spec.slos[0].alerting.page]
    assert got == [(14, 1800, 300, 60), golden["critical"][1]]
    assert golden["critical"][0] == (14, 1800, 180, 60)


def test_go_rounding_of_scaled_windows():
    """Pyrra divides nanoseconds as integers and rounds to the minute, halves up (Go's Round)."""
    week = dict((s, w) for s, w in pyrra.pyrra_windows(7 * 86400) if w["burn_rate"] in (14, 7))
    assert week["critical"] == {"burn_rate": 7, "long": "1h30m", "short": "8m", "for": "4m"}
    first = pyrra.pyrra_windows(7 * 86400)[0][1]
    assert (first["long"], first["short"], first["for"]) == ("15m", "1m", "1m")  # 75s -> 1m, 30s -> 1m


# ---------------------------------------------------------------- errors name the Pyrra field

ERRORS = [
    ({"ratio:": "ratoi:"}, 11, "spec.indicator.ratoi", "unknown field 'ratoi'; did you mean 'ratio'?"),
    ({'target: "99"': 'target: "ninety"'}, 8, "spec.target", "is not a number"),
    ({'target: "99"': 'target: "0.99"'}, 8, "spec.target", "did you mean '99'?"),
    ({'target: "99"': 'target: "100"'}, 8, "spec.target", "objective 100 is out of range"),
    ({"window: 4w": "window: 4 weeks"}, 9, "spec.window", "is not a duration"),
    ({"kind: ServiceLevelObjective": "kind: SLO"}, 4, "kind", "pyrra.dev/v1alpha1 kind 'SLO' is not supported"),
    ({"name: monitoring-http-errors": "name: Monitoring.HTTP"}, 6, "metadata.name", "must be a lowercase slug"),
    (
        {'metric: http_requests_total{job="thanos-receive-default"}\n': "metric: rate(http_requests_total[5m])\n"},
        15,
        "spec.indicator.ratio.total.metric",
        "Pyrra needs a plain series selector here",
    ),
    (
        {"  indicator:\n": "  alerting:\n    absentName: Gone\n  indicator:\n"},
        11,
        "spec.alerting.absentName",
        "no per-SLO absent alert",
    ),
    (
        {"  indicator:\n": "  indicator:\n    bool_gauge:\n      metric: up\n"},
        10,
        "spec.indicator",
        "give exactly one of ratio, latency, latencyNative or bool_gauge (got ratio, bool_gauge)",
    ),
]


@pytest.mark.parametrize(("edits", "line", "field", "words"), ERRORS)
def test_errors_name_file_line_and_pyrra_field(tmp_path, edits, line, field, words):
    text = (PYRRA / "testcase-http-ratio.slo.yaml").read_text()
    for old, new in edits.items():
        assert old in text
        text = text.replace(old, new, 1)
    f = tmp_path / "slo.yaml"
    f.write_text(text)
    got = problems_of(f)
    assert any(_matches(g, f, line, field, words) for g in got), got


def test_cli_validate_exits_2_with_file_line_field(tmp_path):
    f = tmp_path / "slo.yaml"
    f.write_text((PYRRA / "testcase-http-ratio.slo.yaml").read_text().replace('target: "99"', 'target: "100"'))
    code = (
        "import sys, sloforge.spec as S; from sloforge.spec import pyrra; S._LOADERS.update(pyrra.LOADERS); "
        "sys.argv = ['sloforge', *sys.argv[1:]]; from sloforge.cli import main; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "validate", str(f)], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{f}:8: spec.target: objective 100 is out of range" in proc.stderr + proc.stdout


# ---------------------------------------------------------------- same incidents, same alerts (promtool)


def test_sloforge_alerts_fire_on_the_same_incidents_as_pyrra(tmp_path):
    """testcase-http-ratio (99 %, 4w) against Pyrra's own rules, after 6h healthy. A 30-minute total
    outage (1m steps) pages both (Pyrra: 1h/5m 14x, for 2m) and later tickets both (2h/1d 2x, for 1h);
    a slow burn (4 % errors = 4x, 5m steps) tickets both and pages neither. Measured: the same minute
    for pages and tickets, the slow burn within one 5m step (printed with pytest -s)."""
    spec = load(PYRRA / "testcase-http-ratio.slo.yaml").specs[0]
    ours = tmp_path / "sloforge.rules.yml"
    ours.write_text(distinct_alert_labels(rule_file(spec)))
    rule_files = [PYRRA / "testcase-http-ratio.rules.yaml", ours]

    def scenario(phases: list[tuple[int, float]], step: int) -> tuple[str, int]:
        good, bad = counters(phases, step)
        rows = [
            ('http_requests_total{job="thanos-receive-default",code="200"}', good),
            ('http_requests_total{job="thanos-receive-default",code="500"}', bad),
        ]
        text = "".join(f"  - series: '{s}'\n    values: {series_text(v)}\n" for s, v in rows)
        return text, sum(m for m, _ in phases)

    alerts = {
        "pyrra_page": 'alertname="ErrorBudgetBurn",severity="critical"',
        "pyrra_ticket": 'alertname="ErrorBudgetBurn",severity="warning"',
        "sloforge_page": 'alertname="ErrorBudgetBurnPage"',
        "sloforge_ticket": 'alertname="ErrorBudgetBurnTicket"',
    }
    outage = [(360, 0.0), (30, 1.0), (120, 0.0)]
    fired = first_firing(tmp_path, rule_files, {"outage": scenario(outage, 1)}, alerts, step=1)
    slow = [(360, 0.0), (480, 0.04)]
    fired |= first_firing(tmp_path, rule_files, {"slow-burn": scenario(slow, 5)}, alerts, step=5)
    assert {"outage/pyrra_page", "outage/pyrra_ticket", "slow-burn/pyrra_ticket"} <= set(fired)
    assert "slow-burn/pyrra_page" not in fired
    compare(fired, ["outage", "slow-burn"], {"outage": 360, "slow-burn": 360}, "pyrra", {"page": 5, "ticket": 10})
