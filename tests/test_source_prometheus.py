"""The Prometheus API client against real servers on 127.0.0.1.

(a) One OpenMetrics history (counters with labels, a reset, a gap, 30s and 60s
    scrapes, millisecond timestamps, samples on every chunk boundary) is
    backfilled into Prometheus 2.42 and imported into VictoriaMetrics 1.79;
    ``raw`` must give back exactly what ``read_openmetrics`` reads from the file,
    and ``query``/``query_range`` what the file implies.
(b) Faults from a small loopback HTTP server: refused connections, timeouts,
    retried 503s, unretried 400s, bodies that are no Prometheus answer, and the
    tenant and auth headers that must arrive.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import backfilled_prometheus, free_port, need, victoria_metrics
from datagen import T0

from sloforge.evaluate.series import Series, SeriesSet
from sloforge.sources import read_openmetrics
from sloforge.sources.prometheus import Connection, PrometheusSource, SourceError

HOURS = 30
START, END = T0, T0 + HOURS * 3600
NAMES = ["http_requests_total", "jobs_total"]
FAST = {"backoff": 0.01}


# ---------------------------------------------------------------- (a) real backends


def _history(path: Path) -> None:
    """Series of two selected metrics and one other; the 60s series have samples on whole hours (chunk ends)."""
    rng = np.random.default_rng(3)
    minute = np.arange(START * 1000, END * 1000 + 1, 60_000, dtype=np.int64)
    reset = np.cumsum(rng.poisson(30, minute.size)).astype(float)
    reset[900:] -= reset[900] - 2  # a counter reset at minute 900
    gap = np.ones(minute.size, dtype=bool)
    gap[400:460] = False  # an hour without samples
    half = np.arange((START + 7200) * 1000 + 15_250, (END - 3600) * 1000, 30_000, dtype=np.int64)
    series = [
        ("http_requests_total", {"code": "200", "route": "/a"}, minute, reset),
        ("http_requests_total", {"code": "500", "route": "/a"}, minute[gap], np.cumsum(rng.poisson(1, gap.sum()))),
        ("http_requests_total", {"code": "200", "route": "/b"}, half, np.cumsum(rng.poisson(12, half.size))),
        ("jobs_total", {"status": "ok"}, minute, np.cumsum(rng.integers(0, 8, minute.size) * 0.25)),
        ("unrelated_total", {}, minute, np.arange(minute.size, dtype=float)),
    ]
    with path.open("w") as f:
        for name in ("http_requests_total", "jobs_total", "unrelated_total"):
            f.write(f"# TYPE {name} counter\n")
            for metric, labels, t, v in series:
                if metric == name:
                    body = ",".join(f'{k}="{x}"' for k, x in sorted(labels.items()))
                    f.writelines(f"{name}{{{body}}} {float(x)!r} {ms / 1000:.3f}\n" for ms, x in zip(t, v, strict=True))
        f.write("# EOF\n")


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[Path, SeriesSet]:
    path = tmp_path_factory.mktemp("history") / "history.om"
    _history(path)
    return path, read_openmetrics(path)


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory, history) -> Iterator[str]:
    need("promtool")
    server = backfilled_prometheus(tmp_path_factory.mktemp("prometheus"), history[0])
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def victoria_url(tmp_path_factory, history) -> Iterator[str]:
    with victoria_metrics(tmp_path_factory.mktemp("victoria"), history[1]) as url:
        yield url


@pytest.fixture(
    params=[
        pytest.param("prometheus", marks=[pytest.mark.prometheus, pytest.mark.promtool]),
        pytest.param("victoriametrics", marks=pytest.mark.prometheus),
    ]
)
def backend(request) -> str:
    return request.param


@pytest.fixture
def source(request, backend) -> Iterator[PrometheusSource]:
    url = request.getfixturevalue("prometheus_url" if backend == "prometheus" else "victoria_url")
    with PrometheusSource(Connection(url, retries=0)) as src:
        yield src


def _assert_same(got: SeriesSet, want: SeriesSet) -> None:
    assert [s.labels for s in got] == [s.labels for s in want]
    for g, w in zip(got, want, strict=True):
        assert g.t.dtype == np.int64 and g.v.dtype == np.float64
        assert np.array_equal(g.t, w.t), f"{g}: timestamps differ from {w}"
        assert np.array_equal(g.v, w.v), f"{g}: values differ"


def _nonempty(data: SeriesSet) -> SeriesSet:
    return SeriesSet(s for s in data if len(s))


def test_raw_equals_the_file(source, history):
    path, _ = history
    done: list[float] = []
    got = source.raw(NAMES, START, END, chunk=3600, progress=done.append)
    want = read_openmetrics(path, names=NAMES)
    _assert_same(got, want)
    on_edges = sum(int(np.count_nonzero(s.t % 3_600_000 == 0)) for s in got)
    assert on_edges >= 3 * HOURS  # samples on chunk boundaries come back once (equal timestamps would be merged)
    assert got.samples() == want.samples()
    assert done == sorted(done) and len(done) == 2 * HOURS and done[-1] == 1.0


def test_raw_in_a_range_with_overlapping_selectors(source, history):
    """Both ends are included (a sample sits exactly on each); a series two selectors select comes once."""
    path, data = history
    start, end = START + 3 * 3600 + 30.5, START + 20 * 3600
    selectors = ['http_requests_total{code="500"}', 'http_requests_total{route="/a"}', 'jobs_total{status=~"o."}']
    got = source.raw(selectors, start, end, chunk=5000)
    inside = read_openmetrics(path, start=start, end=end)
    want = SeriesSet(s for s in inside if any(s in inside.select(sel) for sel in selectors))
    _assert_same(got, _nonempty(want))
    assert got.time_range(got.select("jobs_total")) == (START * 1000 + 3 * 3_600_000 + 60_000, end * 1000)


def test_raw_of_one_instant(source, history):
    t = START + 5 * 3600
    got = source.raw(["jobs_total"], t, t)
    [s] = history[1].select("jobs_total")
    assert len(got) == 1 and got.samples() == 1
    [g] = list(got)
    assert g.t.tolist() == [t * 1000] and g.v.tolist() == [s.v[s.t == t * 1000][0]]


def _last(s: Series, t_ms: int) -> float | None:
    """The instant-selector value of ``s`` at ``t_ms``: the last sample within 5 minutes."""
    i = np.searchsorted(s.t, t_ms, side="right") - 1
    return float(s.v[i]) if i >= 0 and s.t[i] > t_ms - 300_000 else None


def test_instant_queries_match_the_file(source, history):
    _, data = history
    series = data.select("http_requests_total")
    for hours in (0.5, 7.0, 12.1, 25.0):  # 7 h: inside the gap of code="500"; 25 h: after the reset
        t = START + hours * 3600 + 7
        values = [v for s in series if (v := _last(s, round(t * 1000))) is not None]
        assert source.query("sum(http_requests_total)", t) == [({}, sum(values))]
        got = source.query("http_requests_total", t)
        assert len(got) == len(values) and {row[0]["__name__"] for row in got} == {"http_requests_total"}
    [jobs] = data.select("jobs_total")
    assert source.query("scalar(sum(jobs_total))", START + 7) == [({}, _last(jobs, round(START * 1000) + 7000))]


def test_special_values_and_range_queries(source, backend, history):
    _, data = history
    assert source.query("1/0", START) == [({}, math.inf)]  # a scalar (VictoriaMetrics: a vector) without labels
    assert source.query("vector(-1/0)", START) == [({}, -math.inf)]
    nan = source.query("vector(0/0)", START)
    if backend == "victoriametrics":
        assert nan == []  # VictoriaMetrics drops NaN results: "no value" and NaN are the same there
    else:
        assert len(nan) == 1 and nan[0][0] == {} and math.isnan(nan[0][1])
    t0, t1 = START + 3600 + 7, START + 2 * 3600 + 7
    [(labels, t, v)] = source.query_range('jobs_total{status="ok"}', t0, t1, 300)
    [s] = data.select("jobs_total")
    assert labels["status"] == "ok" and t.dtype == np.float64 and t.tolist() == list(np.arange(t0, t1 + 1, 300.0))
    assert v.tolist() == [_last(s, round(x * 1000)) for x in t]


def test_range_selector_ends(backend, request):
    """Why ``raw`` reaches 1 ms before each chunk: Prometheus 2.x includes a range's left end, VictoriaMetrics
    (and Prometheus 3.x) do not.  ``jobs_total`` has a sample on every whole minute."""
    url = request.getfixturevalue("prometheus_url" if backend == "prometheus" else "victoria_url")
    form = {"query": "jobs_total[1h]", "time": START + 7200}
    [r] = httpx.post(url + "/api/v1/query", data=form, timeout=30).json()["data"]["result"]
    assert len(r["values"]) == (61 if backend == "prometheus" else 60)


def test_bad_query_is_one_line_without_retry(source):
    with pytest.raises(SourceError) as e:
        source.query("sum(", START)
    assert "api/v1/query" in str(e.value) and "'sum('" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(SourceError, match="plain series selector"):
        source.raw(["rate(x[5m])"], START, END)


# ---------------------------------------------------------------- (b) faults from a loopback server


OK = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})


@dataclass
class Reply:
    status: int = 200
    body: str = OK
    delay: float = 0.0


@dataclass
class Fake:
    """Answers requests with ``replies`` in turn (the last one repeats) and records them."""

    replies: list[Reply]
    requests: list[dict] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def fake() -> Iterator[Fake]:
    state = Fake([Reply()])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length", 0))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(n)})
            reply = state.replies[min(len(state.requests), len(state.replies)) - 1]
            time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body.encode())))
                self.end_headers()
                self.wfile.write(reply.body.encode())
            except OSError:
                pass  # the client gave up waiting

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _query(url: str, **kw) -> list:
    with PrometheusSource(Connection(url, **(FAST | kw))) as src:
        return src.query("up", 1.0)


def test_connection_refused_after_retries():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SourceError, match=r"connection refused \(after 3 attempts\)") as e:
        _query(url, retries=2)
    assert url in str(e.value) and "'up'" in str(e.value)


def test_timeout(fake):
    fake.replies = [Reply(delay=1.0)]
    with pytest.raises(SourceError, match=r"timed out after 0.2 s \(after 2 attempts\)"):
        _query(fake.url, timeout=0.2, retries=1)


def test_503_is_retried_then_succeeds(fake):
    error = json.dumps({"status": "error", "errorType": "unavailable", "error": "overloaded"})
    warned = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}, "warnings": ["partial"]})
    fake.replies = [Reply(503, error), Reply(503, "<html>bad gateway</html>"), Reply(200, warned)]
    with PrometheusSource(Connection(fake.url, **FAST)) as src:
        assert src.query("up", 1.0) == []
        assert src.warnings == ["partial"]
    assert len(fake.requests) == 3
    assert fake.requests[0]["path"] == "/api/v1/query" and fake.requests[0]["body"] == b"query=up&time=1.000"
    fake.requests.clear()
    fake.replies = [Reply(503, error)]
    with pytest.raises(SourceError, match="HTTP 503: unavailable: overloaded"):
        _query(fake.url, retries=1)


def test_400_is_not_retried(fake):
    fake.replies = [Reply(400, json.dumps({"status": "error", "errorType": "bad_data", "error": 'parse error: "x"'}))]
    with pytest.raises(SourceError, match='HTTP 400: bad_data: parse error: "x"'):
        _query(fake.url)
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (200, "<html>hello</html>", "HTTP 200: not JSON: '<html>hello</html>'"),
        (200, '["a"]', "not a Prometheus API answer"),
        (200, json.dumps({"status": "error", "errorType": "execution", "error": "many"}), "200: execution: many$"),
        (200, json.dumps({"status": "success", "data": {"resultType": "matrix"}}), "unexpected resultType 'matrix'"),
        (401, "Unauthorized\n", "HTTP 401: Unauthorized$"),
        (200, json.dumps({"status": "success", "data": {"resultType": "vector", "result": [{}]}}), "malformed answer"),
    ],
)
def test_bodies_that_are_no_answer(fake, status, body, match):
    fake.replies = [Reply(status, body)]
    with pytest.raises(SourceError, match=match):
        _query(fake.url)
    assert len(fake.requests) == 1


def test_tenant_and_auth_arrive(fake, tmp_path):
    token, basic = tmp_path / "token", tmp_path / "basic"
    token.write_text("s3cret\n")
    basic.write_text("alice:pa:ss\n")
    url = fake.url + "/prometheus/"  # a path prefix, as Mimir and vmselect have
    _query(url, tenant="team-a", bearer_token_file=token)
    _query(url, basic_auth_file=basic)
    first, second = (r["headers"] for r in fake.requests)
    assert fake.requests[0]["path"] == "/prometheus/api/v1/query"
    assert first["X-Scope-OrgID"] == "team-a" and first["Authorization"] == "Bearer s3cret"
    assert "X-Scope-OrgID" not in second
    assert second["Authorization"] == "Basic " + base64.b64encode(b"alice:pa:ss").decode()


def test_unreadable_secret_files(tmp_path):
    missing = tmp_path / "nope"
    for kw in ("bearer_token_file", "basic_auth_file", "ca_file"):
        with pytest.raises(SourceError, match=str(missing)):
            PrometheusSource(Connection("http://127.0.0.1:1", **{kw: missing}))
    (tmp_path / "basic").write_text("no-colon")
    with pytest.raises(SourceError, match="user:password"):
        PrometheusSource(Connection("http://127.0.0.1:1", basic_auth_file=tmp_path / "basic"))
    with pytest.raises(SourceError, match="must start with http"):
        PrometheusSource(Connection("127.0.0.1:9090"))
