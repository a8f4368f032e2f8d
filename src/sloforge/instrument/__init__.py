"""Runtime library: the spec that generates the rules also instruments the service.

```python
from prometheus_client import start_http_server
from sloforge.instrument import Metrics, SLAMonitor, SLOTracker

SPEC = "examples/kubernetesexecution.yaml"

# every declared metric, with the spec's names, help, labels and buckets
m = Metrics.from_spec(SPEC)
m.kubernetesexecution_action_execution_total.labels(status="completed", action="scale").inc()
m["kubernetesexecution_action_execution_duration_seconds"].labels(action="scale").observe(3.2)
m.kubernetesexecution_job_active_total.set(4)

# live SLI, error budget and burn rates of one SLO (the generated rules' math)
slo = SLOTracker(SPEC, "per-action-success-rate")
slo.record(True, action="scale")
slo.record(False, count=2, action="scale")
slo.status(action="scale")["burn_rate"]["1h"]   # error ratio / (1 - objective) over the last hour

# nkudo's SLA monitor (seed 003): seconds of uptime/downtime, budget in seconds
sla = SLAMonitor("controlplane", objective=0.999, period="30d")
sla.record_availability(False, 120)              # two minutes down
sla.check_error_budget()                         # 2472.0 of 2592.0 seconds left

start_http_server(8000)   # kubernetesexecution_*, sloforge_slo_*, nkudo_* on :8000/metrics
```

``SLOTracker`` exports ``sloforge_slo_objective``, ``sloforge_slo_sli``,
``sloforge_slo_error_budget_remaining``, ``sloforge_slo_burn_rate{window}`` and
``sloforge_slo_status`` (labels ``service``, ``slo`` and the SLO's ``by``
labels), computed when scraped. All three take ``registry=`` (default: the
global ``prometheus_client.REGISTRY``) and trackers/monitors a ``clock=``.
"""

from sloforge.instrument.exposition import make_asgi_app, make_wsgi_app
from sloforge.instrument.metrics import DuplicateMetricError, LabelError, Metrics, NameWarning, bucket_bounds
from sloforge.instrument.middleware import HTTPMetrics, MetricsMiddleware, WSGIMetricsMiddleware
from sloforge.instrument.sla import SLAMonitor
from sloforge.instrument.tracker import CardinalityWarning, SLOTracker

__all__ = [
    "CardinalityWarning",
    "DuplicateMetricError",
    "HTTPMetrics",
    "LabelError",
    "Metrics",
    "MetricsMiddleware",
    "NameWarning",
    "SLAMonitor",
    "SLOTracker",
    "WSGIMetricsMiddleware",
    "bucket_bounds",
    "make_asgi_app",
    "make_wsgi_app",
]
