"""SLOTracker: numbers equal a brute-force computation over the recorded events (bucket
resolution as documented in sloforge.instrument.windows), bounded memory, thread safety, export."""

from __future__ import annotations

import itertools
import math
import threading
import tracemalloc
import warnings

import pytest
from conftest import EXAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from sloforge import conventions as C
from sloforge.durations import format_duration
from sloforge.instrument import CardinalityWarning, LabelError, SLOTracker
from sloforge.instrument.tracker import OTHER
from sloforge.instrument.windows import Layout, resolution_for
from sloforge.model import Spec

T0 = 1_700_000_000.0
DAY = 86400.0

SPEC = Spec.model_validate(
    {
        "apiVersion": "sloforge/v1",
        "service": "shop",
        "metrics": [
            {"name": "req_total", "type": "counter", "labels": ["code", "route"]},
            {"name": "req_seconds", "type": "histogram", "labels": ["route"], "buckets": [0.1, 0.5, 1]},
        ],
        "slos": [
            {
                "name": "avail",
                "objective": 99,
                "sli": {"events": {"bad": 'req_total{code="500"}', "total": "req_total"}},
            },
            {
                "name": "avail-by-route",
                "target": 0.999,
                "by": ["route"],
                "sli": {"events": {"bad": 'req_total{code="500"}', "total": "req_total"}},
            },
            {
                "name": "fast",
                "objective": 95,
                "window": "7d",
                "sli": {"latency": {"histogram": "req_seconds", "le": 0.5}},
            },
            {"name": "p99", "objective": 99, "sli": {"timeslice": {"expr": "vector(1)", "max": 2}}},
        ],
    }
)


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def tracker(slo: str = "avail", clock: Clock | None = None, **kw) -> tuple[SLOTracker, Clock]:
    clock = clock or Clock()
    return SLOTracker(SPEC, slo, registry=CollectorRegistry(), clock=clock, **kw), clock


# ------------------------------------------------------------------ layout


def test_layout_resolutions_and_memory() -> None:
    t, _ = tracker()
    assert t.windows == [300, 1800, 3600, 7200, 21600, DAY, 3 * DAY, 30 * DAY]
    assert [t.resolution(w) for w in t.windows] == [10, 10, 10, 60, 60, 300, 300, 3600]
    assert t.layout.rings == ((10, 360), (60, 360), (300, 864), (3600, 720))
    assert t.layout.slots == 2304
    assert resolution_for(30 * DAY) == 3600
    with pytest.raises(ValueError, match="multiple"):
        Layout.for_windows([300, 30000], resolutions=(7, 60))


# ------------------------------------------------------------------ known streams


def test_zero_traffic_is_healthy() -> None:
    t, _ = tracker()
    s = t.status()
    assert s["sli"] == 1.0 and s["error_budget_remaining"] == 1.0 and s["status"] == 1
    assert set(s["burn_rate"].values()) == {0.0}
    assert s["events"] == s["good"] == s["bad"] == 0
    assert s["objective"] == 0.99 and s["window"] == "30d"


def test_known_stream_and_expiry() -> None:
    t, clock = tracker()
    t.record(True, 99)
    t.record(False)
    s = t.status()
    assert s["events"] == 100 and s["bad"] == 1 and s["good"] == 99
    assert s["burn_rate"] == {w: pytest.approx(1.0) for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")}
    assert s["sli"] == pytest.approx(0.99)
    assert s["error_budget_remaining"] == pytest.approx(0.0)
    assert s["status"] == -1
    clock.t += 310  # past 5m + one 10s bucket: gone from the 5m window only
    s = t.status()
    assert s["burn_rate"]["5m"] == 0.0 and s["burn_rate"]["30m"] == pytest.approx(1.0)
    t.record(True, 100)  # 1 bad of 200 in the long windows, 0 of 100 in 5m
    s = t.status()
    assert s["burn_rate"]["5m"] == 0.0 and s["burn_rate"]["1h"] == pytest.approx(0.5)
    clock.t = T0 + 30 * DAY - 2 * 3600
    assert t.status()["events"] == 200
    clock.t = T0 + 30 * DAY + 3600
    assert t.status()["events"] == 0


@pytest.mark.parametrize(
    ("bad", "status"),
    [(0, 1), (7, 1), (8, 0), (9, 0), (10, -1), (11, -1)],  # budget 1 % of 1000 = 10 bad events
)
def test_status_thresholds(bad: int, status: int) -> None:
    t, _ = tracker()
    t.record(True, 1000 - bad)
    t.record(False, bad)
    s = t.status()
    assert s["error_budget_remaining"] == pytest.approx(1 - bad / 10)
    assert s["status"] == status
    assert (s["error_budget_remaining"] < C.AT_RISK_BELOW) == (status < 1)


def test_latency_and_timeslice_slis() -> None:
    t, _ = tracker("fast")
    for seconds in (0.1, 0.5, 0.50001, 3):
        t.observe(seconds)
    s = t.status()
    assert (s["good"], s["bad"], s["window"]) == (2, 2, "7d")
    assert "7d" in s["burn_rate"]
    ts, _ = tracker("p99")
    ts.record_slice(True)
    ts.record_slice(False)
    assert ts.status()["sli"] == 0.5
    with pytest.raises(TypeError, match="use record"):
        ts.observe(1.0)


def test_coverage() -> None:
    t, clock = tracker()
    clock.t += 3600
    cov = t.status()["coverage"]
    assert cov["5m"] == cov["1h"] == 1.0
    assert cov["30d"] == pytest.approx(1 / 720)


def test_count_must_not_be_negative() -> None:
    t, _ = tracker()
    with pytest.raises(ValueError, match="negative"):
        t.record(True, -1)


# ------------------------------------------------------------------ label sets


def test_by_labels() -> None:
    t, _ = tracker("avail-by-route")
    t.record(True, 3, route="/a")
    t.record(False, 1, route="/a")
    t.record(True, 5, route="/b")
    assert t.status(route="/a")["bad"] == 1
    assert t.status(route="/b")["labels"] == {"route": "/b"}
    assert t.status(route="/never")["events"] == 0
    assert [s["labels"]["route"] for s in t.statuses()] == ["/a", "/b"]
    t.record(True, route=7)  # not a str: slow path, same label set as "7"
    t.record(True, route="7")
    assert t.status(route="7")["events"] == 2
    with pytest.raises(LabelError, match="its `by` labels are: route"):
        t.record(True)
    with pytest.raises(LabelError, match="route"):
        t.record(True, path="/a")
    with pytest.raises(LabelError):
        t.record(True, route="/a", code="200")
    with pytest.raises(LabelError):
        t.status()
    plain, _ = tracker()
    with pytest.raises(LabelError, match="none"):
        plain.record(True, route="/a")


def test_label_sets_are_bounded() -> None:
    t, _ = tracker("avail-by-route", max_label_sets=10)
    with pytest.warns(CardinalityWarning, match="more than 10") as caught:
        for i in range(50):
            t.record(i % 2 == 0, route=f"/r{i}")
    assert len(caught) == 1
    assert t.label_sets == 11
    other = t.status(route=OTHER)
    assert other["events"] == 40
    assert t.status(route="/r49") == other  # folded values report the __other__ set
    assert sum(s["events"] for s in t.statuses()) == 50


# ------------------------------------------------------------------ property: equals brute force

events_st = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4 * 3600 * 2),  # time step in half seconds (up to 4h)
        st.booleans(),
        st.integers(min_value=0, max_value=5),
    ),
    min_size=1,
    max_size=60,
)
queries_st = st.lists(st.integers(min_value=0, max_value=int(40 * DAY)), min_size=1, max_size=4)


def brute_force(events: list[tuple[float, bool, int]], now: float, window: float, res: float) -> tuple[int, int]:
    """Events whose bucket floor(t / res) is one of the last ceil(window / res) buckets up to now."""
    n = math.ceil(window / res)
    last = math.floor(now / res)
    inside = [(g, c) for t, g, c in events if last - n < math.floor(t / res) <= last and t <= now]
    return sum(c for _, c in inside), sum(c for g, c in inside if not g)


@settings(max_examples=60, deadline=None)
@given(steps=events_st, later=queries_st)
def test_tracker_equals_brute_force(steps: list[tuple[int, bool, int]], later: list[int]) -> None:
    t, clock = tracker()
    events = []
    now = T0
    for step, good, count in steps:
        now += step / 2
        clock.t = now
        t.record(good, count)
        events.append((now, good, count))
    for q in [0, *sorted(later)]:
        clock.t = now + q
        s = t.status()
        for w in t.windows:
            total, bad = brute_force(events, clock.t, w, t.resolution(w))
            ratio = bad / max(total, 1e-12)
            assert s["burn_rate"][format_duration(w)] == ratio / t.error_budget
            # the bucketed window differs from the exact one only by events of one boundary bucket
            exact = sum(c for te, _, c in events if clock.t - w < te <= clock.t)
            edge = sum(c for te, _, c in events if clock.t - w - t.resolution(w) < te <= clock.t - w + t.resolution(w))
            assert abs(total - exact) <= edge
        total, bad = brute_force(events, clock.t, 30 * DAY, 3600)
        assert (s["events"], s["bad"]) == (total, bad)
        assert s["sli"] == 1 - bad / max(total, 1e-12)


# ------------------------------------------------------------------ memory and threads


def test_memory_is_bounded_under_a_million_events() -> None:
    """A million events over 31 days (every ring wraps): same buckets, nothing kept per event."""
    clock = Clock()
    t, _ = tracker("avail-by-route", clock=clock)
    routes = ["/a", "/b"]
    step = 31 * DAY / 1_000_000
    record = t.record

    def run(n: int) -> None:
        for i in range(n):
            clock.t += step
            record(i % 7 != 0, route=routes[i % 2])

    run(10_000)  # warm up: every label set and ring exists
    slots = t.slots
    nbytes = sum(s.nbytes() for s in t._series.values())
    tracemalloc.start()  # slows allocation a lot: watch a slice, not the whole million
    before = tracemalloc.take_snapshot()
    run(20_000)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    run(970_000)
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 16 * 1024, f"{grown} bytes allocated and kept over 20k events"
    assert t.slots == slots == 2 * 2304
    assert sum(s.nbytes() for s in t._series.values()) == nbytes == 2 * 2304 * 2 * 8
    sizes = [size for _, size in t.layout.rings]
    assert all([len(r.total) for r in s.rings] == sizes for s in t._series.values())
    statuses = t.statuses()
    assert sum(s["events"] for s in statuses) == pytest.approx(1_000_000 * 30 / 31, rel=0.01)


def test_concurrent_records_lose_nothing() -> None:
    ticks = itertools.count()
    t = SLOTracker(SPEC, "avail-by-route", registry=CollectorRegistry(), clock=lambda: T0 + next(ticks) * 0.01)
    n, threads = 20_000, 8

    def work(k: int) -> None:
        for i in range(n):
            t.record(i % 10 != 0, route=f"/r{k % 2}")

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    statuses = t.statuses()
    assert sum(s["events"] for s in statuses) == n * threads
    assert sum(s["bad"] for s in statuses) == n * threads // 10


# ------------------------------------------------------------------ export


def test_gauges_on_the_registry() -> None:
    reg = CollectorRegistry()
    clock = Clock()
    a = SLOTracker(SPEC, "avail", registry=reg, clock=clock)
    b = SLOTracker(SPEC, "avail-by-route", registry=reg, clock=clock)
    a.record(True, 99)
    a.record(False)
    b.record(True, route="/x")
    text = generate_latest(reg).decode()
    for name in (
        "sloforge_slo_objective",
        "sloforge_slo_sli",
        "sloforge_slo_error_budget_remaining",
        "sloforge_slo_burn_rate",
        "sloforge_slo_status",
    ):
        assert f"# TYPE {name} gauge" in text
    assert 'sloforge_slo_objective{service="shop",slo="avail"} 0.99' in text
    assert 'sloforge_slo_status{service="shop",slo="avail"} -1.0' in text
    assert 'sloforge_slo_burn_rate{service="shop",slo="avail",window="1h"} 1.0' in text
    assert 'sloforge_slo_sli{route="/x",service="shop",slo="avail-by-route"} 1.0' in text
    assert 'sloforge_slo_burn_rate{route="/x",service="shop",slo="avail-by-route",window="30d"} 0.0' in text
    with pytest.raises(ValueError, match="already has a tracker"):
        SLOTracker(SPEC, "avail", registry=reg)
    a.close()
    assert 'slo="avail"}' not in generate_latest(reg).decode()
    SLOTracker(SPEC, "avail", registry=reg)


def test_spec_paths_and_slo_lookup() -> None:
    t = SLOTracker(EXAMPLES / "kubernetesexecution.yaml", "per-action-success-rate", registry=CollectorRegistry())
    assert t.by == ("action",) and t.objective == 0.98
    t = SLOTracker(EXAMPLES, "api-availability", registry=CollectorRegistry(), service="nkudo")
    assert t.service == "nkudo"
    with pytest.raises(ValueError, match="no SLO 'nope'"):
        SLOTracker(SPEC, "nope", registry=CollectorRegistry())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SLOTracker(EXAMPLES, "action-success-rate", registry=CollectorRegistry())
