"""``/metrics`` endpoints: ASGI and WSGI apps serving a registry, multiprocess aware.

One process::

    app.add_route("/metrics", make_asgi_app(registry))          # Starlette / FastAPI
    wsgi = make_wsgi_app(registry)                                # any WSGI server

Several processes (gunicorn workers, uvicorn ``--workers``): every process
writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``, and whichever
process answers a scrape merges all files with ``MultiProcessCollector`` on a
fresh registry (the per-process registry is then not exposed).  The directory
must exist and be emptied before the server starts (samples of an earlier run
would otherwise be added), and gunicorn must tell prometheus_client when a
worker dies, so that its live gauges disappear::

    # gunicorn.conf.py
    from sloforge.instrument.exposition import child_exit  # noqa: F401  (gunicorn calls it by name)

    # shell
    rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    gunicorn -c gunicorn.conf.py -w 4 app:wsgi

Counters and histograms are summed over processes (also over dead ones: a
counter never goes back); gauges need a ``multiprocess_mode``
(prometheus_client docs).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import prometheus_client
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The multiprocess directory, when multiprocess mode is on (prometheus_client reads the same variable)."""
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower()) or None


def metrics_registry(registry: CollectorRegistry | None = None) -> CollectorRegistry:
    """The registry a scrape should read: ``registry`` (default: the global one), or in multiprocess
    mode a fresh registry whose ``MultiProcessCollector`` merges every process's files on each collect."""
    if multiprocess_dir():
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return merged
    return REGISTRY if registry is None else registry


def render(registry: CollectorRegistry | None = None, accept: str | None = None) -> tuple[bytes, str]:
    """``(body, content type)`` of one scrape, in the format ``accept`` asks for (text or OpenMetrics):
    for a framework endpoint, e.g. FastAPI ``Response(content=body, media_type=content_type)``."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(metrics_registry(registry)), content_type


class MetricsASGIApp:
    """ASGI app serving the metrics (gzip, OpenMetrics and ``name[]`` filters as prometheus_client's).

    An object, not a function, so that Starlette's ``add_route`` runs it as an ASGI app; it also
    answers the lifespan protocol when served on its own (``uvicorn module:metrics_app``).
    """

    def __init__(self, registry: CollectorRegistry | None = None, disable_compression: bool = False):
        self.registry = metrics_registry(registry)
        self._app = prometheus_client.make_asgi_app(self.registry, disable_compression=disable_compression)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self._app(scope, receive, send)


def make_asgi_app(registry: CollectorRegistry | None = None, disable_compression: bool = False) -> MetricsASGIApp:
    """``app.add_route("/metrics", make_asgi_app(registry))``."""
    return MetricsASGIApp(registry, disable_compression)


def make_wsgi_app(registry: CollectorRegistry | None = None, disable_compression: bool = False) -> Callable:
    """WSGI app serving the metrics (gzip, OpenMetrics and ``name[]`` filters as prometheus_client's)."""
    return prometheus_client.make_wsgi_app(metrics_registry(registry), disable_compression=disable_compression)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn server hook: drop a dead worker's live gauges (import it into ``gunicorn.conf.py``)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(worker.pid)
