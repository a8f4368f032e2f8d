"""``reports_from_prometheus`` against real backends on 127.0.0.1.

Raw history (synthetic traffic with incidents, plus ``ALERTS`` samples) is
backfilled into Prometheus 2.42 with promtool, and the generated rules are
backfilled over the last hours with ``sloforge backfill`` (cold start: the
rules "were deployed" 7 hours before the report time).  Then:

(a) recorded path: every number equals the backend's own answer for the
    recorded series, and equals the engine replaying the rules on the same
    raw data (1e-9): alert-window burn rates at the SLI group's last
    evaluation, SLO-window values at the SLI samples the SLO group read;
(b) queries are batched per service: more SLOs, the same number of queries;
(c) raw fallback (a Prometheus and a VictoriaMetrics 1.79 holding only raw
    series): every number equals the backend's answer to plain PromQL;
(d) faults from a loopback server: refused connections, HTTP 500, bodies that
    are not JSON, empty answers, NaN values, a failing side query.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import numpy as np
import pytest
from conftest import PrometheusServer, backfilled_prometheus, free_port, need, victoria_metrics

from sloforge.backfill import run_backfill
from sloforge.durations import format_duration, parse_duration
from sloforge.evaluate import evaluate
from sloforge.evaluate.series import Series, SeriesSet
from sloforge.generate.rules import rule_file
from sloforge.model import Spec
from sloforge.report.from_prometheus import reports_from_prometheus
from sloforge.report.model import AT_RISK, BREACHED, HEALTHY, UNKNOWN, SLOReport, exhaustion, projection_window
from sloforge.sources.openmetrics import write_openmetrics
from sloforge.sources.prometheus import Connection, PrometheusSource
from sloforge.sources.synthetic import DAY, Incident, history
from sloforge.spec import load

pytestmark = [pytest.mark.prometheus, pytest.mark.promtool]

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
END = T0 + 2.25 * DAY  # raw history ends here
AT = END - 0.001  # after the last evaluation of every rule group before END
DEPLOYED = END - 7 * 3600  # the recorded series start here
REL = 1e-9

SHOP = """\
apiVersion: sloforge/v1
service: shop
labels: {team: web}
metrics:
  - {name: http_requests_total, type: counter, labels: [code, route]}
  - {name: http_request_duration_seconds, type: histogram, labels: [route], buckets: [0.1, 0.25, 0.5, 1]}
slos:
  - name: availability
    objective: 99
    window: 1d
    by: [route]
    alerting:
      ticket: [{burn_rate: 3, long: 1d, short: 2h}]
    sli:
      events: {bad: 'http_requests_total{code=~"5.."}', total: http_requests_total}
  - name: latency
    objective: 95
    window: 2d
    alerting: {ticket: false}
    sli:
      latency: {histogram: http_request_duration_seconds, le: 0.5}
"""

# five SLOs over the same counters, recorded only around the report time: for counting queries
MULTI = "apiVersion: sloforge/v1\nservice: multi\nslos:\n" + "".join(
    f"""\
  - name: avail-{i}
    objective: {objective}
    window: 1h
    by: [route]
    alerting: {{page: [{{burn_rate: 14.4, long: 1h, short: 5m}}], ticket: false}}
    sli:
      events: {{bad: 'http_requests_total{{code=~"5.."}}', total: http_requests_total}}
"""
    for i, objective in enumerate((99, 99.5, 99.9, 98, 97))
)

# a timeslice SLI: only ever read from raw series here
JOBS = """\
apiVersion: sloforge/v1
service: jobs
metrics:
  - {name: job_duration_seconds, type: histogram, buckets: [1, 2, 5, 10]}
slos:
  - name: p95
    objective: 99
    window: 1d
    alerting: {ticket: false}
    sli:
      timeslice: {expr: 'histogram_quantile(0.95, sum by (le) (rate(job_duration_seconds_bucket[5m])))', max: 5}
"""

INCIDENTS = (Incident(day=1.0, hours=4, burn=5.0), Incident(day=2.2, hours=2, burn=12.0))

ALERT_LABELS = {"service": "shop", "team": "web", "alertstate": "firing"}
ALERTS = [  # (labels, from, to): samples every minute
    ({"alertname": "ShopAvailabilityPage", "slo": "availability", "route": "/api/items"}, END - 1800, END),
    (
        {"alertname": "ShopAvailabilityTicket", "slo": "availability", "route": "/api/items", "alertstate": "pending"},
        END - 1800,
        END,
    ),
    ({"alertname": "ShopLatencyPage", "slo": "latency"}, END - 7200, END - 3600),  # resolved an hour ago
    ({"alertname": "OtherPage", "slo": "availability", "route": "/api/orders", "service": "other"}, END - 1800, END),
]


# ---------------------------------------------------------------- fixtures


def _spec(tmp: Path, name: str, text: str) -> Spec:
    (tmp / f"{name}.yaml").write_text(text)
    return load(tmp / f"{name}.yaml").specs[0]


def _alerts() -> list[Series]:
    out = []
    for labels, start, end in ALERTS:
        t = np.arange(start, end + 1, 60.0)
        out.append(
            Series.of(
                {"__name__": "ALERTS", **ALERT_LABELS, **labels}, np.round(t * 1000).astype(np.int64), np.ones(t.size)
            )
        )
    return out


@dataclass
class World:
    tmp: Path
    shop: Spec
    multi: Spec
    jobs: Spec
    data: SeriesSet  # the raw history, as the engine reads it
    om: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    tmp = tmp_path_factory.mktemp("report")
    shop, multi, jobs = _spec(tmp, "shop", SHOP), _spec(tmp, "multi", MULTI), _spec(tmp, "jobs", JOBS)
    data = history([shop, jobs], T0, (END - T0) / DAY, 60.0, incidents=INCIDENTS)
    om = tmp / "raw.om"
    write_openmetrics(SeriesSet([*data, *_alerts()]), om)
    return World(tmp, shop, multi, jobs, data, om)


def _backfill(server: PrometheusServer, tmp: Path, spec: Spec, start: float) -> None:
    rules = tmp / f"{spec.service}.rules.yml"
    rules.write_text(rule_file(spec))
    lines = list(
        run_backfill(
            rules, tmp / f"blocks-{spec.service}", server.url, str(start), str(END), between=server.load_blocks
        )
    )
    assert len(lines) >= 4, lines


def _prometheus(world, name: str, recorded: bool) -> Iterator[PrometheusServer]:
    need("promtool")
    tmp = world.tmp / name
    tmp.mkdir()
    server = backfilled_prometheus(tmp, world.om)
    try:
        if recorded:
            _backfill(server, tmp, world.shop, DEPLOYED)
            _backfill(server, tmp, world.multi, END - 1200)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def recorded(world) -> Iterator[PrometheusServer]:
    """Raw series and the recorded series of ``shop`` (the last 7 hours) and ``multi`` (the last 20 minutes)."""
    yield from _prometheus(world, "recorded", recorded=True)


@pytest.fixture(scope="module")
def raw_only(world) -> Iterator[PrometheusServer]:
    yield from _prometheus(world, "raw", recorded=False)


@pytest.fixture(scope="module")
def victoria(world) -> Iterator[str]:
    tmp = world.tmp / "victoria"
    tmp.mkdir()
    with victoria_metrics(tmp, SeriesSet([*world.data, *_alerts()])) as url:
        yield url


def _reports(url: str, specs: list[Spec], **kw) -> tuple[list[SLOReport], dict]:
    with PrometheusSource(Connection(url, retries=0, backoff=0.01)) as src:
        return reports_from_prometheus(specs, src, AT, **kw)


# ---------------------------------------------------------------- backend answers


def _ask(url: str, expr: str, at: float = AT) -> dict[tuple, float]:
    """The backend's answer: value per label set (without __name__)."""
    r = httpx.post(url + "/api/v1/query", data={"query": expr, "time": f"{at:.3f}"}, timeout=60)
    r.raise_for_status()
    result = r.json()["data"]["result"]
    return {
        tuple(sorted((k, v) for k, v in x["metric"].items() if k != "__name__")): float(x["value"][1]) for x in result
    }


def _one(url: str, expr: str, at: float = AT) -> float:
    answer = _ask(url, expr, at)
    assert len(answer) == 1, (expr, answer)
    return next(iter(answer.values()))


def _close(got: float | None, want: float, rel: float = REL) -> None:
    assert got is not None and math.isclose(got, want, rel_tol=rel, abs_tol=rel), (got, want)


def _sel(r: SLOReport, **more: str) -> str:
    labels = {"service": r.service, "slo": r.slo, **r.labels, **more}
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _by(reports: list[SLOReport], service: str, slo: str, **labels: str) -> SLOReport:
    [r] = [r for r in reports if (r.service, r.slo, r.labels) == (service, slo, labels)]
    return r


# ---------------------------------------------------------------- (a) the recorded path


@pytest.fixture(scope="module")
def shop_reports(world, recorded) -> tuple[list[SLOReport], dict]:
    return _reports(recorded.url, [world.shop])


def test_recorded_report_equals_the_recorded_series(world, recorded, shop_reports):
    reports, stats = shop_reports
    assert [(r.slo, r.labels) for r in reports] == [
        ("availability", {"route": "/api/items"}),
        ("availability", {"route": "/api/orders"}),
        ("latency", {}),
    ]
    assert stats == {"queries": 3, "services": 1, "reports": 3, "recorded": 3, "raw": 0, "unknown": 0}
    status = {1.0: HEALTHY, 0.0: AT_RISK, -1.0: BREACHED}
    url = recorded.url
    for r in reports:
        slo = next(s for s in world.shop.slos if s.name == r.slo)
        w = r.window
        assert r.source == "recorded" and list(r.burn_rates) == [
            format_duration(x) for x in sorted({*slo.windows(), slo.window})
        ]
        for window, burn in r.burn_rates.items():
            _close(burn, _one(url, f"sloforge:slo_burn_rate{_sel(r, window=window)}"))
        _close(r.sli, _one(url, f"sloforge:slo_sli:ratio{_sel(r, window=w)}"))
        _close(
            r.error_budget.remaining, _one(url, f"sloforge:slo_error_budget_remaining:ratio{_sel(r, window=w)}"), 1e-6
        )
        _close(r.coverage, _one(url, f"sloforge:slo_window_coverage:ratio{_sel(r, window=w)}"))
        assert r.status == status[_one(url, f"sloforge:slo_status{_sel(r, window=w)}")]
        rng = format_duration(slo.window - 300)
        rate = f"sloforge:slo_events:rate5m{_sel(r)}[{rng}]"
        mean = f"sum_over_time({rate}) / count_over_time({rate})"
        _close(r.error_budget.total_events, slo.error_budget * _one(url, mean) * slo.window, 1e-6)
        pw = format_duration(projection_window(slo))
        assert r.exhaustion_at == exhaustion(AT, r.error_budget.remaining, r.burn_rates[pw], slo.window)
        # 7 hours of recorded history: a caveat about the cold start
        assert r.coverage is not None and r.coverage < 0.5 and "recorded history covers" in r.reason
    items = _by(reports, "shop", "availability", route="/api/items")
    assert items.status in (AT_RISK, BREACHED) and items.burn_rates["1h"] > 10
    assert items.alerts_firing == ["ShopAvailabilityPage"]  # not the pending ticket, nor another service's alert
    assert [r.alerts_firing for r in reports[1:]] == [[], []]


def _phase_time(url: str, expr: str, at: float) -> float:
    """When the recorded sample visible at ``at`` was evaluated."""
    return _one(url, f"timestamp({expr})", at)


def _minute(t: float) -> float:
    """The engine's evaluation of a live evaluation: raw samples sit on whole minutes, the live phase is within one."""
    return math.floor(t / 60) * 60


def test_recorded_report_equals_the_engine(world, recorded, shop_reports):
    """The engine replays the rules on the raw data; promtool ran them at phase offsets within each interval.
    SLI-group values at the last SLI evaluation equal the engine's at that minute; SLO-window values equal the
    engine's SLI-group values at the samples the SLO group read.  (The engine's own SLO group runs on multiples
    of 5m, the live one up to 5 minutes later: during a fast burn on 7 hours of history its ``budget_remaining``
    differs by up to 0.1 here, so it is not the reference.)"""
    reports, _ = shop_reports
    url = recorded.url
    evs = evaluate(world.shop, world.data, DEPLOYED, END - 60, 60, history_start=DEPLOYED)
    for r in reports:
        slo = next(s for s in world.shop.slos if s.name == r.slo)
        [ev] = [e for e in evs if (e.slo, e.labels) == (r.slo, r.labels)]
        index = {t: i for i, t in enumerate(ev.times.tolist())}
        i = index[_minute(_phase_time(url, f"sloforge:slo_burn_rate{_sel(r, window='5m')}", AT))]
        for w in map(format_duration, slo.windows()):
            _close(r.burn_rates[w], float(ev.burn_rate[w][i]))
        # the SLO group's evaluation, and the SLI samples it read
        t_slo = _phase_time(url, f"sloforge:slo_sli:ratio{_sel(r, window=r.window)}", AT)
        budget = slo.error_budget
        if slo.window in slo.windows():  # the SLO window's ratio is recorded by the SLI group
            j = index[_minute(_phase_time(url, f"sloforge:slo_error_ratio{_sel(r, window=r.window)}", t_slo))]
            ratio = float(ev.error_ratio[r.window][j])
        else:  # avg_over_time over the recorded 5m rates: the same samples from the engine
            rng = format_duration(slo.window - 300)
            n = int(_one(url, f"count_over_time(sloforge:slo_events:rate5m{_sel(r)}[{rng}])", t_slo))
            last = index[_minute(_phase_time(url, f"sloforge:slo_events:rate5m{_sel(r)}", t_slo))]
            picked = slice(last - n + 1, last + 1)
            assert last - n + 1 >= 0 and np.isfinite(ev.events_rate5m[picked]).all()
            ratio = float(np.sum(ev.errors_rate5m[picked]) / np.sum(ev.events_rate5m[picked]))
            _close(r.burn_rates[r.window], ratio / budget)  # recorded by the SLO group too
        _close(r.sli, 1 - ratio)
        _close(r.error_budget.remaining, 1 - ratio / budget, 1e-6)


def test_history(world, recorded):
    reports, stats = _reports(recorded.url, [world.shop], history=True, history_step=1800)
    assert stats["queries"] == 4  # one range query more
    for r in reports:
        h = r.history
        assert h is not None and len(h.t) == 7 * 48 + 1 and h.t[-1] == AT and h.t[1] - h.t[0] == 1800
        _close(h.budget_remaining[-1], r.error_budget.remaining)
        assert list(h.burn_rate) == list(r.burn_rates)
        for w, burn in r.burn_rates.items():
            _close(h.burn_rate[w][-1], burn)
        recorded_from = [t for t, v in zip(h.t, h.budget_remaining, strict=True) if v is not None][0]
        assert DEPLOYED < recorded_from <= DEPLOYED + 1800 + 300  # nothing before the rules were deployed
        assert r.to_json(history=True)["history"]["t"] == h.t


# ---------------------------------------------------------------- (b) batching


def test_queries_grow_with_services_not_slos(world, recorded):
    one = world.multi.model_copy(update={"slos": world.multi.slos[:1]})
    reports, stats = _reports(recorded.url, [world.multi])
    assert len(reports) == 10 and {r.source for r in reports} == {"recorded"} and stats["unknown"] == 0
    assert stats["queries"] == _reports(recorded.url, [one])[1]["queries"] == 3
    shop_only = world.shop.model_copy(update={"slos": world.shop.slos[1:]})
    assert _reports(recorded.url, [shop_only])[1]["queries"] == 3
    both = _reports(recorded.url, [world.shop, world.multi])[1]
    assert both["queries"] == 6 and both["reports"] == 13
    # same numbers batched or alone
    alone = _reports(recorded.url, [one])[0]
    assert [r.to_json() for r in alone] == [r.to_json() for r in reports[:2]]


# ---------------------------------------------------------------- (c) the raw fallback


def _independent(slo_name: str, w: str) -> tuple[str, str]:
    """Plain PromQL for (errors, total) over ``w``, written by hand for the test specs."""
    if slo_name == "availability":
        return (
            f'sum by (route) (increase(http_requests_total{{code=~"5.."}}[{w}]))',
            f"sum by (route) (increase(http_requests_total[{w}]))",
        )
    if slo_name == "latency":
        total = f"sum(increase(http_request_duration_seconds_count[{w}]))"
        return f'{total} - sum(increase(http_request_duration_seconds_bucket{{le="0.5"}}[{w}]))', total
    judged = f"(histogram_quantile(0.95, sum by (le) (rate(job_duration_seconds_bucket[5m]))) > bool 5)[{w}:1m]"
    return f"sum_over_time({judged})", f"count_over_time({judged})"


def _check_raw(url: str, specs: list[Spec], reports: list[SLOReport]) -> None:
    slos = {(spec.service, slo.name): slo for spec in specs for slo in spec.slos}
    assert len(reports) == 4 and {r.source for r in reports} == {"raw"}
    for r in reports:
        slo = slos[(r.service, r.slo)]
        key = tuple(sorted(r.labels.items()))
        assert r.status != UNKNOWN and "numbers from raw series" in r.reason
        for w, burn in r.burn_rates.items():
            errors, total = (_ask(url, e)[key] for e in _independent(r.slo, w))
            _close(burn, errors / total / slo.error_budget, 1e-6)
        errors, total = (_ask(url, e)[key] for e in _independent(r.slo, r.window))
        _close(r.sli, 1 - errors / total, 1e-6)
        _close(r.error_budget.remaining, 1 - errors / total / slo.error_budget, 1e-6)
        if slo.sli.timeslice:
            assert r.error_budget.total_events is None
        else:
            _close(r.error_budget.total_events, slo.error_budget * total, 1e-6)
        assert r.coverage is None
    assert _by(reports, "shop", "availability", route="/api/items").alerts_firing == ["ShopAvailabilityPage"]


def test_raw_fallback_in_prometheus(world, raw_only):
    specs = [world.shop, world.jobs]
    reports, stats = _reports(raw_only.url, specs)
    _check_raw(raw_only.url, specs, reports)
    # per service: recorded (empty), ALERTS; then one query per SLO
    assert stats == {"queries": 2 + 2 + 2 + 1, "services": 2, "reports": 4, "recorded": 0, "raw": 4, "unknown": 0}
    reports, stats = _reports(raw_only.url, specs, history=True)
    assert all(r.history is None and "no history from raw series" in r.reason for r in reports)


@pytest.mark.prometheus
def test_raw_fallback_in_victoriametrics(world, victoria):
    specs = [world.shop, world.jobs]
    reports, stats = _reports(victoria, specs)
    _check_raw(victoria, specs, reports)
    assert stats["raw"] == 4


# ---------------------------------------------------------------- (d) faults


Answer = Callable[[str], tuple[int, str]]


@pytest.fixture
def fake() -> Iterator[tuple[str, list[str], Callable[[Answer], None]]]:
    """A loopback server answering each POSTed query with ``answer(query)``; records the queries."""
    queries: list[str] = []
    state: dict[str, Answer] = {"answer": lambda q: (200, _vector([]))}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            query = parse_qs(body).get("query", [""])[0]
            queries.append(query)
            status, text = state["answer"](query)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text.encode())))
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", queries, lambda a: state.__setitem__("answer", a)
    finally:
        server.shutdown()
        server.server_close()


def _vector(rows: list[tuple[dict[str, str], str]]) -> str:
    result = [{"metric": m, "value": [AT, v]} for m, v in rows]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})


def _all_unknown(reports: list[SLOReport], match: str) -> None:
    assert reports and all(r.status == UNKNOWN and match in (r.reason or "") for r in reports), [
        r.reason for r in reports
    ]


def test_connection_refused(world):
    reports, stats = _reports(f"http://127.0.0.1:{free_port()}", [world.shop, world.multi])
    _all_unknown(reports, "connection refused")
    assert len(reports) == 7 and stats["queries"] == 2 and stats["unknown"] == 7  # one failed query per service


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (500, '{"status":"error","errorType":"internal","error":"boom"}', "HTTP 500: internal: boom"),
        (200, "<html>proxy login</html>", "not JSON"),
        (
            200,
            json.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}}),
            "unexpected resultType",
        ),
    ],
)
def test_bad_answers(world, fake, status, body, match):
    url, queries, answer = fake
    answer(lambda q: (status, body))
    reports, stats = _reports(url, [world.shop])
    _all_unknown(reports, match)
    assert stats["queries"] == len(queries) == 1


def test_empty_answers(world, fake):
    url, queries, _ = fake
    reports, stats = _reports(url, [world.shop, world.jobs])
    _all_unknown(reports, "no recorded sloforge series and no samples of")
    assert {r.source for r in reports} == {"raw"} and "timeslice" in reports[-1].reason
    assert stats["queries"] == len(queries) == 2 + 2 + 2 + 1


def test_nan_values_and_failing_side_queries(world, fake):
    """Recorded values that are NaN or +Inf make that series unknown, not the others; a failing ALERTS or
    events query leaves a caveat."""
    url, _, answer = fake
    base = {"service": "shop", "slo": "availability", "team": "web"}

    def rows(route: str, remaining: str) -> list:
        labels = base | {"route": route, "window": "1d"}
        return [
            (labels | {"__name__": "sloforge:slo_error_budget_remaining:ratio"}, remaining),
            (labels | {"__name__": "sloforge:slo_burn_rate"}, "+Inf"),
            (labels | {"__name__": "sloforge:slo_sli:ratio"}, "0.999"),
        ]

    def reply(q: str) -> tuple[int, str]:
        if q.startswith("{__name__=~"):
            return 200, _vector(rows("/a", "NaN") + rows("/b", "0.5"))
        if q.startswith("ALERTS"):
            return 503, '{"status":"error","errorType":"unavailable","error":"ruler down"}'
        return 200, _vector([])  # events, and the raw series of the latency SLO

    answer(reply)
    reports, stats = _reports(url, [world.shop])
    a, b, latency = reports
    assert (a.labels, a.status, b.status, latency.status) == ({"route": "/a"}, UNKNOWN, HEALTHY, UNKNOWN)
    assert "sloforge:slo_error_budget_remaining:ratio{window='1d'} is nan" in a.reason
    assert b.burn_rates["1d"] is None and b.sli == 0.999 and b.error_budget.remaining == 0.5
    assert b.error_budget.total_events is None and b.coverage is None
    assert "firing alerts unknown" in b.reason and "HTTP 503" in b.reason
    assert stats["queries"] == 4  # recorded, ALERTS, events, raw latency


def test_durations_in_burn_rates_parse(world, shop_reports):
    """Window keys are canonical durations (the HTML and table look them up by alert window)."""
    for r in shop_reports[0]:
        assert all(format_duration(parse_duration(w)) == w for w in r.burn_rates)
        assert {w["long"] for w in r.alert_windows} <= set(r.burn_rates)
