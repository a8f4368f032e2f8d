"""Generated promtool tests for operational alerts, and the steady-state evaluator behind them.

* the evaluator agrees with a real Prometheus on a table of expressions (values and labels);
* random threshold alerts of every supported shape get a test that promtool passes;
* an explicit ``alert.test`` replaces the search; an alert no input can satisfy gets a lint warning;
* every alert of every example spec (and of the example bundle) gets a test promtool passes.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, backfilled_prometheus, need
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sloforge.generate import alert_tests, promtool_tests, rules
from sloforge.generate.yamlout import dump
from sloforge.promql.steady import (
    NAME,
    Evaluator,
    Scalar,
    Series,
    bucket_quantile,
    labels_of,
    parse_values,
    render_labels,
)
from sloforge.spec import load

# ---------------------------------------------------------------- the evaluator against Prometheus

BASE = 1_700_000_000  # seconds: backfilled data starts here
INTERVAL = 60
SAMPLES = 180  # 3h of 1m samples


def _series() -> list[tuple[str, str]]:
    start_ts = f"{BASE - 600}+60x{SAMPLES}"  # a start timestamp following the clock, 10 minutes old
    return [
        ('req_total{code="200",route="/a"}', f"0+60x{SAMPLES}"),
        ('req_total{code="500",route="/a"}', f"0+6x{SAMPLES}"),
        ('req_total{code="200",route="/b"}', f"0+120x{SAMPLES}"),
        ('req_total{code="503",route="/b"}', "0+30x90 0+30x89"),  # a counter reset half-way
        ('temp{room="x"}', f"21.5x{SAMPLES}"),
        ('temp{room="y"}', f"10+0.5x{SAMPLES}"),
        ('up{instance="i1",job="api"}', f"1x{SAMPLES}"),
        ('up{instance="i2",job="api"}', "1x90 0x89"),
        ('info{job="api",version="1.2"}', f"1x{SAMPLES}"),
        ('lat_bucket{le="0.1"}', f"0+60x{SAMPLES}"),
        ('lat_bucket{le="0.5"}', f"0+180x{SAMPLES}"),
        ('lat_bucket{le="1"}', f"0+240x{SAMPLES}"),
        ('lat_bucket{le="+Inf"}', f"0+300x{SAMPLES}"),
        ("lat_count", f"0+300x{SAMPLES}"),
        ("lat_sum", f"0+90x{SAMPLES}"),
        ('start_timestamp{job="api"}', start_ts),
        ("flap", " ".join(["1", "0"] * (SAMPLES // 2))),
        ("sparse", "_x10 5x20"),
    ]


EXPRESSIONS = [
    "rate(req_total[5m])",
    "irate(req_total[5m])",
    "increase(req_total[1h])",
    "increase(req_total[3h])",
    "resets(req_total[3h])",
    "delta(temp[10m])",
    "idelta(temp[10m])",
    "deriv(temp[10m])",
    "predict_linear(temp[10m], 3600)",
    "changes(flap[10m])",
    "avg_over_time(temp[10m])",
    "min_over_time(temp[10m])",
    "max_over_time(temp[10m])",
    "sum_over_time(temp[10m])",
    "count_over_time(temp[10m])",
    "last_over_time(temp[10m])",
    "present_over_time(temp[10m])",
    "quantile_over_time(0.9, temp[10m])",
    "stddev_over_time(temp[10m])",
    "stdvar_over_time(temp[10m])",
    "avg_over_time(temp[10m] offset 5m)",
    "rate(req_total[5m] offset 10m)",
    "max_over_time(rate(req_total[5m])[30m:1m])",
    "max_over_time(rate(req_total[5m])[30m:])",
    "time() - start_timestamp",
    "timestamp(temp)",
    "time()",
    "minute()",
    "hour()",
    "day_of_week()",
    'absent(nope{job="x"})',
    "absent(up)",
    "absent_over_time(sparse[5m])",
    "last_over_time(sparse[3h])",
    "sparse",
    "vector(1)",
    "scalar(sum(up))",
    "abs(-temp)",
    "clamp(temp, 0, 20)",
    "clamp_min(temp, 15)",
    "clamp_max(temp, 15)",
    "ceil(temp)",
    "floor(temp)",
    "round(temp, 5)",
    "sqrt(temp)",
    'label_replace(up, "host", "$1", "instance", "i(.*)")',
    'label_replace(up, "host", "$1", "instance", "x(.*)")',
    'label_join(up, "id", "-", "job", "instance")',
    "histogram_quantile(0.9, rate(lat_bucket[5m]))",
    "histogram_quantile(0.5, sum by (le) (rate(lat_bucket[5m])))",
    "histogram_quantile(0.99, rate(lat_bucket[5m]))",
    "rate(lat_sum[5m]) / rate(lat_count[5m])",
    "sum(rate(req_total[5m]))",
    "sum by (route) (rate(req_total[5m]))",
    "sum without (code) (rate(req_total[5m]))",
    "avg by (job) (up)",
    "min(temp)",
    "max(temp)",
    "count(up)",
    "group by (job) (up)",
    "stddev(temp)",
    "topk(1, rate(req_total[5m]))",
    "bottomk(2, rate(req_total[5m]))",
    "quantile(0.5, temp)",
    'count_values("v", up)',
    'sum by (route) (rate(req_total{code=~"5.."}[5m])) / on(route) sum by (route) (rate(req_total[5m]))',
    'rate(req_total{code=~"5.."}[5m]) / ignoring(code) rate(req_total{code="200"}[5m])',
    "up * on(job) group_left(version) info",
    "info * on(job) group_right up",
    "up > bool 0",
    "up == 0",
    "temp > 15",
    "15 < temp",
    "2 * temp",
    "1 - temp",
    "-temp",
    "temp ^ 2",
    "temp % 7",
    "temp > 15 and on() up",
    'temp unless on(room) temp{room="x"}',
    "up or vector(0)",
    "sum(up) or on() vector(0)",
    "sort_desc(rate(req_total[5m]))",
    'sum(rate(req_total{code=~"5.."}[1h])) / sum(rate(req_total[1h])) > 0.01',
    "1 + 2 * 3",
    "2 > bool 1",
    "histogram_quantile(0.5, rate(lat_bucket[5m]) * 0)",
    "rate(req_total[5m]) * 0 / 0 > 1",
    "absent(sum(nope))",
    'count_values("v", rate(req_total[5m]))',
    'rate(req_total[5m]) and on(route) rate(req_total{code="500"}[5m])',
    "max by (route) (rate(req_total[5m])) > on(route) group_right sum by (route, code) (rate(req_total[5m]))",
    "avg_over_time(rate(req_total[5m])[20m:5m] offset 10m)",
    'label_replace(temp, "metric", "$1", "__name__", "(.+)")',
    "changes(up[2h])",
    "last_over_time(up[10m]) == bool 1",
    "rate(req_total[10m])",
    "avg(rate(req_total[5m]))",
    "avg_over_time(rate(req_total[5m])[30m:1m])",
    "sum_over_time(rate(req_total[7m])[30m:1m])",
    "stddev_over_time(rate(req_total[5m])[30m:1m])",
    "stddev(rate(req_total[5m]))",
    "stdvar(temp)",
    "quantile(0.3, rate(req_total[1h]))",
    "clamp_min(rate(lat_bucket[5m]) * 0 / 0, 1)",
]
TIMES = [5 * 60, 10 * 60, 2 * 3600]  # seconds after BASE: during warm-up and steady


def _evaluator() -> Evaluator:
    return Evaluator([Series.from_text(s, v, INTERVAL * 1000, BASE * 1000) for s, v in _series()])


def _openmetrics(path: Path) -> None:
    lines = []
    for text, values in sorted(_series()):
        s = Series.from_text(text, values, INTERVAL * 1000, BASE * 1000)
        name = render_labels(s.labels)
        for k, v in enumerate(s.values):
            if v is not None:
                lines.append(f"{name} {v!r} {BASE + k * INTERVAL}")
    path.write_text("\n".join(lines) + "\n# EOF\n")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    need("prometheus")
    need("promtool")
    tmp = tmp_path_factory.mktemp("steady")
    _openmetrics(tmp / "data.om")
    server = backfilled_prometheus(tmp, tmp / "data.om")
    yield server
    server.stop()


def _from_api(data: dict):
    if data["resultType"] == "scalar":
        return Scalar(float(data["result"][1]))
    return sorted((labels_of(r["metric"]), float(r["value"][1])) for r in data["result"])


def _same(a: float, b: float) -> bool:
    """Bit for bit: alerts compare against thresholds, where the last digit can decide."""
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.prometheus
def test_steady_evaluator_matches_prometheus(prometheus):
    ev = _evaluator()
    mismatches = []
    for expr in EXPRESSIONS:
        for t in TIMES:
            body = prometheus.query(expr, BASE + t)
            assert body["status"] == "success", (expr, body)
            want = _from_api(body["data"])
            got = ev.query(expr, (BASE + t) * 1000)
            if isinstance(want, Scalar):
                ok = isinstance(got, Scalar) and _same(got.v, want.v)
            else:
                got = sorted(got) if isinstance(got, list) else got
                ok = (
                    isinstance(got, list)
                    and [ls for ls, _ in got] == [ls for ls, _ in want]
                    and all(_same(a, b) for (_, a), (_, b) in zip(got, want, strict=True))
                )
            if not ok:
                mismatches.append(f"{expr} @{t}s: prometheus {want}, steady {got}")
    assert not mismatches, "\n".join(mismatches)


def test_expanding_notation_as_promtool_reads_it():
    assert parse_values("1x3") == [1.0, 1.0, 1.0, 1.0]
    assert parse_values("_x3 5") == [None, None, None, 5.0]
    assert parse_values("-600+60x2 1e+06-1e5x1 stale") == [-600.0, -540.0, -480.0, 1e6, 9e5, "stale"]


def test_bucket_quantile_interpolates_like_prometheus():
    buckets = [(0.1, 1.0), (0.5, 3.0), (1.0, 4.0), (math.inf, 5.0)]
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.1 + 0.4 * 0.75)
    assert bucket_quantile(0.99, buckets) == 1.0  # in +Inf: the highest finite bound
    assert math.isnan(bucket_quantile(0.5, [(0.1, 1.0)]))


def test_records_are_read_through_and_from_the_previous_evaluation_when_defined_later():
    from sloforge.promql.steady import Record

    series = [Series.from_text("x", "0+60x30", 60_000)]
    records = [
        Record("a:rate", "rate(x[5m])"),
        Record("b:late", "a:rate * 2 + on() c:later"),
        Record("c:later", "vector(1)"),
    ]
    ev = Evaluator(series, records, 60_000)
    assert ev.query("a:rate", 600_000) == [(labels_of({NAME: "a:rate"}), 1.0)]
    assert ev.query("avg_over_time(a:rate[5m])", 600_000)[0][1] == 1.0
    # c:later comes after b:late in the file: at 0 it has no earlier value yet
    assert ev.query("b:late", 0) == []
    assert ev.query("b:late", 600_000)[0][1] == 3.0


# ---------------------------------------------------------------- generated tests pass promtool

HEADER = """\
apiVersion: sloforge/v1
service: prop
labels: {team: t}
metrics:
  - {name: prop_latency_seconds, type: histogram, buckets: [0.1, 0.25, 0.5, 1, 2.5, 5]}
slos:
  - name: avail
    objective: 99
    sli: {events: {bad: 'prop_slo_errors_total', total: 'prop_slo_requests_total'}}
    alerting: {page: false, ticket: false}
"""


def _write(tmp: Path, text: str, name: str = "prop.yaml") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def _promtool_passes(tmp: Path, doc) -> subprocess.CompletedProcess:
    rules_dir, tests_dir = tmp / "rules", tmp / "tests"
    rules_dir.mkdir(exist_ok=True)
    tests_dir.mkdir(exist_ok=True)
    (rules_dir / f"{doc.service}.yml").write_text(rules.rule_file(doc))
    files = []
    for name, text in promtool_tests.test_files(doc).items():
        (tests_dir / name).write_text(text)
        files.append(str(tests_dir / name))
    assert files, "no tests generated"
    return subprocess.run(
        [need("promtool"), "test", "rules", *files], capture_output=True, text=True, cwd=tests_dir, timeout=300
    )


numbers = st.sampled_from([0.001, 0.02, 0.05, 0.3, 0.5, 1, 3, 7.5, 42, 100, 300, 1000, 86400, 123456])
windows = st.sampled_from(["1m", "2m", "5m", "10m", "30m", "1h"])
ops = st.sampled_from([">", "<", ">=", "<="])
fors = st.sampled_from([None, "1m", "2m", "5m", "10m"])


@st.composite
def alert_exprs(draw) -> str:
    shape = draw(st.sampled_from(["gauge", "rate", "ratio", "quantile", "age", "increase"]))
    c, w = draw(numbers), draw(windows)
    if shape == "gauge":
        return f'prop_queue_depth{{queue="q1"}} {draw(ops)} {c}'
    if shape == "rate":
        return f"sum(rate(prop_jobs_total[{w}])) > {c}"
    if shape == "ratio":
        ratio = draw(st.sampled_from([0.001, 0.01, 0.05, 0.5, 0.9]))
        return (
            f'sum by (route) (rate(prop_http_requests_total{{code=~"5.."}}[{w}]))'
            f" / sum by (route) (rate(prop_http_requests_total[{w}])) > {ratio}"
        )
    if shape == "quantile":
        q, op = draw(st.sampled_from([0.5, 0.9, 0.95, 0.99])), draw(ops)
        # a quantile lies between q * (first bound) and the last bound: keep the threshold inside
        bound = draw(st.sampled_from([0.05, 0.2, 0.3, 1, 3] if ">" in op else [0.2, 0.3, 1, 3]))
        return f"histogram_quantile({q}, sum by (le) (rate(prop_latency_seconds_bucket[{w}]))) {op} {bound}"
    if shape == "age":
        return f'time() - prop_last_success_timestamp_seconds{{job="batch"}} > {c}'
    return f"increase(prop_errors_total[{w}]) > {c}"


def _alert_yaml(i: int, expr: str, for_: str | None) -> str:
    text = f"  - name: PropAlert{i}\n    expr: '{expr}'\n    severity: warning\n    summary: s\n"
    return text + (f"    for: {for_}\n" if for_ else "")


@pytest.mark.promtool
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(alerts=st.lists(st.tuples(alert_exprs(), fors), min_size=1, max_size=4))
def test_random_threshold_alerts_get_tests_promtool_passes(tmp_path_factory, alerts):
    tmp = tmp_path_factory.mktemp("prop")
    text = HEADER + "alerts:\n" + "".join(_alert_yaml(i, e, f) for i, (e, f) in enumerate(alerts))
    spec = load(_write(tmp, text)).specs[0]
    cases, skipped = alert_tests.cases(spec)
    assert not skipped
    assert len(cases) == len(alerts)
    for case in cases:
        checks = [c for g in case.groups for c in g["promql_expr_test"]]
        assert any(c["exp_samples"] and 'alertstate="firing"' in c["exp_samples"][0]["labels"] for c in checks)
        assert any(not c["exp_samples"] for c in checks)  # the healthy input: no ALERTS
    proc = _promtool_passes(tmp, spec)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_firing_check_has_the_exact_labels_and_a_pending_check_before_for(tmp_path):
    expr = (
        'sum by (route) (rate(prop_http_requests_total{code=~"5.."}[5m]))'
        " / sum by (route) (rate(prop_http_requests_total[5m])) > 0.05"
    )
    alert = _alert_yaml(0, expr, "5m").replace("    summary: s\n", "    summary: s\n    labels: {page: 'yes'}\n")
    spec = load(_write(tmp_path, HEADER + "alerts:\n" + alert)).specs[0]
    (case,), _ = alert_tests.cases(spec)
    breach, healthy = case.groups
    pending, firing = breach["promql_expr_test"]
    labels = 'ALERTS{{alertname="PropAlert0",alertstate="{}",page="yes",service="prop",severity="warning",team="t"}}'
    assert pending["eval_time"] == "5m" and firing["eval_time"] == "10m"  # active from 1m on
    assert pending["exp_samples"] == [{"labels": labels.format("pending"), "value": 1}]
    assert firing["exp_samples"] == [{"labels": labels.format("firing"), "value": 1}]
    assert healthy["promql_expr_test"] == [
        {"expr": 'ALERTS{alertname="PropAlert0"}', "eval_time": "10m", "exp_samples": []}
    ]
    assert "summary" not in dump(case.groups)  # annotations are not asserted


def test_output_is_deterministic(tmp_path):
    text = HEADER + "alerts:\n" + _alert_yaml(0, "time() - prop_last_success_timestamp_seconds > 600", "5m")
    spec = load(_write(tmp_path, text)).specs[0]
    alert_tests._CACHE.clear()
    first = promtool_tests.test_files(spec)
    alert_tests._CACHE.clear()
    assert promtool_tests.test_files(spec) == first


# ---------------------------------------------------------------- explicit tests and the lint warning


def _untestable(loaded) -> list:
    return [w for w in loaded.warnings if "no promtool test can be derived" in w.message]


EXPLICIT = """\
alerts:
  - name: Flapping
    expr: changes(prop_state[10m]) > 3
    severity: warning
    summary: s
    test:
      interval: 1m
      breach:
        - {series: 'prop_state{job="a"}', values: "0 1 0 1 0 1 0 1 0 1 0"}
      healthy:
        - {series: 'prop_state{job="a"}', values: "1x10"}
      eval_time: 10m
"""


@pytest.mark.promtool
def test_explicit_alert_test_replaces_the_search(tmp_path):
    loaded = load(_write(tmp_path, HEADER + EXPLICIT))
    assert _untestable(loaded) == []  # a steady input never flaps, but the test is given
    spec = loaded.specs[0]
    (case,), skipped = alert_tests.cases(spec)
    assert case.explicit and not skipped
    breach, healthy = case.groups
    assert breach["input_series"] == [{"series": 'prop_state{job="a"}', "values": "0 1 0 1 0 1 0 1 0 1 0"}]
    assert healthy["input_series"] == [{"series": 'prop_state{job="a"}', "values": "1x10"}]
    (check,) = breach["promql_expr_test"]
    assert check["eval_time"] == "10m"
    # predicted exactly: the expression keeps the job label, the rule adds its own
    assert check["exp_samples"] == [
        {
            "labels": 'ALERTS{alertname="Flapping",alertstate="firing",job="a",'
            'service="prop",severity="warning",team="t"}',
            "value": 1,
        }
    ]
    proc = _promtool_passes(tmp_path, spec)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


@pytest.mark.parametrize(
    "expr",
    ["vector(1) < 0", "changes(prop_state[10m]) > 3"],
)
def test_alert_without_a_derivable_test_gets_a_lint_warning(tmp_path, expr):
    text = HEADER + "alerts:\n" + _alert_yaml(0, expr, None)
    (w,) = _untestable(load(_write(tmp_path, text)))
    assert w.path == "alerts[0].expr"
    assert w.message.startswith("no promtool test can be derived (")
    assert w.message.endswith("); add alerts[0].test")
    assert "no input found that makes it fire" in w.message


def test_unsupported_promql_names_the_construct(tmp_path):
    text = HEADER + "alerts:\n" + _alert_yaml(0, "histogram_count(prop_native_seconds) > 1", None)
    (w,) = _untestable(load(_write(tmp_path, text)))
    assert "does not evaluate function histogram_count()" in w.message


# ---------------------------------------------------------------- the examples

EXAMPLE_DOCS = [p for p in sorted(EXAMPLES.rglob("*.yaml"))]


def _docs(path: Path) -> list:
    loaded = load(path)
    return loaded.specs + ([loaded.bundle] if loaded.bundle else [])


@pytest.mark.promtool
@pytest.mark.parametrize("path", EXAMPLE_DOCS, ids=lambda p: p.stem)
def test_every_example_alert_gets_a_test_promtool_passes(tmp_path, path):
    """Only the alert groups (the SLO tests run in test_generate): every alert is covered."""
    for doc in _docs(path):
        if not doc.alerts:
            continue
        _, skipped = alert_tests.cases(doc)
        assert not skipped, skipped
        (tmp_path / "rules").mkdir(exist_ok=True)
        (tmp_path / "tests").mkdir(exist_ok=True)
        (tmp_path / "rules" / f"{doc.service}.yml").write_text(rules.rule_file(doc))
        files = []
        for step, groups in promtool_tests.alert_groups(doc).items():
            test = tmp_path / "tests" / f"{doc.service}.{step}.test.yml"
            head = {"rule_files": [f"../rules/{doc.service}.yml"], "evaluation_interval": f"{step // 60}m"}
            test.write_text(dump({**head, "tests": groups}))
            files.append(str(test))
        proc = subprocess.run(
            [need("promtool"), "test", "rules", *files], capture_output=True, text=True, cwd=tmp_path / "tests"
        )
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_bundle_alerts_get_a_test_file():
    loaded = load(EXAMPLES)
    assert loaded.bundle is not None
    files = promtool_tests.test_files(loaded.bundle)
    assert list(files) == [f"{loaded.bundle.service}.test.yml"]
    doc = yaml.safe_load(files[f"{loaded.bundle.service}.test.yml"])
    assert doc["rule_files"] == [f"../rules/{loaded.bundle.service}.yml"]
    checks = " ".join(c["expr"] for g in doc["tests"] for c in g["promql_expr_test"])
    assert all(f'alertname="{a.name}"' in checks for a in loaded.bundle.alerts)
