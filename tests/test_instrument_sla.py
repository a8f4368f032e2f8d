"""SLAMonitor (seed 003's SLAMonitor, complete): budget math in seconds, sliding expiry, export."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from sloforge.instrument import SLAMonitor

HOUR, DAY = 3600.0, 86400.0
T0 = 1_699_999_200.0  # a whole hour: bucket edges fall on T0 + k hours


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def monitor(**kw) -> tuple[SLAMonitor, Clock, CollectorRegistry]:
    clock, reg = Clock(), CollectorRegistry()
    kw.setdefault("objective", 0.999)
    return SLAMonitor("controlplane", registry=reg, clock=clock, **kw), clock, reg


def test_budget_total_is_the_period_share() -> None:
    m, _, _ = monitor()
    assert m.budget_total == pytest.approx(2592.0)  # 0.1 % of 30 days
    assert m.check_error_budget() == pytest.approx(2592.0)
    assert SLAMonitor("x", 99.9, registry=CollectorRegistry()).budget_total == pytest.approx(2592.0)
    assert SLAMonitor("x", 0.99, period="7d", registry=CollectorRegistry()).budget_total == pytest.approx(6048.0)
    assert m.resolution == HOUR
    with pytest.raises(ValueError, match="ratio"):
        SLAMonitor("x", 100, registry=CollectorRegistry())
    with pytest.raises(ValueError, match="duration"):
        SLAMonitor("x", 0.9, period="soon", registry=CollectorRegistry())


@pytest.mark.parametrize(
    ("downtime", "remaining", "status"),
    [(0, 2592, 1), (1000, 1592, 1), (2000, 592, 0), (2592, 0, -1), (3000, -408, -1)],
)
def test_remaining_budget_and_status(downtime: float, remaining: float, status: int) -> None:
    m, clock, _ = monitor()
    m.record_availability(True, 5 * DAY)
    if downtime:
        m.record_availability(False, downtime)
    assert m.check_error_budget() == pytest.approx(remaining)
    assert m.error_budget_used() == pytest.approx(downtime)
    assert m.slo_status() == status
    st = m.status()
    assert st["status"] == status
    assert st["uptime_seconds"] == pytest.approx(5 * DAY)
    assert st["availability"] == pytest.approx(5 * DAY / (5 * DAY + downtime))


def test_downtime_slides_out_of_the_period() -> None:
    m, clock, _ = monitor()
    m.record_availability(False, 2 * HOUR)  # down over [T0 - 2h, T0]
    assert m.error_budget_used() == pytest.approx(7200)
    clock.t = T0 + 30 * DAY - 3 * HOUR
    assert m.error_budget_used() == pytest.approx(7200)
    assert m.slo_status() == -1
    clock.t = T0 + 30 * DAY - 2 * HOUR  # the period reaches back to T0 - 1h (1h buckets)
    assert m.error_budget_used() == pytest.approx(3600)
    clock.t = T0 + 30 * DAY
    assert m.error_budget_used() == 0
    assert m.check_error_budget() == pytest.approx(2592)
    assert m.slo_status() == 1


def test_durations_and_errors() -> None:
    m, _, _ = monitor()
    m.record_availability(False, timedelta(minutes=2))
    assert m.error_budget_used() == pytest.approx(120)
    m.record_availability(True, 0)
    with pytest.raises(ValueError, match="negative"):
        m.record_availability(False, -1)
    # a duration longer than the period keeps only the period
    m.record_availability(False, 60 * DAY)
    assert m.error_budget_used() == pytest.approx(30 * DAY, rel=0.01)


def test_exposition() -> None:
    m, _, reg = monitor()
    SLAMonitor("agents", 0.99, registry=reg, clock=Clock(), slo="heartbeat")
    m.record_availability(True, 60)
    m.record_availability(False, 1000)
    text = generate_latest(reg).decode()
    assert "# TYPE nkudo_sla_uptime_seconds_total counter" in text
    assert 'nkudo_sla_uptime_seconds_total{service="controlplane"} 60.0' in text
    assert 'nkudo_sla_downtime_seconds_total{service="controlplane"} 1000.0' in text
    assert "# TYPE nkudo_error_budget_total gauge" in text
    assert 'nkudo_error_budget_total{service="controlplane",slo="availability"} 2592.0' in text
    assert "# TYPE nkudo_error_budget_used_seconds gauge" in text
    assert 'nkudo_error_budget_used_seconds{service="controlplane",slo="availability"} 1000.0' in text
    assert 'nkudo_error_budget_remaining_seconds{service="controlplane",slo="availability"} 1592.0' in text
    assert 'nkudo_slo_status{service="controlplane",slo="availability"} 1.0' in text
    assert 'nkudo_slo_status{service="agents",slo="heartbeat"} 1.0' in text
    with pytest.raises(ValueError, match="already has an SLAMonitor"):
        SLAMonitor("controlplane", 0.999, registry=reg)
    m.close()
    assert 'slo="availability"' not in generate_latest(reg).decode()


def test_prefix_is_configurable() -> None:
    reg = CollectorRegistry()
    SLAMonitor("api", 0.999, registry=reg, prefix="shop")
    SLAMonitor("api", 0.999, registry=reg)  # another prefix: its own metric names
    text = generate_latest(reg).decode()
    assert 'shop_slo_status{service="api",slo="availability"} 1.0' in text
    assert 'nkudo_slo_status{service="api",slo="availability"} 1.0' in text
    assert "# TYPE shop_sla_downtime_seconds_total counter" in text
