"""Middleware overhead: CPU time per request with sloforge's metrics middleware vs without.

Apps are called in-process (no server, no sockets): ASGI apps from one
coroutine with a minimal scope / receive / send, WSGI apps with a minimal
environ and start_response, so the numbers are the middleware's own cost.

Endpoints:

* ``fastapi``: a FastAPI route ``/items/{item_id}`` returning a small dict
  (the trivial endpoint of a real service); the middleware reads the template
  from the router (``scope["route"]``).
* ``starlette``: Starlette routes sharing one endpoint that returns a
  PlainTextResponse.
* ``asgi-bare`` / ``wsgi-bare``: an app that only sends ``ok``; the middleware
  matches the path against route templates (``routes=[...]``).  This is the
  floor: the endpoint does nothing, so the ratio is the middleware against
  almost zero.

Method, made to hold on a small machine other jobs are using:

* CPU time of the benchmark thread (``time.thread_time``): time spent waiting
  for a core does not count.
* Paired and interleaved at a fine grain: a round runs the app without and
  with the middleware in alternating blocks of about ``--block-ms`` CPU
  milliseconds (``--blocks`` each, the order flipped every block), so a slow
  patch of the machine hits both sides alike.  The overhead is the median over
  ``--rounds`` rounds of the per-round ratio ``(with - without) / without``
  (and of the difference, in µs); the inter-quartile range of the per-round
  ratios shows how noisy the machine was.
* ``gc.collect()`` before every round; the collector stays on, since
  collecting what the middleware allocates is part of its cost.
* Every round also times a bound child's ``inc()`` + ``observe()``:
  prometheus_client's own cost per request, which no middleware recording
  into prometheus_client metrics can go under.

    python bench/instrument_middleware.py [--rounds 21] [--blocks 10] [--block-ms 4]

Prints a table (the overhead against the 10 % target per endpoint) and writes
bench/results/instrument_middleware.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram

from sloforge.instrument.middleware import MetricsMiddleware, WSGIMetricsMiddleware

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "instrument_middleware.json"
TARGET = 0.10  # overhead / endpoint time
ROUTES = ["/health", "/users/{user_id}", "/items/{item_id}", "/orders/{order_id}/lines/{line}"]
WARMUP = 50  # requests per app before a round: lazy middleware stacks, label children, caches

# (apps, requests per block, blocks) -> CPU seconds per request of each app, the apps taking turns block by block
Driver = Callable[[list[Callable], int, int], list[float]]


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


def turns(apps: int, blocks: int) -> Iterator[int]:
    """App indices block by block, the order flipped every other block."""
    for b in range(blocks):
        yield from range(apps) if b % 2 == 0 else reversed(range(apps))


def asgi_driver(path: str) -> Driver:
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

    async def block(app: Callable, n: int) -> float:
        start = time.thread_time()
        for _ in range(n):
            await app(dict(base), receive, send)
        return time.thread_time() - start

    async def run(apps: list[Callable], n: int, blocks: int) -> list[float]:
        for app in apps:
            await block(app, WARMUP)
        gc.collect()
        totals = [0.0] * len(apps)
        for i in turns(len(apps), blocks):
            totals[i] += await block(apps[i], n)
        return [t / (n * blocks) for t in totals]

    return lambda apps, n, blocks: asyncio.run(run(apps, n, blocks))


def wsgi_driver(path: str) -> Driver:
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "bench", "SERVER_PORT": "80"}

    def start_response(status: str, headers: list, exc_info: object = None) -> Callable:
        return lambda data: None

    def block(app: Callable, n: int) -> float:
        start = time.thread_time()
        for _ in range(n):
            body = app(dict(base), start_response)
            for _ in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return time.thread_time() - start

    def run(apps: list[Callable], n: int, blocks: int) -> list[float]:
        for app in apps:
            block(app, WARMUP)
        gc.collect()
        totals = [0.0] * len(apps)
        for i in turns(len(apps), blocks):
            totals[i] += block(apps[i], n)
        return [t / (n * blocks) for t in totals]

    return run


def prometheus_seconds_per_request(n: int) -> float:
    """A bound counter child's ``inc()`` plus a bound histogram child's ``observe()``."""
    reg = CollectorRegistry()
    requests = Counter("bench_requests_total", "r", ["route", "method", "status_class"], registry=reg)
    duration = Histogram("bench_request_duration_seconds", "d", ["route", "method"], registry=reg)
    inc, observe = requests.labels("/a", "GET", "2xx").inc, duration.labels("/a", "GET").observe
    gc.collect()
    start = time.thread_time()
    for _ in range(n):
        inc()
        observe(0.0001)
    return (time.thread_time() - start) / n


CASES: list[tuple[str, Callable[[bool], Callable], Callable[[str], Driver], str]] = [
    ("fastapi", fastapi_app, asgi_driver, "/items/42"),
    ("starlette", starlette_app, asgi_driver, "/orders/7/lines/3"),
    ("asgi-bare", asgi_bare_app, asgi_driver, "/orders/7/lines/3"),
    ("wsgi-bare", wsgi_bare_app, wsgi_driver, "/orders/7/lines/3"),
]


# ---------------------------------------------------------------- measuring


def block_size(seconds_per_request: Callable[[int], float], block_ms: float) -> int:
    """Requests per block so that one block takes about ``block_ms`` of CPU time."""
    per_request = min(seconds_per_request(200) for _ in range(3))
    return max(20, round(block_ms / 1000 / max(per_request, 1e-9)))


def summarize(name: str, path: str, n: int, without: list[float], with_: list[float]) -> dict:
    ratios = [(w - b) / b for b, w in zip(without, with_, strict=True)]
    ratio = statistics.median(ratios)
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return {
        "endpoint": name,
        "path": path,
        "requests_per_block": n,
        "without_us": round(statistics.median(without) * 1e6, 3),
        "with_us": round(statistics.median(with_) * 1e6, 3),
        "overhead_us": round(statistics.median(w - b for b, w in zip(without, with_, strict=True)) * 1e6, 3),
        "overhead_pct": round(ratio * 100, 2),
        "overhead_pct_iqr": [round(q1 * 100, 2), round(q3 * 100, 2)],
        "overhead_vs_target": round(ratio / TARGET, 3),
        "within_target": ratio <= TARGET,
    }


def measure(rounds: int, blocks: int, block_ms: float) -> tuple[list[dict], float]:
    """Per-endpoint rows, and prometheus_client's own µs per request."""
    cases = []
    for name, make, driver, path in CASES:
        drive, apps = driver(path), [make(False), make(True)]
        n = block_size(lambda k, drive=drive, plain=apps[0]: drive([plain], k, 1)[0], block_ms)
        cases.append((name, path, drive, apps, n))
    floor_n = block_size(prometheus_seconds_per_request, block_ms) * blocks
    samples: dict[str, list[list[float]]] = {name: [] for name, *_ in cases}
    floor: list[float] = []
    for _ in range(rounds):
        for name, _path, drive, apps, n in cases:
            samples[name].append(drive(apps, n, blocks))
        floor.append(prometheus_seconds_per_request(floor_n))
    rows = []
    for name, path, _, _, n in cases:
        without, with_ = zip(*samples[name], strict=True)
        rows.append(summarize(name, path, n, list(without), list(with_)))
    return rows, round(statistics.median(floor) * 1e6, 3)


def print_table(rows: list[dict], floor_us: float) -> None:
    print(f"CPU µs per request, median over paired rounds; target: overhead <= {TARGET:.0%} of the endpoint's time")
    print(f"{'endpoint':<10} {'without':>8} {'with':>8} {'overhead':>9} {'overhead':>9} {'IQR':>14} {'/ target':>9}")
    for r in rows:
        q1, q3 = r["overhead_pct_iqr"]
        verdict = "ok" if r["within_target"] else "over"
        print(
            f"{r['endpoint']:<10} {r['without_us']:>8.2f} {r['with_us']:>8.2f} {r['overhead_us']:>9.2f} "
            f"{r['overhead_pct']:>7.1f} % {f'{q1:.1f}-{q3:.1f} %':>14} {r['overhead_vs_target']:>8.2f}x  {verdict}"
        )
    print(f"of which prometheus_client's own inc() + observe(): {floor_us:.2f} µs per request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="paired rounds per endpoint")
    parser.add_argument("--blocks", type=int, default=10, help="blocks per app and round, alternating")
    parser.add_argument("--block-ms", type=float, default=4.0, help="CPU milliseconds per block")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows, floor_us = measure(args.rounds, args.blocks, args.block_ms)
    print_table(rows, floor_us)
    meta = {
        "python": platform.python_version(),
        "prometheus_client": version("prometheus-client"),
        "fastapi": version("fastapi"),
        "starlette": version("starlette"),
        "cpus": os.cpu_count(),
        "load_average_1m_at_start": round(load, 2),
        "rounds": args.rounds,
        "blocks": args.blocks,
        "block_ms": args.block_ms,
        "clock": "time.thread_time (CPU time of the benchmark thread)",
        "statistic": "median over rounds of (with - without) and (with - without) / without; blocks interleaved",
        "target_overhead_pct": TARGET * 100,
        "prometheus_client_inc_observe_us": floor_us,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({**meta, "rows": rows}, indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
