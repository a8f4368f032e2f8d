"""HTTP metrics middleware (ASGI, WSGI), /metrics exposition and multiprocess mode under gunicorn.

FastAPI / Starlette apps are driven in-process over httpx's ASGI transport; the
multiprocess test runs a real gunicorn with two workers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import httpx
import pytest
from conftest import REPO, free_port
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sloforge.instrument import Metrics, SLOTracker
from sloforge.instrument.exposition import make_asgi_app, make_wsgi_app, render
from sloforge.instrument.middleware import (
    UNMATCHED,
    HTTPMetrics,
    MetricsMiddleware,
    RouteMatcher,
    WSGIMetricsMiddleware,
)

fastapi = pytest.importorskip("fastapi", reason="fastapi is a dev dependency (pip install -e '.[dev]')")
starlette_routing = pytest.importorskip("starlette.routing")

REQUESTS = "http_requests_total"
DURATION = "http_request_duration_seconds"

SPEC = """\
apiVersion: sloforge/v1
service: shop
metrics:
  - name: http_requests_total
    type: counter
    help: HTTP requests by status code
    labels: [method, handler, status]
  - name: api_endpoint_latency_seconds
    type: histogram
    help: API latency
    labels: [method, handler]
    buckets: [0.01, 0.05, 0.1, 0.5, 1.0]
slos:
  - name: availability
    objective: 99
    sli:
      events:
        bad: http_requests_total{status=~"5.."}
        total: http_requests_total
  - name: latency
    objective: 95
    sli:
      latency: {histogram: api_endpoint_latency_seconds, le: 0.1}
"""


def count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def label_sets(registry: CollectorRegistry, sample: str) -> list[dict[str, str]]:
    return [s.labels for fam in registry.collect() for s in fam.samples if s.name == sample]


def drive(app, calls: list[tuple[str, str]], raise_app_exceptions: bool = False) -> list[int]:
    """Send (method, path) requests to an ASGI app in-process; return the status codes."""

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [(await client.request(method, path)).status_code for method, path in calls]

    return asyncio.run(run())


def shop_app(registry: CollectorRegistry, **options) -> fastapi.FastAPI:
    app = fastapi.FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict:
        return {"id": item_id}

    @app.get("/fail")
    def fail() -> None:
        raise fastapi.HTTPException(503)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/metrics")
    def metrics() -> fastapi.Response:
        body, content_type = render(registry)
        return fastapi.Response(body, media_type=content_type)

    app.add_middleware(MetricsMiddleware, registry=registry, **options)
    return app


# ---------------------------------------------------------------- ASGI


def test_fastapi_records_route_templates_methods_and_status_classes():
    reg = CollectorRegistry()
    calls = [("GET", "/items/1"), ("GET", "/items/2"), ("GET", "/items/x"), ("POST", "/items/1")]
    calls += [("GET", "/fail"), ("GET", "/boom"), ("GET", "/nope"), ("GET", "/metrics"), ("BREW", "/items/3")]
    assert drive(shop_app(reg), calls) == [200, 200, 422, 405, 503, 500, 404, 200, 405]
    item = "/items/{item_id}"
    expected = {
        (item, "GET", "2xx"): 2,
        (item, "GET", "4xx"): 1,
        (item, "POST", "4xx"): 1,
        (item, "other", "4xx"): 1,
        ("/fail", "GET", "5xx"): 1,
        ("/boom", "GET", "5xx"): 1,
        (UNMATCHED, "GET", "4xx"): 1,
    }
    got = {(s["route"], s["method"], s["status_class"]): count(reg, REQUESTS, **s) for s in label_sets(reg, REQUESTS)}
    assert got == expected  # /metrics is excluded, raw paths never appear
    assert count(reg, DURATION + "_count", route=item, method="GET") == 3
    assert count(reg, DURATION + "_count", route="/boom", method="GET") == 1
    assert sum(count(reg, DURATION + "_count", **s) for s in label_sets(reg, DURATION + "_count")) == 8


def test_cardinality_stays_bounded_whatever_the_paths():
    reg = CollectorRegistry()
    calls = [("GET", f"/items/{i}") for i in range(300)] + [("GET", f"/random/{i}/x") for i in range(300)]
    drive(shop_app(reg), calls)
    assert label_sets(reg, REQUESTS) == [
        {"route": "/items/{item_id}", "method": "GET", "status_class": "2xx"},
        {"route": UNMATCHED, "method": "GET", "status_class": "4xx"},
    ]
    assert count(reg, REQUESTS, route=UNMATCHED, method="GET", status_class="4xx") == 300


def test_exception_counts_as_5xx_and_is_reraised():
    reg = CollectorRegistry()

    async def broken(scope, receive, send):
        raise ValueError("handler bug")

    app = MetricsMiddleware(broken, registry=reg, routes=["/x"])
    with pytest.raises(ValueError, match="handler bug"):
        drive(app, [("GET", "/x")], raise_app_exceptions=True)
    assert count(reg, REQUESTS, route="/x", method="GET", status_class="5xx") == 1


def test_starlette_mounts_give_the_full_template():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse

    def ok(request):
        return PlainTextResponse("ok")

    async def files(scope, receive, send):
        await PlainTextResponse("file")(scope, receive, send)

    reg = CollectorRegistry()
    api = starlette_routing.Router([starlette_routing.Route("/orders/{order_id:int}", ok)])
    routes = [
        starlette_routing.Route("/", ok),
        starlette_routing.Mount("/tenants/{tenant}", routes=[starlette_routing.Mount("/api", app=api)]),
        starlette_routing.Mount("/static", app=files),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(MetricsMiddleware, registry=reg)
    assert drive(app, [("GET", "/"), ("GET", "/tenants/a/api/orders/7"), ("GET", "/static/css/x.css")]) == [200] * 3
    assert sorted(s["route"] for s in label_sets(reg, REQUESTS)) == [
        "/",
        "/static/{path}",
        "/tenants/{tenant}/api/orders/{order_id:int}",
    ]


def route_labels(registry: CollectorRegistry) -> dict[str, float]:
    """route label -> requests counted under it."""
    out: dict[str, float] = {}
    for labels in label_sets(registry, REQUESTS):
        out[labels["route"]] = out.get(labels["route"], 0) + count(registry, REQUESTS, **labels)
    return out


class LegacyRouter:
    """Starlette < 1.0's router: leaves ``endpoint`` and ``path_params`` in the scope, no ``route``."""

    def __init__(self, routes: list) -> None:
        self.routes = routes

    async def __call__(self, scope, receive, send):
        from starlette.responses import PlainTextResponse

        for route in self.routes:
            match, child = route.matches(scope)
            if match == starlette_routing.Match.FULL:
                scope.update(child)
                await route.handle(scope, receive, send)
                return
        await PlainTextResponse("not found", 404)(scope, receive, send)


@pytest.mark.parametrize("legacy", [False, True], ids=["starlette", "legacy-router"])
def test_routes_sharing_an_endpoint_get_their_own_template(legacy: bool):
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse

    def shared(request):
        return PlainTextResponse("shared")

    def health(request):
        return PlainTextResponse("ok")

    templates = ["/users/{user_id}", "/orders/{order_id}/lines/{line}", "/a/{id}", "/b/{id}"]
    routes = [starlette_routing.Route(t, shared) for t in templates] + [starlette_routing.Route("/health", health)]
    reg = CollectorRegistry()
    if legacy:
        app = MetricsMiddleware(LegacyRouter(routes), registry=reg)
    else:
        app = Starlette(routes=routes)
        app.add_middleware(MetricsMiddleware, registry=reg)
    calls = ["/users/1", "/orders/7/lines/3", "/a/1", "/b/1", "/b/2", "/health", "/nowhere", "/users/2"]
    assert drive(app, [("GET", path) for path in calls]) == [200] * 6 + [404, 200]
    # /a/{id} and /b/{id} share endpoint and parameter names: told apart by walking the routes
    assert route_labels(reg) == {
        "/users/{user_id}": 2,
        "/orders/{order_id}/lines/{line}": 1,
        "/a/{id}": 1,
        "/b/{id}": 2,
        "/health": 1,
        UNMATCHED: 1,
    }


def test_shared_router_mounts_sub_apps_and_routes_changed_later():
    from starlette.responses import PlainTextResponse

    def ok(request):
        return PlainTextResponse("ok")

    async def files(scope, receive, send):
        await PlainTextResponse("file")(scope, receive, send)

    reg = CollectorRegistry()
    api = starlette_routing.Router(
        [starlette_routing.Route("/orders/{order_id}", ok), starlette_routing.Mount("/files", app=files)]
    )
    sub = fastapi.FastAPI()

    @sub.get("/items/{item_id}")
    def item(item_id: int) -> dict:
        return {"id": item_id}

    app = fastapi.FastAPI()
    app.mount("/v1", app=api)
    app.mount("/v2", app=api)  # one router object under two prefixes
    app.mount("/shop", app=sub)
    app.add_middleware(MetricsMiddleware, registry=reg)
    calls = [("GET", p) for p in ("/v1/orders/1", "/v2/orders/2", "/v2/files/a.css", "/shop/items/4", "/v1/nope")]
    calls += [("POST", "/v2/orders/3"), ("GET", "/late/5")]
    assert drive(app, calls) == [200, 200, 200, 200, 404, 405, 404]

    @app.get("/late/{x}")
    def late(x: str) -> str:
        return x

    assert drive(app, [("GET", "/late/6"), ("GET", "/shop/items/7")]) == [200, 200]
    app.router.routes[-1] = fastapi.routing.APIRoute("/later/{x}", late)  # edited in place: same count, same endpoint
    assert drive(app, [("GET", "/later/8")]) == [200]
    assert route_labels(reg) == {
        "/v1/orders/{order_id}": 1,
        "/v2/orders/{order_id}": 2,
        "/v2/files/{path}": 1,
        "/shop/items/{item_id}": 2,
        "/late/{x}": 1,
        "/later/{x}": 1,
        UNMATCHED: 2,
    }


def test_router_mounted_inside_itself():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse

    def ok(request):
        return PlainTextResponse("ok")

    inner = starlette_routing.Router([starlette_routing.Route("/a/{x}", ok)])
    inner.routes.append(starlette_routing.Mount("/again", app=inner))
    app = Starlette(routes=[starlette_routing.Mount("/in", app=inner)])
    reg = CollectorRegistry()
    app.add_middleware(MetricsMiddleware, registry=reg)
    assert drive(app, [("GET", "/in/a/1"), ("GET", "/in/again/again/a/2")]) == [200, 200]
    assert route_labels(reg) == {"/in/a/{x}": 1, "/in/again/again/a/{x}": 1}


def test_plain_asgi_app_with_route_list_or_route_for():
    async def hello(scope, receive, send):
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"hi"})

    reg = CollectorRegistry()
    listed = MetricsMiddleware(hello, registry=reg, routes=["/users/{uid}", "/users/me"])
    drive(listed, [("GET", "/users/me"), ("GET", "/users/42"), ("GET", "/elsewhere")])
    assert count(reg, REQUESTS, route="/users/{uid}", method="GET", status_class="2xx") == 2  # first match wins
    assert count(reg, REQUESTS, route=UNMATCHED, method="GET", status_class="2xx") == 1

    reg2 = CollectorRegistry()
    custom = MetricsMiddleware(hello, registry=reg2, route_for=lambda scope: scope["path"].split("/")[1] or None)
    drive(custom, [("PUT", "/a/1"), ("PUT", "/")])
    assert count(reg2, REQUESTS, route="a", method="PUT", status_class="2xx") == 1
    assert count(reg2, REQUESTS, route=UNMATCHED, method="PUT", status_class="2xx") == 1


def test_non_http_scopes_pass_through():
    seen: list[str] = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    reg = CollectorRegistry()
    wrapped = MetricsMiddleware(app, registry=reg, routes=["/"])
    for kind in ("lifespan", "websocket"):
        asyncio.run(wrapped({"type": kind, "path": "/"}, None, None))
    assert seen == ["lifespan", "websocket"]
    assert label_sets(reg, REQUESTS) == []


def test_custom_prefix_and_buckets():
    async def hello(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    reg = CollectorRegistry()
    app = MetricsMiddleware(hello, registry=reg, prefix="shop", buckets=[0.5, 1.0], routes=["/"])
    drive(app, [("GET", "/")])
    text = generate_latest(reg).decode()
    assert 'shop_requests_total{method="GET",route="/",status_class="2xx"} 1.0' in text
    assert 'shop_request_duration_seconds_bucket{le="0.5",method="GET",route="/"} 1.0' in text
    assert 'le="0.25"' not in text


# ---------------------------------------------------------------- spec metrics and SLO trackers


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(SPEC)
    return path


def test_binds_to_declared_metrics_with_status_codes(spec_file: Path):
    reg = CollectorRegistry()
    m = Metrics.from_spec(spec_file, registry=reg)
    app = shop_app(reg, metrics=m, requests="http_requests_total", duration="api_endpoint_latency_seconds")
    drive(app, [("GET", "/items/1"), ("GET", "/fail"), ("GET", "/fail")])
    assert count(reg, REQUESTS, handler="/items/{item_id}", method="GET", status="200") == 1
    assert count(reg, REQUESTS, handler="/fail", method="GET", status="503") == 2
    assert count(reg, "api_endpoint_latency_seconds_count", handler="/fail", method="GET") == 2
    # the declared buckets, not the middleware's defaults
    assert count(reg, "api_endpoint_latency_seconds_bucket", handler="/fail", method="GET", le="1.0") == 2


def test_unfillable_labels_are_a_clear_error():
    reg = CollectorRegistry()
    from prometheus_client import Counter, Histogram

    requests = Counter("req", "r", ["route", "tenant"], registry=reg)
    duration = Histogram("lat", "l", ["route"], registry=reg)
    with pytest.raises(ValueError, match=r"label\(s\) tenant the middleware cannot fill"):
        HTTPMetrics(requests=requests, duration=duration)
    with pytest.raises(KeyError, match="declares no metric 'http_requests_total'"):
        HTTPMetrics(metrics={}, requests=None)
    mapped = HTTPMetrics(requests=requests, duration=duration, labels={"status": "tenant"}, status_format="class")
    mapped.record("/a", "GET", 502, 0.1)
    assert count(reg, "req_total", route="/a", tenant="5xx") == 1


def test_slo_trackers_see_every_recorded_request(spec_file: Path):
    reg = CollectorRegistry()
    now = [1_000_000.0]
    availability = SLOTracker(spec_file, "availability", registry=reg, clock=lambda: now[0])
    latency = SLOTracker(spec_file, "latency", registry=reg, clock=lambda: now[0])
    checkout_only = SLOTracker(spec_file, "availability", registry=CollectorRegistry(), clock=lambda: now[0])

    def only_items(route: str, method: str, status: int, seconds: float) -> bool | None:
        return status < 400 if route.startswith("/items") else None

    trackers = [availability, latency, (checkout_only, only_items)]
    drive(shop_app(reg, slo_trackers=trackers), [("GET", "/items/1"), ("GET", "/fail"), ("GET", "/items/x")] * 2)
    got = availability.status()
    assert (got["events"], got["good"], got["bad"]) == (6, 4, 2)  # 422 is good, 503 is bad
    assert latency.status()["events"] == 6  # every request observed (all fast in-process)
    got = checkout_only.status()
    assert (got["events"], got["good"], got["bad"]) == (4, 2, 2)  # /fail left out, 422 judged bad
    assert reg.get_sample_value("sloforge_slo_sli", {"service": "shop", "slo": "availability"}) == pytest.approx(4 / 6)


# ---------------------------------------------------------------- route templates


def test_route_matcher():
    match = RouteMatcher(["/", "/items/{id:int}", "/items/{name}", "/files/{p:path}", "/u/<int:uid>/x"])
    assert match("/") == "/"
    assert match("/items/12") == "/items/{id:int}"
    assert match("/items/abc") == "/items/{name}"
    assert match("/items/a/b") is None
    assert match("/files/a/b/c.txt") == "/files/{p:path}"
    assert match("/u/7/x") == "/u/<int:uid>/x"
    assert match("/u/seven/x") is None
    assert match("/items/12.5") == "/items/{name}"
    assert RouteMatcher(["/a.b"])("/aXb") is None  # literal text is escaped
    with pytest.raises(ValueError, match="unknown converter 'slug'"):
        RouteMatcher(["/{x:slug}"])


# ---------------------------------------------------------------- WSGI


def wsgi_call(app, method: str, path: str) -> tuple[str, bytes]:
    environ: dict = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.errors": io.StringIO()}
    setup_testing_defaults(environ)
    status: list[str] = []
    body = app(environ, lambda s, h, exc_info=None: status.append(s))
    try:
        data = b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    return status[0], data


def lazy_wsgi_body(start_response):
    """A generator app: start_response runs only once the server iterates the body."""
    start_response("202 Accepted", [])
    yield b"later"


def wsgi_app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/crash":
        raise RuntimeError("crash")
    if path == "/stream":
        start_response("201 Created", [])
        return (chunk for chunk in (b"a", b"b"))  # recorded when the server closes it
    if path == "/broken-body":
        start_response("200 OK", [])
        return (b"x" if i == 0 else 1 / 0 for i in range(2))  # fails while streaming
    if path == "/lazy":
        return lazy_wsgi_body(start_response)
    code = "404 Not Found" if path.startswith("/missing") else "200 OK"
    start_response(code, [("Content-Type", "text/plain")])
    return [b"ok"]


def test_wsgi_middleware_records_templates_status_and_errors():
    reg = CollectorRegistry()
    routes = ["/orders/{id}", "/crash", "/broken-body", "/stream", "/lazy"]
    app = WSGIMetricsMiddleware(wsgi_app, registry=reg, routes=routes)
    assert wsgi_call(app, "GET", "/orders/1") == ("200 OK", b"ok")
    wsgi_call(app, "GET", "/orders/2")
    wsgi_call(app, "DELETE", "/orders/2")
    wsgi_call(app, "GET", "/missing/7")
    wsgi_call(app, "GET", "/metrics")  # excluded
    assert wsgi_call(app, "GET", "/stream") == ("201 Created", b"ab")
    assert wsgi_call(app, "GET", "/lazy") == ("202 Accepted", b"later")
    with pytest.raises(RuntimeError):
        wsgi_call(app, "GET", "/crash")
    with pytest.raises(ZeroDivisionError):
        wsgi_call(app, "GET", "/broken-body")
    got = {(s["route"], s["method"], s["status_class"]): count(reg, REQUESTS, **s) for s in label_sets(reg, REQUESTS)}
    assert got == {
        ("/orders/{id}", "GET", "2xx"): 2,
        ("/orders/{id}", "DELETE", "2xx"): 1,
        (UNMATCHED, "GET", "4xx"): 1,
        ("/crash", "GET", "5xx"): 1,
        ("/broken-body", "GET", "5xx"): 1,
        ("/stream", "GET", "2xx"): 1,
        ("/lazy", "GET", "2xx"): 1,
    }
    assert count(reg, DURATION + "_count", route="/orders/{id}", method="GET") == 2


def test_wsgi_needs_a_way_to_name_routes():
    with pytest.raises(TypeError, match="routes=.*route_for="):
        WSGIMetricsMiddleware(wsgi_app, registry=CollectorRegistry())


def test_wsgi_route_for_and_shared_recorder():
    reg = CollectorRegistry()
    recorder = HTTPMetrics(registry=reg)
    first = WSGIMetricsMiddleware(wsgi_app, recorder, route_for=lambda environ: "/first")
    second = WSGIMetricsMiddleware(wsgi_app, recorder, route_for=lambda environ: None)
    wsgi_call(first, "GET", "/anything")
    wsgi_call(second, "GET", "/anything")
    assert count(reg, REQUESTS, route="/first", method="GET", status_class="2xx") == 1
    assert count(reg, REQUESTS, route=UNMATCHED, method="GET", status_class="2xx") == 1
    with pytest.raises(TypeError, match="either recorder= or its options"):
        WSGIMetricsMiddleware(wsgi_app, recorder, route_for=lambda e: None, prefix="x")


# ---------------------------------------------------------------- exposition


def test_exposition_apps_serve_text_and_openmetrics():
    reg = CollectorRegistry()
    recorder = HTTPMetrics(registry=reg)
    recorder.record("/a", "GET", 200, 0.01)
    status, body = wsgi_call(make_wsgi_app(reg), "GET", "/metrics")
    assert status == "200 OK"
    assert b'http_requests_total{method="GET",route="/a",status_class="2xx"} 1.0' in body

    app = fastapi.FastAPI()
    app.add_route("/metrics", make_asgi_app(reg))

    async def scrape(accept: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/metrics", headers={"accept": accept})

    text = asyncio.run(scrape("text/plain"))
    assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert text.content == generate_latest(reg)
    om = asyncio.run(scrape("application/openmetrics-text; version=1.0.0"))
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.endswith("# EOF\n")
    body, content_type = render(reg, "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text") and body.endswith(b"# EOF\n")


def test_metrics_asgi_app_answers_lifespan():
    app = make_asgi_app(CollectorRegistry())
    sent: list[dict] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


# ---------------------------------------------------------------- multiprocess (gunicorn)

GUNICORN_APP = """\
import os
import time

from prometheus_client import Gauge

from sloforge.instrument.exposition import make_wsgi_app
from sloforge.instrument.middleware import WSGIMetricsMiddleware

metrics = make_wsgi_app()
worker_up = Gauge("worker_up", "1 per live worker", multiprocess_mode="liveall")
worker_up.set(1)


def hello(environ, start_response):
    time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


instrumented = WSGIMetricsMiddleware(hello, routes=["/hello/{name}"])


def app(environ, start_response):
    if environ["PATH_INFO"] == "/metrics":
        return metrics(environ, start_response)
    return instrumented(environ, start_response)
"""

GUNICORN_CONF = """\
from sloforge.instrument.exposition import child_exit  # noqa: F401  (gunicorn calls it by name)

workers = 2
worker_class = "sync"
"""


def scrape(client: httpx.Client) -> dict[tuple[str, tuple], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_gunicorn_multiprocess_sums_every_worker(tmp_path: Path):
    pytest.importorskip("gunicorn", reason="gunicorn is a dev dependency (pip install -e '.[dev]')")
    (tmp_path / "mpapp.py").write_text(GUNICORN_APP)
    (tmp_path / "gunicorn.conf.py").write_text(GUNICORN_CONF)
    mpdir = tmp_path / "multiproc"
    mpdir.mkdir()
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(mpdir), "PYTHONPATH": str(REPO / "src")}
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "mpapp:app"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)  # one client: thread-safe, no TLS setup
    try:
        workers = lambda: {k[1][0][1] for k in scrape(client) if k[0] == "worker_up"}  # noqa: E731
        wait_for(lambda: len(workers()) == 2)
        n = 200
        client.get("/hello/warmup")
        with ThreadPoolExecutor(8) as pool:
            pids = set(pool.map(lambda i: client.get(f"/hello/{i}").text, range(n)))
        assert len(pids) == 2, f"requests were not spread over both workers: {pids}"
        key = ("http_requests_total", (("method", "GET"), ("route", "/hello/{name}"), ("status_class", "2xx")))
        samples = scrape(client)
        assert samples[key] == n + 1  # every worker's requests, merged; /metrics itself is excluded
        hist = ("http_request_duration_seconds_count", (("method", "GET"), ("route", "/hello/{name}")))
        assert samples[hist] == n + 1

        # a worker dies: gunicorn's child_exit hook drops its live gauge, its counts stay
        victim = int(sorted(pids)[0])
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: str(victim) not in workers() and len(workers()) == 2)
        assert scrape(client)[key] == n + 1
    finally:
        client.close()
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
