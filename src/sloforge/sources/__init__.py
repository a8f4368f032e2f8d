"""Where the engine's raw series come from: OpenMetrics/Prometheus text files (``openmetrics``), any
Prometheus-compatible HTTP API (``prometheus``), synthetic histories with known incidents (``synthetic``)."""

from sloforge.sources.openmetrics import OpenMetricsError, iter_samples, read_openmetrics, write_openmetrics
from sloforge.sources.prometheus import Connection, PrometheusSource, SourceError

__all__ = [
    "Connection",
    "OpenMetricsError",
    "PrometheusSource",
    "SourceError",
    "iter_samples",
    "read_openmetrics",
    "write_openmetrics",
]
