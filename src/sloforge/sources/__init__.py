"""Where the engine's raw series come from: OpenMetrics/Prometheus text files (a Prometheus HTTP API
client is planned)."""

from sloforge.sources.openmetrics import OpenMetricsError, iter_samples, read_openmetrics

__all__ = ["OpenMetricsError", "iter_samples", "read_openmetrics"]
