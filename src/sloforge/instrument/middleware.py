"""HTTP metrics middleware for ASGI (Starlette, FastAPI) and WSGI apps.

Every request outside ``exclude`` (default: ``/metrics``) adds one to a counter
and one observation to a latency histogram::

    <prefix>_requests_total{route, method, status_class}
    <prefix>_request_duration_seconds{route, method}

``route`` is always the route **template** (``/items/{item_id}``), never the raw
path, and a request no route matches counts under ``__unmatched__``, so label
cardinality is bounded by the app's routes.  Methods outside the standard ones
count as ``other``.  An exception escaping the app counts as a 5xx and is
re-raised; so does a request that ends without a response (the server answers 500).

Instead of its own metrics the middleware can record into metrics a spec
declares (``metrics=Metrics.from_spec(...)``, ``requests=`` and ``duration=``
naming them): their label names are recognised (``route``/``handler``/``path``,
``method``, ``status_class``/``status``/``code``) and a status label other than
``status_class`` gets the code (``503``), ``status_class`` the class (``5xx``).

SLO trackers (``slo_trackers=[tracker, (tracker, classify)]``) see every
recorded request: ``classify(route, method, status, seconds)`` returns whether
it was good, or ``None`` to leave it out.  Without ``classify`` an events SLI
counts ``status < 500`` as good and a latency SLI observes the duration.

Starlette is never imported: the route a request matched is read from what the
router leaves in the scope (``scope["route"]``, FastAPI and Starlette >= 1.0;
``scope["endpoint"]``, older Starlette) and looked up in an index of the app's
full route templates (mount prefixes included), built on the first request and
again when the app's number of top-level routes changes.  A request the index
cannot place (a route object or endpoint several templates share, a router it
does not know) is found by walking ``app.routes`` as Starlette's router does.

Cost per request (``bench/instrument_middleware.py``): one closure (the ``send``
/ ``start_response`` wrapper that sees the status), one key tuple, two
``perf_counter`` calls, a dict lookup for the template and one for the label
children (bound once per route, method and status); about half of the total is
prometheus_client's own ``inc`` + ``observe``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from time import perf_counter
from typing import Any, Protocol

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

UNMATCHED = "__unmatched__"
OTHER_METHOD = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
DEFAULT_EXCLUDE = ("/metrics",)

# logical label -> label names recognised on a bound metric, in order of preference
LABEL_ALIASES: dict[str, tuple[str, ...]] = {
    "route": ("route", "handler", "path", "path_template", "http_route", "endpoint"),
    "method": ("method", "http_method"),
    "status": ("status_class", "status", "code", "status_code", "http_status"),
}
DEFAULT_LABELS = {"route": "route", "method": "method", "status": "status_class"}

Classify = Callable[[str, str, int, float], "bool | None"]
ASGIApp = Callable[..., Any]
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class Tracker(Protocol):
    """What the middleware needs of an ``SLOTracker``."""

    def record(self, good: bool, count: int = 1, **by_labels: str) -> None: ...

    def observe(self, seconds: float, **by_labels: str) -> None: ...


# ---------------------------------------------------------------- route templates

_PARAM = re.compile(r"\{(?P<name>[A-Za-z_]\w*)(?::(?P<conv>\w+))?\}|<(?:(?P<fconv>\w+)(?:\([^)]*\))?:)?(?P<fname>\w+)>")
_CONVERTERS = {
    "str": "[^/]+",
    "string": "[^/]+",
    "default": "[^/]+",
    "path": ".*",
    "int": "[0-9]+",
    "float": r"[0-9]+(?:\.[0-9]+)?",
    "uuid": "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "any": "[^/]+",
}


def template_regex(template: str) -> str:
    """Regex text for a route template: Starlette ``{id}``, ``{id:int}``, ``{p:path}`` or Flask ``<int:id>``."""
    out, pos = [], 0
    for m in _PARAM.finditer(template):
        out.append(re.escape(template[pos : m.start()]))
        conv = m.group("conv") or m.group("fconv") or "default"
        if conv not in _CONVERTERS:
            known = ", ".join(sorted(_CONVERTERS))
            raise ValueError(f"route {template!r}: unknown converter {conv!r} (known: {known})")
        out.append(f"(?:{_CONVERTERS[conv]})")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return "".join(out)


class RouteMatcher:
    """Path -> the first matching template (in the given order) or ``None``; one compiled regex, LRU-cached."""

    def __init__(self, templates: Sequence[str], cache_size: int = 2048):
        self.templates = list(templates)
        if not self.templates:
            raise ValueError("give at least one route template")
        alternatives = "|".join(f"(?P<r{i}>{template_regex(t)})" for i, t in enumerate(self.templates))
        self._regex = re.compile(alternatives)
        self.match: Callable[[str], str | None] = lru_cache(maxsize=cache_size)(self._match)

    def _match(self, path: str) -> str | None:
        m = self._regex.fullmatch(path)
        return self.templates[int(m.lastgroup[1:])] if m and m.lastgroup else None

    def __call__(self, path: str) -> str | None:
        return self.match(path)


# ---------------------------------------------------------------- the recorder


def _label_map(metric: Counter | Histogram, given: Mapping[str, str] | None) -> dict[str, str]:
    """logical label (route/method/status) -> the metric's label name."""
    names = list(getattr(metric, "_labelnames", ()))
    given = dict(given or {})
    out: dict[str, str] = {}
    for logical, aliases in LABEL_ALIASES.items():
        name = given.get(logical) or next((a for a in aliases if a in names), None)
        if name in names:
            out[logical] = name
    unknown = sorted(set(names) - set(out.values()))
    if unknown:
        raise ValueError(
            f"metric {getattr(metric, '_name', metric)!r} has label(s) {', '.join(unknown)} the middleware cannot "
            f"fill; it fills route ({'/'.join(LABEL_ALIASES['route'])}), method and status "
            f"({'/'.join(LABEL_ALIASES['status'])}); map others with labels={{'route': 'my_label', ...}}"
        )
    return out


def status_value(status: int, fmt: str) -> str:
    if not 100 <= status <= 599:
        return "other"
    return f"{status // 100}xx" if fmt == "class" else str(status)


def _kind(tracker: Any) -> str | None:
    """SLI kind of a tracker (``events``/``latency``/``timeslice``), looked up duck-typed."""
    for path in (("kind",), ("sli_kind",), ("slo", "sli", "kind"), ("_slo", "sli", "kind")):
        obj = tracker
        for attr in path:
            obj = getattr(obj, attr, None)
        if isinstance(obj, str):
            return obj
    return None


def default_classify(route: str, method: str, status: int, seconds: float) -> bool:
    """Events SLI default: a request is good unless the server failed (5xx)."""
    return status < 500


def _hook(entry: Tracker | tuple[Tracker, Classify]) -> Callable[[str, str, int, float], None]:
    tracker, classify = entry if isinstance(entry, tuple) else (entry, None)
    if classify is None and _kind(tracker) == "latency":

        def observe(route: str, method: str, status: int, seconds: float) -> None:
            tracker.observe(seconds)

        return observe
    if classify is None and _kind(tracker) == "timeslice":
        raise ValueError("a timeslice SLO cannot be fed per request; give (tracker, classify) explicitly")
    judge = classify or default_classify

    def record(route: str, method: str, status: int, seconds: float) -> None:
        good = judge(route, method, status, seconds)
        if good is not None:
            tracker.record(bool(good))

    return record


class HTTPMetrics:
    """Records one request into the request counter, the latency histogram and the SLO trackers.

    Own metrics (``<prefix>_requests_total``, ``<prefix>_request_duration_seconds``) are created on
    ``registry``; with ``metrics`` (a ``Metrics`` or any mapping of name -> metric) ``requests`` and
    ``duration`` name declared metrics to bind to instead.  ``requests``/``duration`` may also be
    prometheus_client objects.  Label children are bound once per (route, method, status) and cached.
    """

    def __init__(
        self,
        *,
        metrics: Mapping[str, Any] | None = None,
        registry: CollectorRegistry | None = None,
        prefix: str = "http",
        requests: str | Counter | None = None,
        duration: str | Histogram | None = None,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        labels: Mapping[str, str] | None = None,
        status_format: str | None = None,
        slo_trackers: Sequence[Tracker | tuple[Tracker, Classify]] = (),
        unmatched: str = UNMATCHED,
    ):
        registry = REGISTRY if registry is None else registry
        names = {**DEFAULT_LABELS, **(labels or {})}
        self.requests = self._metric(metrics, requests, f"{prefix}_requests_total", registry, names, buckets)
        self.duration = self._metric(metrics, duration, f"{prefix}_request_duration_seconds", registry, names, buckets)
        self._req_labels = _label_map(self.requests, labels)
        self._dur_labels = _label_map(self.duration, labels)
        status_label = self._req_labels.get("status") or self._dur_labels.get("status")
        if status_format not in (None, "class", "code"):
            raise ValueError(f"status_format must be 'class' or 'code', not {status_format!r}")
        self.status_format = status_format or ("class" if status_label in (None, "status_class") else "code")
        self.unmatched = unmatched
        self._hooks = [_hook(e) for e in slo_trackers]
        self._children: dict[tuple[str, str, int], tuple[Callable[..., None], Callable[[float], None]]] = {}

    @staticmethod
    def _metric(
        metrics: Mapping[str, Any] | None,
        given: str | Counter | Histogram | None,
        default: str,
        registry: CollectorRegistry,
        names: Mapping[str, str],
        buckets: Sequence[float],
    ) -> Any:
        if given is not None and not isinstance(given, str):
            return given
        name = given or default
        if metrics is not None:
            if name not in metrics:
                raise KeyError(f"the spec declares no metric {name!r}; name it with requests=/duration=")
            return metrics[name]
        if default.endswith("_total"):
            labels = [names["route"], names["method"], names["status"]]
            return Counter(name, "HTTP requests by route template, method and status", labels, registry=registry)
        labels = [names["route"], names["method"]]
        return Histogram(
            name, "HTTP request latency in seconds, by route template", labels, buckets=buckets, registry=registry
        )

    def _child(self, metric: Any, lmap: dict[str, str], values: dict[str, str]) -> Any:
        return metric.labels(**{name: values[logical] for logical, name in lmap.items()}) if lmap else metric

    def _bind(self, key: tuple[str, str, int]) -> tuple[Callable[..., None], Callable[[float], None]]:
        """Slow path, once per label set: the bound ``inc`` and ``observe`` of its children."""
        route, method, status = key
        values = {"route": route, "method": method, "status": status_value(status, self.status_format)}
        pair = (
            self._child(self.requests, self._req_labels, values).inc,
            self._child(self.duration, self._dur_labels, values).observe,
        )
        self._children[key] = pair
        return pair

    def record(self, route: str | None, method: str, status: int, seconds: float) -> None:
        """One request: ``route`` is a template (``None`` = no route matched)."""
        if method not in METHODS:
            method = OTHER_METHOD  # clients choose the method: keep the cache and the labels bounded
        key = (route or self.unmatched, method, status)
        try:
            inc, observe = self._children[key]
        except KeyError:
            inc, observe = self._bind(key)
        inc()
        observe(seconds)
        if self._hooks:
            for hook in self._hooks:
                hook(key[0], method, status, seconds)


def _recorder(recorder: HTTPMetrics | None, options: dict[str, Any]) -> HTTPMetrics:
    if recorder is not None and options:
        raise TypeError(f"give either recorder= or its options ({', '.join(sorted(options))}), not both")
    return recorder or HTTPMetrics(**options)


# ---------------------------------------------------------------- ASGI


def _starlette_template(routes: Iterable[Any], scope: dict, prefix: str = "") -> str | None:
    """Walk Starlette routes (duck-typed ``matches``/``path``/``routes``) to the matched route's full
    template, as Starlette's router picks it: the first full match, else the first partial one."""
    found: tuple[Any, dict] | None = None
    for route in routes:
        match, child = route.matches(scope)
        level = getattr(match, "value", match)  # Match.NONE / PARTIAL / FULL = 0 / 1 / 2
        if level == 2:
            found = (route, child)
            break
        if level == 1 and found is None:
            found = (route, child)
    if found is None:
        return None
    route, child = found
    path = getattr(route, "path", "")
    sub = getattr(route, "routes", None)
    if sub is None:
        return prefix + path
    if not sub:  # a Mount of a plain ASGI app
        return prefix + path + "/{path}"
    return _starlette_template(sub, {**scope, **child}, prefix + path)


_MISS: Any = object()  # the index cannot tell the request's template
_AMBIGUOUS: Any = object()  # several templates share one key


def _param_names(*templates: str) -> frozenset[str]:
    return frozenset(m.group("name") or m.group("fname") for t in templates for m in _PARAM.finditer(t))


def _route_count(owner: Any) -> int:
    return len(getattr(owner, "routes", ()))


class _RouteIndex:
    """Full templates of a Starlette / FastAPI app's routes, keyed by what its router leaves in the scope.

    Leaf routes are indexed by identity (``scope["route"]``, set by FastAPI and Starlette >= 1.0), by
    endpoint (``scope["endpoint"]``, all Starlette versions) and by endpoint plus path parameter names
    (``scope["path_params"]``), which tells apart routes sharing an endpoint.  A ``Mount`` of a plain
    ASGI app is a leaf whose endpoint is that app, with template ``<mount>/{path}``.  A key two
    templates share maps to ``_AMBIGUOUS``.  The index pins every object it keys by ``id``.
    """

    def __init__(self, key: Any, owner: Any):
        self.key, self.owner, self.size = key, owner, _route_count(owner)
        self.by_route: dict[int, Any] = {}
        self.by_endpoint: dict[int, Any] = {}
        self.by_params: dict[tuple[int, frozenset[str]], Any] = {}
        self._pinned: list[Any] = []
        self._add(getattr(owner, "routes", ()), "", frozenset(), ())

    def _add(self, routes: Iterable[Any], prefix: str, params: frozenset[str], above: tuple[int, ...]) -> None:
        """Index ``routes`` under ``prefix``; ``above`` holds the mounts on the way, to stop at a mount cycle."""
        for route in routes:
            path, host = getattr(route, "path", ""), getattr(route, "host", "")
            template = prefix + path
            names = params | _param_names(path, host if isinstance(host, str) else "")
            sub = getattr(route, "routes", None)
            if sub is None:
                self._leaf(route, getattr(route, "endpoint", None), template, names)
            elif not sub:  # a Mount of a plain ASGI app
                self._leaf(route, getattr(route, "app", None), template + "/{path}", names)
            elif id(route) not in above:
                self._add(sub, template, names, (*above, id(route)))

    def _leaf(self, route: Any, endpoint: Any, template: str, names: frozenset[str]) -> None:
        self._put(self.by_route, id(route), template)
        if endpoint is not None:
            self._put(self.by_endpoint, id(endpoint), template)
            self._put(self.by_params, (id(endpoint), names), template)
        self._pinned += (route, endpoint)

    @staticmethod
    def _put(table: dict[Any, Any], key: Any, template: str) -> None:
        table[key] = template if table.get(key, template) == template else _AMBIGUOUS


class MetricsMiddleware:
    """Pure ASGI middleware: ``app.add_middleware(MetricsMiddleware, metrics=m, requests=..., duration=...)``.

    The route template comes from ``route_for(scope)`` if given, else from a list of ``routes``
    templates matched against the path, else from Starlette's / FastAPI's router (see the module doc).
    """

    def __init__(
        self,
        app: ASGIApp,
        recorder: HTTPMetrics | None = None,
        *,
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
        route_for: Callable[[dict], str | None] | None = None,
        routes: Sequence[str] | None = None,
        **options: Any,
    ):
        self.app = app
        self.recorder = _recorder(recorder, options)
        self.exclude = frozenset(exclude)
        self.route_for = route_for
        matcher = RouteMatcher(routes) if routes else None
        self._match = matcher.match if matcher is not None and route_for is None else None
        self._route = self._from_route_for if route_for is not None else self._from_router  # when _match is None
        self._index: _RouteIndex | None = None
        self._record = self.recorder.record

    def _from_route_for(self, scope: dict, path: str, root_path: str, app: Any) -> str | None:
        return self.route_for(scope)  # type: ignore[misc]

    def _from_router(self, scope: dict, path: str, root_path: str, app: Any) -> str | None:
        """``path``, ``root_path`` and ``app`` as the request came in, ``scope`` as the router left it."""
        index = self._index
        if index is None or index.key is not app:
            index = self._index = _RouteIndex(app, app if hasattr(app, "routes") else self.app)
        route, endpoint = scope.get("route"), None
        if route is not None:
            template = index.by_route.get(id(route), _MISS)
        else:  # Starlette < 1.0 sets no scope["route"]
            endpoint = scope.get("endpoint")
            template = _MISS if endpoint is None else index.by_endpoint.get(id(endpoint), _MISS)
            if template is _AMBIGUOUS:  # routes share the endpoint: their path parameter names may tell them apart
                template = index.by_params.get((id(endpoint), frozenset(scope.get("path_params", ()))), _MISS)
        if template is not _MISS and template is not _AMBIGUOUS:
            return template
        mounted = scope.get("root_path", "") != root_path
        if route is None and not mounted and endpoint is None:
            return None  # no route matched
        if index.size != _route_count(index.owner):  # routes were added since: index them and look again
            self._index = None
            return self._from_router(scope, path, root_path, app)
        if route is not None and not mounted and getattr(route, "routes", None) is None:
            return getattr(route, "path", None)  # a top-level route
        # a route several places share, or a router the index does not know: walk the routes as the router did
        probe = {"type": "http", "path": path, "root_path": root_path, "method": scope["method"]}
        return _starlette_template(getattr(index.owner, "routes", ()), probe)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or (path := scope["path"]) in self.exclude:
            await self.app(scope, receive, send)
            return
        status = 500

        def send_status(message: dict) -> Awaitable[None]:
            # a plain function handing back send's awaitable: no extra coroutine per message
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            return send(message)

        root_path, app = scope.get("root_path", ""), scope.get("app")
        start = perf_counter()
        try:
            await self.app(scope, receive, send_status)
        except Exception:
            status = 500
            raise
        finally:
            seconds = perf_counter() - start
            match = self._match
            route = match(path) if match is not None else self._route(scope, path, root_path, app)
            self._record(route, scope["method"], status, seconds)


# ---------------------------------------------------------------- WSGI


class _Body:
    """Wraps a streamed WSGI response body; the request is recorded when the server closes it."""

    __slots__ = ("inner", "owner", "environ", "start", "status", "done")

    def __init__(
        self, owner: WSGIMetricsMiddleware, environ: dict, inner: Iterable[bytes], status: list[int], start: float
    ):
        self.owner, self.environ, self.inner, self.status, self.start = owner, environ, inner, status, start
        self.done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.inner
        except Exception:
            self.status[0] = 500
            raise

    def close(self) -> None:
        try:
            close = getattr(self.inner, "close", None)
            if close is not None:
                close()
        finally:
            self.finish()

    def finish(self) -> None:
        if not self.done:
            self.done = True
            self.owner.finish(self.environ, self.status[0], perf_counter() - self.start)


class WSGIMetricsMiddleware:
    """WSGI middleware: ``app.wsgi_app = WSGIMetricsMiddleware(app.wsgi_app, routes=[...])``.

    WSGI has no common router, so give ``routes`` (templates, first match wins) or
    ``route_for(environ) -> template | None``.  Latency runs until the server closes the body
    (or until the app returns, when the body is a list).
    """

    def __init__(
        self,
        app: WSGIApp,
        recorder: HTTPMetrics | None = None,
        *,
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
        route_for: Callable[[dict], str | None] | None = None,
        routes: Sequence[str] | None = None,
        **options: Any,
    ):
        if route_for is None and not routes:
            raise TypeError("WSGI has no router to ask: give routes=[templates] or route_for=callable(environ)")
        self.app = app
        self.recorder = _recorder(recorder, options)
        self.exclude = frozenset(exclude)
        self.route_for = route_for
        self._match = RouteMatcher(routes).match if routes and route_for is None else None
        self._record = self.recorder.record

    def finish(self, environ: dict, status: int, seconds: float) -> None:
        match = self._match
        route = match(environ.get("PATH_INFO", "")) if match is not None else self.route_for(environ)  # type: ignore[misc]
        self._record(route, environ.get("REQUEST_METHOD", "GET"), status, seconds)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in self.exclude:
            return self.app(environ, start_response)
        status = [500]  # set by start_response; a streamed body reads it when it is closed

        def start_status(line: str, headers: list, exc_info: Any = None) -> Callable:
            status[0] = int(line[:3])
            return start_response(line, headers, exc_info)

        start = perf_counter()
        try:
            inner = self.app(environ, start_status)
        except Exception:
            self.finish(environ, 500, perf_counter() - start)
            raise
        if type(inner) is list:  # produced in full: nothing can fail later, no need to wrap it
            self.finish(environ, status[0], perf_counter() - start)
            return inner
        return _Body(self, environ, inner, status, start)
