"""The seed's ``example_integration.py`` (seed 002, "Task 62.2"), made real with sloforge.

A FastAPI app instrumented from the six meta-repo specs in ``examples/meta-repos/``:

* every metric the specs declare, created by ``Metrics.from_spec`` (the shared
  ``http_requests_total`` / ``api_endpoint_latency_seconds`` once: nebula and
  aurora declare them identically);
* the metrics middleware recording every request into those two shared metrics
  by route template, method and status code;
* in-process SLO trackers: nebula's API availability and latency fed by the
  middleware, and one SLO per meta-repo fed by its endpoint;
* ``/health``, ``/slo/status`` (every tracker's ``statuses()``) and ``/metrics``;
* one endpoint per meta-repo type recording that meta-repo's metrics:

  ====================================================  =========================
  POST /nebula/deployments                              nebula infrastructure
  POST /sentinel/models/{model_name}/predict            sentinel inference
  POST /chronos/pipelines/{pipeline_name}/runs          chronos pipeline run
  GET  /titan/services/{mesh_service}/{handler}         titan mesh request
  POST /obsidian/scans                                  obsidian security scan
  POST /aurora/users                                    aurora user registration
  ====================================================  =========================

In production each meta-repo is its own service with its own spec and scrape
job; the seed's example shows all six in one process, and so does this one.
Durations are taken from the request body where the work is simulated.

Run: ``python examples/integrations/fastapi_app.py`` (uvicorn on 127.0.0.1:8001,
the nebula target of ``examples/meta-repos/nebula-cloud-platform.yaml``), or
``uvicorn --factory fastapi_app:create_app``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field

from sloforge.instrument import Metrics, SLOTracker
from sloforge.instrument.exposition import render
from sloforge.instrument.middleware import HTTPMetrics, MetricsMiddleware
from sloforge.model import Spec
from sloforge.spec import load

SPECS = Path(__file__).resolve().parents[1] / "meta-repos"
NEBULA, SENTINEL, CHRONOS = "nebula-cloud-platform", "sentinel-ai-engine", "chronos-data-platform"
TITAN, OBSIDIAN, AURORA = "titan-microservices-mesh", "obsidian-devsecops-platform", "aurora-fullstack-saas"
# the SLO each endpoint feeds (besides nebula's API SLOs, fed by the middleware)
ENDPOINT_SLOS = {
    SENTINEL: "inference-availability",
    CHRONOS: "pipeline-success-rate",
    TITAN: "service-availability",
    OBSIDIAN: "scan-success-rate",
    AURORA: "registration-success-rate",
}


def declare_all(specs: list[Spec], registry: CollectorRegistry) -> dict[str, Metrics]:
    """Every spec's metrics on one registry; a metric several specs declare identically is created once."""
    seen: dict[str, Any] = {}
    out = {}
    for spec in sorted(specs, key=lambda s: s.service != NEBULA):  # nebula owns the shared HTTP metrics
        own = []
        for m in spec.metrics:
            if m.name not in seen:
                own.append(m)
                seen[m.name] = m
            elif seen[m.name] != m:
                raise ValueError(f"{spec.service} declares {m.name} differently from another meta-repo")
        out[spec.service] = Metrics.from_spec(spec.model_copy(update={"metrics": own}), registry=registry)
    return out


# ---------------------------------------------------------------- request bodies


class Deployment(BaseModel):
    resource_type: str
    resource_name: str
    duration_seconds: float = Field(ge=0)
    cpu_utilization: float = Field(ge=0, le=1)
    memory_utilization: float = Field(ge=0, le=1)
    drift: bool = False


class Prediction(BaseModel):
    model_version: str
    prediction_type: str = "classification"
    confidence: float = Field(ge=0, le=1)
    latency_seconds: float = Field(ge=0)
    fail: bool = False


class PipelineRun(BaseModel):
    status: str = Field(pattern="^(success|failed)$")
    duration_seconds: float = Field(ge=0)
    records: int = Field(ge=0, default=0)
    stage: str = "load"


class Scan(BaseModel):
    scanner: str
    resource_type: str
    duration_seconds: float = Field(ge=0)
    critical: int = Field(ge=0, default=0)
    high: int = Field(ge=0, default=0)
    medium: int = Field(ge=0, default=0)
    low: int = Field(ge=0, default=0)
    failure_reason: str | None = None


class Registration(BaseModel):
    email: str
    registration_source: str = "web"


# ---------------------------------------------------------------- the app


def create_app(spec_dir: Path = SPECS, registry: CollectorRegistry | None = None) -> FastAPI:
    registry = CollectorRegistry() if registry is None else registry
    specs = {s.service: s for s in load(spec_dir).specs}
    m = declare_all(list(specs.values()), registry)
    trackers = {service: SLOTracker(specs[service], slo, registry=registry) for service, slo in ENDPOINT_SLOS.items()}
    api_availability = SLOTracker(specs[NEBULA], "api-availability", registry=registry)
    api_latency = SLOTracker(specs[NEBULA], "api-latency-p99", registry=registry)
    all_trackers = [api_availability, api_latency, *trackers.values()]

    app = FastAPI(title="sloforge meta-repo integration example")
    http = HTTPMetrics(
        metrics=m[NEBULA],
        requests="http_requests_total",  # {method, handler, status}: status gets the code, e.g. "503"
        duration="api_endpoint_latency_seconds",
        slo_trackers=[api_availability, api_latency],  # status < 500 is good; latency observes the duration
    )
    app.add_middleware(MetricsMiddleware, recorder=http, exclude=("/metrics", "/health"))
    registered: set[str] = set()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/slo/status")
    def slo_status() -> list[dict[str, Any]]:
        return [st for t in all_trackers for st in t.statuses()]

    @app.get("/metrics")
    def metrics(request: Request) -> Response:
        body, content_type = render(registry, request.headers.get("accept"))
        return Response(content=body, media_type=content_type)

    @app.post("/nebula/deployments")
    def deploy(d: Deployment) -> dict[str, str]:
        nb = m[NEBULA]
        nb.infrastructure_deployment_duration.labels(resource_type=d.resource_type).observe(d.duration_seconds)
        resource = {"resource_type": d.resource_type, "resource_name": d.resource_name}
        nb.infrastructure_cpu_utilization.labels(**resource).set(d.cpu_utilization)
        nb.infrastructure_memory_utilization.labels(**resource).set(d.memory_utilization)
        nb.infrastructure_drift_detected.labels(**resource).set(int(d.drift))
        return {"deployed": d.resource_name}

    @app.post("/sentinel/models/{model_name}/predict")
    def predict(model_name: str, p: Prediction) -> dict[str, Any]:
        st = m[SENTINEL]
        model = {"model_name": model_name, "model_version": p.model_version}
        status = "error" if p.fail else "success"
        st.model_inference_requests_total.labels(**model, status=status).inc()
        st.model_inference_latency_seconds.labels(**model).observe(p.latency_seconds)
        trackers[SENTINEL].record(not p.fail)
        if p.fail:
            raise HTTPException(status_code=500, detail="inference failed")
        st.model_predictions_total.labels(**model, prediction_type=p.prediction_type).inc()
        st.model_prediction_confidence.labels(**model).observe(p.confidence)
        return {"model": model_name, "confidence": p.confidence}

    @app.post("/chronos/pipelines/{pipeline_name}/runs")
    def pipeline_run(pipeline_name: str, run: PipelineRun) -> dict[str, str]:
        ch = m[CHRONOS]
        ch.data_pipeline_runs_total.labels(pipeline_name=pipeline_name, status=run.status).inc()
        ch.data_pipeline_latency_seconds.labels(pipeline_name=pipeline_name).observe(run.duration_seconds)
        ch.records_processed_total.labels(pipeline_name=pipeline_name, stage=run.stage).inc(run.records)
        trackers[CHRONOS].record(run.status == "success")
        return {"pipeline": pipeline_name, "status": run.status}

    @app.get("/titan/services/{mesh_service}/{handler}")
    def mesh_call(mesh_service: str, handler: str, status: int = 200) -> dict[str, str]:
        started = time.perf_counter()
        ti = m[TITAN]
        labels = {"mesh_service": mesh_service, "handler": handler, "method": "GET"}
        ti.service_requests_total.labels(**labels, status=str(status)).inc()
        ti.service_request_duration_seconds.labels(**labels).observe(time.perf_counter() - started)
        trackers[TITAN].record(status < 500, mesh_service=mesh_service)
        if status >= 400:
            raise HTTPException(status_code=status, detail=f"{mesh_service} answered {status}")
        return {"service": mesh_service, "handler": handler}

    @app.post("/obsidian/scans")
    def scan(s: Scan) -> dict[str, Any]:
        ob = m[OBSIDIAN]
        where = {"scanner": s.scanner, "resource_type": s.resource_type}
        ob.security_scan_execution_time_seconds.labels(**where).observe(s.duration_seconds)
        trackers[OBSIDIAN].record(s.failure_reason is None)
        if s.failure_reason is not None:
            ob.security_scan_failures_total.labels(scanner=s.scanner, failure_reason=s.failure_reason).inc()
            raise HTTPException(status_code=502, detail=f"scan failed: {s.failure_reason}")
        for level in ("critical", "high", "medium", "low"):
            ob[f"security_scan_{level}_findings"].labels(**where).set(getattr(s, level))
        return {"scanner": s.scanner, "critical": s.critical}

    @app.post("/aurora/users", status_code=201)
    def register_user(r: Registration) -> dict[str, str]:
        au = m[AURORA]
        au.user_registration_total.labels(registration_source=r.registration_source).inc()
        failure = "email_taken" if r.email in registered else None
        trackers[AURORA].record(failure is None)
        if failure:
            au.user_registration_failures_total.labels(failure_reason=failure).inc()
            raise HTTPException(status_code=409, detail="email already registered")
        registered.add(r.email)
        return {"registered": r.email}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--spec-dir", type=Path, default=SPECS)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(create_app(args.spec_dir), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
