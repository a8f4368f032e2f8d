"""Properties of the engine's vectorised PromQL (hypothesis).

The functions are checked against algebraic facts (abutting increases add up,
rates ignore a constant offset, a counter reset counts like the series without
it) and against straightforward scalar references: the PromQL evaluator of
``sloforge.promql.steady`` (one sample window at a time, Prometheus 2.42's loops),
a per-step alert state machine, plain means over grid windows.
"""

from __future__ import annotations

import gzip
import io
import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sloforge.evaluate import SeriesSet, evaluate, required_metrics, unsupported
from sloforge.evaluate import functions as F
from sloforge.evaluate.engine import FIRING, INACTIVE, PENDING, Grid, Recorded, alert_states
from sloforge.evaluate.series import Series, from_promtool, matches
from sloforge.model import Spec
from sloforge.promql import selector
from sloforge.promql.steady import Evaluator
from sloforge.promql.steady import Series as SteadySeries
from sloforge.sources import read_openmetrics

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

increments = st.lists(st.floats(0, 1e4, allow_nan=False, allow_subnormal=False), min_size=3, max_size=80)
intervals = st.sampled_from([1_000, 15_000, 60_000])


def _counter(incs: list[float], interval: int, start: int = 0, offset: float = 0.0) -> Series:
    v = offset + np.cumsum(incs)
    t = start + interval * np.arange(len(incs), dtype=np.int64)
    return Series.of({"__name__": "x_total"}, t, v)


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


@SETTINGS
@given(incs=increments, interval=intervals, k=st.integers(1, 10))
def test_abutting_increases_sum_to_the_total(incs, interval, k):
    """Windows of k sample intervals ending on samples hold a sample at both edges: no extrapolation."""
    s = _counter(incs, interval, start=1_000_000)
    w = k * interval
    n = (len(incs) - 1) // k
    assume(n >= 1)
    at = s.t[0] + w * np.arange(1, n + 1, dtype=np.int64)
    parts = F.increase([s], at, w)[0]
    assert _close(float(parts.sum()), float(s.v[n * k] - s.v[0]))


@SETTINGS
@given(
    incs=increments,
    interval=intervals,
    jitter=st.lists(st.integers(-400, 400), min_size=80, max_size=80),
    c=st.floats(0, 1e6),
    window=st.sampled_from([2_000, 30_000, 60_000, 300_000, 3_600_000]),
    times=st.lists(st.integers(0, 6_000_000), min_size=1, max_size=20),
)
def test_rate_ignores_a_constant_offset_far_from_zero(incs, interval, jitter, c, window, times):
    """Far from zero the zero-point clamp never binds, so only differences of samples matter."""
    base = 1e9 * (1 + sum(incs))
    t = 1_000 * interval + interval * np.arange(len(incs), dtype=np.int64) + np.array(jitter[: len(incs)])
    v = np.cumsum(incs)
    a, b = Series.of({}, t, base + v), Series.of({}, t, base + c + v)
    at = np.array(sorted(times), dtype=np.int64) + 1_000 * interval
    ra, rb = F.rate([a, b], at, window)
    for x, y in zip(ra, rb, strict=True):
        assert _close(float(x), float(y), 1e-6)  # the offset costs digits of the counter's value


@SETTINGS
@given(incs=increments, interval=intervals, cut=st.integers(1, 79), window_steps=st.integers(1, 12))
def test_counter_reset_counts_like_the_series_without_it(incs, interval, cut, window_steps):
    """A counter restarting from zero at ``cut`` gives the increase of the unbroken counter over every
    window that starts before the reset (windows after it only see a counter nearer to zero)."""
    incs = [1.0 + x for x in incs]  # strictly increasing, so the drop is a reset
    cut = 1 + (cut - 1) % (len(incs) - 1)  # a sample index past the first (no filtering: hypothesis health)
    whole = _counter(incs, interval, offset=5.0)
    v = whole.v.copy()
    v[cut:] -= v[cut - 1]
    assume(v[cut] < v[cut - 1])
    broken = Series.of({}, whole.t, v)
    w = window_steps * interval
    at = whole.t  # windows end on samples and are whole intervals: a sample at both edges
    first = np.searchsorted(whole.t, at - w)
    mask = first < cut
    a = F.increase([whole], at, w)[0][mask]
    b = F.increase([broken], at, w)[0][mask]
    for x, y in zip(a, b, strict=True):
        assert _close(float(x), float(y))


promtool_values = st.lists(
    st.one_of(st.floats(0, 500, allow_nan=False).map(lambda x: round(x, 2)), st.just("_"), st.just("stale")),
    min_size=2,
    max_size=60,
)


def _as_counter(values: list) -> str:
    out, acc = [], 0.0
    for i, x in enumerate(values):
        if isinstance(x, str):
            out.append(x)
            continue
        acc = x if i % 17 == 16 else acc + x  # an occasional reset
        out.append(f"{acc:.12g}")
    return " ".join(out)


@SETTINGS
@given(
    values=promtool_values,
    interval=st.sampled_from([10, 15, 60]),
    window=st.sampled_from(["20s", "1m", "90s", "5m", "7m"]),
    fn=st.sampled_from(["rate", "increase", "delta", "avg_over_time", "sum_over_time", "count_over_time"]),
    offset=st.sampled_from([0, 60]),
)
def test_functions_equal_the_scalar_evaluator(values, interval, window, fn, offset):
    text = _as_counter(values)
    ours = from_promtool("x_total", text, interval)
    theirs = Evaluator(series=[SteadySeries.from_text("x_total", text, interval * 1000)], step_ms=interval * 1000)
    at = np.arange(0, (len(values) + 6) * interval * 1000, 7_000, dtype=np.int64)
    rng = {"20s": 20_000, "1m": 60_000, "90s": 90_000, "5m": 300_000, "7m": 420_000}[window]
    got = getattr(F, fn)([ours], at, rng, offset * 1000)[0]
    inst = F.instant([ours], at, offset * 1000)[0]
    off = f" offset {offset}s" if offset else ""
    for t, g, i in zip(at, got, inst, strict=True):
        r = theirs.vector(f"{fn}(x_total[{window}]{off})", int(t))
        assert _close(float(g), r[0][1] if r else math.nan, 1e-12), (fn, int(t))
        r = theirs.vector(f"x_total{off}", int(t))
        assert _close(float(i), r[0][1] if r else math.nan, 0.0), ("instant", int(t))


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", ""]), st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=5, max_size=5)
        ),
        min_size=1,
        max_size=8,
    )
)
def test_sum_by_adds_present_members(rows):
    keys = [(k,) for k, _ in rows]
    values = np.array([[np.nan if x is None else x for x in vs] for _, vs in rows])
    out = F.sum_by(values, keys)
    assert set(out) == set(keys)
    for key, total in out.items():
        members = values[[k == key for k in keys]]
        for j in range(values.shape[1]):
            col = members[:, j][~np.isnan(members[:, j])]
            assert _close(float(total[j]), float(col.sum()) if col.size else math.nan)


def _naive_states(active: list[bool], times: list[int], for_ms: int) -> list[int]:
    """Prometheus' AlertingRule.Eval, one evaluation at a time."""
    out, since = [], None
    for a, t in zip(active, times, strict=True):
        if not a:
            since = None
            out.append(INACTIVE)
            continue
        since = t if since is None else since
        out.append(FIRING if t - since >= for_ms else PENDING)
    return out


@SETTINGS
@given(active=st.lists(st.booleans(), min_size=1, max_size=60), for_steps=st.integers(0, 6))
def test_alert_states_follow_prometheus(active, for_steps):
    times = 60_000 * np.arange(len(active), dtype=np.int64)
    got = alert_states(np.array([active]), times, for_steps * 60_000)[0]
    assert got.tolist() == _naive_states(active, times.tolist(), for_steps * 60_000)


@SETTINGS
@given(
    values=st.lists(st.one_of(st.none(), st.sampled_from([0.25, 1.0, 3.0]), st.floats(0, 10)), min_size=1, max_size=50),
    steps=st.integers(0, 12),
    at=st.lists(st.integers(-5, 70), min_size=1, max_size=10),
)
def test_recorded_windows_equal_plain_means(values, steps, at):
    step = 30_000
    grid = Grid(600_000, step, len(values))
    rec = Recorded(grid, np.array([[np.nan if v is None else v for v in values]]))
    at_ms = grid.start + step * np.array(at, dtype=np.int64)
    mean = rec.avg_over_time(at_ms, steps * step)[0]
    count = rec.count_over_time(at_ms, steps * step)[0]
    inst = rec.instant(at_ms, 2 * step)[0]
    for k, m, c, i in zip(at, mean, count, inst, strict=True):
        window = [v for j, v in enumerate(values) if k - steps <= j <= k and v is not None]
        want = sum(window) / len(window) if window else math.nan
        assert _close(float(m), want, 1e-12)
        if window and len(set(window)) == 1:
            assert float(m) == window[0]  # constant windows are exact, as Prometheus' running mean is
        assert _close(float(c), float(len(window)) if window else math.nan)
        j = k - 2
        expect = values[min(j, len(values) - 1)] if j >= 0 and j - (len(values) - 1) <= 10 else None
        assert _close(float(i), math.nan if expect is None else expect, 0.0)


label_values = st.text(alphabet=st.sampled_from('ab "\\\n{},=#'), max_size=6)


@SETTINGS
@given(
    series=st.dictionaries(
        label_values,
        st.lists(st.tuples(st.integers(0, 10**7), st.floats(-1e6, 1e6, allow_nan=False)), min_size=1, max_size=8),
        min_size=1,
        max_size=4,
    ),
    compress=st.booleans(),
)
def test_openmetrics_reader_round_trips(series, compress):
    lines = ["# TYPE m gauge"]
    for value, samples in series.items():
        esc = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        for t, v in samples:
            lines.append(f'm{{k="{esc}",z="1"}} {v!r} {t / 1000:.3f} # {{trace="x"}} 1 2')
    body = ("\n".join(lines) + "\n# EOF\n").encode()
    data = read_openmetrics(io.BytesIO(gzip.compress(body) if compress else body))
    assert len(data) == len(series)
    for value, samples in series.items():
        (s,) = [x for x in data if x.get("k") == value] if value else [x for x in data if not x.get("k")]
        expect = {}
        for t, v in samples:
            expect[int(float(f"{t / 1000:.3f}") * 1000)] = v  # the last of equal timestamps wins
        assert s.t.tolist() == sorted(expect)
        assert s.v.tolist() == [expect[t] for t in sorted(expect)]


# ---------------------------------------------------------------- plain checks of the reader and the entry point


def test_reader_filters_units_and_errors(tmp_path):
    text = (
        "# TYPE a counter\n"
        'a_total{x="1"} 1 10\n'
        'a_total{x="1"} 2 20.5\n'
        "b 7 30\n"
        'a_total{x="1"}  3 40 # {trace_id="1"} 1 40\n'
        "# EOF\n"
        "ignored 1 1\n"
    )
    path = tmp_path / "d.om.gz"
    path.write_bytes(gzip.compress(text.encode()))
    full = read_openmetrics(path)
    (a,) = full.select("a_total")
    assert a.t.tolist() == [10_000, 20_500, 40_000] and a.v.tolist() == [1, 2, 3]
    assert [s.name for s in read_openmetrics(path, names={"b"})] == ["b"]
    (a,) = read_openmetrics(path, start=15, end=40).select("a_total")
    assert a.t.tolist() == [20_500, 40_000]
    ms = read_openmetrics(io.BytesIO(b"c 1 1767225600123\n"), timestamp_unit="ms")
    assert next(iter(ms)).t.tolist() == [1767225600123]
    for bad, why in (("c 1\n", "without a timestamp"), ('c{x="1} 1 2\n', "not a sample line"), ("c x 1\n", "bad")):
        try:
            read_openmetrics(io.BytesIO(bad.encode()))
        except ValueError as e:
            assert ":1: " in str(e) and why in str(e), e
        else:
            raise AssertionError(f"{bad!r} was accepted")


SPEC = {
    "apiVersion": "sloforge/v1",
    "service": "svc",
    "evaluation_interval": "30s",
    "slos": [
        {
            "name": "avail",
            "objective": 99,
            "by": ["route"],
            "sli": {"events": {"good": 'req_total{code="200"}', "total": "req_total"}},
        },
        {"name": "slices", "objective": 99, "sli": {"timeslice": {"expr": "up", "min": 1}}},
    ],
}


def test_output_grid_samples_the_rule_grid():
    spec = Spec.model_validate(SPEC)
    assert required_metrics(spec) == {"req_total", "up"}
    assert unsupported(spec) == []
    rng = np.random.default_rng(2)
    t = 15_000 * np.arange(2000, dtype=np.int64)
    series = []
    for route in ("a", "b"):
        for code, lam in (("200", 30), ("500", 1)):
            v = np.cumsum(rng.poisson(lam, t.size)).astype(float)
            series.append(Series.of({"__name__": "req_total", "code": code, "route": route}, t, v))
    data = SeriesSet(series)
    fine = evaluate(spec, data, 3600, 28_000, 30, workers=1)
    coarse = evaluate(spec, data, 3600, 28_000, 300, workers=2)
    assert [e.labels for e in fine] == [{"route": "a"}, {"route": "b"}] == [e.labels for e in coarse]
    for f, c in zip(fine, coarse, strict=True):
        assert np.array_equal(f.times[::10], c.times)
        for w in f.burn_rate:
            assert np.array_equal(f.burn_rate[w][::10], c.burn_rate[w], equal_nan=True)
        assert np.array_equal(f.budget_remaining[::10], c.budget_remaining, equal_nan=True)
        assert np.isfinite(f.burn_rate["1h"]).all() and np.isfinite(f.budget_remaining).all()


_ROUTE_LABELS = st.fixed_dictionaries(
    {"code": st.sampled_from(["200", "500", "503"]), "route": st.sampled_from(["a", "b", "c", ""])}
)


@SETTINGS
@given(
    st.lists(_ROUTE_LABELS, max_size=40, unique_by=lambda d: tuple(sorted(d.items()))),
    st.sampled_from(
        [
            'x_total{code="500"}',
            'x_total{code="500",route="a"}',
            'x_total{route=""}',
            'x_total{code=~"5.."}',
            "x_total",
            'x_total{route!="a",code="200"}',
        ]
    ),
)
def test_select_through_the_label_index_equals_a_full_scan(labelsets, text):
    data = SeriesSet(Series.of({"__name__": "x_total", **ls}, [0], [1.0]) for ls in labelsets)
    sel = selector(text)
    assert data.select(sel) == [s for s in data if matches(sel, s.labels)]
