"""Middleware overhead: time per request with sloforge's metrics middleware vs without.

Apps are called in-process (no server, no sockets): ASGI apps from one
coroutine with a minimal scope / receive / send, WSGI apps with a minimal
environ and start_response, so the numbers are the middleware's own cost.
CPU time of the benchmark thread is measured (``time.thread_time``: other
processes on the machine do not inflate it much).  Each case runs
``--requests`` requests per run, with and without the middleware alternately;
the median of ``--runs`` runs is reported, the overhead as the median of the
paired (with - without) differences.

Endpoints:

* ``fastapi``: a FastAPI route ``/items/{item_id}`` returning a small dict
  (the trivial endpoint of a real service); the middleware reads the template
  from Starlette's ``scope["route"]``.
* ``starlette``: a Starlette route returning a PlainTextResponse.
* ``asgi-bare`` / ``wsgi-bare``: an app that only sends ``ok``; the middleware
  matches the path against route templates (``routes=[...]``).  This is the
  floor: the endpoint does nothing, so the ratio is the middleware against
  almost zero.

    python bench/instrument_middleware.py [--requests 3000] [--runs 21]

Prints a table and writes bench/results/instrument_middleware.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from prometheus_client import CollectorRegistry

from sloforge.instrument.middleware import MetricsMiddleware, WSGIMetricsMiddleware

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.10  # overhead / endpoint time
ROUTES = ["/health", "/users/{user_id}", "/items/{item_id}", "/orders/{order_id}/lines/{line}"]


# ---------------------------------------------------------------- apps


def fastapi_app(instrumented: bool) -> Callable:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict:
        return {"id": item_id}

    if instrumented:
        app.add_middleware(MetricsMiddleware, registry=CollectorRegistry())
    return app


def starlette_app(instrumented: bool) -> Callable:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def item(request) -> PlainTextResponse:  # noqa: ANN001
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route(r, item) for r in ROUTES])
    if instrumented:
        app.add_middleware(MetricsMiddleware, registry=CollectorRegistry())
    return app


async def bare_asgi(scope: dict, receive: Callable, send: Callable) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def asgi_bare_app(instrumented: bool) -> Callable:
    return MetricsMiddleware(bare_asgi, registry=CollectorRegistry(), routes=ROUTES) if instrumented else bare_asgi


def bare_wsgi(environ: dict, start_response: Callable) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def wsgi_bare_app(instrumented: bool) -> Callable:
    return WSGIMetricsMiddleware(bare_wsgi, registry=CollectorRegistry(), routes=ROUTES) if instrumented else bare_wsgi


# ---------------------------------------------------------------- drivers


def asgi_seconds_per_request(app: Callable, path: str, n: int) -> float:
    base = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict:
        return request

    async def send(message: dict) -> None:
        pass

    async def run() -> float:
        for _ in range(200):  # warm up: lazy middleware stacks, label children, caches
            await app(dict(base), receive, send)
        start = time.thread_time()
        for _ in range(n):
            await app(dict(base), receive, send)
        return (time.thread_time() - start) / n

    return asyncio.run(run())


def wsgi_seconds_per_request(app: Callable, path: str, n: int) -> float:
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "bench", "SERVER_PORT": "80"}

    def start_response(status: str, headers: list, exc_info: object = None) -> Callable:
        return lambda data: None

    def one() -> None:
        body = app(dict(base), start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()

    for _ in range(200):
        one()
    start = time.thread_time()
    for _ in range(n):
        one()
    return (time.thread_time() - start) / n


CASES: list[tuple[str, Callable[[bool], Callable], Callable, str]] = [
    ("fastapi", fastapi_app, asgi_seconds_per_request, "/items/42"),
    ("starlette", starlette_app, asgi_seconds_per_request, "/orders/7/lines/3"),
    ("asgi-bare", asgi_bare_app, asgi_seconds_per_request, "/orders/7/lines/3"),
    ("wsgi-bare", wsgi_bare_app, wsgi_seconds_per_request, "/orders/7/lines/3"),
]


def measure(n: int, runs: int) -> list[dict]:
    rows = []
    for name, make, drive, path in CASES:
        plain, instrumented = make(False), make(True)
        base, inst = [], []
        for _ in range(runs):  # paired and interleaved, so drift hits both alike
            base.append(drive(plain, path, n))
            inst.append(drive(instrumented, path, n))
        b, i = statistics.median(base), statistics.median(inst)
        overhead = statistics.median(y - x for x, y in zip(base, inst, strict=True))
        rows.append(
            {
                "endpoint": name,
                "path": path,
                "without_us": round(b * 1e6, 3),
                "with_us": round(i * 1e6, 3),
                "overhead_us": round(overhead * 1e6, 3),
                "overhead_ratio": round(overhead / b, 4),
                "within_target": overhead / b <= TARGET,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per run")
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    rows = measure(args.requests, args.runs)
    print(f"{'endpoint':<11} {'without µs':>11} {'with µs':>9} {'overhead µs':>12} {'overhead':>9}  target <= 10 %")
    for r in rows:
        verdict = "ok" if r["within_target"] else "over"
        print(
            f"{r['endpoint']:<11} {r['without_us']:>11.2f} {r['with_us']:>9.2f} {r['overhead_us']:>12.2f} "
            f"{r['overhead_ratio']:>8.1%}  {verdict}"
        )
    out = ROOT / "bench" / "results" / "instrument_middleware.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "prometheus_client": version("prometheus-client"),
        "requests_per_run": args.requests,
        "runs": args.runs,
        "statistic": "median of runs",
        "target_overhead_ratio": TARGET,
    }
    out.write_text(json.dumps({"generated_at": time.time(), **meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
