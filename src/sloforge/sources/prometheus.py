"""A client for any Prometheus-compatible HTTP API: Prometheus, Thanos Query, Mimir/Cortex, VictoriaMetrics.

``query`` and ``query_range`` answer PromQL; ``raw`` fetches the stored samples
of plain selectors as a :class:`SeriesSet` for the engine, chunk by chunk, with
instant queries of range selectors (``x_total{code="500"}[3600001ms]``
evaluated at each chunk end).  Backends disagree on the left end of a range:
Prometheus 2.x includes it, Prometheus 3.x and VictoriaMetrics do not.  Each
chunk therefore reaches 1 ms further back than the previous chunk's end, and
samples are de-duplicated by timestamp per series, which is exact for both.

Limits of what the API returns: stale markers never come back from range
selectors (Prometheus drops them; VictoriaMetrics returns them as NaN, which
cannot be told from a NaN sample), so raw series have no ``stale`` times and
NaN samples are dropped, as :func:`read_openmetrics` does.  Native histogram
samples are not supported.

Every failure is a :class:`SourceError` with a one-line reason naming the URL
and the query.  Connection errors, timeouts, HTTP 429 and 5xx are retried with
exponential backoff; other answers (e.g. 400 for a bad query) are not.
"""

from __future__ import annotations

import math
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx
import numpy as np
import promql_parser

from sloforge import __version__
from sloforge.evaluate.series import Labels, Series, SeriesSet, labels_of

MAX_BACKOFF = 10.0  # seconds between two attempts at most
_QUERY_IN_MESSAGES = 160  # characters of a query quoted in an error


class SourceError(Exception):
    """A query that failed; the message is one line for the user."""


@dataclass
class Connection:
    """Where and how to reach the API; secrets live in files read when connecting."""

    url: str
    tenant: str | None = None  # sent as X-Scope-OrgID (Mimir, Cortex, Thanos receive)
    bearer_token_file: Path | None = None
    basic_auth_file: Path | None = None  # content ``user:password``
    ca_file: Path | None = None
    timeout: float = 30.0  # seconds per request
    retries: int = 3  # further attempts after a retryable failure
    backoff: float = 0.5  # seconds before the first retry, doubled each time


class _Retry(Exception):
    """A failure worth another attempt: ``reason`` for the message, ``wait`` a server-asked delay."""

    def __init__(self, reason: str, wait: float = 0.0):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class PrometheusSource:
    """One shared HTTP client for a Prometheus-compatible API; use it as a context manager."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.warnings: list[str] = []  # distinct warnings the server attached to answers
        if not conn.url.startswith(("http://", "https://")):
            raise SourceError(f"{conn.url}: the URL must start with http:// or https://")
        self._client = httpx.Client(
            base_url=conn.url.rstrip("/") + "/",
            headers=_headers(conn),
            auth=_basic_auth(conn.basic_auth_file),
            verify=_verify(conn.ca_file),
            timeout=conn.timeout,
            follow_redirects=True,
        )

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ PromQL

    def query(self, expr: str, at: float | None = None) -> list[tuple[dict[str, str], float]]:
        """An instant query at ``at`` (unix seconds; default: the server's now): ``(labels, value)`` per series.

        A scalar result is one row with empty labels.
        """
        where = self._where("api/v1/query", expr)
        data = self._call("api/v1/query", {"query": expr} | ({} if at is None else {"time": _seconds(at)}), where)
        with _answer(where):
            if data.get("resultType") == "scalar":
                return [({}, _value(data["result"][1]))]
            _expect(data, "vector", where)
            return [(dict(r["metric"]), _value(_point(r, "value", where)[1])) for r in data["result"]]

    def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], np.ndarray, np.ndarray]]:
        """A range query: ``(labels, times in s, values)`` per series, float64 arrays."""
        where = self._where("api/v1/query_range", expr)
        form = {"query": expr, "start": _seconds(start), "end": _seconds(end), "step": _seconds(step)}
        data = self._call("api/v1/query_range", form, where)
        with _answer(where):
            _expect(data, "matrix", where)
            out = []
            for r in data["result"]:
                points = _point(r, "values", where)
                t = np.fromiter((float(p[0]) for p in points), dtype=np.float64, count=len(points))
                v = np.fromiter((_value(p[1]) for p in points), dtype=np.float64, count=len(points))
                out.append((dict(r["metric"]), t, v))
            return out

    # ------------------------------------------------------------------ raw samples

    def raw(
        self,
        selectors: list[str],
        start: float,
        end: float,
        chunk: float = 6 * 3600,
        progress: Callable[[float], None] | None = None,
    ) -> SeriesSet:
        """Every stored sample in ``[start, end]`` (unix seconds, both ends included) of the series the plain
        ``selectors`` select, one instant query per selector and ``chunk`` seconds; a series selected twice
        comes back once.  ``progress`` gets the fraction done after each query."""
        for sel in selectors:
            _check_selector(sel)
        lo, hi, step = round(start * 1000), round(end * 1000), round(chunk * 1000)
        if hi < lo or step <= 0:
            raise ValueError(f"raw: need start <= end and chunk > 0, got {start}, {end}, {chunk}")
        edges = [*range(lo, hi, step), hi]
        chunks = list(zip(edges[:-1], edges[1:], strict=True)) or [(lo, hi)]
        parts: dict[Labels, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        total, done = len(selectors) * len(chunks), 0
        for sel in selectors:
            for a, b in chunks:
                self._raw_chunk(sel, a, b, lo, hi, parts)
                done += 1
                if progress:
                    progress(done / total)
        return SeriesSet(Series.of(ls, np.concatenate(ts), np.concatenate(vs)) for ls, (ts, vs) in parts.items())

    def _raw_chunk(
        self, sel: str, a: int, b: int, lo: int, hi: int, parts: dict[Labels, tuple[list[np.ndarray], list[np.ndarray]]]
    ) -> None:
        """Samples of ``sel`` in ``[a, b]`` ms (plus up to 1 ms before ``a``), kept if inside ``[lo, hi]``."""
        expr = f"{sel}[{b - a + 1}ms]"
        where = self._where("api/v1/query", expr)
        data = self._call("api/v1/query", {"query": expr, "time": _seconds(b / 1000)}, where)
        with _answer(where):
            _expect(data, "matrix", where)
            for r in data["result"]:
                points = _point(r, "values", where)
                t = np.fromiter((round(float(p[0]) * 1000) for p in points), dtype=np.int64, count=len(points))
                v = np.fromiter((_value(p[1]) for p in points), dtype=np.float64, count=len(points))
                keep = (t >= lo) & (t <= hi)
                if keep.any():
                    ts, vs = parts.setdefault(labels_of(r["metric"]), ([], []))
                    ts.append(t[keep])
                    vs.append(v[keep])

    # ------------------------------------------------------------------ HTTP

    def _where(self, path: str, expr: str) -> str:
        q = expr if len(expr) <= _QUERY_IN_MESSAGES else expr[: _QUERY_IN_MESSAGES - 3] + "..."
        return f"{self.conn.url.rstrip('/')}/{path} (query {q!r})"

    def _call(self, path: str, form: Mapping[str, str], where: str) -> dict:
        """POST ``form`` to ``path``; the ``data`` of a successful answer, retrying what may pass next time."""
        for attempt in range(self.conn.retries):
            try:
                return self._attempt(path, form, where)
            except _Retry as e:
                time.sleep(min(max(self.conn.backoff * 2**attempt, e.wait), MAX_BACKOFF))
        try:
            return self._attempt(path, form, where)
        except _Retry as e:
            tries = f" (after {self.conn.retries + 1} attempts)" if self.conn.retries else ""
            raise SourceError(f"{where}: {e.reason}{tries}") from None

    def _attempt(self, path: str, form: Mapping[str, str], where: str) -> dict:
        try:
            r = self._client.post(path, data=form)
        except httpx.TimeoutException:
            raise _Retry(f"timed out after {self.conn.timeout:g} s") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as e:
            raise _Retry(_network_reason(e)) from None
        except httpx.HTTPError as e:
            raise SourceError(f"{where}: {_one_line(str(e)) or type(e).__name__}") from None
        if r.status_code == 429 or r.status_code >= 500:
            raise _Retry(f"HTTP {r.status_code}: {_error_text(r)}", _retry_after(r))
        if not r.is_success:
            raise SourceError(f"{where}: HTTP {r.status_code}: {_error_text(r)}")
        body = _json(r, where)
        for w in body.get("warnings") or []:
            if w not in self.warnings:
                self.warnings.append(w)
        if body.get("status") != "success" or not isinstance(body.get("data"), dict):
            raise SourceError(f"{where}: HTTP {r.status_code}: {_error_text(r)}")
        return body["data"]


# ---------------------------------------------------------------------- connection set-up


def _read_secret(path: Path, what: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise SourceError(f"{path}: cannot read the {what}: {getattr(e, 'strerror', None) or e}") from None
    if not text:
        raise SourceError(f"{path}: the {what} file is empty")
    return text


def _headers(conn: Connection) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": f"sloforge/{__version__}"}
    if conn.tenant:
        headers["X-Scope-OrgID"] = conn.tenant
    if conn.bearer_token_file is not None:
        if conn.basic_auth_file is not None:
            raise SourceError("give a bearer token file or a basic auth file, not both")
        headers["Authorization"] = "Bearer " + _read_secret(conn.bearer_token_file, "bearer token")
    return headers


def _basic_auth(path: Path | None) -> httpx.BasicAuth | None:
    if path is None:
        return None
    user, sep, password = _read_secret(path, "basic auth credentials").partition(":")
    if not sep:
        raise SourceError(f"{path}: basic auth file must hold user:password")
    return httpx.BasicAuth(user, password)


def _verify(ca_file: Path | None) -> ssl.SSLContext | bool:
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as e:
        raise SourceError(f"{ca_file}: cannot load the CA certificates: {getattr(e, 'strerror', None) or e}") from None


# ---------------------------------------------------------------------- answers


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _network_reason(e: httpx.HTTPError) -> str:
    text = str(e)
    return "connection refused" if "refused" in text.lower() else f"connection failed: {_one_line(text)}"


def _error_text(r: httpx.Response) -> str:
    """The Prometheus ``errorType: error`` of a body, else its first characters."""
    try:
        body = r.json()
    except ValueError:
        return _one_line(r.text) or r.reason_phrase or "empty body"
    if isinstance(body, dict) and body.get("error"):
        kind = body.get("errorType")
        return f"{kind}: {_one_line(str(body['error']))}" if kind else _one_line(str(body["error"]))
    return _one_line(r.text)


def _json(r: httpx.Response, where: str) -> dict:
    try:
        body = r.json()
    except ValueError:
        raise SourceError(f"{where}: HTTP {r.status_code}: not JSON: {_one_line(r.text, 120)!r}") from None
    if not isinstance(body, dict):
        raise SourceError(f"{where}: HTTP {r.status_code}: not a Prometheus API answer: {_one_line(r.text, 120)!r}")
    return body


def _retry_after(r: httpx.Response) -> float:
    try:
        return max(0.0, float(r.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0  # an HTTP date: the exponential backoff will do


@contextmanager
def _answer(where: str) -> Iterator[None]:
    """Turn a malformed answer (missing keys, bad numbers) into a SourceError."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise SourceError(f"{where}: malformed answer: {type(e).__name__}: {_one_line(str(e), 120)}") from None


def _expect(data: dict, want: str, where: str) -> None:
    if data.get("resultType") != want:
        raise SourceError(f"{where}: unexpected resultType {data.get('resultType')!r}, expected {want!r}")


def _point(r: dict, key: str, where: str) -> list:
    if key not in r:
        raise SourceError(f"{where}: a series without {key!r} (native histograms are not supported)")
    return r[key]


def _value(s: object) -> float:
    """A sample value as the API writes it: "1.5", "NaN", "+Inf", "-Inf"."""
    return float(s)  # type: ignore[arg-type]


def _seconds(x: float) -> str:
    """Unix seconds (or a step) with millisecond precision, as every backend parses them."""
    if not math.isfinite(x):
        raise ValueError(f"not a finite time: {x}")
    return f"{x:.3f}"


def _check_selector(sel: str) -> None:
    try:
        node = promql_parser.parse(sel)
    except ValueError as e:
        raise SourceError(f"{sel!r}: not a valid selector: {_one_line(str(e))}") from None
    if not isinstance(node, promql_parser.VectorSelector) or node.offset is not None or node.at is not None:
        raise SourceError(f'{sel!r}: raw samples need a plain series selector such as x_total{{code="500"}}')
