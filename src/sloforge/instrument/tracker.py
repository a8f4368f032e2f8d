"""In-process SLO tracking: SLI, error budget and burn rates of one SLO, live in the service.

The numbers follow the generated rules: per window the error ratio is
``bad / max(total, 1e-12)`` (numerator and denominator summed separately), burn
rate = error ratio / (1 - objective), SLI = 1 - error ratio over the SLO
window, budget remaining = 1 - error ratio / (1 - objective), status 1 / 0 / -1
(at risk below ``AT_RISK_BELOW`` of the budget, breached at or below 0). With no
traffic a window's error ratio is 0: SLI 1.0, burn rate 0, status 1, as the
rules clamp the denominator.

Windows slide over time-bucketed rings (see ``windows``): memory per label set
is fixed, whatever the traffic. The numbers describe this process only; with
several workers (gunicorn) each reports its own, the generated rules the fleet's.
In prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) the
``sloforge_slo_*`` gauges are not merged across workers (a scrape would show
whichever worker answered): rely on the generated rules there, and on
``status()`` for a worker's own view.
"""

from __future__ import annotations

import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from sloforge import conventions as C
from sloforge.durations import format_duration
from sloforge.instrument.metrics import LabelError, load_spec
from sloforge.instrument.windows import Layout, WindowedCounts
from sloforge.model import SLO, Spec

__all__ = ["GAUGES", "OTHER", "CardinalityWarning", "SLOTracker"]

OTHER = "__other__"
DEFAULT_MAX_LABEL_SETS = 1000
_FLOOR = float(C.DENOMINATOR_FLOOR)

# exported gauge name -> help
GAUGES = {
    "sloforge_slo_objective": "SLO objective as a ratio (in-process)",
    "sloforge_slo_sli": "SLI over the SLO window, 1 with no traffic (in-process)",
    "sloforge_slo_error_budget_remaining": "Share of the error budget left over the SLO window (in-process)",
    "sloforge_slo_burn_rate": "Error ratio / error budget per window (in-process)",
    "sloforge_slo_status": "1 healthy, 0 at risk, -1 breached (in-process)",
}


class CardinalityWarning(UserWarning):
    """More label sets than ``max_label_sets``: the rest are folded into ``__other__``."""


def _find_slo(spec: str | Path | Spec, slo: str, service: str | None) -> tuple[Spec, SLO]:
    if isinstance(spec, Spec) or service is not None:
        model = load_spec(spec, service)
        candidates = [model]
    else:
        from sloforge.spec import load

        candidates = load(spec).specs
    found = [(s, o) for s in candidates for o in s.slos if o.name == slo]
    if len(found) == 1:
        return found[0]
    if not found:
        names = ", ".join(f"{s.service}/{o.name}" for s in candidates for o in s.slos)
        raise ValueError(f"no SLO {slo!r} (SLOs: {names})")
    raise ValueError(f"SLO {slo!r} is defined by {', '.join(s.service for s, _ in found)}: pass service=NAME")


def status_code(remaining: float) -> int:
    """1 healthy, 0 at risk (less than ``AT_RISK_BELOW`` of the budget left), -1 breached (none left)."""
    return 1 - int(remaining < C.AT_RISK_BELOW) - int(remaining <= 0)


class SLOTracker:
    """Live SLI, error budget and burn rates of one SLO of a spec.

    ``record(good, count)`` for events SLIs, ``observe(seconds)`` for latency SLIs,
    ``record_slice(good)`` for timeslice SLIs; the SLO's ``by`` labels as keywords.
    Label values should be ``str`` (other types work, on a slower path).
    """

    def __init__(
        self,
        spec: str | Path | Spec,
        slo: str,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
        *,
        service: str | None = None,
        max_label_sets: int = DEFAULT_MAX_LABEL_SETS,
    ) -> None:
        self.spec, self.slo = _find_slo(spec, slo, service)
        self.service = self.spec.service
        self.objective = self.slo.ratio
        self.error_budget = self.slo.error_budget
        self.window = self.slo.window
        self.layout = Layout.for_windows(sorted(set(self.slo.windows()) | {self.window}))
        self.by = tuple(self.slo.by)
        self.max_label_sets = max_label_sets
        self._le = self.slo.sli.latency.le if self.slo.sli.latency else None
        self._clock = clock
        self._lock = threading.Lock()
        self._series: dict[Any, WindowedCounts] = {}
        self._getter: Callable[[dict], Any] = itemgetter(*self.by) if self.by else self._no_labels
        self._nby = len(self.by)
        self._overflowed = False
        self._default: WindowedCounts | None = None  # the one label set of an SLO without `by`
        if not self.by:
            self._default = self._series[()] = WindowedCounts(self.layout)
        self.started = clock()
        self.registry = REGISTRY if registry is None else registry
        _collector_for(self.registry).add(self)

    # ------------------------------------------------------------ recording (hot path)

    def record(self, good: bool, count: int = 1, **by_labels: str) -> None:
        """Count ``count`` events, good or bad, now."""
        if by_labels:
            try:
                s = self._series.get(self._getter(by_labels))
            except KeyError:
                raise self._label_error(by_labels) from None
            if s is None or len(by_labels) != self._nby:
                s = self._series_for(by_labels)
        else:
            s = self._default
            if s is None:
                raise self._label_error(by_labels)
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        now = self._clock()
        with self._lock:
            if now >= s.edge:
                s.advance(now)
            s.total += count
            if not good:
                s.bad += count

    def observe(self, seconds: float, **by_labels: str) -> None:
        """One request of a latency SLI: good when ``seconds <= le``."""
        if self._le is None:
            raise TypeError(f"SLO {self.slo.name!r} has a {self.slo.sli.kind} SLI: use record(), not observe()")
        self.record(seconds <= self._le, 1, **by_labels)

    def record_slice(self, good: bool, **by_labels: str) -> None:
        """One judged time slice of a timeslice SLI."""
        self.record(good, 1, **by_labels)

    # ------------------------------------------------------------ label sets

    def _no_labels(self, by: dict) -> Any:
        raise KeyError(next(iter(by)))

    def _label_error(self, by: dict) -> LabelError:
        allowed = ", ".join(self.by) or "none"
        return LabelError(
            f"SLO {self.service}/{self.slo.name}: labels {', '.join(sorted(by)) or 'none'} given, "
            f"its `by` labels are: {allowed}"
        )

    def _key_of(self, values: tuple[str, ...]) -> Any:
        return values[0] if self._nby == 1 else values

    def _values_of(self, key: Any) -> tuple[str, ...]:
        return (key,) if self._nby == 1 else tuple(key)

    def _series_for(self, by: dict[str, Any]) -> WindowedCounts:
        """Slow path: check the labels, normalise values to str, fold overflow into ``__other__``."""
        if len(by) != self._nby:
            raise self._label_error(by)
        skey = self._key_of(tuple(str(by[b]) for b in self.by))
        with self._lock:
            s = self._series.get(skey)
            if s is not None:
                return s
            if len(self._series) >= self.max_label_sets:
                skey = self._key_of((OTHER,) * self._nby)
                s = self._series.get(skey)
                if s is not None:
                    return s
                if not self._overflowed:
                    self._overflowed = True
                    warnings.warn(
                        f"SLO {self.service}/{self.slo.name}: more than {self.max_label_sets} label sets of "
                        f"({', '.join(self.by)}); further ones are folded into {OTHER!r}",
                        CardinalityWarning,
                        stacklevel=3,
                    )
            s = self._series[skey] = WindowedCounts(self.layout)
            return s

    # ------------------------------------------------------------ reading

    def resolution(self, window: float) -> float:
        """Bucket width (seconds) the given window is read at."""
        return self.layout.resolution(window)

    @property
    def windows(self) -> list[float]:
        """Every tracked window in seconds: the alert windows and the SLO window."""
        return list(self.layout.windows)

    @property
    def label_sets(self) -> int:
        return len(self._series)

    @property
    def slots(self) -> int:
        """Buckets held over all label sets (memory is proportional to it)."""
        return len(self._series) * self.layout.slots

    def status(self, **by_labels: str) -> dict[str, Any]:
        """SLI, budget, burn rates and counts of one label set (the SLO's ``by`` labels)."""
        if set(by_labels) != set(self.by):
            raise self._label_error(by_labels)
        key = self._key_of(tuple(str(by_labels[b]) for b in self.by)) if self.by else ()
        if key not in self._series and self._overflowed:
            key = self._key_of((OTHER,) * self._nby)
        return self._status(key, self._series.get(key))

    def statuses(self) -> list[dict[str, Any]]:
        """``status()`` of every label set seen, sorted by label values."""
        with self._lock:
            items = sorted(self._series.items(), key=lambda kv: self._values_of(kv[0]))
        return [self._status(k, s) for k, s in items]

    def _status(self, key: Any, series: WindowedCounts | None) -> dict[str, Any]:
        now = self._clock()
        if series is None:
            sums = {w: (0.0, 0.0) for w in self.layout.windows}
        else:
            with self._lock:
                sums = series.sums(self.layout, now)
        ratios = {w: bad / max(total, _FLOOR) for w, (total, bad) in sums.items()}
        total, bad = sums[self.window]
        remaining = 1 - ratios[self.window] / self.error_budget
        return {
            "service": self.service,
            "slo": self.slo.name,
            "labels": dict(zip(self.by, self._values_of(key), strict=True)) if self.by else {},
            "objective": self.objective,
            "window": format_duration(self.window),
            "sli": 1 - ratios[self.window],
            "error_budget_remaining": remaining,
            "status": status_code(remaining),
            "burn_rate": {format_duration(w): r / self.error_budget for w, r in ratios.items()},
            "events": _num(total),
            "good": _num(total - bad),
            "bad": _num(bad),
            "coverage": {format_duration(w): min(1.0, max(0.0, (now - self.started) / w)) for w in sums},
        }

    def close(self) -> None:
        """Stop exporting this tracker's gauges."""
        _collector_for(self.registry).remove(self)

    def __repr__(self) -> str:
        return f"SLOTracker({self.service!r}, {self.slo.name!r}, {len(self._series)} label sets)"


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


# ------------------------------------------------------------------ export


class _SLOCollector(Collector):
    """One per registry: the ``sloforge_slo_*`` gauges of every tracker on it, computed at scrape time."""

    def __init__(self) -> None:
        self._trackers: dict[tuple[str, str], SLOTracker] = {}
        self._lock = threading.Lock()

    def add(self, tracker: SLOTracker) -> None:
        key = (tracker.service, tracker.slo.name)
        with self._lock:
            if key in self._trackers:
                raise ValueError(f"SLO {key[0]}/{key[1]} already has a tracker on this registry")
            self._trackers[key] = tracker

    def remove(self, tracker: SLOTracker) -> None:
        with self._lock:
            self._trackers.pop((tracker.service, tracker.slo.name), None)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        for name, doc in GAUGES.items():
            yield GaugeMetricFamily(name, doc)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        fams = {name: GaugeMetricFamily(name, doc) for name, doc in GAUGES.items()}
        with self._lock:
            trackers = [self._trackers[k] for k in sorted(self._trackers)]
        for t in trackers:
            for st in t.statuses():
                labels = {C.LABEL_SERVICE: st["service"], C.LABEL_SLO: st["slo"], **st["labels"]}
                fams["sloforge_slo_objective"].add_sample("sloforge_slo_objective", labels, st["objective"])
                fams["sloforge_slo_sli"].add_sample("sloforge_slo_sli", labels, st["sli"])
                fams["sloforge_slo_error_budget_remaining"].add_sample(
                    "sloforge_slo_error_budget_remaining", labels, st["error_budget_remaining"]
                )
                fams["sloforge_slo_status"].add_sample("sloforge_slo_status", labels, st["status"])
                for w, v in st["burn_rate"].items():
                    fams["sloforge_slo_burn_rate"].add_sample(
                        "sloforge_slo_burn_rate", {**labels, C.LABEL_WINDOW: w}, v
                    )
        yield from fams.values()


_collectors: weakref.WeakKeyDictionary[CollectorRegistry, _SLOCollector] = weakref.WeakKeyDictionary()
_collectors_lock = threading.Lock()


def _collector_for(registry: CollectorRegistry) -> _SLOCollector:
    with _collectors_lock:
        col = _collectors.get(registry)
        if col is None:
            col = _SLOCollector()
            try:
                registry.register(col)
            except ValueError as e:
                raise ValueError(f"cannot export the sloforge_slo_* gauges on this registry: {e}") from e
            _collectors[registry] = col
        return col
