"""The typed SLO model every loader produces and every generator consumes.

Field names are the native spec's (``apiVersion: sloforge/v1``).  Validation
that needs only one field lives here; checks across fields and files live in
``sloforge.spec.checks``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    field_validator,
    model_validator,
)

from sloforge.durations import DurationError, format_duration, parse_duration

API_VERSION = "sloforge/v1"

SLUG = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,62}[a-z0-9])?$")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
ALERT_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _duration(v: Any) -> float:
    if isinstance(v, int | float) and not isinstance(v, bool):
        raise ValueError(f"{v!r} has no unit: write a duration such as '{int(v)}s' or '5m'")
    try:
        return parse_duration(v)
    except DurationError as e:
        raise ValueError(str(e)) from None


# seconds internally, canonical Prometheus text when dumped
Duration = Annotated[float, BeforeValidator(_duration), PlainSerializer(format_duration)]


def _slug(v: str) -> str:
    if not SLUG.match(v):
        raise ValueError(
            f"{v!r} must be a lowercase slug (a-z, 0-9, '-', '_'; no '/', '..' or spaces; "
            "at most 64 characters) because it names files and label values"
        )
    return v


def _metric_name(v: str) -> str:
    if not METRIC_NAME.match(v):
        raise ValueError(f"{v!r} is not a valid Prometheus metric name")
    return v


def _label_name(v: str) -> str:
    if not LABEL_NAME.match(v) or v.startswith("__"):
        raise ValueError(f"{v!r} is not a valid label name")
    return v


Slug = Annotated[str, AfterValidator(_slug)]
MetricName = Annotated[str, AfterValidator(_metric_name)]
LabelName = Annotated[str, AfterValidator(_label_name)]


def _labels(v: dict[str, Any]) -> dict[str, str]:
    out = {}
    for k, val in v.items():
        _label_name(str(k))
        if isinstance(val, bool) or val is None or isinstance(val, dict | list):
            raise ValueError(f"label {k!r} must have a string value")
        out[str(k)] = str(val)
    return out


Labels = Annotated[dict[str, Any], AfterValidator(_labels)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False)


# ---------------------------------------------------------------- metrics


class ExponentialBuckets(Strict):
    start: float = Field(gt=0)
    factor: float = Field(gt=1)
    count: int = Field(ge=1, le=200)


class LinearBuckets(Strict):
    start: float
    width: float = Field(gt=0)
    count: int = Field(ge=1, le=200)


class BucketGenerator(Strict):
    """``exponential`` / ``linear`` as in client_golang's ExponentialBuckets / LinearBuckets."""

    exponential: ExponentialBuckets | None = None
    linear: LinearBuckets | None = None

    @model_validator(mode="after")
    def _one(self) -> BucketGenerator:
        if (self.exponential is None) == (self.linear is None):
            raise ValueError("give exactly one of 'exponential' or 'linear'")
        return self

    def bounds(self) -> list[float]:
        if self.exponential:
            e = self.exponential
            return [_clean(e.start * e.factor**i) for i in range(e.count)]
        assert self.linear
        lin = self.linear
        return [_clean(lin.start + lin.width * i) for i in range(lin.count)]


def _clean(x: float) -> float:
    """Round away float noise (0.1*3 -> 0.3) so bounds print as people write them."""
    return float(f"{x:.12g}")


def _bucket_list(v: list[float]) -> list[float]:
    if not v:
        raise ValueError("'buckets' must not be empty")
    if any(not math.isfinite(b) for b in v):
        raise ValueError("'buckets' must be finite numbers (+Inf is implicit)")
    if sorted(set(v)) != list(v):
        raise ValueError("'buckets' must be strictly increasing")
    return v


def _bucket_kind(v: Any) -> str:
    return "generator" if isinstance(v, dict | BucketGenerator) else "list"


# a list of bounds, or {exponential: ...} / {linear: ...}: dispatched on the YAML shape,
# so an error names only the form the author wrote
Buckets = Annotated[
    Annotated[list[float], AfterValidator(_bucket_list), Tag("list")] | Annotated[BucketGenerator, Tag("generator")],
    Discriminator(_bucket_kind),
]


class MetricDef(Strict):
    name: MetricName
    type: Literal["counter", "gauge", "histogram", "summary"]
    help: str = ""
    labels: list[LabelName] = Field(default_factory=list)
    buckets: Buckets | None = None
    unit: str | None = None

    @field_validator("labels")
    @classmethod
    def _reserved(cls, v: list[str]) -> list[str]:
        if "le" in v or "quantile" in v:
            raise ValueError("'le' and 'quantile' are reserved label names")
        return v

    @model_validator(mode="after")
    def _buckets(self) -> MetricDef:
        if self.buckets is not None and self.type != "histogram":
            raise ValueError(f"'buckets' only applies to histograms, not to a {self.type}")
        return self

    def bucket_bounds(self) -> list[float]:
        if self.buckets is None:
            # prometheus_client / client_golang defaults
            return [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
        if isinstance(self.buckets, list):
            return [float(b) for b in self.buckets]
        return self.buckets.bounds()

    def series_names(self) -> list[str]:
        """Names of the series this metric exposes."""
        if self.type == "histogram":
            return [f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count"]
        if self.type == "summary":
            return [self.name, f"{self.name}_sum", f"{self.name}_count"]
        return [self.name]


# ---------------------------------------------------------------- SLIs


class EventsSLI(Strict):
    """Ratio of events: ``good``/``total`` or ``bad``/``total`` (PromQL selectors of counters)."""

    good: str | None = None
    bad: str | None = None
    total: str

    @model_validator(mode="after")
    def _good_or_bad(self) -> EventsSLI:
        if self.good and self.bad:
            raise ValueError("give either 'good' or 'bad', not both")
        if not self.good and not self.bad:
            raise ValueError("give one of 'good' or 'bad' beside 'total'")
        return self


class LatencySLI(Strict):
    """Requests faster than ``le`` seconds are good: histogram bucket / count."""

    histogram: str
    le: float = Field(gt=0)


class TimesliceSLI(Strict):
    """A slice is good when ``expr`` is at most ``max`` (or at least ``min``)."""

    expr: str
    max: float | None = None
    min: float | None = None
    slice: Duration = Field(default="5m", validate_default=True)

    @model_validator(mode="after")
    def _bound(self) -> TimesliceSLI:
        if (self.max is None) == (self.min is None):
            raise ValueError("give exactly one of 'max' or 'min'")
        return self


class SLI(Strict):
    events: EventsSLI | None = None
    latency: LatencySLI | None = None
    timeslice: TimesliceSLI | None = None

    @model_validator(mode="after")
    def _one(self) -> SLI:
        given = [k for k in ("events", "latency", "timeslice") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one SLI kind: 'events', 'latency' or 'timeslice'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("events", "latency", "timeslice") if getattr(self, k) is not None)


# ---------------------------------------------------------------- alerting


class BurnWindow(Strict):
    """Fire when the burn rate over ``long`` and over ``short`` both exceed ``burn_rate``."""

    burn_rate: float = Field(gt=0)
    long: Duration
    short: Duration
    for_: Duration | None = Field(default=None, alias="for")

    @model_validator(mode="after")
    def _order(self) -> BurnWindow:
        if self.short >= self.long:
            raise ValueError("'short' must be shorter than 'long'")
        if self.short < 300:
            raise ValueError("'short' must be at least 5m (the recorded base window)")
        return self


def _default_page() -> list[BurnWindow]:
    return [
        BurnWindow(burn_rate=14.4, long="1h", short="5m"),
        BurnWindow(burn_rate=6, long="6h", short="30m"),
    ]


def _default_ticket() -> list[BurnWindow]:
    return [
        BurnWindow(burn_rate=3, long="1d", short="2h"),
        BurnWindow(burn_rate=1, long="3d", short="6h"),
    ]


def _tier(v: Any) -> Any:
    """``false`` or ``[]`` disables a tier."""
    if v is False or v is None:
        return []
    return v


Tier = Annotated[list[BurnWindow], BeforeValidator(_tier)]


class Alerting(Strict):
    page: Tier = Field(default_factory=_default_page)
    ticket: Tier = Field(default_factory=_default_ticket)
    page_severity: str = "critical"
    ticket_severity: str = "warning"
    name: str | None = None  # alert name prefix; default from service + slo
    labels: Labels = Field(default_factory=dict)
    annotations: Labels = Field(default_factory=dict)
    # on one tier's alert only (e.g. a routing key for the page), over `labels` / `annotations`
    page_labels: Labels = Field(default_factory=dict)
    ticket_labels: Labels = Field(default_factory=dict)
    page_annotations: Labels = Field(default_factory=dict)
    ticket_annotations: Labels = Field(default_factory=dict)
    runbook_url: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not ALERT_NAME.match(v):
            raise ValueError(f"{v!r} is not a valid alert name")
        return v


# ---------------------------------------------------------------- SLO


class Runbook(Strict):
    """A runbook entry; anything left out gets a generated default."""

    meaning: str = ""
    investigate: list[str] = Field(default_factory=list, description="PromQL, or names of the spec's queries")
    commands: list[str] = Field(default_factory=list, description="shell commands to run while investigating")
    causes: list[str] = Field(default_factory=list)
    mitigation: list[str] = Field(default_factory=list)
    escalation: str = ""
    dashboard: str | None = None


class SLO(Strict):
    name: Slug
    title: str | None = None
    description: str = ""
    objective: float | None = Field(default=None, description="percent, e.g. 99.9")
    target: float | None = Field(default=None, description="ratio, e.g. 0.999 (as the seeds write it)")
    window: Duration = Field(default="30d", validate_default=True)
    by: list[LabelName] = Field(default_factory=list)
    sli: SLI
    alerting: Alerting = Field(default_factory=Alerting)
    runbook: Runbook = Field(default_factory=Runbook)
    burn_rate_fast: float | None = Field(default=None, gt=0)
    burn_rate_slow: float | None = Field(default=None, gt=0)
    labels: Labels = Field(default_factory=dict)
    expected_rate: float | None = Field(default=None, gt=0, description="expected events per second")

    @field_validator("objective")
    @classmethod
    def _objective_range(cls, v: float | None) -> float | None:
        if v is not None and not 0 < v < 100:
            raise ValueError(f"objective {v:g} is out of range: a percent between 0 and 100 (exclusive)")
        return v

    @field_validator("target")
    @classmethod
    def _target_range(cls, v: float | None) -> float | None:
        if v is not None and not 0 < v < 1:
            hint = " (did you mean objective?)" if 1 < v < 100 else ""
            raise ValueError(f"target {v:g} is out of range: a ratio between 0 and 1 (exclusive){hint}")
        return v

    @model_validator(mode="after")
    def _objective(self) -> SLO:
        if self.objective is not None and self.target is not None:
            raise ValueError("give either 'objective' (percent) or 'target' (0-1), not both")
        if self.objective is None and self.target is None:
            raise ValueError("give 'objective' (percent, e.g. 99.9) or 'target' (ratio, e.g. 0.999)")
        # seed-style shorthands: burn_rate_fast / burn_rate_slow set the page tier's factors
        if self.burn_rate_fast is not None and self.alerting.page:
            self.alerting.page[0].burn_rate = self.burn_rate_fast
        if self.burn_rate_slow is not None and len(self.alerting.page) > 1:
            self.alerting.page[1].burn_rate = self.burn_rate_slow
        return self

    @property
    def ratio(self) -> float:
        """Objective as a ratio (0.999)."""
        if self.target is not None:
            return self.target
        assert self.objective is not None
        return round(self.objective / 100.0, 12)

    @property
    def error_budget(self) -> float:
        return round(1.0 - self.ratio, 12)

    def alerts(self, service: str) -> list[tuple[str, str, str]]:
        """``(tier, alert name, severity)`` of every enabled tier."""
        from sloforge.conventions import slo_alert_name

        base = self.alerting.name or slo_alert_name(service, self.name, "")
        return [
            (tier, base + tier.capitalize(), severity)
            for tier, severity in (("page", self.alerting.page_severity), ("ticket", self.alerting.ticket_severity))
            if getattr(self.alerting, tier)
        ]

    def windows(self) -> list[float]:
        """Every alert window (long and short), ascending, without duplicates."""
        ws = {300.0}
        for bw in self.alerting.page + self.alerting.ticket:
            ws.add(bw.long)
            ws.add(bw.short)
        return sorted(ws)


# ---------------------------------------------------------------- alerts, panels, queries


class SeriesInput(Strict):
    """One promtool input series: ``series`` selector text and ``values`` in expanding notation."""

    series: str
    values: str


class AlertTest(Strict):
    """Explicit promtool test input for an alert the test generator cannot derive on its own."""

    interval: Duration = Field(default="1m", validate_default=True)
    breach: list[SeriesInput] = Field(min_length=1)
    healthy: list[SeriesInput] = Field(min_length=1)
    eval_time: Duration = Field(description="when the breaching input must have the alert firing")


class Alert(Strict):
    name: Annotated[str, AfterValidator(lambda v: v if ALERT_NAME.match(v) else _bad_alert(v))]
    expr: str
    for_: Duration | None = Field(default=None, alias="for")
    keep_firing_for: Duration | None = None
    severity: str
    summary: str
    description: str = ""
    runbook_url: str | None = None
    labels: Labels = Field(default_factory=dict)
    annotations: Labels = Field(default_factory=dict)
    runbook: Runbook = Field(default_factory=Runbook)
    test: AlertTest | None = None


def _bad_alert(v: str) -> str:
    raise ValueError(f"{v!r} is not a valid alert name")


class Query(Strict):
    name: str
    expr: str
    description: str = ""


class PanelTarget(Strict):
    expr: str
    legend: str | None = None


class Threshold(Strict):
    """A bad-value line: ``op: gt`` means values above ``value`` show ``color``, ``lt`` below it."""

    value: float
    color: str = "red"
    op: Literal["gt", "lt"] = "gt"


PanelType = Literal["timeseries", "stat", "gauge", "heatmap", "table", "bargauge", "piechart"]


def _panel_type(v: Any) -> Any:
    return "timeseries" if v == "graph" else v  # 'graph' is the pre-8.0 name


class Panel(Strict):
    title: str
    type: Annotated[PanelType, BeforeValidator(_panel_type)] = "timeseries"
    expr: str | None = None
    legend: str | None = None
    targets: list[PanelTarget] = Field(default_factory=list)
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    decimals: int | None = Field(default=None, ge=0, le=10)
    thresholds: list[Threshold] = Field(default_factory=list)
    description: str = ""
    width: int = Field(default=12, ge=1, le=24)
    height: int = Field(default=8, ge=2, le=40)
    instant: bool = Field(default=False, description="instant query (tables, top-k)")

    @model_validator(mode="after")
    def _targets(self) -> Panel:
        if self.expr and self.targets:
            raise ValueError("give 'expr' or 'targets', not both")
        if self.expr:
            self.targets = [PanelTarget(expr=self.expr, legend=self.legend)]
            self.expr = None
        if not self.targets:
            raise ValueError("a panel needs 'expr' or 'targets'")
        return self


class Dashboard(Strict):
    """An extra dashboard of the service (beside the one holding ``dashboard`` panels)."""

    name: Slug
    title: str
    panels: list[Panel] = Field(min_length=1)
    variables: list[LabelName] = Field(default_factory=list, description="label filters offered as variables")
    folder: str | None = None


# ---------------------------------------------------------------- Alertmanager routing

# inline secrets are refused: Alertmanager reads them from files (routing_key_file, api_url_file, ...)
INLINE_SECRETS = {
    "routing_key": "routing_key_file",
    "service_key": "service_key_file",
    "api_url": "api_url_file",
    "api_key": "api_key_file",
    "auth_password": "auth_password_file",
}


class _Notifier(BaseModel):
    """Receiver configs are passed to Alertmanager as written, except inline secrets."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for key, file_key in INLINE_SECRETS.items():
                if key in v and key not in cls.inline_ok:
                    raise ValueError(
                        f"'{key}' would put a secret into the generated config: "
                        f"write '{file_key}: /path/to/secret' instead"
                    )
        return v

    inline_ok: ClassVar[frozenset[str]] = frozenset()


class PagerDuty(_Notifier):
    routing_key_file: str | None = None
    service_key_file: str | None = None

    @model_validator(mode="after")
    def _key(self) -> PagerDuty:
        if not (self.routing_key_file or self.service_key_file):
            raise ValueError("give 'routing_key_file' (Events API v2) or 'service_key_file'")
        return self


class Slack(_Notifier):
    api_url_file: str
    channel: str | None = None


class Email(_Notifier):
    to: str

    @model_validator(mode="before")
    @classmethod
    def _no_auth_secret(cls, v: Any) -> Any:
        if isinstance(v, dict) and "auth_secret" in v:
            raise ValueError("'auth_secret' would put a secret into the generated config; use 'auth_password_file'")
        return v


class Webhook(_Notifier):
    url: str  # a webhook URL is often not secret, and Alertmanager 0.25 has no url_file for webhooks
    inline_ok: ClassVar[frozenset[str]] = frozenset({"url"})

    @model_validator(mode="before")
    @classmethod
    def _no_url_file(cls, v: Any) -> Any:
        if isinstance(v, dict) and "url_file" in v:
            raise ValueError("Alertmanager 0.25 has no 'url_file' for webhooks; write 'url'")
        return v


class OpsGenie(_Notifier):
    api_key_file: str


class Receiver(Strict):
    name: Slug
    pagerduty: list[PagerDuty] = Field(default_factory=list)
    slack: list[Slack] = Field(default_factory=list)
    email: list[Email] = Field(default_factory=list)
    webhook: list[Webhook] = Field(default_factory=list)
    opsgenie: list[OpsGenie] = Field(default_factory=list)


class Route(Strict):
    match: Labels = Field(default_factory=dict, description="label equality matchers")
    match_re: Labels = Field(default_factory=dict)
    receiver: Slug
    continue_: bool = Field(default=False, alias="continue")
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None


class Routing(Strict):
    """Alertmanager routing for a service (a subtree under ``service=<name>``) or for the bundle (the root)."""

    receiver: Slug = Field(description="default receiver")
    group_by: list[str] = Field(default_factory=lambda: ["alertname", "service", "slo"])
    group_wait: Duration = Field(default="30s", validate_default=True)
    group_interval: Duration = Field(default="5m", validate_default=True)
    repeat_interval: Duration = Field(default="4h", validate_default=True)
    routes: list[Route] = Field(default_factory=list)
    receivers: list[Receiver] = Field(default_factory=list)
    smtp: dict[str, str | bool] = Field(default_factory=dict, description="smtp settings (smarthost, from, ...)")

    @field_validator("smtp")
    @classmethod
    def _smtp_secrets(cls, v: dict[str, str | bool]) -> dict[str, str | bool]:
        for key in ("auth_password", "auth_secret"):
            if key in v:
                raise ValueError(f"'{key}' would put a secret into the generated config; use 'auth_password_file'")
        return v

    @model_validator(mode="after")
    def _receivers_known(self) -> Routing:
        names = [r.name for r in self.receivers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"receiver(s) defined twice: {', '.join(sorted(dup))}")
        for ref in [self.receiver] + [r.receiver for r in self.routes]:
            if ref not in names:
                raise ValueError(f"route names receiver {ref!r}, which is not in 'receivers' ({', '.join(names)})")
        return self


# ---------------------------------------------------------------- deployment: scraping and Kubernetes


class Scrape(Strict):
    """A scrape target: a ``job`` in prometheus.yml and a ServiceMonitor in Kubernetes."""

    job: Slug
    port: str = "metrics"
    path: str = "/metrics"
    interval: Duration = Field(default="30s", validate_default=True)
    selector: Labels = Field(default_factory=dict, description="Kubernetes Service labels")
    targets: list[str] = Field(default_factory=list, description="host:port for plain Prometheus")


class HPAMetric(Strict):
    """A Pods metric target: scale to keep ``average_value`` per pod."""

    metric: MetricName
    average_value: float = Field(gt=0)


class HPAPolicy(Strict):
    """At most ``value`` pods (or percent) per ``period`` while scaling."""

    type: Literal["Pods", "Percent"]
    value: int = Field(gt=0)
    period: Duration = Field(le=1800)


class HPA(Strict):
    name: Slug
    deployment: Slug
    min_replicas: int = Field(ge=1)
    max_replicas: int = Field(ge=1)
    cpu_utilization: int | None = Field(default=None, gt=0, le=100)
    memory_utilization: int | None = Field(default=None, gt=0, le=100)
    pods_metrics: list[HPAMetric] = Field(default_factory=list)
    scale_up_stabilization: Duration | None = None
    scale_down_stabilization: Duration | None = None
    scale_up_policies: list[HPAPolicy] = Field(default_factory=list)
    scale_down_policies: list[HPAPolicy] = Field(default_factory=list)

    @model_validator(mode="after")
    def _range(self) -> HPA:
        if self.max_replicas < self.min_replicas:
            raise ValueError("'max_replicas' must be at least 'min_replicas'")
        return self


class PDB(Strict):
    name: Slug
    selector: Labels = Field(min_length=1)
    min_available: int | str | None = None
    max_unavailable: int | str | None = None

    @model_validator(mode="after")
    def _one(self) -> PDB:
        if (self.min_available is None) == (self.max_unavailable is None):
            raise ValueError("give exactly one of 'min_available' or 'max_unavailable'")
        return self


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _dns_label(v: str) -> str:
    if not DNS_LABEL.match(v):
        raise ValueError(f"{v!r} is not a Kubernetes namespace name (DNS-1123 label: a-z, 0-9, '-', <= 63)")
    return v


class Kubernetes(Strict):
    # where the monitoring objects go (PrometheusRule, ServiceMonitor, dashboard ConfigMaps)
    namespace: Annotated[str, AfterValidator(_dns_label)] = "monitoring"
    # where the service runs: HPAs and PDBs go there, ServiceMonitors select Services there (default: namespace)
    workload_namespace: Annotated[str, AfterValidator(_dns_label)] | None = None
    hpa: list[HPA] = Field(default_factory=list)
    pdb: list[PDB] = Field(default_factory=list)


class Procedure(Strict):
    """A runbook section that is not tied to one alert (scaling, emergency stop, ...)."""

    title: str
    when: str = ""
    steps: list[str] = Field(min_length=1)


class Runbooks(Strict):
    base_url: str | None = Field(default=None, description="where runbooks/<service>.md is published")
    escalation: str = ""
    procedures: list[Procedure] = Field(default_factory=list)


class Record(Strict):
    """A plain recording rule kept beside the SLOs."""

    record: MetricName
    expr: str
    labels: Labels = Field(default_factory=dict)


class Spec(Strict):
    api_version: Literal["sloforge/v1"] = Field(alias="apiVersion")
    kind: Literal["ServiceLevels"] = "ServiceLevels"
    service: Slug
    description: str = ""
    labels: Labels = Field(default_factory=dict)
    evaluation_interval: Duration = Field(default="1m", validate_default=True)
    metrics: list[MetricDef] = Field(default_factory=list)
    slos: list[SLO] = Field(min_length=1)
    alerts: list[Alert] = Field(default_factory=list)
    records: list[Record] = Field(default_factory=list)
    queries: list[Query] = Field(default_factory=list)
    dashboard: list[Panel] = Field(default_factory=list)
    dashboards: list[Dashboard] = Field(default_factory=list)
    routing: Routing | None = None
    runbooks: Runbooks = Field(default_factory=Runbooks)
    scrape: list[Scrape] = Field(default_factory=list)
    kubernetes: Kubernetes = Field(default_factory=Kubernetes)

    # where it came from (not part of the spec text)
    source_file: str = Field(default="", exclude=True)

    @field_validator("evaluation_interval")
    @classmethod
    def _interval(cls, v: float) -> float:
        if v >= 300 or 300 % v:
            raise ValueError("evaluation_interval must divide 5m evenly and be shorter (e.g. 15s, 30s, 1m)")
        return v

    def metric(self, name: str) -> MetricDef | None:
        for m in self.metrics:
            if name == m.name or name in m.series_names():
                return m
        return None


class Bundle(Strict):
    """Bundle-wide settings (``kind: Bundle``, at most one per run): the Alertmanager
    root route and receivers, cross-service rules and alerts, the runbook base URL."""

    api_version: Literal["sloforge/v1"] = Field(alias="apiVersion")
    kind: Literal["Bundle"]
    name: Slug = "fleet"
    description: str = ""
    evaluation_interval: Duration = Field(default="1m", validate_default=True)
    routing: Routing | None = None
    runbooks: Runbooks = Field(default_factory=Runbooks)
    records: list[Record] = Field(default_factory=list)
    alerts: list[Alert] = Field(default_factory=list)
    queries: list[Query] = Field(default_factory=list)
    dashboard: list[Panel] = Field(default_factory=list)
    alertmanagers: list[str] = Field(default_factory=lambda: ["127.0.0.1:9093"], description="host:port")
    labels: Labels = Field(default_factory=dict)
    kubernetes: Kubernetes = Field(default_factory=Kubernetes, description="namespace of the fleet's manifests")

    source_file: str = Field(default="", exclude=True)

    @property
    def service(self) -> str:
        """Cross-service rules are labelled and filed under the bundle's name."""
        return self.name

    metrics: ClassVar[list[MetricDef]] = []
    slos: ClassVar[list[SLO]] = []
    scrape: ClassVar[list[Scrape]] = []

    def metric(self, name: str) -> MetricDef | None:
        return None
