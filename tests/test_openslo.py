"""OpenSLO into and out of sloforge: every anchor loads or is refused for a stated reason, the mapping
holds field by field, problems name FILE:LINE and the OpenSLO field, imported SLOs generate rules and
alert tests promtool accepts, and native -> OpenSLO -> native is the identity for what OpenSLO can say
(every shipped example, and generated specs)."""

from __future__ import annotations

import math
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import ANCHORS as PEERS
from conftest import EXAMPLES, need
from hypothesis import given, settings
from hypothesis import strategies as st

import sloforge.spec as spec_pkg
from sloforge.generate import promtool_tests, rules
from sloforge.generate.openslo_export import ExportError, openslo_losses, shorthand, to_openslo
from sloforge.model import Spec
from sloforge.promql import selector
from sloforge.spec import SpecError, load
from sloforge.spec.errors import Problem
from sloforge.spec.openslo import Imported, is_openslo, load_openslo, load_openslo_files, short_window
from sloforge.spec.yamlsafe import read_documents

ANCHORS = PEERS / "openslo"
needs_anchors = pytest.mark.skipif(not ANCHORS.is_dir(), reason=f"OpenSLO anchors not found at {ANCHORS}")


def read(path: Path) -> Imported:
    docs, problems = read_documents(str(path), path.read_bytes())
    assert not problems, problems
    assert is_openslo(docs)
    return load_openslo_files([(str(path), docs)])


def write(tmp_path: Path, text: str, name: str = "slo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors(imported: Imported) -> list[Problem]:
    return [p for p in imported.problems if p.level == "error"]


def warnings(imported: Imported) -> list[Problem]:
    return [p for p in imported.problems if p.level == "warning"]


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the ``nth`` occurrence of ``needle`` in ``text``."""
    lines = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return lines[nth]


def same_selector(a: str, b: str) -> bool:
    """Equal selectors, whatever the order of their matchers."""
    x, y = selector(a), selector(b)
    return x.name == y.name and set(x.matchers) == set(y.matchers)


def only_spec(imported: Imported) -> Spec:
    assert not errors(imported), "\n".join(map(str, imported.problems))
    (spec,) = imported.specs
    return spec


# ---------------------------------------------------------------- the anchors


# errors of each anchor file as (line, field path, words of the message): the documented reasons
ANCHOR_ERRORS = {
    # refs to objects defined in other files of the go-sdk examples
    "gosdk_v1_alert_policies.yaml": [
        (16, "[0].spec.conditions[0].conditionRef", "no AlertCondition named 'cpu-usage-breach'"),
        (18, "[0].spec.notificationTargets[0].targetRef", "no AlertNotificationTarget named 'on-call-mail"),
        (50, "[1].spec.notificationTargets[0].targetRef", "no AlertNotificationTarget named 'on-call-pd"),
        (66, "[2].spec.conditions[0].conditionRef", "no AlertCondition named 'cpu-usage-breach'"),
    ],
    "gosdk_v1_data_sources.yaml": [(28, "[1].spec.type", "data source type 'Datadog' is not supported")],
    "gosdk_v1_slis.yaml": [
        (19, "[0].spec.ratioMetric.good.metricSource.type", "data source type 'Datadog' is not supported"),
        (45, "[1].spec.ratioMetric.bad.metricSource.type", "data source type 'AppDynamics' is not supported"),
    ],
    "openslo_occurrences-slo.yaml": [
        (17, "spec.indicator.spec.thresholdMetric.metricSource.type", "data source type 'Any' is not supported"),
    ],
    "openslo_ratio-timeslices-slo.yaml": [
        (18, "spec.indicator.spec.ratioMetric.good.metricSource.type", "data source type 'Any' is not supported"),
        (29, "spec.budgetingMethod", "RatioTimeslices (the mean of per-slice ratios) has no sloforge equivalent"),
    ],
}


@needs_anchors
@pytest.mark.parametrize("name", sorted(ANCHOR_ERRORS))
def test_every_anchor_is_read_and_refused_only_for_its_documented_reason(name):
    path = ANCHORS / name
    imported = read(path)
    found = [(p.line, p.path, p.message) for p in errors(imported)]
    expected = ANCHOR_ERRORS[name]
    assert [(line, path) for line, path, _ in found] == [(line, path) for line, path, _ in expected]
    for (_, _, message), (_, _, words) in zip(found, expected, strict=True):
        assert words in message
    assert imported.specs == []
    assert all(str(p).startswith(f"{path}:{p.line}: ") for p in imported.problems)


@needs_anchors
def test_anchor_with_an_unquoted_calendar_start_time_reads_it_as_text():
    """``startTime: 2022-01-01 12:00:00`` is a YAML timestamp; sloforge's safe reader keeps it as text (no
    datetime object), so the calendar window itself is what gets refused (next test)."""
    path = ANCHORS / "gosdk_v1_slo_sli_alerts_bundle.yaml"
    docs, problems = read_documents(str(path), path.read_bytes())
    assert problems == []
    assert docs[0].data[0]["spec"]["timeWindow"][0]["calendar"]["startTime"] == "2022-01-01 12:00:00"


@needs_anchors
def test_go_sdk_bundle_calendar_windows_and_lte_burn_rate_are_refused_then_map_once_fixed(tmp_path):
    text = (ANCHORS / "gosdk_v1_slo_sli_alerts_bundle.yaml").read_text()
    quoted = text.replace("startTime: 2022-01-01 12:00:00", 'startTime: "2022-01-01 12:00:00"')
    imported = read(write(tmp_path, quoted))
    found = [(p.line, p.path) for p in errors(imported)]
    assert found == [
        (21, "[0].spec.timeWindow[0].calendar"),
        (42, "[1].spec.timeWindow[0].calendar"),
        (106, "[3].spec.condition.op"),
    ]
    assert "calendar-aligned windows are not supported" in errors(imported)[0].message
    assert "op 'lte'" in errors(imported)[2].message

    fixed = re.sub(r"isRolling: false\n\s+calendar:\n.*\n.*\n", "isRolling: true\n", quoted)
    fixed = fixed.replace("op: lte", "op: gt")
    spec = only_spec(read(write(tmp_path, fixed, "fixed.yaml")))
    one, two = spec.slos
    assert (spec.service, one.name, two.name) == ("web", "my-slo-1", "my-slo-2")
    assert one.window == 7 * 86400 and one.target == 0.995 and one.title == "Good"
    # Timeslices, threshold metric, timeSliceTarget 0.95: a 1m slice is good when 95 % of its points are
    ts = one.sli.timeslice
    lag = 'kafka_consumergroup_lag{k8s_cluster="prod", consumergroup="annotator", topic="annotator-in"}'
    query = f"sum(min_over_time({lag}[2m]))"
    assert ts.expr == f"avg_over_time(({query} > bool 1)[1m:])"
    assert (ts.min, ts.max, ts.slice) == (0.95, None, 60)
    assert two.sli == one.sli  # indicatorRef: my-sli is the same query
    # two policies, both severity page: the referenced condition (now gt) and the inline one
    assert [(w.burn_rate, w.long, w.short, w.for_) for w in two.alerting.page] == [(2, 3600, 300, 300)] * 2
    assert two.alerting.ticket == []
    assert two.alerting.labels == {"openslo_page_targets": "devs-email-notification,pd-on-call-notification"}
    assert one.alerting.page[0].burn_rate == 14.4  # no policies: sloforge's defaults


@needs_anchors
def test_upstream_occurrences_example_maps_once_its_source_is_prometheus(tmp_path):
    text = (ANCHORS / "openslo_occurrences-slo.yaml").read_text()
    text = text.replace("type: Any", "type: Prometheus").replace(
        "query: Any", "query: histogram_quantile(0.99, sum by (le) (rate(search_seconds_bucket[1m]))) * 1000"
    )
    spec = only_spec(read(write(tmp_path, text)))
    (slo,) = spec.slos
    assert spec.service == "web-shop" and slo.name == "search-slo"
    assert slo.title == "Searching time: Good experience"
    assert slo.description.startswith("Regardless of the number of paraller searches")
    assert (slo.window, slo.target, slo.objective) == (14 * 86400, 0.99, None)
    ts = slo.sli.timeslice
    # op lt 500: the largest float below 500, i.e. exactly "< 500"
    assert ts.max == math.nextafter(500, 0) and ts.max < 500 and ts.min is None
    assert ts.slice == 60  # Occurrences over a threshold metric: every evaluation is a data point
    assert [w.burn_rate for w in slo.alerting.page] == [14.4, 6]  # `alertPolicies:` (null): defaults


@needs_anchors
def test_upstream_ratio_timeslices_example_op_on_a_ratio_is_refused(tmp_path):
    text = (ANCHORS / "openslo_ratio-timeslices-slo.yaml").read_text()
    text = text.replace("type: Any", "type: Prometheus").replace("query: Any", "query: sum(rate(requests_total[1m]))")
    found = [(p.path, p.message) for p in errors(read(write(tmp_path, text)))]
    assert [path for path, _ in found] == ["spec.budgetingMethod", "spec.objectives[0].op"]
    assert "a ratioMetric objective has only a target" in found[1][1]


# ---------------------------------------------------------------- the mapping, field by field

FULL = """\
apiVersion: openslo/v1
kind: Service
metadata:
  name: checkout
  labels: {team: payments}
spec:
  description: The checkout API
---
apiVersion: openslo/v1
kind: DataSource
metadata:
  name: prom
spec:
  type: Prometheus
---
apiVersion: openslo/v1
kind: SLI
metadata:
  name: checkout-errors
spec:
  description: Share of checkout requests that did not fail
  ratioMetric:
    counter: true
    bad:
      metricSource:
        metricSourceRef: prom
        spec:
          query: sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))
    total:
      metricSource:
        metricSourceRef: prom
        spec:
          query: sum(rate(http_requests_total{job="checkout"}[{{ .window }}]))
---
apiVersion: openslo/v1
kind: AlertCondition
metadata:
  name: fast-burn
spec:
  severity: page
  condition:
    kind: burnrate
    op: gt
    threshold: 14.4
    lookbackWindow: 1h
    alertAfter: 2m
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata:
  name: pager
spec:
  target: pagerduty
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata:
  name: page-fast
spec:
  alertWhenBreaching: true
  conditions:
    - conditionRef: fast-burn
  notificationTargets:
    - targetRef: pager
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
  displayName: Checkout availability
  labels: {tier: ["1", "gold"]}
spec:
  description: Checkouts succeed
  service: checkout
  indicatorRef: checkout-errors
  timeWindow:
    - duration: 4w
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: Strict
      target: 0.999
    - displayName: Relaxed
      targetPercent: 99
  alertPolicies:
    - alertPolicyRef: page-fast
    - kind: AlertPolicy
      metadata: {name: ticket-slow}
      spec:
        alertWhenBreaching: true
        conditions:
          - kind: AlertCondition
            metadata: {name: slow-burn}
            spec:
              severity: warning
              condition: {kind: burnrate, op: gte, threshold: 1, lookbackWindow: 3d, alertAfter: 0m}
        notificationTargets:
          - kind: AlertNotificationTarget
            metadata: {name: am}
            spec: {target: alertmanager}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: latency
spec:
  service: checkout
  indicator:
    metadata: {name: latency-sli}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(http_request_duration_seconds_bucket{job="checkout",le="0.5"}[5m]))
        total:
          metricSource:
            type: prometheus
            spec:
              query: sum(rate(http_request_duration_seconds_count{job="checkout"}[5m]))
  budgetingMethod: Occurrences
  objectives:
    - target: 0.95
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: p95
spec:
  service: checkout
  indicator:
    metadata: {name: p95-sli}
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec:
            promql: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[{{.window}}])))
  timeWindow:
    - duration: 1M
      isRolling: true
  budgetingMethod: Timeslices
  objectives:
    - op: gt
      value: 0.25
      target: 0.99
      timeSliceTarget: 1
      timeSliceWindow: 5m
    - op: lte
      value: 1
      target: 0.95
      timeSliceTarget: 0.9
      timeSliceWindow: 2
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: per-route
spec:
  service: checkout
  indicator:
    metadata: {name: per-route}
    spec:
      ratioMetric:
        good:
          metricSource:
            type: Prometheus
            spec: {query: 'sum by (route) (increase(http_requests_total{code!~"5.."}[5m]))'}
        total:
          metricSource:
            type: Prometheus
            spec: {query: 'sum by (route) (increase(http_requests_total[5m]))'}
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Timeslices
  objectives:
    - target: 0.95
      timeSliceTarget: 0.99
      timeSliceWindow: 5m
"""


@pytest.fixture
def full(tmp_path) -> Spec:
    return only_spec(read(write(tmp_path, FULL)))


def test_service_and_objectives(full):
    assert (full.service, full.description, full.labels) == ("checkout", "The checkout API", {"team": "payments"})
    assert [s.name for s in full.slos] == [
        "availability-strict",
        "availability-relaxed",
        "latency",
        "p95-0",
        "p95-1",
        "per-route",
    ]
    strict, relaxed = full.slos[:2]
    assert (strict.target, strict.objective, relaxed.target, relaxed.objective) == (0.999, None, None, 99)
    assert strict.title == "Checkout availability: Strict" and relaxed.title == "Checkout availability: Relaxed"
    assert strict.description == "Checkouts succeed\n\nShare of checkout requests that did not fail"
    assert strict.window == 28 * 86400 and strict.labels == {"tier": "1,gold"}


def test_ratio_metric_is_an_events_sli_of_its_selectors(full):
    ev = full.slos[0].sli.events
    assert ev.good is None
    assert same_selector(ev.bad, 'http_requests_total{job="checkout",code=~"5.."}')
    assert same_selector(ev.total, 'http_requests_total{job="checkout"}')
    assert full.slos[0].by == []


def test_bucket_over_count_is_a_latency_sli(full):
    lat = full.slos[2].sli.latency
    assert same_selector(lat.histogram, 'http_request_duration_seconds{job="checkout"}') and lat.le == 0.5
    assert full.slos[2].window == 30 * 86400  # no timeWindow: sloforge's default


def test_threshold_metric_under_timeslices(full):
    exact, share = full.slos[3].sli.timeslice, full.slos[4].sli.timeslice
    query = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[{w}])))"
    # timeSliceTarget 1: the condition itself; op gt 0.25 -> min just above 0.25
    assert exact.expr == query.format(w="5m") and exact.slice == 300
    assert exact.min == math.nextafter(0.25, 1) and exact.max is None
    # timeSliceTarget 0.9: the share of good points in a 2-minute slice (a bare number is minutes)
    assert share.expr == f"avg_over_time(({query.format(w='2m')} <= bool 1)[2m:])"
    assert (share.min, share.max, share.slice) == (0.9, None, 120)
    assert full.slos[3].window == 30 * 86400  # 1M


def test_ratio_metric_under_timeslices_keeps_its_grouping(full):
    slo = full.slos[5]
    ts = slo.sli.timeslice
    good = 'sum by (route) (rate(http_requests_total{code!~"5.."}[5m]))'
    assert ts.expr == f"({good})\n/\n(sum by (route) (rate(http_requests_total[5m])))"
    assert (ts.min, ts.max, ts.slice, slo.by) == (0.99, None, 300, ["route"])


def test_alert_policies_become_tiers(full):
    a = full.slos[0].alerting
    assert [(w.burn_rate, w.long, w.short, w.for_) for w in a.page] == [(14.4, 3600, 300, 120)]
    # severity warning -> ticket; lookbackWindow 3d -> short 6h (long / 12); alertAfter 0m -> no for
    assert [(w.burn_rate, w.long, w.short, w.for_) for w in a.ticket] == [(1, 259200, 21600, None)]
    # the pager target names the page tier; the alertmanager target adds no label
    assert a.labels == {"openslo_page_targets": "pager"}
    assert full.slos[1].alerting == a  # policies belong to the SLO: every objective gets them


def test_short_window_is_the_workbooks_twelfth_and_at_least_5m():
    assert [short_window(h * 3600) for h in (1, 6, 24, 72)] == [300, 1800, 7200, 21600]
    assert short_window(1800) == 300


def test_warnings_name_what_is_not_carried_over(tmp_path):
    imported = read(write(tmp_path, FULL))
    found = {(p.line, p.path): p.message for p in warnings(imported)}
    target = found[(line_of(FULL, "target: pagerduty"), "spec.target")]
    assert "target 'pagerduty' is not carried over" in target and "openslo_page_targets" in target
    assert len(found) == 1


def test_multi_document_and_list_files_read_alike(tmp_path):
    docs = list(yaml.safe_load_all(FULL))
    as_list = yaml.safe_dump(docs, sort_keys=False)
    one = only_spec(read(write(tmp_path, FULL, "a.yaml")))
    two = only_spec(read(write(tmp_path, as_list, "b.yaml")))
    assert one.model_dump() == two.model_dump()


def test_references_resolve_across_files(tmp_path):
    parts = FULL.split("---\n")
    lib = write(tmp_path, "---\n".join(parts[:6]), "lib.yaml")  # service, data source, SLI, alerting objects
    slos = write(tmp_path, "---\n".join(parts[6:]), "slos.yaml")
    files = [(str(p), read_documents(str(p), p.read_bytes())[0]) for p in (lib, slos)]
    imported = load_openslo_files(files)
    spec = only_spec(imported)
    assert spec.model_dump() == only_spec(read(write(tmp_path, FULL))).model_dump()
    assert spec.source_file == str(slos)  # where the service's first SLO is
    # the per-spec document maps native paths back to OpenSLO lines (for load()'s late checks)
    doc = imported.docs[id(spec)]
    assert doc.line_of(("slos", 0, "target")) == line_of(FULL.split("---\n", 6)[6], "target: 0.999")


V1ALPHA = """\
apiVersion: openslo/v1alpha
kind: Service
metadata: {name: web}
spec: {description: Web front end}
---
apiVersion: openslo/v1alpha
kind: SLO
metadata:
  name: web-availability
  displayName: Web availability
spec:
  service: web
  timeWindows:
    - unit: Week
      count: 2
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: Good
      target: 0.995
      value: 1
      ratioMetrics:
        incremental: true
        good: {source: prometheus, queryType: query, query: 'sum(rate(requests_total{code="2xx"}[5m]))'}
        total: {source: prometheus, queryType: query, query: 'sum(rate(requests_total[5m]))'}
---
apiVersion: openslo/v1alpha
kind: SLO
metadata: {name: web-lag}
spec:
  service: web
  timeWindows: [{unit: Month, count: 1, isRolling: true}]
  budgetingMethod: Timeslices
  indicator:
    thresholdMetric: {source: Prometheus, queryType: promql, query: 'max(queue_lag_seconds)'}
  objectives:
    - {displayName: Fast, target: 0.99, op: lte, value: 30, timeSliceTarget: 1}
"""


def test_v1alpha(tmp_path):
    imported = read(write(tmp_path, V1ALPHA))
    spec = only_spec(imported)
    avail, lag = spec.slos
    assert (spec.service, spec.description) == ("web", "Web front end")
    assert (avail.name, avail.title, avail.target) == ("web-availability", "Web availability: Good", 0.995)
    assert avail.window == 14 * 86400  # 2 x Week
    assert (avail.sli.events.good, avail.sli.events.total) == ('requests_total{code="2xx"}', "requests_total")
    # Month = 30d; no timeSliceWindow in v1alpha: sloforge's 5m slice
    ts = lag.sli.timeslice
    assert (lag.window, ts.expr, ts.max, ts.min, ts.slice) == (30 * 86400, "max(queue_lag_seconds)", 30, None, 300)
    found = [(p.line, p.path, p.message) for p in warnings(imported)]
    assert found == [
        (
            line_of(V1ALPHA, "value: 1"),
            "spec.objectives[0].value",
            "'value' has no meaning for a ratioMetric and is not carried over",
        )
    ]


def test_v1alpha_non_prometheus_source_is_refused(tmp_path):
    total = "{source: prometheus, queryType: query, query: 'sum(rate(requests_total[5m]))'}"
    text = V1ALPHA.replace(total, "{source: datadog, queryType: query, query: 'sum:requests{*}'}")
    (p,) = errors(read(write(tmp_path, text)))
    assert (p.line, p.path) == (line_of(text, "source: datadog"), "spec.objectives[0].ratioMetrics.total.source")
    assert "data source type 'datadog' is not supported" in p.message


# ---------------------------------------------------------------- problems: FILE:LINE: OpenSLO field: message

SMALL = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
spec:
  service: web
  indicator:
    metadata: {name: errors}
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: Prometheus
            spec: {query: 'sum(rate(http_requests_total{code=~"5.."}[5m]))'}
        total:
          metricSource:
            type: Prometheus
            spec: {query: 'sum(rate(http_requests_total[5m]))'}
  timeWindow:
    - duration: 30d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.999
  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: fast}
      spec:
        alertWhenBreaching: true
        conditions:
          - kind: AlertCondition
            metadata: {name: fast}
            spec:
              severity: page
              condition: {kind: burnrate, op: gt, threshold: 14.4, lookbackWindow: 1h, alertAfter: 2m}
        notificationTargets:
          - {kind: AlertNotificationTarget, metadata: {name: am}, spec: {target: alertmanager}}
    - kind: AlertPolicy
      metadata: {name: slow}
      spec:
        conditions:
          - kind: AlertCondition
            metadata: {name: slow}
            spec:
              severity: ticket
              condition: {kind: burnrate, threshold: 6, lookbackWindow: 6h}
        notificationTargets:
          - {kind: AlertNotificationTarget, metadata: {name: am}, spec: {target: alertmanager}}
"""
TOTAL = "spec: {query: 'sum(rate(http_requests_total[5m]))'}"
RATIO = "ratioMetric.bad.metricSource"
POLICY = "spec.alertPolicies[0].spec"
CONDITION = f"{POLICY}.conditions[0].spec.condition"

# (replacements, text on the expected line, field path, words of the message)
ERROR_CASES = {
    "typo": (
        [("budgetingMethod: Occurrences", "budgettingMethod: Occurrences")],
        "budgettingMethod",
        "spec.budgettingMethod",
        "unknown field 'budgettingMethod'; did you mean 'budgetingMethod'?",
    ),
    "calendar window": (
        [("      isRolling: true", '      calendar: {startTime: "2024-01-01 00:00:00", timeZone: UTC}')],
        "calendar:",
        "spec.timeWindow[0].calendar",
        "calendar-aligned windows are not supported: sloforge evaluates rolling windows",
    ),
    "not rolling": (
        [("isRolling: true", "isRolling: false")],
        "isRolling",
        "spec.timeWindow[0].isRolling",
        "calendar-aligned windows are not supported",
    ),
    "duration": (
        [("duration: 30d", "duration: 1h30m")],
        "duration:",
        "spec.timeWindow[0].duration",
        "'1h30m' is not an OpenSLO duration",
    ),
    "window too short": (
        [("duration: 30d", "duration: 30m")],
        "duration:",
        "spec.timeWindow[0].duration",
        "the SLO window must be at least 1h",
    ),
    "ratio timeslices": (
        [("budgetingMethod: Occurrences", "budgetingMethod: RatioTimeslices")],
        "budgetingMethod",
        "spec.budgetingMethod",
        "RatioTimeslices (the mean of per-slice ratios) has no sloforge equivalent",
    ),
    "data source": (
        [("type: Prometheus", "type: Datadog")],
        "Datadog",
        f"spec.indicator.spec.{RATIO}.type",
        "data source type 'Datadog' is not supported",
    ),
    "not a selector": (
        [(TOTAL, "spec: {query: 'sum(rate(http_requests_total[5m])) / 2'}")],
        "/ 2",
        "spec.indicator.spec.ratioMetric.total.metricSource.spec.query",
        "cannot map this query to a counter selector",
    ),
    "gauge ratio": (
        [("counter: true", "counter: false")],
        "counter:",
        "spec.indicator.spec.ratioMetric.counter",
        "a ratio of gauges (counter: false) cannot be counted",
    ),
    "bare selector without counter": (
        [("        counter: true\n", ""), (TOTAL, "spec: {query: 'http_requests_total'}")],
        "query: 'http_requests_total'",
        "spec.indicator.spec.ratioMetric.total.metricSource.spec.query",
        "read as a counter only with 'counter: true'",
    ),
    "grouping differs": (
        [(TOTAL, "spec: {query: 'sum by (route) (rate(http_requests_total[5m]))'}")],
        "sum by (route)",
        "spec.indicator.spec.ratioMetric.total.metricSource.spec.query",
        "must group by the same labels",
    ),
    "source field": (
        [(TOTAL, "spec: {query: 'sum(rate(http_requests_total[5m]))', region: eu}")],
        "region",
        "spec.indicator.spec.ratioMetric.total.metricSource.spec.region",
        "'region' has no meaning for a Prometheus source",
    ),
    "promql": (
        [(TOTAL, "spec: {query: 'sum(rate(http_requests_total[5m])'}")],
        "[5m])'}",
        "spec.indicator.spec.ratioMetric.total.metricSource.spec.query",
        "PromQL does not parse",
    ),
    "burn rate below": (
        [("op: gt, threshold: 14.4", "op: lte, threshold: 14.4")],
        "op: lte",
        f"{CONDITION}.op",
        "op 'lte': sloforge alerts when the burn rate exceeds the threshold",
    ),
    "severity": (
        [("severity: page", "severity: sev1")],
        "sev1",
        f"{POLICY}.conditions[0].spec.severity",
        "severity 'sev1' names no sloforge tier",
    ),
    "no data": (
        [("alertWhenBreaching: true", "alertWhenNoData: true")],
        "alertWhenNoData",
        f"{POLICY}.alertWhenNoData",
        "burn-rate alerts do not fire on missing data",
    ),
    "not breaching": (
        [("alertWhenBreaching: true", "alertWhenBreaching: false")],
        "alertWhenBreaching",
        f"{POLICY}.alertWhenBreaching",
        "false is not supported",
    ),
    "lookback": (
        [("lookbackWindow: 1h", "lookbackWindow: 5m")],
        "lookbackWindow: 5m",
        f"{CONDITION}.lookbackWindow",
        "lookbackWindow must be longer than 5m",
    ),
    "never fires": (
        [("threshold: 14.4", "threshold: 1000")],
        "threshold: 1000",
        f"{CONDITION}.threshold",
        "burn rate 1000.0 needs an error ratio >= 100% at objective 0.999: this alert can never fire",
    ),
    "composite": (
        [("    - target: 0.999", "    - target: 0.999\n      indicatorRef: other")],
        "indicatorRef",
        "spec.objectives[0].indicatorRef",
        "composite SLOs (objectives with their own indicator) are not supported",
    ),
    "target range": (
        [("target: 0.999", "target: 1.5")],
        "target: 1.5",
        "spec.objectives[0].target",
        "target 1.5 is out of range: a ratio between 0 and 1 (exclusive) (did you mean targetPercent?)",
    ),
    "two targets": (
        [("    - target: 0.999", "    - target: 0.999\n      targetPercent: 99.9")],
        "- target",
        "spec.objectives[0].target",
        "give exactly one of 'target' (0-1) or 'targetPercent'",
    ),
    "op on a ratio": (
        [("    - target: 0.999", "    - target: 0.999\n      op: gt")],
        "op: gt",
        "spec.objectives[0].op",
        "a ratioMetric objective has only a target",
    ),
    "slice under occurrences": (
        [("    - target: 0.999", "    - target: 0.999\n      timeSliceWindow: 5m")],
        "timeSliceWindow",
        "spec.objectives[0].timeSliceWindow",
        "timeSliceWindow applies to budgetingMethod Timeslices, not Occurrences",
    ),
    "name": (
        [("name: availability", "name: Availability_1")],
        "Availability_1",
        "metadata.name",
        "'Availability_1' must be a lowercase slug",
    ),
    "kind": (
        [("kind: SLO", "kind: Slo")],
        "kind: Slo",
        "kind",
        "kind 'Slo' is not valid here: expected Service, SLO, SLI, DataSource",
    ),
    "version": (
        [("apiVersion: openslo/v1", "apiVersion: openslo/v2alpha")],
        "apiVersion",
        "apiVersion",
        "apiVersion 'openslo/v2alpha' is not supported here (expected openslo/v1 or openslo/v1alpha)",
    ),
}


def edit(replacements: list[tuple[str, str]], text: str = SMALL) -> str:
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def test_small_is_valid(tmp_path):
    path = write(tmp_path, SMALL)
    specs, problems = load_openslo(read_documents(str(path), path.read_bytes())[0], str(path))
    assert problems == []
    (slo,) = specs[0].slos
    assert [(w.burn_rate, w.long, w.short, w.for_) for w in slo.alerting.page] == [(14.4, 3600, 300, 120)]
    # no op: gt; short window 6h / 12
    assert [(w.burn_rate, w.long, w.short, w.for_) for w in slo.alerting.ticket] == [(6, 21600, 1800, None)]
    assert slo.alerting.labels == {}  # both policies name the alertmanager target


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_problem_names_file_line_and_openslo_field(tmp_path, case):
    replacements, needle, path, words = ERROR_CASES[case]
    text = edit(replacements)
    file = write(tmp_path, text)
    imported = read(file)
    assert imported.specs == []
    found = {(p.line, p.path): p for p in errors(imported)}
    p = found.get((line_of(text, needle), path))
    assert p is not None, "\n".join(map(str, imported.problems))
    assert words in p.message
    assert str(p) == f"{file}:{p.line}: {path}: {p.message}"


def test_references_and_duplicates(tmp_path):
    text = SMALL.replace("  indicator:\n    metadata: {name: errors}\n", "  indicatorRef: errorz\n  x-indicator:\n")
    found = {p.path: p.message for p in errors(read(write(tmp_path, text)))}
    assert found["spec.indicatorRef"] == "no SLI named 'errorz' in the files loaded"
    assert found["spec.x-indicator"].startswith("unknown field 'x-indicator'; did you mean 'indicator'?")
    duplicate = SMALL + "---\n" + SMALL
    (p,) = errors(read(write(tmp_path, duplicate, "dup.yaml")))
    assert p.path == "metadata.name" and p.line == line_of(duplicate, "name: availability", 1)
    assert p.message == f"SLO 'availability' is also defined at {tmp_path / 'dup.yaml'}:1"


def test_a_sloforge_document_in_an_openslo_file_is_named(tmp_path):
    text = SMALL + "---\napiVersion: sloforge/v1\nservice: other\nslos: []\n"
    (p,) = errors(read(write(tmp_path, text)))
    assert (p.line, p.path) == (line_of(text, "sloforge/v1"), "apiVersion")
    assert "a file holds either OpenSLO or sloforge documents" in p.message


def test_raw_ratio_is_read_under_timeslices_only(tmp_path):
    raw = """\
      ratioMetric:
        rawType: failure
        raw:
          metricSource:
            type: Prometheus
            spec: {query: 'sum(rate(errors_total[{{.window}}])) / sum(rate(requests_total[{{.window}}]))'}
"""
    text = re.sub(r"      ratioMetric:\n(.*\n){9}", raw, SMALL, count=1)
    (p,) = errors(read(write(tmp_path, text)))
    assert p.path == "spec.indicator.spec.ratioMetric.raw.metricSource.spec.query"
    assert "a precomputed ratio ('raw') cannot be counted as events" in p.message
    text = text.replace("budgetingMethod: Occurrences", "budgetingMethod: Timeslices").replace(
        "    - target: 0.999", "    - target: 0.999\n      timeSliceTarget: 0.98\n      timeSliceWindow: 2m"
    )
    ts = only_spec(read(write(tmp_path, text))).slos[0].sli.timeslice
    assert ts.expr == "sum(rate(errors_total[2m])) / sum(rate(requests_total[2m]))"
    assert (ts.max, ts.min, ts.slice) == (0.02, None, 120)  # a failure ratio of at most 1 - timeSliceTarget


def test_warnings_for_unused_objects_hide_their_field_warnings(tmp_path):
    text = (
        SMALL
        + """\
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: spare, displayName: Spare policy}
spec:
  description: not used by any SLO
  alertWhenResolved: true
  conditions: [{conditionRef: c}]
  notificationTargets: [{targetRef: t}]
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {name: c}
spec:
  severity: page
  condition: {kind: burnrate, op: gt, threshold: 2, lookbackWindow: 1h}
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata: {name: t}
spec: {target: slack}
"""
    )
    imported = read(write(tmp_path, text))
    assert errors(imported) == []
    found = [(p.line, p.path, p.message) for p in warnings(imported)]
    spare = line_of(text, "kind: AlertPolicy", 2) - 1
    # the condition and the target are used (by the policy); the policy by no SLO
    assert found == [
        (spare, "", "AlertPolicy 'spare' is not used by any SLO in the files loaded: nothing is made from it"),
        (
            line_of(text, "target: slack"),
            "spec.target",
            "target 'slack' is not carried over: OpenSLO gives no delivery settings. The alerts carry the "
            "target's name 't' in label openslo_page_targets or openslo_ticket_targets: route on it in the "
            "bundle's Alertmanager routing",
        ),
    ]
    used = text.replace(
        "    - kind: AlertPolicy\n      metadata: {name: slow}",
        "    - alertPolicyRef: spare\n    - kind: AlertPolicy\n      metadata: {name: slow}",
    )
    found = {p.path: p.message for p in warnings(read(write(tmp_path, used, "used.yaml")))}
    assert (
        found[""]
        == "AlertPolicy 'spare': metadata.displayName, spec.description not carried over (sloforge has no place for it)"
    )
    assert "send_resolved" in found["spec.alertWhenResolved"]


# ---------------------------------------------------------------- through load(), and promtool


@pytest.fixture
def openslo_hook(monkeypatch):
    """What spec/__init__.py will do (the lead wires the real hook, by file): OpenSLO files go to the
    OpenSLO loader. Here the native-shaped documents it made are handed to load() as the file's documents,
    so load() validates, checks and maps lines as for a native file (errors only: warnings are not passed)."""
    plain = spec_pkg.read_documents

    def read_documents_with_openslo(name, raw):
        docs, problems = plain(name, raw)
        if problems or not is_openslo(docs):
            return docs, problems
        imported = load_openslo_files([(name, docs)])
        return [imported.docs[id(s)] for s in imported.specs], [p for p in imported.problems if p.level == "error"]

    monkeypatch.setattr(spec_pkg, "read_documents", read_documents_with_openslo)


def test_load_reads_openslo_beside_native_specs(tmp_path, openslo_hook):
    write(tmp_path, SMALL, "web.yaml")
    (tmp_path / "nkudo.yaml").write_text((EXAMPLES / "nkudo.yaml").read_text())
    loaded = load(tmp_path)
    assert sorted(s.service for s in loaded.specs) == ["nkudo", "web"]
    write(tmp_path, SMALL.replace("service: web", "service: nkudo"), "web.yaml")
    with pytest.raises(SpecError) as info:
        load(tmp_path)
    assert [p.path for p in info.value.problems] == ["service"]
    assert "service 'nkudo' is also defined in" in info.value.problems[0].message


def test_load_reports_openslo_problems_by_file_and_line(tmp_path, openslo_hook):
    text = edit(ERROR_CASES["calendar window"][0])
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load(path)
    (p,) = info.value.problems
    assert str(p).startswith(f"{path}:{line_of(text, 'calendar:')}: spec.timeWindow[0].calendar: calendar-aligned")


@pytest.mark.promtool
def test_imported_slos_generate_rules_and_alert_tests_promtool_accepts(tmp_path):
    promtool = need("promtool")
    full = only_spec(read(write(tmp_path, FULL, "full.yaml")))
    small = only_spec(read(write(tmp_path, SMALL, "small.yaml")))
    for spec in (full, small):
        rule_path = tmp_path / f"{spec.service}.rules.yml"
        rule_path.write_text(rules.rule_file(spec))
        proc = subprocess.run([promtool, "check", "rules", str(rule_path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # the page alert (14.4 over 1h/5m, for 2m) and the ticket alert (6 over 6h/30m) fire when they should
    rules_dir, tests_dir = tmp_path / "rules", tmp_path / "tests"
    rules_dir.mkdir()
    tests_dir.mkdir()
    (rules_dir / "web.yml").write_text(rules.rule_file(small))
    files = []
    for name, text in promtool_tests.test_files(small).items():
        (tests_dir / name).write_text(text)
        files.append(name)
    proc = subprocess.run([promtool, "test", "rules", *files], capture_output=True, text=True, cwd=tests_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SUCCESS" in proc.stdout


# ---------------------------------------------------------------- export

_DURATION = re.compile(r"^[1-9][0-9]*[mhdwMQY]$")
_DNS = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def assert_valid_openslo(text: str) -> list[dict]:
    """The rules of OpenSLO v1 (spec text, JSON schema, go-sdk validation) the export must keep."""
    docs = list(yaml.safe_load_all(text))
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), "names are unique per kind"
    targets = {n for k, n in names if k == "AlertNotificationTarget"}
    for d in docs:
        assert d["apiVersion"] == "openslo/v1" and _DNS.match(d["metadata"]["name"])
        assert len(d["spec"].get("description", "")) <= 1050
        for value in d["metadata"].get("labels", {}).values():
            assert all(
                re.match(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$", v) for v in (value if isinstance(value, list) else [value])
            )
        if d["kind"] != "SLO":
            continue
        spec = d["spec"]
        assert ("indicator" in spec) != ("indicatorRef" in spec)
        assert spec["budgetingMethod"] in ("Occurrences", "Timeslices")
        (window,) = spec["timeWindow"]
        assert window["isRolling"] is True and _DURATION.match(window["duration"])
        (objective,) = spec["objectives"]
        assert ("target" in objective) != ("targetPercent" in objective)
        if spec["budgetingMethod"] == "Timeslices":
            assert 0 < objective["timeSliceTarget"] <= 1 and _DURATION.match(objective["timeSliceWindow"])
            assert objective["op"] in ("lt", "lte", "gt", "gte") and "thresholdMetric" in spec["indicator"]["spec"]
        for policy in spec.get("alertPolicies", []):
            (condition,) = policy["spec"]["conditions"]
            c = condition["spec"]["condition"]
            assert c["kind"] == "burnrate" and c["op"] == "gt" and c["threshold"] > 0
            assert _DURATION.match(c["lookbackWindow"]) and _DURATION.match(c.get("alertAfter", "1m"))
            assert policy["spec"]["notificationTargets"]
            assert {t["targetRef"] for t in policy["spec"]["notificationTargets"]} <= targets
    return docs


def reimport(tmp_path: Path, specs: list[Spec], name: str = "export.yaml") -> list[Spec]:
    text = to_openslo(specs)
    assert_valid_openslo(text)
    imported = read(write(tmp_path, text, name))
    assert not errors(imported), "\n".join(map(str, imported.problems))
    return imported.specs


def assert_same_slo(a, b, by: bool = True) -> None:
    """The fields OpenSLO carries: identity after a round trip."""
    for f in ("name", "objective", "target", "window", "title", "description", "labels"):
        assert getattr(a, f) == getattr(b, f), f
    assert a.alerting.labels == b.alerting.labels
    for tier in ("page", "ticket"):
        windows = [[(w.burn_rate, w.long, w.short, w.for_) for w in getattr(s.alerting, tier)] for s in (a, b)]
        assert windows[0] == windows[1], tier
    if by:
        assert a.by == b.by
    x, y = a.sli, b.sli
    assert x.kind == y.kind
    if x.events:
        assert (x.events.good is None, x.events.bad is None) == (y.events.good is None, y.events.bad is None)
        assert same_selector(x.events.good or x.events.bad, y.events.good or y.events.bad)
        assert same_selector(x.events.total, y.events.total)
    elif x.latency:
        base = selector(x.latency.histogram)
        assert same_selector(base.with_name(base.name.removesuffix("_bucket")).render(), y.latency.histogram)
        assert x.latency.le == y.latency.le
    else:
        assert x.timeslice == y.timeslice


def example_specs() -> list[Spec]:
    return load(EXAMPLES).specs


@pytest.mark.parametrize("service", sorted(s.service for s in example_specs()))
def test_round_trip_of_every_example_is_the_identity(tmp_path, service):
    (spec,) = [s for s in example_specs() if s.service == service]
    (back,) = reimport(tmp_path, [spec])
    assert (back.service, back.description, back.labels) == (spec.service, spec.description, spec.labels)
    assert [s.name for s in back.slos] == [s.name for s in spec.slos]
    losses = openslo_losses([spec])
    for a, b in zip(spec.slos, back.slos, strict=True):
        lost_by = bool(a.sli.timeslice and a.by)
        assert_same_slo(a, b, by=not lost_by)
        if lost_by:  # OpenSLO has no grouping for a threshold metric: lost, and said so
            assert b.by == [] and f"{service}/{a.name}: by [{', '.join(a.by)}] (OpenSLO has no grouping" in "\n".join(
                losses
            )


def test_export_is_deterministic_and_lists_what_it_loses(tmp_path):
    specs = example_specs()
    text = to_openslo(specs)
    assert text == to_openslo(list(reversed(example_specs())))
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert header[1] == "# Not carried over (OpenSLO has no place for it):"
    assert [line.removeprefix("#   ") for line in header[2:]] == openslo_losses(specs)
    scope = "kubernetesexecution: alerts, dashboard, evaluation_interval, metrics, queries (outside OpenSLO's scope)"
    assert f"#   {scope}" in header
    # SLO names two services share get their service in front: OpenSLO names are unique per file
    back = {s.service: s for s in reimport(tmp_path, specs)}
    assert [s.name for s in back["nkudo"].slos] == ["nkudo-api-availability", "sla-availability"]
    assert "nkudo/api-availability: named 'nkudo-api-availability' (OpenSLO names are unique per file" in text


def test_openslo_to_native_to_openslo_is_a_fixpoint(tmp_path):
    spec = only_spec(read(write(tmp_path, FULL)))
    (again,) = reimport(tmp_path, [spec])
    for a, b in zip(spec.slos, again.slos, strict=True):
        assert_same_slo(a, b, by=a.name != "per-route")  # a threshold metric cannot carry grouping
    # the documents are the same; only the header's list of losses differs
    body = [to_openslo([s]).split("\napiVersion", 1)[1] for s in (spec, again)]
    assert body[0] == body[1]
    assert openslo_losses([spec]) == ["checkout/per-route: by [route] (OpenSLO has no grouping for a threshold metric)"]
    # the strict comparison op survives: lt/gt come back as written, not as the float below/above
    p95 = next(d for d in yaml.safe_load_all(to_openslo([spec])) if d["metadata"]["name"] == "p95-0")
    assert (p95["spec"]["objectives"][0]["op"], p95["spec"]["objectives"][0]["value"]) == ("gt", 0.25)


def test_strict_export_refuses_losses_and_invalid_names_always_fail():
    specs = example_specs()
    with pytest.raises(ExportError) as info:
        to_openslo(specs, strict=True)
    assert info.value.problems == [f"not carried over: {loss}" for loss in openslo_losses(specs)]
    base = {
        "apiVersion": "sloforge/v1",
        "service": "my_service",
        "slos": [
            {
                "name": "a_b",
                "target": 0.99,
                "sli": {"events": {"bad": "x_total", "total": "y_total"}},
                "alerting": {"page": [{"burn_rate": 14.4, "long": "1h", "short": "5m", "for": "90s"}], "ticket": False},
            }
        ],
    }
    with pytest.raises(ExportError) as info:
        to_openslo([Spec.model_validate(base)])
    assert info.value.problems == [
        "my_service: 'my_service' is no OpenSLO name (lowercase letters, digits and '-', at most 63)",
        "my_service/a_b: 'a_b' is no OpenSLO name (lowercase letters, digits and '-', at most 63)",
        "my_service/a_b: alerting.page[0]: 'a_b-page-0' is no OpenSLO name "
        "(lowercase letters, digits and '-', at most 63)",
        "my_service/a_b: alerting.page[0]: 1m30s is no whole number of minutes, which OpenSLO needs",
    ]


def test_shorthand_uses_the_largest_whole_unit():
    assert [shorthand(s) for s in (60, 300, 5400, 3600, 86400, 28 * 86400, 30 * 86400, 90)] == [
        "1m",
        "5m",
        "90m",
        "1h",
        "1d",
        "4w",
        "30d",
        None,
    ]


# ---------------------------------------------------------------- property: native -> OpenSLO -> native

_metric = st.sampled_from(["http_requests_total", "jobs_total", "rpc_calls_total"])
_matchers = st.lists(
    st.tuples(
        st.sampled_from(["code", "job", "region"]),
        st.sampled_from(["=", "!=", "=~"]),
        st.sampled_from(["5..", "api", "eu-1"]),
    ),
    max_size=2,
    unique_by=lambda m: m[0],
)


@st.composite
def _selector(draw, metric=_metric):
    name = draw(metric)
    matchers = draw(_matchers)
    return name + ("{" + ",".join(f'{k}{op}"{v}"' for k, op, v in matchers) + "}" if matchers else "")


@st.composite
def native_slos(draw):
    kind = draw(st.sampled_from(["good", "bad", "latency", "timeslice"]))
    slo: dict = {"name": draw(st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True))}
    if draw(st.booleans()):
        slo["target"] = draw(st.sampled_from([0.95, 0.99, 0.995, 0.999]))
    else:
        slo["objective"] = draw(st.sampled_from([95, 99, 99.5, 99.9]))
    slo["window"] = draw(st.sampled_from(["7d", "14d", "28d", "30d", "90d"]))
    if kind in ("good", "bad"):
        slo["sli"] = {"events": {kind: draw(_selector()), "total": draw(_selector())}}
    elif kind == "latency":
        hist = draw(_selector(st.sampled_from(["http_request_duration_seconds", "rpc_seconds"])))
        slo["sli"] = {"latency": {"histogram": hist, "le": draw(st.sampled_from([0.05, 0.5, 1, 2.5, 32]))}}
    else:
        bound = draw(st.sampled_from(["max", "min"]))
        slo["sli"] = {
            "timeslice": {
                "expr": "max(queue_lag_seconds)",
                bound: draw(st.sampled_from([0.5, 30, 1e-3])),
                "slice": draw(st.sampled_from(["1m", "2m", "5m"])),
            }
        }
    if kind != "timeslice" and draw(st.booleans()):
        slo["by"] = ["region"]
    pairs = {"page": [(14.4, "1h"), (6, "6h"), (10, "2h")], "ticket": [(3, "1d"), (1, "3d"), (2, "12h")]}
    alerting = {}
    for tier, choices in pairs.items():
        picked = draw(st.lists(st.sampled_from(choices), max_size=2, unique=True))
        alerting[tier] = [
            {
                "burn_rate": f,
                "long": long,
                "short": _short(long),
                **({"for": draw(st.sampled_from(["1m", "5m"]))} if draw(st.booleans()) else {}),
            }
            for f, long in picked
        ]
    if alerting["page"] or alerting["ticket"]:
        slo["alerting"] = alerting
    if draw(st.booleans()):
        slo["title"] = draw(st.sampled_from(["Availability", "Checkout: p99 < 1s"]))
    return slo


def _short(long: str) -> str:
    from sloforge.durations import format_duration, parse_duration

    return format_duration(short_window(parse_duration(long)))


@settings(max_examples=40, deadline=None)
@given(st.lists(native_slos(), min_size=1, max_size=3, unique_by=lambda s: s["name"]))
def test_property_native_openslo_native_is_the_identity(tmp_path_factory, slos):
    spec = Spec.model_validate({"apiVersion": "sloforge/v1", "service": "svc", "labels": {"team": "a"}, "slos": slos})
    (back,) = reimport(tmp_path_factory.mktemp("prop"), [spec])
    assert back.labels == spec.labels
    for a, b in zip(spec.slos, back.slos, strict=True):
        assert_same_slo(a, b)
    assert openslo_losses([spec]) == [
        f"svc/{s.name}: by [region] is written as 'sum by' in the queries; OpenSLO has no grouping, "
        "so tools that expect one SLI series may read it as one SLO"
        for s in spec.slos
        if s.by
    ]
