"""``sloforge report --data``: the JSON contract, the budget arithmetic, statuses and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from sloforge.evaluate import evaluate
from sloforge.sources.openmetrics import read_openmetrics, write_openmetrics
from sloforge.sources.synthetic import DAY, Incident, history
from sloforge.spec import load

T0 = 1_790_000_000 // 86_400 * 86_400

SPEC = """\
apiVersion: sloforge/v1
service: shop
slos:
  - name: availability
    objective: 99.9
    window: 7d
    sli:
      events:
        bad: http_requests_total{code="500"}
        total: http_requests_total
  - name: checkout
    objective: 99
    window: 7d
    by: [route]
    sli:
      events:
        bad: checkout_total{code="500"}
        total: checkout_total
"""

# the first route of checkout (and availability) gets 40 minutes of 100 % errors an hour before the end
INCIDENTS = (Incident(day=3.0 - 100 / 1440, hours=40 / 60, error_ratio=1.0),)


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("report")
    (d / "shop.yaml").write_text(SPEC)
    spec = load(d / "shop.yaml").specs[0]
    write_openmetrics(history([spec], T0, 3, 60, incidents=INCIDENTS, events_per_second=10), d / "shop.om.gz")
    return d


def report(d: Path, *args: str) -> tuple[int, dict]:
    proc = run_cli("report", str(d / "shop.yaml"), "--data", str(d / "shop.om.gz"), "--json", *args)
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(proc.stdout) if proc.stdout else {}


def one(doc: dict, slo: str, **labels: str) -> dict:
    (r,) = [r for r in doc["slos"] if r["slo"] == slo and r["labels"] == labels]
    return r


def test_json_contract_and_numbers_equal_the_engine(shop):
    rc, doc = report(shop)
    assert rc == 0
    assert doc["source"] == str(shop / "shop.om.gz") and doc["at"] == T0 + 3 * DAY
    assert {"generated_at", "source", "slos"} <= set(doc)
    spec = load(shop / "shop.yaml").specs[0]
    data = read_openmetrics(shop / "shop.om.gz")
    evs = {(e.slo, tuple(e.labels.items())): e for e in evaluate(spec, data, T0 + 2 * DAY, T0 + 3 * DAY)}
    assert len(doc["slos"]) == len(evs) == 3
    for r in doc["slos"]:
        assert {"service", "slo", "labels", "objective", "sli", "error_budget", "burn_rates", "status"} <= set(r)
        assert "exhaustion_at" in r and {"total", "used", "remaining"} <= set(r["error_budget"])
        ev = evs[(r["slo"], tuple(r["labels"].items()))]
        assert r["sli"] == pytest.approx(float(ev.sli[-1]), rel=1e-12)
        assert r["error_budget"]["remaining"] == pytest.approx(float(ev.budget_remaining[-1]), rel=1e-12)
        for w, b in r["burn_rates"].items():
            assert b == pytest.approx(float(ev.burn_rate[w][-1]), rel=1e-12), w
        assert r["source"] == "engine"


def test_budget_arithmetic_status_and_exhaustion(shop):
    _, doc = report(shop)
    failing = one(doc, "checkout", route="/api/items")
    b = failing["error_budget"]
    assert b["total"] == pytest.approx(0.01)
    assert b["used"] == pytest.approx(1 - b["remaining"])
    assert b["total_minutes"] == pytest.approx(0.01 * 7 * 1440)
    assert b["remaining_minutes"] == pytest.approx(b["total_minutes"] * b["remaining"])
    # events: 10/s over the 3 days of history (the 7d window is not yet full)
    assert b["total_events"] == pytest.approx(0.01 * 10 * 3 * DAY, rel=0.02)
    assert b["remaining_events"] == pytest.approx(b["total_events"] * b["remaining"])
    # 40 minutes of the 3 days failed: against a budget of 1 % of 3 days (43.2 min) almost all of it is gone
    assert b["remaining"] < 0.25 and failing["status"] in ("at_risk", "breached")
    healthy = one(doc, "checkout", route="/api/orders")
    assert healthy["status"] == "healthy" and healthy["error_budget"]["remaining"] > 0.5
    burn_1h = healthy["burn_rates"]["1h"]
    expected = doc["at"] + healthy["error_budget"]["remaining"] * 7 * DAY / burn_1h
    assert healthy["exhaustion_at"] == pytest.approx(expected)


def test_alerts_firing_at_the_time_asked(shop):
    """--at inside the outage: the page fires for the failing series only; at the end it has stopped."""
    rc, during = report(shop, "--at", str(T0 + 3 * DAY - 70 * 60))
    assert rc == 0 and during["at"] == T0 + 3 * DAY - 70 * 60
    assert "ShopCheckoutPage" in one(during, "checkout", route="/api/items")["alerts_firing"]
    assert one(during, "checkout", route="/api/orders")["alerts_firing"] == []
    _, after = report(shop)
    assert "ShopCheckoutPage" not in one(after, "checkout", route="/api/items")["alerts_firing"]


def test_exit_codes_unknown_and_breach(shop, tmp_path):
    rc, doc = report(shop, "--fail-on-breach")
    breached = [r for r in doc["slos"] if r["status"] == "breached"]
    assert rc == (3 if breached else 0)
    # an SLO whose series are not in the data: unknown with the reason, exit 1, the others still reported
    (tmp_path / "shop.yaml").write_text(
        SPEC + "  - name: search\n    objective: 99\n    sli:\n      events:\n"
        '        bad: search_total{code="500"}\n        total: search_total\n'
    )
    proc = run_cli("report", str(tmp_path / "shop.yaml"), "--data", str(shop / "shop.om.gz"), "--json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    search = one(doc, "search")
    assert search["status"] == "unknown" and "no samples" in search["reason"]
    assert len(doc["slos"]) == 4
    table = run_cli("report", str(tmp_path / "shop.yaml"), "--data", str(shop / "shop.om.gz"))
    assert table.returncode == 1 and "unknown" in table.stdout and "Traceback" not in table.stderr


def test_usage_errors_exit_2(shop):
    assert run_cli("report", str(shop / "shop.yaml")).returncode == 2
    both = run_cli("report", str(shop / "shop.yaml"), "--data", "x", "--prometheus", "http://127.0.0.1:1")
    assert both.returncode == 2
    bad_at = run_cli("report", str(shop / "shop.yaml"), "--data", str(shop / "shop.om.gz"), "--at", "soon")
    assert bad_at.returncode == 2 and "--at" in bad_at.stderr


def test_serve_command_serves_the_same_report(shop):
    """`sloforge serve --data` as a user runs it: the JSON API equals `report --json`, /metrics has the gauges."""
    import os
    import subprocess
    import sys
    import time

    import httpx
    from conftest import free_port, stop_process
    from prometheus_client.parser import text_string_to_metric_families

    port = free_port()
    args = ["serve", str(shop / "shop.yaml"), "--data", str(shop / "shop.om.gz"), "--port", str(port)]
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "sloforge", *args], env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.2)
        api = httpx.get(url + "/api/slos", timeout=10).json()
        page = httpx.get(url + "/", timeout=10)
        slo_page = httpx.get(url + "/slo/shop/checkout", timeout=10)
        metrics = httpx.get(url + "/metrics", timeout=10).text
    finally:
        stop_process(proc)
    _, doc = report(shop)
    assert [(r["slo"], r["labels"], r["sli"], r["status"]) for r in api["slos"]] == [
        (r["slo"], r["labels"], r["sli"], r["status"]) for r in doc["slos"]
    ]
    assert page.status_code == 200 and "checkout" in page.text
    assert slo_page.status_code == 200 and slo_page.text.count("<svg") >= 4  # 2 series x (budget, burn rate)
    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    remaining = {
        (s.labels["slo"], s.labels.get("route")): s.value
        for s in families["sloforge_slo_error_budget_remaining_ratio"].samples
    }
    for r in doc["slos"]:
        assert remaining[(r["slo"], r["labels"].get("route"))] == pytest.approx(r["error_budget"]["remaining"])
