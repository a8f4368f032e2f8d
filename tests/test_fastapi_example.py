"""examples/integrations/fastapi_app.py: started under uvicorn on 127.0.0.1, driven over HTTP.

Good and failing requests go to every meta-repo endpoint; ``/metrics`` and
``/slo/status`` must then show exactly what was sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import REPO, free_port, stop_process
from prometheus_client.parser import text_string_to_metric_families

pytest.importorskip("fastapi", reason="fastapi is a dev dependency (pip install -e '.[dev]')")
pytest.importorskip("uvicorn", reason="uvicorn is a dev dependency (pip install -e '.[dev]')")

APP = REPO / "examples" / "integrations" / "fastapi_app.py"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    port = free_port()
    log_path: Path = tmp_path_factory.mktemp("fastapi-example") / "app.log"
    log = log_path.open("wb")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [sys.executable, str(APP), "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=log, env=env
    )
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if http.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the example app did not start:\n" + log_path.read_text())
            time.sleep(0.1)
        yield http
    finally:
        http.close()
        stop_process(proc, 20)
        log.close()


# (method, path, json body, expected status, route template)
SENT = [
    (
        "POST",
        "/nebula/deployments",
        {
            "resource_type": "cloud_run",
            "resource_name": "api",
            "duration_seconds": 45,
            "cpu_utilization": 0.4,
            "memory_utilization": 0.5,
        },
        200,
        "/nebula/deployments",
    ),
    (
        "POST",
        "/nebula/deployments",
        {
            "resource_type": "cloud_run",
            "resource_name": "web",
            "duration_seconds": 700,
            "cpu_utilization": 0.7,
            "memory_utilization": 0.6,
            "drift": True,
        },
        200,
        "/nebula/deployments",
    ),
    ("POST", "/nebula/deployments", {"resource_type": "cloud_run"}, 422, "/nebula/deployments"),
    (
        "POST",
        "/sentinel/models/fraud/predict",
        {"model_version": "v2", "confidence": 0.97, "latency_seconds": 0.04},
        200,
        "/sentinel/models/{model_name}/predict",
    ),
    (
        "POST",
        "/sentinel/models/fraud/predict",
        {"model_version": "v2", "confidence": 0.75, "latency_seconds": 0.3},
        200,
        "/sentinel/models/{model_name}/predict",
    ),
    (
        "POST",
        "/sentinel/models/fraud/predict",
        {"model_version": "v2", "confidence": 0.5, "latency_seconds": 0.8, "fail": True},
        500,
        "/sentinel/models/{model_name}/predict",
    ),
    (
        "POST",
        "/chronos/pipelines/etl/runs",
        {"status": "success", "duration_seconds": 120, "records": 1000},
        200,
        "/chronos/pipelines/{pipeline_name}/runs",
    ),
    (
        "POST",
        "/chronos/pipelines/etl/runs",
        {"status": "success", "duration_seconds": 4000, "records": 500},
        200,
        "/chronos/pipelines/{pipeline_name}/runs",
    ),
    (
        "POST",
        "/chronos/pipelines/etl/runs",
        {"status": "failed", "duration_seconds": 30},
        200,
        "/chronos/pipelines/{pipeline_name}/runs",
    ),
    ("GET", "/titan/services/orders/list", None, 200, "/titan/services/{mesh_service}/{handler}"),
    ("GET", "/titan/services/orders/get", None, 200, "/titan/services/{mesh_service}/{handler}"),
    ("GET", "/titan/services/orders/list?status=503", None, 503, "/titan/services/{mesh_service}/{handler}"),
    ("GET", "/titan/services/payments/charge?status=404", None, 404, "/titan/services/{mesh_service}/{handler}"),
    (
        "POST",
        "/obsidian/scans",
        {"scanner": "trivy", "resource_type": "image", "duration_seconds": 50, "critical": 2, "high": 5},
        200,
        "/obsidian/scans",
    ),
    (
        "POST",
        "/obsidian/scans",
        {"scanner": "trivy", "resource_type": "image", "duration_seconds": 20, "failure_reason": "timeout"},
        502,
        "/obsidian/scans",
    ),
    ("POST", "/aurora/users", {"email": "a@example.org"}, 201, "/aurora/users"),
    ("POST", "/aurora/users", {"email": "a@example.org"}, 409, "/aurora/users"),
    ("POST", "/aurora/users", {"email": "b@example.org", "registration_source": "mobile"}, 201, "/aurora/users"),
    ("GET", "/no/such/page/42", None, 404, "__unmatched__"),
    ("GET", "/health", None, 200, None),  # excluded from the request metrics
]


@pytest.fixture(scope="module")
def observed(client: httpx.Client) -> tuple[dict, list[dict]]:
    """Send SENT once; return the /metrics samples and /slo/status that follow."""
    for method, path, body, status, _ in SENT:
        assert client.request(method, path, json=body).status_code == status, (method, path)
    text = client.get("/metrics").text
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    return samples, client.get("/slo/status").json()


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def named(samples: dict, name: str) -> dict[frozenset, float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def test_middleware_counts_every_request_by_template_and_status_code(observed):
    samples, _ = observed
    expected: dict[frozenset, int] = {}
    for method, _, _, status, route in SENT:
        if route is not None:
            key = frozenset({"handler": route, "method": method, "status": str(status)}.items())
            expected[key] = expected.get(key, 0) + 1
    assert named(samples, "http_requests_total") == expected
    per_route: dict[frozenset, int] = {}
    for method, _, _, _, route in SENT:
        if route is not None:
            key = frozenset({"handler": route, "method": method}.items())
            per_route[key] = per_route.get(key, 0) + 1
    assert named(samples, "api_endpoint_latency_seconds_count") == per_route


def test_endpoints_record_their_meta_repo_metrics(observed):
    s, _ = observed
    # nebula: deployments (the 422 never reached the handler)
    assert value(s, "infrastructure_deployment_duration_count", resource_type="cloud_run") == 2
    assert value(s, "infrastructure_deployment_duration_sum", resource_type="cloud_run") == 745
    assert value(s, "infrastructure_deployment_duration_bucket", resource_type="cloud_run", le="600.0") == 1
    assert value(s, "infrastructure_drift_detected", resource_type="cloud_run", resource_name="web") == 1
    assert value(s, "infrastructure_cpu_utilization", resource_type="cloud_run", resource_name="api") == 0.4
    # sentinel: inference
    model = {"model_name": "fraud", "model_version": "v2"}
    assert value(s, "model_inference_requests_total", **model, status="success") == 2
    assert value(s, "model_inference_requests_total", **model, status="error") == 1
    assert value(s, "model_inference_latency_seconds_bucket", **model, le="0.5") == 2
    assert value(s, "model_prediction_confidence_bucket", **model, le="0.8") == 1
    assert value(s, "model_predictions_total", **model, prediction_type="classification") == 2
    # chronos: pipeline runs
    assert value(s, "data_pipeline_runs_total", pipeline_name="etl", status="success") == 2
    assert value(s, "data_pipeline_runs_total", pipeline_name="etl", status="failed") == 1
    assert value(s, "data_pipeline_latency_seconds_bucket", pipeline_name="etl", le="3600.0") == 2
    assert value(s, "records_processed_total", pipeline_name="etl", stage="load") == 1500
    # titan: mesh requests
    orders = {"mesh_service": "orders", "method": "GET"}
    assert value(s, "service_requests_total", **orders, handler="list", status="200") == 1
    assert value(s, "service_requests_total", **orders, handler="list", status="503") == 1
    assert (
        value(s, "service_requests_total", mesh_service="payments", handler="charge", method="GET", status="404") == 1
    )
    assert value(s, "service_request_duration_seconds_count", **orders, handler="list") == 2
    # obsidian: scans
    where = {"scanner": "trivy", "resource_type": "image"}
    assert value(s, "security_scan_execution_time_seconds_count", **where) == 2
    assert value(s, "security_scan_failures_total", scanner="trivy", failure_reason="timeout") == 1
    assert value(s, "security_scan_critical_findings", **where) == 2
    assert value(s, "security_scan_high_findings", **where) == 5
    # aurora: registrations
    assert value(s, "user_registration_total", registration_source="web") == 2
    assert value(s, "user_registration_total", registration_source="mobile") == 1
    assert value(s, "user_registration_failures_total", failure_reason="email_taken") == 1


def status_of(statuses: list[dict], service: str, slo: str, **labels: str) -> dict:
    found = [st for st in statuses if st["service"] == service and st["slo"] == slo and st["labels"] == labels]
    assert len(found) == 1, (service, slo, labels, statuses)
    return found[0]


@pytest.mark.parametrize(
    ("service", "slo", "labels", "events", "bad"),
    [
        ("sentinel-ai-engine", "inference-availability", {}, 3, 1),
        ("chronos-data-platform", "pipeline-success-rate", {}, 3, 1),
        ("titan-microservices-mesh", "service-availability", {"mesh_service": "orders"}, 3, 1),
        ("titan-microservices-mesh", "service-availability", {"mesh_service": "payments"}, 1, 0),
        ("obsidian-devsecops-platform", "scan-success-rate", {}, 2, 1),
        ("aurora-fullstack-saas", "registration-success-rate", {}, 3, 1),
    ],
)
def test_slo_status_of_endpoint_trackers(observed, service, slo, labels, events, bad):
    samples, statuses = observed
    st = status_of(statuses, service, slo, **labels)
    assert (st["events"], st["bad"], st["good"]) == (events, bad, events - bad)
    assert st["sli"] == pytest.approx(1 - bad / events)
    assert st["error_budget_remaining"] == pytest.approx(1 - (bad / events) / (1 - st["objective"]))
    assert st["status"] == (1 if bad == 0 else -1)
    assert value(samples, "sloforge_slo_sli", service=service, slo=slo, **labels) == pytest.approx(st["sli"])


def test_slo_status_of_middleware_trackers(observed):
    samples, statuses = observed
    counted = [(status, route) for _, _, _, status, route in SENT if route is not None]
    availability = status_of(statuses, "nebula-cloud-platform", "api-availability")
    assert availability["events"] == len(counted)
    assert availability["bad"] == sum(status >= 500 for status, _ in counted)
    assert availability["objective"] == 0.999
    # the latency SLO observed the same durations as the histogram: its good events are the 0.1 s bucket
    latency = status_of(statuses, "nebula-cloud-platform", "api-latency-p99")
    fast = sum(
        v for labels, v in named(samples, "api_endpoint_latency_seconds_bucket").items() if ("le", "0.1") in labels
    )
    assert latency["events"] == len(counted)
    assert latency["good"] == fast
    assert value(
        samples, "sloforge_slo_burn_rate", service="nebula-cloud-platform", slo="api-availability", window="1h"
    ) == pytest.approx(availability["burn_rate"]["1h"])
