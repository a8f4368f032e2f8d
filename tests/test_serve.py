"""``sloforge serve`` over real HTTP on 127.0.0.1: routes, /metrics, health, caching, a headless Chromium, load."""

from __future__ import annotations

import copy
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import PrometheusServer, need
from prometheus_client.parser import text_string_to_metric_families
from test_report_html import Elements, synthetic_document

from sloforge.report.html import anchor
from sloforge.report.serve import DocumentCache, SLOServer, make_server


class Source:
    """A ``build`` that counts its calls, can be made to fail, and can be slow."""

    def __init__(self, doc: dict | None = None, delay: float = 0.0):
        self.doc = doc or synthetic_document()
        self.delay = delay
        self.fail: str | None = None
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> dict:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        if self.fail:
            raise ConnectionError(self.fail)
        return copy.deepcopy(self.doc)


@contextmanager
def running(build: Callable[[], dict], refresh: float = 3600.0) -> Iterator[SLOServer]:
    server = make_server(build, "127.0.0.1", 0, refresh)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(scope="module")
def source() -> Source:
    return Source()


@pytest.fixture(scope="module")
def server(source: Source) -> Iterator[SLOServer]:
    with running(source) as s:
        yield s


CLIENT = httpx.Client(timeout=10)  # one client: no TLS-context set-up per request


def get(server: SLOServer, path: str) -> httpx.Response:
    return CLIENT.get(server.url + path)


def _without_history(doc: dict) -> dict:
    return {**doc, "slos": [{k: v for k, v in r.items() if k != "history"} for r in doc["slos"]]}


def test_binds_loopback(server: SLOServer) -> None:
    assert server.server_address[0] == "127.0.0.1"


def test_overview_lists_every_series_with_links(server: SLOServer, source: Source) -> None:
    r = get(server, "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = Elements(r.text)
    links = [a["href"] for a in page.find("a")]
    for s in source.doc["slos"]:
        assert f"/slo/{s['service']}/{s['slo']}#{anchor(s)}" in links
        assert s["title"] in page.section_text(None)
    assert len(page.find("tr")) == 1 + len(source.doc["slos"])
    assert not page.find("section")  # charts are on the SLO pages


def test_slo_page_has_every_label_set(server: SLOServer, source: Source) -> None:
    r = get(server, "/slo/checkout/latency")
    assert r.status_code == 200
    page = Elements(r.text)
    series = [s for s in source.doc["slos"] if s["slo"] == "latency"]
    assert [s["id"] for s in page.find("section")] == [anchor(s) for s in series]
    for s in series:
        assert len(page.find("svg", anchor(s))) == 2
        budget = page.find("polyline", anchor(s), **{"data-series": "budget_remaining"})
        assert sum(len(p["points"].split()) for p in budget) == sum(
            v is not None for v in s["history"]["budget_remaining"]
        )
    assert page.find("a", href="/")
    unknown = get(server, "/slo/search/avail")
    assert unknown.status_code == 200 and "no samples of the SLI" in unknown.text


def test_api_mirrors_the_json_document(server: SLOServer, source: Source) -> None:
    r = get(server, "/api/slos")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == _without_history(source.doc)
    assert get(server, "/api/slos?history=1").json() == source.doc


def test_metrics(server: SLOServer, source: Source) -> None:
    r = get(server, "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert {f.type for f in families.values()} == {"gauge"}

    def samples(name: str) -> dict[tuple, float]:
        return {tuple(sorted(s.labels.items())): s.value for s in families[name].samples}

    def key(slo: dict, **extra: str) -> tuple:
        return tuple(sorted({**slo["labels"], "service": slo["service"], "slo": slo["slo"], **extra}.items()))

    slos = source.doc["slos"]
    assert samples("sloforge_slo_objective_ratio") == {key(s): pytest.approx(0.999) for s in slos}
    known = [s for s in slos if s["sli"] is not None]
    assert samples("sloforge_slo_sli_ratio") == {key(s): pytest.approx(s["sli"]) for s in known}
    remaining = samples("sloforge_slo_error_budget_remaining_ratio")
    assert remaining == {key(s): pytest.approx(s["error_budget"]["remaining"]) for s in known}
    assert samples("sloforge_slo_status") == {
        key(s): {"healthy": 1, "at_risk": 0, "breached": -1}[s["status"]] for s in known
    }
    burn = samples("sloforge_slo_burn_rate")
    expected = {key(s, window=w): v for s in slos for w, v in s["burn_rates"].items() if v is not None}
    assert burn == pytest.approx(expected) and len(burn) == 4 * 4
    assert samples("sloforge_report_build_ok") == {(): 1.0}
    # the unknown SLO: objective only, no made-up numbers
    unknown = key(slos[3])
    assert unknown not in samples("sloforge_slo_status") and unknown in samples("sloforge_slo_objective_ratio")
    # label names differ per SLO: its by labels
    assert {("method", "GET"), ("route", "/cart")} <= set(key(slos[2])) and ("index", "main") in key(slos[4])


def test_not_found_and_methods(server: SLOServer) -> None:
    for path in ("/nope", "/slo/checkout", "/slo/checkout/nope", "/slo/a/b/c", "/api"):
        r = get(server, path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html") and "Not found" in r.text
    head = CLIENT.head(server.url + "/")
    assert head.status_code == 200 and int(head.headers["content-length"]) > 1000 and head.content == b""
    post = CLIENT.post(server.url + "/")
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
    assert get(server, "/healthz").text == "ok\n"


def test_rebuilds_at_most_every_refresh_seconds() -> None:
    source = Source()
    with running(source, refresh=3600) as server:
        for path in ("/", "/api/slos", "/metrics", "/healthz", "/slo/checkout/latency") * 4:
            assert get(server, path).status_code == 200
        assert source.calls == 1
    source = Source()
    with running(source, refresh=0.3) as server:
        get(server, "/")
        get(server, "/metrics")
        assert source.calls == 1
        time.sleep(0.35)
        get(server, "/")
        assert source.calls == 2


def test_retries_sooner_until_a_first_build_succeeds() -> None:
    """Without any document the cache retries every 5 s; with one it waits the full refresh."""
    now = [0.0]
    source = Source()
    source.fail = "down"
    cache = DocumentCache(source, refresh=3600, clock=lambda: now[0])
    assert cache.get().doc is None and cache.get().error == "ConnectionError: down" and source.calls == 1
    now[0] = 4.9
    cache.get()
    assert source.calls == 1
    source.fail = None
    now[0] = 5.0
    assert cache.get().doc == source.doc and cache.get().error is None and source.calls == 2
    source.fail = "down again"
    now[0] = 3000.0
    assert cache.get().error is None and source.calls == 2
    now[0] = 3605.0
    snap = cache.get()
    assert snap.doc == source.doc and snap.error == "ConnectionError: down again" and source.calls == 3


def test_one_first_build_for_concurrent_requests() -> None:
    source = Source(delay=0.3)
    with running(source) as server, ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: get(server, "/api/slos").status_code, range(16)))
    assert codes == [200] * 16 and source.calls == 1


def test_keeps_the_last_document_while_the_build_fails() -> None:
    source = Source()
    with running(source, refresh=0) as server:
        assert get(server, "/healthz").status_code == 200
        source.fail = "prometheus at 127.0.0.1:9 refused the connection"
        r = get(server, "/healthz")
        assert r.status_code == 503 and "ConnectionError: prometheus at 127.0.0.1:9 refused" in r.text
        page = get(server, "/")
        assert page.status_code == 200 and "The last refresh failed" in page.text
        assert get(server, "/api/slos").json() == _without_history(source.doc)
        assert "sloforge_report_build_ok 0.0" in get(server, "/metrics").text
        source.fail = None
        assert get(server, "/healthz").status_code == 200
        assert "The last refresh failed" not in get(server, "/").text
        assert "sloforge_report_build_ok 1.0" in get(server, "/metrics").text


def test_first_build_failing_is_503_everywhere() -> None:
    source = Source()
    source.fail = "no route to the backend"
    with running(source, refresh=0) as server:
        for path in ("/", "/api/slos", "/metrics", "/healthz", "/slo/checkout/latency"):
            r = get(server, path)
            assert r.status_code == 503 and "no route to the backend" in r.text, path
        assert get(server, "/nope").status_code == 404


def test_prometheus_scrapes_the_exporter(tmp_path: Path, server: SLOServer, source: Source) -> None:
    """A real Prometheus 2.x accepts the exposition: varying label names per family, content type."""
    need("prometheus")
    host, port = server.server_address[:2]
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        f"scrape_configs: [{{job_name: sloforge, static_configs: [{{targets: ['{host}:{port}']}}]}}]\n"
    )
    (tmp_path / "data").mkdir()
    prom = PrometheusServer(tmp_path / "data", config)
    prom.start()
    try:
        deadline = time.monotonic() + 20
        result: list = []
        while time.monotonic() < deadline and not result:
            time.sleep(0.5)
            result = prom.query("sloforge_slo_status", time.time())["data"]["result"]
        up = prom.query('up{job="sloforge"}', time.time())["data"]["result"]
    finally:
        prom.stop()
    assert up and up[0]["value"][1] == "1"
    statuses = {(r["metric"]["slo"], r["metric"].get("route", "")): float(r["value"][1]) for r in result}
    assert statuses == {
        ("availability", ""): 1.0,
        ("latency", "/pay"): 0.0,
        ("latency", "/cart"): -1.0,
        ("freshness", ""): 1.0,
    }


# ----------------------------------------------------------------------------- headless Chromium


def chromium() -> str:
    """Debian's ``chromium`` (or a ``chromium-headless-shell``); skipped when missing unless CI requires it."""
    return shutil.which("chromium") or shutil.which("chromium-headless-shell") or need("chromium")


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
    ]
    return subprocess.run([chromium(), *flags, *args], capture_output=True, text=True, timeout=60, cwd=tmp_path)


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.mark.parametrize("path", ["/", "/slo/checkout/latency"])
def test_chromium_renders_without_console_messages(tmp_path: Path, server: SLOServer, path: str) -> None:
    shot = tmp_path / "page.png"
    r = run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,900", server.url + path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    r = run_chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", server.url + path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert console_lines(r.stderr) == []
    dom = Elements(r.stdout)
    text = "".join("".join(parts) for parts in dom.text.values())
    titles = {"/": ["Availability", "Latency", "Avail", "Freshness"], "/slo/checkout/latency": ["Latency"]}[path]
    assert all(t in text for t in titles) and "checkout" in text
    if path != "/":
        assert len(dom.find("svg")) == 4 and dom.find("polyline")


def test_chromium_console_check_catches_errors(tmp_path: Path) -> None:
    """The console check above is not vacuous: a page with an uncaught error and a blocked resource trips it."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
        '<img src="http://127.0.0.1:9/x.png"><p>x</p>'
    )
    r = run_chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", bad.as_uri())
    assert r.returncode == 0 and console_lines(r.stderr), r.stderr[-2000:]


# ----------------------------------------------------------------------------- load


def test_bounded_load(server: SLOServer) -> None:
    """2,000 GETs from 8 keep-alive clients on loopback: no errors, p99 under a second."""
    paths = ("/", "/api/slos", "/metrics")
    per_thread = 250

    def client(n: int) -> tuple[list[float], int]:
        times, errors = [], 0
        with httpx.Client(base_url=server.url, timeout=10) as c:
            for i in range(per_thread):
                start = time.perf_counter()
                try:
                    r = c.get(paths[(i + n) % len(paths)])
                    errors += r.status_code != 200 or not r.content
                except httpx.HTTPError:
                    errors += 1
                times.append(time.perf_counter() - start)
        return times, errors

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(client, range(8)))
    latencies = sorted(t for times, _ in results for t in times)
    errors = sum(e for _, e in results)
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
    print(f"\nserve load: {len(latencies)} requests, {errors} errors, p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    assert len(latencies) == 2000 and errors == 0
    assert p99 < 1.0
