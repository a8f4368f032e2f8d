"""``sloforge backtest``: firing intervals, budget, missed incidents and noise on histories with known incidents."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from sloforge.evaluate.backtest import backtest
from sloforge.sources.openmetrics import read_openmetrics
from sloforge.sources.synthetic import DAY, Incident, history
from sloforge.spec import load

T0 = 1_790_000_000 // 86_400 * 86_400

SPEC = """\
apiVersion: sloforge/v1
service: shop
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        bad: http_requests_total{code="500"}
        total: http_requests_total
  - name: checkout
    objective: 99
    by: [route]
    alerting:
      page: [{burn_rate: 14.4, long: 10m, short: 5m}]
      ticket: false
    sli:
      events:
        bad: checkout_total{code="500"}
        total: checkout_total
"""

INCIDENTS = (
    Incident(day=2.5, hours=0.5, error_ratio=1.0),  # pages within minutes
    Incident(day=5.0, hours=72.0, burn=3.0),  # 3x for 3 days: ~30 % of the budget, tickets but never pages
    Incident(day=9.5, hours=2.5 / 60, error_ratio=1.0),  # a blip: two 1m scrapes of errors
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> tuple[Path, object]:
    d = tmp_path_factory.mktemp("shop")
    (d / "shop.yaml").write_text(SPEC)
    spec = load(d / "shop.yaml").specs[0]
    return d, spec


@pytest.fixture(scope="module")
def results(shop) -> list[dict]:
    _, spec = shop
    data = history([spec], T0, 12, 60, incidents=INCIDENTS, events_per_second=20)
    return backtest(spec, data, T0, T0 + 12 * DAY)


def one(results: list[dict], slo: str, **labels: str) -> dict:
    (r,) = [r for r in results if r["slo"] == slo and r["labels"] == labels]
    return r


def test_the_outage_pages_within_minutes_and_is_not_missed(results):
    r = one(results, "availability")
    page = next(a for a in r["alerts"] if a["tier"] == "page")
    start = T0 + 2.5 * DAY
    assert page["severity"] == "critical"
    first = page["firing"][0]
    # 14.4x over 1h at 99.9 %: 100 % errors need 0.0144 h = 52 s of the hour, plus the 5m short window
    assert start <= first[0] <= start + 5 * 60, (first, start)
    outage = next(i for i in r["incidents"] if abs(i["start"] - start) < 600)
    assert outage["paged"] and not outage["missed"]


def test_a_slow_burn_that_never_pages_is_missed(results):
    r = one(results, "availability")
    slow = next(i for i in r["incidents"] if abs(i["start"] - (T0 + 5 * DAY)) < 3600)
    # 3x for 3 of the SLO window's 30 days: 30 % of the budget
    assert slow["budget_burned"] == pytest.approx(0.3, abs=0.03)
    assert not slow["paged"] and slow["ticketed"] and slow["missed"]
    assert slow in r["missed"]
    assert T0 + 8 * DAY - 3600 < slow["end"] <= T0 + 8 * DAY + 3600


def test_budget_remaining_matches_the_raw_counters(shop, results):
    """The last budget value against the raw counters' own increase over the data (shorter than 30d)."""
    _, spec = shop
    data = history([spec], T0, 12, 60, incidents=INCIDENTS, events_per_second=20)
    bad = sum(s.v[-1] - s.v[0] for s in data.select('http_requests_total{code="500"}'))
    total = sum(s.v[-1] - s.v[0] for s in data.select("http_requests_total"))
    expected = 1 - (bad / total) / 0.001
    r = one(results, "availability")
    t, last = r["budget_remaining"][-1]
    assert t == T0 + 12 * DAY
    assert last == pytest.approx(expected, abs=0.01)  # the rules' view: the 12 days' own budget
    # judged against a full 30-day window of the same mean traffic
    assert r["budget_burned"] == pytest.approx((1 - expected) * 12 / 30, abs=0.01)
    daily = [v for _, v in r["budget_burned_per_day"]]
    assert len(daily) == 12
    # 30 minutes of 100 % errors at 99.9 % over 30 days: 30 / 43.2 of the budget
    assert int(np.argmax(daily)) == 2 and daily[2] == pytest.approx(30 / 43.2 + 0.01, rel=0.1)
    for day in (5, 6, 7):  # 3x for a day: 3/30 of the budget
        assert daily[day] == pytest.approx(0.1, abs=0.015), daily
    for day in (0, 1, 3, 4, 10, 11):  # 0.3x baseline: 0.3/30
        assert daily[day] == pytest.approx(0.01, abs=0.005), daily


def test_a_blip_paging_on_a_short_window_is_noise(results):
    r = one(results, "checkout", route="/api/items")
    page = next(a for a in r["alerts"] if a["tier"] == "page")
    blip = T0 + 9.5 * DAY
    assert any(a <= blip + 600 and b >= blip for a, b in page["firing"]), page["firing"]
    noise = [n for n in r["noise"] if abs(n["start"] - blip) < 900]
    assert noise and noise[0]["budget_burned"] < 0.01 and noise[0]["alert"] == page["name"]
    # the other route had no incidents: no alerts, no noise
    quiet = one(results, "checkout", route="/api/orders")
    assert all(not a["firing"] for a in quiet["alerts"]) and not quiet["noise"] and not quiet["missed"]


def test_cli_demo_data_then_backtest_json(shop):
    d, _ = shop
    data = d / "shop.om.gz"
    made = run_cli("demo-data", str(d / "shop.yaml"), "--days", "3", "--to", "2026-11-01", "-o", str(data))
    assert made.returncode == 0, made.stderr
    assert len(read_openmetrics(data)) == 6  # 2 metrics x (200, 500) + the checkout routes' second series
    proc = run_cli("backtest", str(d / "shop.yaml"), "--data", str(data), "--json", "--resolution", "6h")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["source"] == str(data) and doc["to"] - doc["from"] == pytest.approx(3 * DAY, abs=120)
    assert {(r["slo"], tuple(r["labels"].items())) for r in doc["slos"]} == {
        ("availability", ()),
        ("checkout", (("route", "/api/items"),)),
        ("checkout", (("route", "/api/orders"),)),
    }
    for r in doc["slos"]:
        assert {"service", "slo", "labels", "alerts", "budget_remaining", "missed", "noise"} <= set(r)
        for a in r["alerts"]:
            assert {"name", "severity", "firing"} <= set(a)
            assert all(len(iv) == 2 and iv[0] < iv[1] for iv in a["firing"])
        steps = np.diff([t for t, _ in r["budget_remaining"]])
        assert steps.max() == 6 * 3600
    table = run_cli("backtest", str(d / "shop.yaml"), "--data", str(data))
    assert table.returncode == 0 and "sloforge backtest 2026-10-29T00:00:00Z" in table.stdout


def test_cli_usage_errors_exit_2(shop):
    d, _ = shop
    assert run_cli("backtest", str(d / "shop.yaml")).returncode == 2
    bad_time = run_cli("backtest", str(d / "shop.yaml"), "--data", str(d / "x.om"), "--from", "yesterday")
    assert bad_time.returncode == 2 and "--from" in bad_time.stderr and "Traceback" not in bad_time.stderr
    missing = run_cli("backtest", str(d / "shop.yaml"), "--data", str(d / "missing.om"))
    assert missing.returncode == 2 and "missing.om" in missing.stderr and "Traceback" not in missing.stderr


def test_prometheus_source_gives_the_same_backtest_as_the_file(shop, tmp_path):
    """The same history backfilled into a real Prometheus: `--prometheus` fetches the raw series in chunks and
    the backtest equals the one over the file."""
    from conftest import backfilled_prometheus

    from sloforge.sources.openmetrics import write_openmetrics

    d, spec = shop
    data = tmp_path / "shop.om"
    write_openmetrics(history([spec], T0, 4, 60, incidents=(INCIDENTS[0],), events_per_second=20), data)
    prom = backfilled_prometheus(tmp_path, data)
    try:
        window = ["--from", str(T0 + DAY), "--to", str(T0 + 4 * DAY), "--json"]
        over_http = run_cli("backtest", str(d / "shop.yaml"), "--prometheus", prom.url, *window, timeout=300)
        assert over_http.returncode == 0, over_http.stderr
    finally:
        prom.stop()
    from_file = run_cli("backtest", str(d / "shop.yaml"), "--data", str(data), *window)
    assert from_file.returncode == 0, from_file.stderr
    a, b = json.loads(over_http.stdout), json.loads(from_file.stdout)
    assert a["source"] == prom.url
    assert a["slos"] == b["slos"]
    paged = one(a["slos"], "availability")["alerts"][0]["firing"]
    assert paged and T0 + 2.5 * DAY <= paged[0][0] <= T0 + 2.5 * DAY + 300
