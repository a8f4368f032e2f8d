"""``simulate(spec)``: incident scenarios through the engine, checked against the SRE Workbook.

Detection time = (1 - SLO) / error ratio x window x burn rate (+ ``for``), as
``generate.promtool_tests.detection_seconds`` computes it for a tier's pairs.
The engine evaluates the generated rules at the evaluation interval, so it
fires at the first evaluation after that moment: within one interval for
windows the rules sum from abutting 5m/1h rates, and up to 2.5 minutes more for
windows they derive as ``avg_over_time(rate5m[w - 5m])`` (1d, 3d: the 5m rates
ramp in over their first 5 minutes, docs/rules.md).
"""

from __future__ import annotations

import json

import pytest
from conftest import BASE_SPEC, EXAMPLES, run_cli

from sloforge.evaluate.simulate import Scenario, default_scenarios, simulate, summarize
from sloforge.generate.promtool_tests import detection_seconds
from sloforge.model import SLO, BurnWindow, Spec
from sloforge.spec import load

RAMP = 150.0  # half the 5m base window: the lag of avg_over_time(rate5m[w - 5m]) at a step
KEYS = {"slo", "scenario", "severity", "fired", "detection_seconds", "reset_seconds", "budget_spent"}

SPEC = """\
apiVersion: sloforge/v1
service: shop
evaluation_interval: 1m
metrics:
  - {name: http_requests_total, type: counter, labels: [code, route]}
  - {name: http_request_duration_seconds, type: histogram, labels: [route], buckets: [0.1, 0.5, 1]}
slos:
  - name: availability
    objective: 99.9
    by: [route]
    sli:
      events: {bad: 'http_requests_total{code=~"5.."}', total: http_requests_total}
  - name: latency
    objective: 99
    sli:
      latency: {histogram: http_request_duration_seconds, le: 0.5}
    alerting:
      page: [{burn_rate: 14.4, long: 1h, short: 5m, for: 2m}, {burn_rate: 6, long: 6h, short: 30m, for: 2m}]
      ticket: [{burn_rate: 3, long: 1d, short: 2h}]
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Spec:
    path = tmp_path_factory.mktemp("sim") / "shop.yaml"
    path.write_text(SPEC)
    return load(path).specs[0]


@pytest.fixture(scope="module")
def rows(shop) -> list[dict]:
    return simulate(shop)


def _exact(window: float) -> bool:
    """Windows the rules sum from abutting recorded rates (no ramp)."""
    return window <= 300 or (window <= 3600 and window % 300 == 0) or (window <= 43200 and window % 3600 == 0)


def _deciding(pairs: list[BurnWindow], budget: float, before: float, during: float) -> BurnWindow | None:
    best = None
    for bw in pairs:
        t = detection_seconds([bw], budget, before, during)
        if t is not None and (best is None or t < best[0]):
            best = (t, bw)
    return None if best is None else best[1]


def _slo(spec: Spec, name: str) -> SLO:
    return next(s for s in spec.slos if s.name == name)


def _check_detection(spec: Spec, rows: list[dict], baseline: float = 0.0) -> int:
    checked = 0
    step = spec.evaluation_interval
    for r in rows:
        slo = _slo(spec, r["slo"])
        sc = r["scenario"]
        pairs = getattr(slo.alerting, r["tier"])
        formula = detection_seconds(pairs, slo.error_budget, baseline, sc["error_ratio"])
        assert r["expected_detection_seconds"] == (None if formula is None else round(formula, 3))
        if formula is None:
            assert not r["fired"], r
            continue
        bw = _deciding(pairs, slo.error_budget, baseline, sc["error_ratio"])
        # a timeslice SLI's ratio only grows when a bad slice arrives: every 1/ratio evaluations
        spacing = step / sc["error_ratio"] if slo.sli.timeslice else step
        late = spacing + (0.0 if _exact(bw.long) and _exact(bw.short) else RAMP)
        early = 0.0 if _exact(bw.long) and _exact(bw.short) else RAMP
        if formula + late < sc["duration_seconds"]:
            assert r["fired"], r
        if r["fired"]:
            d = r["detection_seconds"]
            assert formula - early <= d <= formula + late, (r, formula)
            checked += 1
        elif formula < sc["duration_seconds"] - late:
            pytest.fail(f"should have fired: {r}")
    return checked


def test_rows_follow_the_json_contract(shop, rows):
    assert rows
    for r in rows:
        assert set(r) >= KEYS, r
        assert {"error_ratio", "duration_seconds"} <= set(r["scenario"])
        assert r["severity"] in ("critical", "warning")
        assert r["fired"] == (r["detection_seconds"] is not None)
    json.dumps(rows)
    # every scenario for every alert tier of both SLOs
    assert len(rows) == sum(len(default_scenarios(shop, slo)) * 2 for slo in shop.slos)
    assert {r["slo"] for r in rows} == {"availability", "latency"}
    assert {r["labels"].get("route") for r in rows if r["slo"] == "availability"} == {"failing"}


def test_detection_times_match_the_workbook(shop, rows):
    assert _check_detection(shop, rows) >= 15


def test_for_delays_the_page_by_its_duration(shop, rows):
    page = [r for r in rows if r["slo"] == "latency" and r["tier"] == "page" and r["fired"]]
    assert page
    for r in page:
        # 14.4x over 1h/5m at 100 %: 1h x 0.01 x 14.4 = 8m38s, then `for: 2m`
        if r["scenario"]["error_ratio"] == 1.0:
            assert 518.4 + 120 < r["detection_seconds"] <= 518.4 + 120 + 60


def test_reset_within_the_short_window(shop, rows):
    for r in rows:
        if not r["fired"]:
            continue
        slo = _slo(shop, r["slo"])
        pairs = getattr(slo.alerting, r["tier"])
        longest_short = max(bw.short + (bw.for_ or 0) for bw in pairs)
        assert r["reset_seconds"] is not None, r
        assert 0 < r["reset_seconds"] <= longest_short + shop.evaluation_interval, r


def test_budget_spent_before_the_first_alert(shop, rows):
    for r in rows:
        if not r["fired"]:
            assert r["budget_spent"] is None
            continue
        slo = _slo(shop, r["slo"])
        sc = r["scenario"]
        burning = min(r["detection_seconds"], sc["duration_seconds"])
        expect = sc["error_ratio"] * burning / (slo.error_budget * slo.window)
        assert r["budget_spent"] == pytest.approx(expect, rel=1e-6)
    # the Workbook's page: a 100 % outage has burned 2 % of a 30-day budget when 14.4x over 1h fires
    outage = next(
        r
        for r in rows
        if r["slo"] == "availability" and r["tier"] == "page" and r["scenario"]["error_ratio"] == 1.0 and r["fired"]
    )
    one_step = shop.evaluation_interval / (_slo(shop, "availability").error_budget * 30 * 86400)
    assert 0.02 < outage["budget_spent"] <= 0.02 + one_step


def test_blips_stay_quiet_and_precision_recall(shop, rows):
    for r in rows:
        if r["scenario"]["kind"] == "blip":
            assert not r["fired"], r
    summary = summarize(rows)
    assert len(summary) == 4
    for s in summary:
        assert s["events"] == len(default_scenarios(shop, _slo(shop, s["slo"])))
        assert s["true_positives"] + s["false_negatives"] == s["significant"]
        assert s["precision"] == 1.0, s  # Workbook windows never fire on an event below their budget share
        assert 0 < s["recall"] <= 1
    page = next(s for s in summary if s["slo"] == "availability" and s["tier"] == "page")
    # slow burns (1 % errors for a day against a 0.1 % budget) are the ticket's, not the page's
    assert page["recall"] < 1 and page["false_negatives"] >= 1


def test_baseline_errors_shorten_detection(shop):
    slo = _slo(shop, "availability")
    baseline = 0.5 * slo.error_budget
    scenarios = [Scenario(0.1, 7200.0), Scenario(1.0, 1800.0)]
    rows = simulate(shop, scenarios, baseline_error_ratio=baseline)
    rows = [r for r in rows if r["slo"] == "availability"]
    assert _check_detection(shop, rows, baseline) >= 2
    quiet = [r for r in simulate(shop, scenarios) if r["slo"] == "availability"]
    shorter = 0
    for a, b in zip(rows, quiet, strict=True):
        assert (a["alert"], a["scenario"]["error_ratio"]) == (b["alert"], b["scenario"]["error_ratio"])
        if a["fired"] and b["fired"]:
            assert a["detection_seconds"] <= b["detection_seconds"]
            shorter += a["detection_seconds"] < b["detection_seconds"]
    assert shorter


def test_example_spec_is_deterministic():
    spec = load(EXAMPLES / "kubernetesexecution.yaml").specs[0]
    scenarios = [Scenario(1.0, 1800.0), Scenario(0.1, 21600.0), Scenario(1.0, 60.0, "blip")]
    first = simulate(spec, scenarios)
    assert json.dumps(first, sort_keys=True) == json.dumps(simulate(spec, scenarios), sort_keys=True)
    assert _check_detection(spec, first) >= 4
    assert {r["slo"] for r in first} == {s.name for s in spec.slos}  # timeslice SLIs too


def test_simulate_cli_json_contract(tmp_path):
    """`sloforge simulate --json`: the issue's keys on every row, a 100 % outage pages at the Workbook time."""
    import json

    spec = tmp_path / "s.yaml"
    spec.write_text(BASE_SPEC)
    proc = run_cli("simulate", str(spec), "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows
    for r in rows:
        assert {"slo", "scenario", "severity", "fired", "detection_seconds", "reset_seconds", "budget_spent"} <= set(r)
        assert {"error_ratio", "duration_seconds"} <= set(r["scenario"])
    outage = [
        r
        for r in rows
        if r["tier"] == "page" and r["scenario"]["error_ratio"] == 1.0 and r["scenario"]["duration_seconds"] >= 3600
    ]
    assert outage and all(r["fired"] for r in outage)
    for r in outage:
        assert abs(r["detection_seconds"] - r["expected_detection_seconds"]) <= 60


TIMESLICE_SPEC = """\
apiVersion: sloforge/v1
service: pool
evaluation_interval: 1m
metrics:
  - {name: pool_free_ratio, type: gauge, labels: [pool]}
slos:
  - name: free-capacity
    objective: 99
    by: [pool]
    sli:
      timeslice: {expr: 'min by (pool) (pool_free_ratio)', min: 0.2}
"""


def test_timeslice_slis_are_simulated_on_the_share_of_bad_slices(tmp_path):
    """A timeslice SLI's error ratio is the share of bad slices (one per evaluation), its budget counted in
    slices: detection follows the Workbook formula, late by at most the spacing of bad slices (1/ratio
    evaluations: a window's ratio only grows when a bad slice arrives)."""
    path = tmp_path / "pool.yaml"
    path.write_text(TIMESLICE_SPEC)
    spec = load(path).specs[0]
    (slo,) = spec.slos
    scenarios = [Scenario(r, d) for r in (1.0, 0.2, 0.1) for d in (3600.0, 6 * 3600.0)]
    rows = simulate(spec, scenarios)
    assert len(rows) == len(scenarios) * 2 and {r["labels"]["pool"] for r in rows} == {"failing"}
    checked = 0
    for r in rows:
        sc = r["scenario"]
        pairs = getattr(slo.alerting, r["tier"])
        formula = detection_seconds(pairs, slo.error_budget, 0.0, sc["error_ratio"])
        bw = _deciding(pairs, slo.error_budget, 0.0, sc["error_ratio"])
        slack = spec.evaluation_interval / sc["error_ratio"] + (0.0 if _exact(bw.long) else RAMP)
        if formula is not None and formula + slack < sc["duration_seconds"]:
            assert r["fired"] and formula - RAMP <= r["detection_seconds"] <= formula + slack, (r, formula)
            checked += 1
    assert checked >= 6
    # a full outage of an hour: 60 bad slices of the 30 days' 43,200 x 1 % = 432 allowed
    outage = next(r for r in rows if r["scenario"]["error_ratio"] == 1.0 and r["tier"] == "page")
    assert outage["budget_consumed"] == pytest.approx(60 / 432)
