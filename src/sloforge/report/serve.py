"""``sloforge serve``: the error-budget report as a small web view, a JSON API and a Prometheus exporter.

``build()`` returns the report document (``report.model.document(..., history=True)``); the server
caches it and calls ``build()`` again at most every ``refresh`` seconds, on the first request after
that (one request rebuilds while the others keep getting the previous document).  When a build
raises, the last good document stays served and ``/healthz`` answers 503 with the error until a
build succeeds again; before any build succeeded every route but 404s answers 503, and the
build is retried at least every 5 seconds.

Routes (GET and HEAD only):

- ``/``: every SLO series: status, budget bar, links to the SLO pages;
- ``/slo/<service>/<slo>``: one SLO, all its ``by`` label sets, with charts and alert windows;
- ``/api/slos``: the ``--json`` document (``?history=1`` keeps the chart history);
- ``/metrics``: gauges for Prometheus, labelled ``service``, ``slo`` and the SLO's ``by`` labels:
  ``sloforge_slo_objective_ratio``, ``sloforge_slo_sli_ratio``,
  ``sloforge_slo_error_budget_remaining_ratio``, ``sloforge_slo_burn_rate{window}`` and
  ``sloforge_slo_status`` (1 healthy, 0 at risk, -1 breached, like the ``sloforge:slo_status`` rule).
  A value the report does not know (null in the JSON, status unknown) is **omitted**, not NaN, so
  ``absent()`` and ``unless`` see it and no comparison silently fails.  ``sloforge_report_build_ok``
  is 1 while the last build succeeded, 0 while an older document is served;
- ``/healthz``: 200 ``ok``, or 503 with the build error.

Pages reload themselves every ``refresh`` seconds (30 at least; a meta refresh, no script).
Everything else is 404.  Binds 127.0.0.1 unless told otherwise; requests are not logged unless
``access_log`` is set.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sloforge.report import html
from sloforge.report.model import AT_RISK, BREACHED, HEALTHY

log = logging.getLogger(__name__)

STATUS_VALUE = {HEALTHY: 1.0, AT_RISK: 0.0, BREACHED: -1.0}  # unknown: no sample
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
RELOAD_MIN = 30.0  # pages reload themselves, at most this often
RETRY_WITHOUT_DOCUMENT = 5.0  # until a first build succeeds, retry at least this often

Build = Callable[[], dict]


# ----------------------------------------------------------------------------- /metrics


def _gauges() -> dict[str, GaugeMetricFamily]:
    helps = {
        "sloforge_slo_objective_ratio": "SLO objective as a ratio (0.999 for 99.9%).",
        "sloforge_slo_sli_ratio": "SLI over the SLO window (good / total).",
        "sloforge_slo_error_budget_remaining_ratio": "Share of the error budget left (negative once overspent).",
        "sloforge_slo_burn_rate": "Burn rate over a window (1 spends the budget in exactly one SLO window).",
        "sloforge_slo_status": "1 healthy, 0 at risk, -1 breached; no sample while unknown.",
    }
    return {name: GaugeMetricFamily(name, text) for name, text in helps.items()}


def _add(family: Metric, labels: dict[str, str], value: float | None) -> None:
    if value is not None:
        family.add_sample(family.name, {k: str(v) for k, v in sorted(labels.items())}, float(value))


class DocumentCollector(Collector):
    """Gauges of one report document; label names differ per SLO (its ``by`` labels), hence samples by hand."""

    def __init__(self, doc: dict, build_ok: bool = True):
        self.doc = doc
        self.build_ok = build_ok

    def collect(self) -> Iterator[Metric]:
        g = _gauges()
        for r in self.doc.get("slos") or []:
            labels = {**(r.get("labels") or {}), "service": r["service"], "slo": r["slo"]}
            _add(g["sloforge_slo_objective_ratio"], labels, r["objective"] / 100)
            _add(g["sloforge_slo_sli_ratio"], labels, r.get("sli"))
            _add(g["sloforge_slo_error_budget_remaining_ratio"], labels, (r.get("error_budget") or {}).get("remaining"))
            for window in html.windows_of({"burn_rates": r.get("burn_rates")}):
                _add(g["sloforge_slo_burn_rate"], {**labels, "window": window}, r["burn_rates"][window])
            _add(g["sloforge_slo_status"], labels, STATUS_VALUE.get(r.get("status", "")))
        yield from g.values()
        ok = GaugeMetricFamily("sloforge_report_build_ok", "1 while the last report build succeeded, else 0.")
        ok.add_metric([], 1.0 if self.build_ok else 0.0)
        yield ok


def metrics_text(doc: dict, build_ok: bool = True) -> bytes:
    """The Prometheus text exposition of a document, from a private registry."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DocumentCollector(doc, build_ok))
    return generate_latest(registry)


# ----------------------------------------------------------------------------- the cached document


@dataclass
class Snapshot:
    """A document as served (None before the first good build) and the last build's error, if any;
    renderings are cached on it, so each is made once per build."""

    doc: dict | None
    error: str | None = None
    _rendered: dict[str, bytes] = field(default_factory=dict, repr=False)

    def rendered(self, key: str, make: Callable[[], bytes]) -> bytes:
        out = self._rendered.get(key)
        if out is None:  # two threads may both render; either result is the same
            out = self._rendered.setdefault(key, make())
        return out


class DocumentCache:
    """``build()``'s document, rebuilt at most every ``refresh`` seconds; thread-safe.

    The first build is waited for; afterwards one request rebuilds and concurrent ones get the
    previous snapshot instead of waiting."""

    def __init__(self, build: Build, refresh: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self._build = build
        self.refresh = refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._done_at: float | None = None
        self.builds = 0  # attempts, for tests and logs

    def _due(self) -> bool:
        if self._done_at is None:
            return True
        no_document = self._snapshot is None or self._snapshot.doc is None
        every = min(self.refresh, RETRY_WITHOUT_DOCUMENT) if no_document else self.refresh
        return self._clock() - self._done_at >= every

    def get(self) -> Snapshot:
        if self._due() and self._lock.acquire(blocking=self._snapshot is None):
            try:
                if self._due():
                    self._rebuild()
            finally:
                self._lock.release()
        assert self._snapshot is not None
        return self._snapshot

    def _rebuild(self) -> None:
        previous = self._snapshot
        self.builds += 1
        try:
            doc = self._build()
            if not isinstance(doc, dict) or not isinstance(doc.get("slos"), list):
                raise TypeError(f"build() returned {type(doc).__name__}, not a report document")
        except Exception as e:  # any failure of the source keeps the last document
            error = f"{type(e).__name__}: {e}"
            if previous is None or previous.error != error:
                log.warning("report build failed: %s", error)
            self._snapshot = Snapshot(None if previous is None else previous.doc, error)
        else:
            if previous is not None and previous.error:
                log.warning("report build recovered")
            self._snapshot = Snapshot(doc)
        finally:
            self._done_at = self._clock()


# ----------------------------------------------------------------------------- pages and routes


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes


def _html(status: int, title: str, body: str, reload: float | None = None) -> Response:
    return Response(status, HTML_TYPE, html.page(title, body, reload).encode())


def not_found(path: str) -> Response:
    body = f'<h1>Not found</h1><p>No page at <code>{escape(path)}</code>.</p><p><a href="/">All SLOs</a></p>'
    return _html(404, "Not found", body)


def _stale_note(snap: Snapshot) -> str:
    if not snap.error:
        return ""
    return (
        f'<div class="reason"><strong>The last refresh failed</strong>, showing older data: {escape(snap.error)}</div>'
    )


def overview_page(snap: Snapshot, reload: float | None) -> bytes:
    doc = snap.doc or {}
    slos = doc.get("slos") or []
    table = html.overview(slos, doc.get("at"), lambda r: html.slo_path(r["service"], r["slo"]) + "#" + html.anchor(r))
    body = "\n".join([html.header(doc, "Error budgets"), _stale_note(snap), table])
    return html.page("sloforge: error budgets", body, reload).encode()


def series_of(doc: dict, service: str, slo: str) -> list[dict]:
    return [r for r in doc.get("slos") or [] if r["service"] == service and r["slo"] == slo]


def slo_page(snap: Snapshot, service: str, slo: str, reload: float | None) -> bytes:
    """All series of one SLO: their rows, then a section with charts per series."""
    doc = snap.doc or {}
    series = series_of(doc, service, slo)
    at = doc.get("at")
    title = (series[0].get("title") if series else None) or slo
    body = [
        '<nav><a href="/">← all SLOs</a></nav>',
        html.header({**doc, "slos": series}, f"{service} / {title}"),
        _stale_note(snap),
        html.overview(series, at, lambda r: "#" + html.anchor(r)),
        *(html.section(r, at) for r in series),
    ]
    return html.page(f"sloforge: {service}/{slo}", "\n".join(body), reload).encode()


def api_document(doc: dict, history: bool) -> bytes:
    """The ``--json`` document; without each SLO's ``history`` unless asked for."""
    if not history:
        doc = {**doc, "slos": [{k: v for k, v in r.items() if k != "history"} for r in doc["slos"]]}
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def _truthy(query: dict[str, list[str]], key: str) -> bool:
    return (query.get(key) or ["0"])[-1].lower() in ("1", "true", "yes", "on")


def route(snap: Snapshot, target: str, refresh: float = 60.0) -> Response:
    """The response to ``GET target`` from one snapshot."""
    url = urlsplit(target)
    path = url.path.rstrip("/") or "/"
    if path == "/healthz":
        if snap.error or snap.doc is None:
            return Response(503, TEXT_TYPE, f"unhealthy: {snap.error or 'no report yet'}\n".encode())
        return Response(200, TEXT_TYPE, b"ok\n")
    parts = path.split("/")[1:]
    known = path in ("/", "/api/slos", "/metrics") or (len(parts) == 3 and parts[0] == "slo")
    if not known:
        return not_found(unquote(url.path))
    if snap.doc is None:
        body = f"<h1>No report yet</h1><p>The first build failed: {escape(snap.error or '?')}</p>"
        return _html(503, "No report yet", body, RELOAD_MIN)
    reload = max(refresh, RELOAD_MIN)
    if path == "/":
        return Response(200, HTML_TYPE, snap.rendered("/", lambda: overview_page(snap, reload)))
    if path == "/api/slos":
        history = _truthy(parse_qs(url.query), "history")
        body = snap.rendered(f"/api/slos?{history}", lambda: api_document(snap.doc, history))
        return Response(200, JSON_TYPE, body)
    if path == "/metrics":
        return Response(200, METRICS_TYPE, snap.rendered("/metrics", lambda: metrics_text(snap.doc, not snap.error)))
    service, slo = unquote(parts[1]), unquote(parts[2])
    if not series_of(snap.doc, service, slo):  # not cached: unknown names must not grow the cache
        return not_found(unquote(url.path))
    return Response(
        200, HTML_TYPE, snap.rendered(f"/slo/{service}/{slo}", lambda: slo_page(snap, service, slo, reload))
    )


# ----------------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    server: SLOServer
    protocol_version = "HTTP/1.1"  # keep-alive: every response has a Content-Length
    server_version = "sloforge"
    timeout = 120  # idle keep-alive connections end after this
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall per response

    def do_GET(self) -> None:  # http.server's naming
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def _method_not_allowed(self) -> None:
        self._send(Response(405, TEXT_TYPE, b"method not allowed: use GET or HEAD\n"), True, {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _method_not_allowed

    def _respond(self, send_body: bool) -> None:
        try:
            response = route(self.server.cache.get(), self.path, self.server.cache.refresh)
        except Exception:  # one bad page must not end the server
            log.exception("error serving %s", self.path)
            response = Response(500, TEXT_TYPE, b"internal error\n")
        self._send(response, send_body)

    def _send(self, response: Response, send_body: bool, headers: dict[str, str] | None = None) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", html.CSP)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if send_body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        if self.server.access_log:
            super().log_message(format, *args)


class SLOServer(ThreadingHTTPServer):
    """A threading HTTP server with the document cache; IPv6 when the host is an IPv6 address."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], cache: DocumentCache, access_log: bool = False):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.cache = cache
        self.access_log = access_log
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"


def make_server(
    build: Build, host: str = "127.0.0.1", port: int = 8080, refresh: float = 60.0, *, access_log: bool = False
) -> SLOServer:
    """A server (bound, not yet serving) for the document ``build()`` returns; port 0 picks a free one."""
    return SLOServer((host, port), DocumentCache(build, refresh), access_log)


def serve(
    build: Build, host: str = "127.0.0.1", port: int = 8080, refresh: float = 60.0, *, access_log: bool = False
) -> None:
    """Serve until interrupted; the first build runs before the first request, so a broken source shows now."""
    server = make_server(build, host, port, refresh, access_log=access_log)
    server.cache.get()
    print(f"sloforge serve: {server.url}/ (refresh every {refresh:g}s; Ctrl-C stops)", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
