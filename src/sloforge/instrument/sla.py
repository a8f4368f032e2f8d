"""SLA availability and a time-based error budget, as nkudo's ``SLAMonitor`` (seed 003) describes, complete.

``record_availability(success, duration)`` counts ``duration`` seconds of
uptime or downtime. The error budget is ``(1 - objective) * period`` seconds;
the budget used is the downtime inside the last ``period`` (sliding, bounded
memory: a ring of ``resolution``-wide buckets, 1h for 30d, so downtime rolls
off bucket by bucket); ``check_error_budget()`` returns what is left.

Exported on the registry (``prefix`` defaults to the seed's ``nkudo``):

* ``<prefix>_sla_uptime_seconds_total{service}``, ``<prefix>_sla_downtime_seconds_total{service}``:
  counters, as in the seed;
* ``<prefix>_error_budget_total{service,slo}``: budget seconds for the period. The seed
  declares a counter; it is a level that never needs to be ``Add()``-ed, so a **gauge**
  (prometheus_client keeps a gauge's name as written, so the seed's name is exposed unchanged);
* ``<prefix>_error_budget_used_seconds{service,slo}``: downtime inside the sliding period.
  A counter in the seed, but a sliding amount falls as old downtime rolls off: a **gauge**;
* ``<prefix>_error_budget_remaining_seconds{service,slo}`` (gauge, not in the seed);
* ``<prefix>_slo_status{service,slo}``: 1 healthy, 0 at risk (less than ``AT_RISK_BELOW`` of the
  budget left), -1 breached (none left).

The gauges are computed at scrape time. A spec that declares the same names
(``examples/nkudo.yaml`` via ``Metrics.from_spec``) needs another registry.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from sloforge import conventions as C
from sloforge.durations import parse_duration
from sloforge.instrument.tracker import status_code
from sloforge.instrument.windows import Ring, resolution_for, slots_for

__all__ = ["SLAMonitor"]


def _ratio(objective: float) -> float:
    """0.999 (ratio) or 99.9 (percent, any value >= 1) -> 0.999."""
    ratio = objective / 100.0 if objective >= 1 else objective
    if not 0 < ratio < 1:
        raise ValueError(f"objective {objective!r} must be a ratio (0.999) or a percent (99.9) below 100")
    return round(ratio, 12)


def _seconds(value: float | str | timedelta) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, str):
        return parse_duration(value)
    return float(value)


class SLAMonitor:
    """Uptime/downtime seconds of one service and its sliding time-based error budget."""

    def __init__(
        self,
        service: str,
        objective: float,
        period: float | str = "30d",
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
        *,
        slo: str = "availability",
        prefix: str = "nkudo",
        resolution: float | None = None,
    ) -> None:
        self.service = service
        self.slo = slo
        self.objective = _ratio(objective)
        self.period = _seconds(period)
        if self.period <= 0:
            raise ValueError(f"period must be positive, got {period!r}")
        self.budget_total = round(1 - self.objective, 12) * self.period
        res = resolution or resolution_for(self.period)
        self._slots = slots_for(self.period, res)
        self._ring = Ring(res, self._slots)
        self._clock = clock
        self._lock = threading.Lock()
        self.registry = REGISTRY if registry is None else registry
        export = _export_for(self.registry, prefix)
        self._uptime = export.uptime.labels(service=service)
        self._downtime = export.downtime.labels(service=service)
        export.add(self)

    @property
    def resolution(self) -> float:
        """Bucket width in seconds: downtime rolls off the period in steps of this size."""
        return self._ring.res

    def record_availability(self, success: bool, duration: float | timedelta) -> None:
        """``duration`` seconds up (``success``) or down, ending now."""
        seconds = _seconds(duration)
        if seconds < 0:
            raise ValueError(f"duration must not be negative, got {duration!r}")
        (self._uptime if success else self._downtime).inc(seconds)
        now = self._clock()
        with self._lock:
            self._spread(now - seconds, now, 0.0 if success else 1.0)

    def _spread(self, start: float, end: float, down: float) -> None:
        """Add ``[start, end]`` to the buckets it overlaps (only the ring's span is kept)."""
        res = self._ring.res
        start = max(start, (end // res - self._slots) * res)
        for i in range(int(start // res), int(end // res) + 1):
            part = min(end, (i + 1) * res) - max(start, i * res)
            if part > 0:
                self._ring.add(i, part, part * down)

    def _sums(self) -> tuple[float, float]:
        """``(up + down seconds, down seconds)`` inside the sliding period."""
        now = self._clock()
        with self._lock:
            return self._ring.sums(int(now // self._ring.res), self._slots)

    def error_budget_used(self) -> float:
        """Downtime seconds inside the last ``period``."""
        return self._sums()[1]

    def check_error_budget(self) -> float:
        """Remaining error budget in seconds (negative once overspent)."""
        return self.budget_total - self.error_budget_used()

    def slo_status(self) -> int:
        """1 healthy, 0 at risk, -1 breached (the ``<prefix>_slo_status`` value)."""
        return status_code(self.check_error_budget() / self.budget_total)

    def status(self) -> dict[str, Any]:
        """Budget, downtime, availability and status over the sliding period."""
        total, down = self._sums()
        remaining = self.budget_total - down
        left = remaining / self.budget_total
        return {
            "service": self.service,
            "slo": self.slo,
            "objective": self.objective,
            "period_seconds": self.period,
            "error_budget_total_seconds": self.budget_total,
            "error_budget_used_seconds": down,
            "error_budget_remaining_seconds": remaining,
            "error_budget_remaining": left,
            "status": status_code(left),
            "uptime_seconds": total - down,
            "downtime_seconds": down,
            "availability": 1 - down / total if total > 0 else 1.0,
        }

    def close(self) -> None:
        """Stop exporting this monitor's budget gauges (the counters stay)."""
        for export in _exports.get(self.registry, {}).values():
            export.remove(self)

    def __repr__(self) -> str:
        return f"SLAMonitor({self.service!r}, objective={self.objective}, period={self.period:g}s)"


class _SLAExport(Collector):
    """The counters and the budget gauges of every monitor with one prefix on one registry."""

    def __init__(self, registry: CollectorRegistry, prefix: str) -> None:
        self.prefix = prefix
        self.gauges = {
            f"{prefix}_error_budget_total": ("Total error budget (in seconds) for the period", "budget_total"),
            f"{prefix}_error_budget_used_seconds": (
                "Error budget consumed (in seconds) inside the sliding period",
                "error_budget_used_seconds",
            ),
            f"{prefix}_error_budget_remaining_seconds": (
                "Error budget left (in seconds) inside the sliding period",
                "error_budget_remaining_seconds",
            ),
            f"{prefix}_slo_status": ("Current SLO status (1 = healthy, 0 = at risk, -1 = breached)", "status"),
        }
        self._monitors: dict[tuple[str, str], SLAMonitor] = {}
        self._lock = threading.Lock()
        registry.register(self)
        try:
            self.uptime = Counter(
                f"{prefix}_sla_uptime_seconds_total",
                "Total seconds of uptime per service",
                ["service"],
                registry=registry,
            )
            self.downtime = Counter(
                f"{prefix}_sla_downtime_seconds_total",
                "Total seconds of downtime per service",
                ["service"],
                registry=registry,
            )
        except ValueError:
            registry.unregister(self)
            if hasattr(self, "uptime"):
                registry.unregister(self.uptime)
            raise

    def add(self, monitor: SLAMonitor) -> None:
        key = (monitor.service, monitor.slo)
        with self._lock:
            if key in self._monitors:
                raise ValueError(f"service {key[0]!r} already has an SLAMonitor for SLO {key[1]!r} on this registry")
            self._monitors[key] = monitor

    def remove(self, monitor: SLAMonitor) -> None:
        with self._lock:
            if self._monitors.get((monitor.service, monitor.slo)) is monitor:
                del self._monitors[(monitor.service, monitor.slo)]

    def describe(self) -> Iterator[GaugeMetricFamily]:
        for name, (doc, _) in self.gauges.items():
            yield GaugeMetricFamily(name, doc, labels=[C.LABEL_SERVICE, C.LABEL_SLO])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        fams = {
            name: GaugeMetricFamily(name, doc, labels=[C.LABEL_SERVICE, C.LABEL_SLO])
            for name, (doc, _) in self.gauges.items()
        }
        with self._lock:
            monitors = [self._monitors[k] for k in sorted(self._monitors)]
        for m in monitors:
            st = m.status()
            st["budget_total"] = m.budget_total
            for name, (_, field) in self.gauges.items():
                fams[name].add_metric([m.service, m.slo], float(st[field]))
        yield from fams.values()


_exports: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, _SLAExport]] = weakref.WeakKeyDictionary()
_exports_lock = threading.Lock()


def _export_for(registry: CollectorRegistry, prefix: str) -> _SLAExport:
    with _exports_lock:
        by_prefix = _exports.setdefault(registry, {})
        if prefix not in by_prefix:
            try:
                by_prefix[prefix] = _SLAExport(registry, prefix)
            except ValueError as e:
                raise ValueError(f"cannot export the {prefix}_* SLA metrics on this registry: {e}") from e
        return by_prefix[prefix]
