"""The engine against the real thing.

(a) Raw PromQL: counters with resets, gaps, jittered and irregular scrapes are
    written as OpenMetrics, backfilled into a real Prometheus 2.42 with promtool,
    and read by the engine from the same file; ``rate``, ``increase``,
    ``avg_over_time`` (with and without ``offset``), instant selectors and
    ``sum by`` must equal Prometheus' own answers at 240 random (window, time)
    pairs within a relative error of 1e-9.
(b) SLO rules: the rule file generated for a spec runs in ``promtool test rules``
    over several incident shapes; the engine predicts the ``ALERTS`` series at
    every step (promtool must pass with those expectations), and every
    recorded series (5m and 1h rates, burn rates, budget, status, coverage)
    must equal what promtool recorded.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import backfilled_prometheus, need
from datagen import T0

from sloforge.durations import format_duration, parse_duration
from sloforge.evaluate import FIRING, SeriesSet, evaluate, from_promtool
from sloforge.evaluate import functions as F
from sloforge.evaluate.series import NAME, Labels, Series
from sloforge.generate.rules import rule_file, rule_groups, static_labels
from sloforge.generate.yamlout import dump
from sloforge.sources import read_openmetrics
from sloforge.spec import load

pytestmark = [pytest.mark.prometheus, pytest.mark.promtool]

REL = 1e-9
HOURS = 6


# ---------------------------------------------------------------- (a) raw PromQL vs a backfilled Prometheus


def _write(f, name: str, labels: dict[str, str], t_ms: np.ndarray, v: np.ndarray) -> None:
    body = ",".join(f'{k}="{val}"' for k, val in sorted(labels.items()))
    f.writelines(f"{name}{{{body}}} {float(x)!r} {t / 1000:.3f}\n" for t, x in zip(t_ms, v, strict=True))


def _regular(rng, start_ms: int, end_ms: int, scrape_ms: int, jitter_ms: int) -> np.ndarray:
    t = np.arange(start_ms, end_ms, scrape_ms, dtype=np.int64)
    return t + rng.integers(-jitter_ms, jitter_ms + 1, t.size) if jitter_ms else t


def _counter(rng, n: int, lam: float, resets: int) -> np.ndarray:
    v = np.cumsum(rng.poisson(lam, n)).astype(float)
    for at in sorted(rng.choice(np.arange(10, n - 10), resets, replace=False)):
        v[at:] -= v[at] - rng.integers(0, 5)  # drops to a few, then keeps counting
    return v


def _gaps(rng, t: np.ndarray, v: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    keep = np.ones(t.size, dtype=bool)
    for at in rng.choice(np.arange(t.size - 100), n, replace=False):
        keep[at : at + rng.integers(5, 60)] = False
    return t[keep], v[keep]


def write_history(path: Path, seed: int = 5) -> tuple[int, int]:
    """Counters of two metrics: jittered 15s scrapes, resets, gaps, late start/early end, irregular scrapes."""
    rng = np.random.default_rng(seed)
    start = round(T0 * 1000)
    end = start + HOURS * 3_600_000
    with path.open("w") as f:
        f.write("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n")
        t = _regular(rng, start, end, 15_000, 1_500)
        _write(f, "http_requests_total", {"code": "200", "instance": "a"}, t, _counter(rng, t.size, 40, 0))
        _write(f, "http_requests_total", {"code": "500", "instance": "a"}, t, _counter(rng, t.size, 0.7, 3))
        t = _regular(rng, start + 1_200_000, end - 1_800_000, 30_000, 0)
        tb, vb = _gaps(rng, t, _counter(rng, t.size, 55, 2), 4)
        _write(f, "http_requests_total", {"code": "200", "instance": "b"}, tb, vb)
        t = start + np.cumsum(rng.integers(5_000, 90_000, 600))
        t = t[t < end]
        _write(f, "http_requests_total", {"code": "500", "instance": "b"}, t, _counter(rng, t.size, 3, 2))
        f.write("# HELP job_seconds_total Busy time.\n# TYPE job_seconds_total counter\n")
        t = _regular(rng, start, end, 10_000, 3_000)
        v = np.cumsum(rng.gamma(2.0, 1.7, t.size))
        _write(f, "job_seconds_total", {"instance": "a"}, t, v)
        f.write("# EOF\n")
    return start, end


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    need("promtool")
    tmp = tmp_path_factory.mktemp("parity")
    path = tmp / "history.om"
    start, end = write_history(path)
    server = backfilled_prometheus(tmp, path)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:  # one connection: 1,700 queries in seconds
            yield client, read_openmetrics(path), start, end
    finally:
        server.stop()


WINDOWS = ["30s", "1m", "90s", "2m", "3m17s", "5m", "7m30s", "10m", "1h", "2h30m"]


def _prometheus(client: httpx.Client, expr: str, t_ms: int) -> dict[Labels, float]:
    r = client.get("/api/v1/query", params={"query": expr, "time": f"{t_ms / 1000:.3f}"})
    r.raise_for_status()
    data = r.json()["data"]
    assert data["resultType"] == "vector", data
    return {
        tuple(sorted((k, v) for k, v in r["metric"].items() if k != NAME)): float(r["value"][1]) for r in data["result"]
    }


def _engine(data: SeriesSet, fn: str, metric: str, window: str, t_ms: int, offset: str | None) -> dict[Labels, float]:
    series = data.select(metric)
    at = np.array([t_ms], dtype=np.int64)
    off = round(parse_duration(offset) * 1000) if offset else 0
    rng = round(parse_duration(window) * 1000)
    values = F.instant(series, at, off) if fn == "instant" else getattr(F, fn)(series, at, rng, off)
    return {_strip(s.labels): float(v[0]) for s, v in zip(series, values, strict=True) if not math.isnan(v[0])}


def _strip(ls: Labels) -> Labels:
    return tuple(kv for kv in ls if kv[0] != NAME)


@dataclass
class Tally:
    compared: int = 0
    exact: int = 0
    worst: float = 0.0

    def check(self, where: str, got: dict[Labels, float], want: dict[Labels, float]) -> None:
        assert set(got) == set(want), f"{where}: series differ: engine {sorted(got)} vs prometheus {sorted(want)}"
        for k, w in want.items():
            g = got[k]
            self.compared += 1
            if g == w:
                self.exact += 1
                continue
            rel = abs(g - w) / max(abs(w), abs(g))
            self.worst = max(self.worst, rel)
            assert rel <= REL, f"{where} {k}: engine {g!r} vs prometheus {w!r} (relative error {rel:.2e})"


def test_raw_functions_equal_prometheus(backfilled):
    server, data, start, end = backfilled
    rng = np.random.default_rng(11)
    tally = Tally()
    pairs = 0
    for _ in range(240):
        window = str(rng.choice(WINDOWS))
        # anywhere in the history, incl. before the first and just past the last sample
        t_ms = int(rng.integers(start - 120_000, end + 400_000))
        offset = str(rng.choice(["5m", "17m30s"])) if rng.random() < 0.2 else None
        off = f" offset {offset}" if offset else ""
        for metric in ("http_requests_total", "job_seconds_total"):
            for fn in ("rate", "increase", "avg_over_time"):
                want = _prometheus(server, f"{fn}({metric}[{window}]{off})", t_ms)
                got = _engine(data, fn, metric, window, t_ms, offset)
                tally.check(f"{fn}({metric}[{window}]{off}) @ {t_ms}", got, want)
        want = _prometheus(server, f"http_requests_total{off}", t_ms)
        got = _engine(data, "instant", "http_requests_total", "1s", t_ms, offset)
        tally.check(f"http_requests_total{off} @ {t_ms}", got, want)
        pairs += 1
    assert pairs >= 200
    assert tally.compared > 2000, tally
    print(f"\n{tally.compared} values, {pairs} (window, time) pairs: {tally.exact} bit-exact, worst {tally.worst:.0e}")


def test_sum_by_equals_prometheus(backfilled):
    server, data, start, end = backfilled
    rng = np.random.default_rng(12)
    tally = Tally()
    series = data.select("http_requests_total")
    keys = F.group_keys([s.labels for s in series], ["code"])
    for _ in range(40):
        t_ms = int(rng.integers(start, end))
        window = str(rng.choice(WINDOWS))
        want = _prometheus(server, f"sum by (code) (rate(http_requests_total[{window}]))", t_ms)
        rates = F.rate(series, np.array([t_ms]), round(parse_duration(window) * 1000))
        summed = F.sum_by(rates, keys)
        got = {(("code", k[0]),): float(v[0]) for k, v in summed.items() if not math.isnan(v[0])}
        tally.check(f"sum by (code) (rate(...[{window}])) @ {t_ms}", got, want)
    assert tally.compared >= 40


def test_reader_keeps_every_sample(backfilled):
    server, data, start, end = backfilled
    got = _prometheus(server, "count_over_time(http_requests_total[7h])", end + 60_000)
    for s in data.select("http_requests_total"):
        assert got[_strip(s.labels)] == len(s)


# ---------------------------------------------------------------- (b) generated rules vs promtool test rules


SPEC = """\
apiVersion: sloforge/v1
service: shop
labels: {team: web}
evaluation_interval: 1m
metrics:
  - {name: http_requests_total, type: counter, labels: [code, route]}
  - {name: jobs_total, type: counter, labels: [status]}
  - name: http_request_duration_seconds
    type: histogram
    buckets: [0.25, 0.5, 1]
slos:
  - name: availability
    objective: 99
    by: [route]
    sli:
      events: {bad: 'http_requests_total{code=~"5.."}', total: http_requests_total}
    alerting:
      ticket:
        - {burn_rate: 3, long: 1d, short: 2h, for: 10m}
        - {burn_rate: 1, long: 3d, short: 6h, for: 10m}
  - name: jobs
    target: 0.98
    window: 7d
    sli:
      events: {good: 'jobs_total{status="ok"}', total: jobs_total}
    alerting:
      page: [{burn_rate: 10, long: 30m, short: 5m, for: 3m}, {burn_rate: 4, long: 2h, short: 10m, for: 3m}]
      ticket: [{burn_rate: 2, long: 4h, short: 15m}]
  - name: latency
    objective: 95
    sli:
      latency: {histogram: http_request_duration_seconds, le: 0.5}
"""

RECORDED = [
    "sloforge:slo_errors:rate5m",
    "sloforge:slo_events:rate5m",
    "sloforge:slo_errors:rate1h",
    "sloforge:slo_events:rate1h",
    "sloforge:slo_burn_rate",
    "sloforge:slo_error_budget_remaining:ratio",
    "sloforge:slo_status",
    "sloforge:slo_window_coverage:ratio",
]


def _cum(incs) -> list[float | None]:
    return [0.0, *np.cumsum(np.asarray(incs, dtype=float)).tolist()]


def _text(values: list[float | None | str]) -> str:
    return " ".join("_" if v is None else v if isinstance(v, str) else f"{v:.12g}" for v in values)


@dataclass
class Shape:
    name: str
    minutes: int
    inputs: list[tuple[str, str]]


def _requests(route: str, minutes: int, ratio: np.ndarray, per_min: int = 600) -> list[tuple[str, list]]:
    bad = np.round(per_min * ratio)
    return [
        (f'http_requests_total{{code="500",route="{route}"}}', _cum(bad)),
        (f'http_requests_total{{code="200",route="{route}"}}', _cum(per_min - bad)),
    ]


def _jobs(minutes: int, ratio: np.ndarray, per_min: int = 120) -> list[tuple[str, list]]:
    bad = np.round(per_min * ratio)
    return [('jobs_total{status="ok"}', _cum(per_min - bad)), ('jobs_total{status="failed"}', _cum(bad))]


def _latency(minutes: int, slow: np.ndarray, per_min: int = 300) -> list[tuple[str, list]]:
    n_slow = np.round(per_min * slow)
    fast = per_min - n_slow
    name = "http_request_duration_seconds"
    return [
        (f'{name}_bucket{{le="0.25"}}', _cum(fast * 0.5)),
        (f'{name}_bucket{{le="0.5"}}', _cum(fast)),
        (f'{name}_bucket{{le="1"}}', _cum(fast + n_slow * 0.25)),
        (f'{name}_bucket{{le="+Inf"}}', _cum(np.full(minutes, per_min))),
        (f"{name}_count", _cum(np.full(minutes, per_min))),
    ]


def _steps(minutes: int, *spans: tuple[int, int, float]) -> np.ndarray:
    r = np.zeros(minutes)
    for a, b, x in spans:
        r[a:b] = x
    return r


def _shapes() -> list[Shape]:
    out = []
    n = 240  # outage: 20 minutes of 100 % errors on one route, the other healthy; a short job blip
    series = _requests("a", n, _steps(n, (60, 80, 1.0))) + _requests("b", n, _steps(n, (0, n, 0.002)))
    series += _jobs(n, _steps(n, (100, 104, 1.0))) + _latency(n, _steps(n, (0, n, 0.01)))
    out.append(Shape("outage", n, [(s, _text(v)) for s, v in series]))

    n = 330  # slow burns from the first minute: windows in cold start, ticket with `for`
    series = _requests("a", n, _steps(n, (0, 300, 0.1))) + _jobs(n, _steps(n, (0, n, 0.07)))
    series += _latency(n, _steps(n, (30, 200, 0.3)))
    out.append(Shape("cold-start", n, [(s, _text(v)) for s, v in series]))

    n = 300  # counter resets, an 8-minute scrape gap, a stale marker, the good series missing for 30 minutes
    ratio = _steps(n, (60, 200, 0.5))
    reqs = _requests("a", n, ratio)
    for _, v in reqs:
        for at in (100, 170):
            base = v[at - 1]
            v[at:] = [x - base + 3 for x in v[at:]]
    for _, v in reqs:
        v[120:128] = [None] * 8
        v[220] = "stale"
    jobs = _jobs(n, _steps(n, (0, n, 0.01)))
    jobs[0][1][150:180] = [None] * 30
    series = reqs + jobs + _latency(n, _steps(n, (140, 141, 1.0)))
    out.append(Shape("gaps-resets", n, [(s, _text(v)) for s, v in series]))
    return out


SHAPES = _shapes()


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory):
    need("promtool")
    tmp = tmp_path_factory.mktemp("promtool-parity")
    (tmp / "shop.yaml").write_text(SPEC)
    spec = load(tmp / "shop.yaml").specs[0]
    (tmp / "shop.yml").write_text(rule_file(spec))
    return tmp, spec


def _evaluate(spec, shape: Shape):
    data = SeriesSet([from_promtool(s, v, 60) for s, v in shape.inputs])
    # promtool evaluates every group at the test's interval, the SLO-window group included
    return evaluate(spec, data, 0, shape.minutes * 60, 60, history_start=0, slo_group_interval=60)


def _promtool(tmp: Path, spec, shape: Shape, checks: list[dict]) -> subprocess.CompletedProcess:
    test = {
        "rule_files": ["shop.yml"],
        "evaluation_interval": "1m",
        # promtool sorts groups by group_eval_order with an unstable sort: without it, groups reading each
        # other at the same timestamp (the SLO-window group reads the 5m rates) run in random order
        "group_eval_order": [g["name"] for g in rule_groups(spec)],
        "tests": [
            {
                "name": shape.name,
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in shape.inputs],
                "promql_expr_test": checks,
            }
        ],
    }
    path = tmp / f"{shape.name}.test.yml"
    path.write_text(dump(test, ""))
    return subprocess.run([need("promtool"), "test", "rules", path.name], cwd=tmp, capture_output=True, text=True)


ALERTS_BY = "count by (alertname, alertstate, slo, route) (ALERTS)"
VALUE_STEP = 3  # minutes between recorded-value checks


def eval_time(k: int, interval: float = 60.0) -> str:
    return format_duration(k * interval) if k else "0s"


def alert_checks(evals, steps: int, expr: str = ALERTS_BY, interval: float = 60.0) -> list[dict]:  # noqa: ANN001
    """``ALERTS`` (counted by ``expr``'s labels) as the engine predicts it, at every evaluation step."""
    checks = []
    for k in range(steps + 1):
        exp = []
        for e in evals:
            for name, state in e.alerts.items():
                if state[k]:
                    lab = {"alertname": name, "alertstate": "firing" if state[k] == FIRING else "pending"}
                    lab.update(slo=e.slo, **e.labels)
                    body = ",".join(f'{a}="{b}"' for a, b in sorted(lab.items()))
                    exp.append({"labels": "{" + body + "}", "value": 1})
        checks.append({"expr": expr, "eval_time": eval_time(k, interval), "exp_samples": exp})
    return checks


_GOT = re.compile(r"\{([^}]*)\} (\S+?)(?:, |$)")
_FAILED = re.compile(r'expr: "([^"]+)", time: (\S+),\n\s*exp: .*\n\s*got: (.*)')


def _promtool_values(output: str) -> dict[tuple[str, int], dict[Labels, float]]:
    """What promtool got for every failed check: ``(expr, minute) -> {labels: value}``."""
    out: dict[tuple[str, int], dict[Labels, float]] = {}
    for expr, time, got in _FAILED.findall(output):
        k = 0 if time in ("0s", "0") else round(parse_duration(time) / 60)
        found = {}
        for body, value in _GOT.findall(got):
            ls = tuple(sorted((a, b.strip('"')) for a, b in (p.split("=", 1) for p in body.split(", "))))
            found[ls] = float(value)
        out[(expr, k)] = found
    return out


@dataclass
class Observed:
    spec: object
    evals: list
    alert_checks: list[dict]
    output: str
    got: dict[tuple[str, int], dict[Labels, float]]


@pytest.fixture(scope="module")
def observe(rules_dir):
    """Per shape, one promtool run: ALERTS checks expecting the engine's prediction (these must pass) and
    recorded-series checks expecting nothing (promtool then prints what it recorded)."""
    tmp, spec = rules_dir
    cache: dict[str, Observed] = {}

    def run(shape: Shape) -> Observed:
        if shape.name not in cache:
            evals = _evaluate(spec, shape)
            alerts = alert_checks(evals, shape.minutes)
            steps = range(0, shape.minutes + 1, VALUE_STEP)
            values = [{"expr": n, "eval_time": eval_time(k), "exp_samples": []} for k in steps for n in RECORDED]
            r = _promtool(tmp, spec, shape, alerts + values)
            out = r.stdout + r.stderr
            cache[shape.name] = Observed(spec, evals, alerts, out, _promtool_values(out))
        return cache[shape.name]

    return run


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_alerts_equal_promtool_at_every_step(observe, shape):
    obs = observe(shape)
    assert "err:" not in obs.output, obs.output[:4000]
    wrong = sorted(k for (expr, k) in obs.got if expr == ALERTS_BY)
    assert not wrong, f"ALERTS differ from the engine at minutes {wrong}:\n" + obs.output[:4000]
    assert obs.got, "promtool printed no recorded values: did it run at all?\n" + obs.output[:4000]
    active = sum(1 for c in obs.alert_checks if c["exp_samples"])
    states = {s["labels"].split('alertstate="')[1].split('"')[0] for c in obs.alert_checks for s in c["exp_samples"]}
    assert active > 10 and states == {"pending", "firing"}, f"the shape should make alerts pend and fire: {states}"


def engine_values(spec, evals, name: str, k: int) -> dict[Labels, float]:  # noqa: ANN001
    """The engine's value of a recorded series at step k, keyed as promtool prints it."""
    slos = {s.name: s for s in spec.slos}
    out: dict[Labels, float] = {}
    for e in evals:
        base = {NAME: name, **static_labels(spec, slos[e.slo]), **e.labels}
        per: dict[str | None, np.ndarray] = {
            "sloforge:slo_errors:rate5m": {None: e.errors_rate5m},
            "sloforge:slo_events:rate5m": {None: e.events_rate5m},
            "sloforge:slo_errors:rate1h": {None: e.errors_rate1h},
            "sloforge:slo_events:rate1h": {None: e.events_rate1h},
            "sloforge:slo_burn_rate": e.burn_rate,
            "sloforge:slo_error_budget_remaining:ratio": {e.window: e.budget_remaining},
            "sloforge:slo_status": {e.window: e.status},
            "sloforge:slo_window_coverage:ratio": e.coverage,
        }[name]
        for window, values in per.items():
            v = float(values[k])
            if not math.isnan(v):
                ls = base if window is None else {**base, "window": window}
                out[tuple(sorted(ls.items()))] = v
    return out


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_recorded_series_equal_promtool(observe, shape):
    obs = observe(shape)
    tally = Tally()
    for k in range(0, shape.minutes + 1, VALUE_STEP):
        for name in RECORDED:
            tally.check(
                f"{shape.name}: {name} at {k}m", engine_values(obs.spec, obs.evals, name, k), obs.got.get((name, k), {})
            )
    assert tally.compared > 1000, tally
    print(f"\n{shape.name}: {tally.compared} recorded values, {tally.exact} bit-exact, worst {tally.worst:.1e}")


def test_parity_series_labels_match_promtool_input():
    # guard: the promtool-style reader keeps stale markers apart and skips missing samples
    s = from_promtool('x_total{a="b"}', "1 _ 3 stale 5", 60)
    assert isinstance(s, Series)
    assert s.t.tolist() == [0, 120_000, 240_000] and s.stale.tolist() == [180_000]
