"""The evaluation engine: Prometheus semantics in NumPy, and the SLO rules' derivation replayed over history.

* ``series``: ``Series`` (labels, int64 ms timestamps, float64 values, stale markers), ``SeriesSet``.
* ``functions``: rate/increase/delta, ``*_over_time``, instant selectors, ``sum by`` over step grids.
* ``engine``: ``evaluate(spec, data, start, end, step)`` -> per SLO series burn rates, alert states, budget.
* ``simulate``: ``simulate(spec)`` -> incident scenarios through the engine (detection, reset, budget spent).
"""

from sloforge.evaluate.engine import (
    FIRING,
    INACTIVE,
    PENDING,
    AlertInfo,
    Evaluation,
    Unsupported,
    check_supported,
    evaluate,
    evaluate_slo,
    firing_intervals,
    required_metrics,
    unsupported,
)
from sloforge.evaluate.series import Series, SeriesSet, from_promtool

__all__ = [
    "FIRING",
    "INACTIVE",
    "PENDING",
    "AlertInfo",
    "Evaluation",
    "Series",
    "SeriesSet",
    "Unsupported",
    "check_supported",
    "evaluate",
    "evaluate_slo",
    "firing_intervals",
    "from_promtool",
    "required_metrics",
    "unsupported",
]
