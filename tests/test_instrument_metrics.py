"""Metrics.from_spec: every declared metric exposed exactly as declared (real prometheus_client
exposition, parsed by promtool), Go-exact bucket generators, clear errors."""

from __future__ import annotations

import re
import subprocess
import warnings

import pytest
from conftest import BASE_SPEC, EXAMPLES, need
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest
from prometheus_client.utils import floatToGoString

from sloforge.instrument import DuplicateMetricError, LabelError, Metrics, NameWarning, bucket_bounds
from sloforge.instrument.metrics import exponential_buckets, linear_buckets, load_spec
from sloforge.model import MetricDef, Spec
from sloforge.spec import load

SPECS = load(EXAMPLES).specs


def exposed_name(m: MetricDef) -> str:
    """The name prometheus_client writes in ``# TYPE``."""
    if m.type == "counter":
        return m.name if m.name.endswith("_total") else m.name + "_total"
    return m.name


def sample_names(m: MetricDef) -> list[str]:
    if m.type == "histogram":
        return [f"{m.name}_bucket", f"{m.name}_sum", f"{m.name}_count"]
    if m.type == "summary":
        return [f"{m.name}_sum", f"{m.name}_count"]
    return [exposed_name(m)]


def example_value(label: str) -> str:
    return f"ex-{label}"


def exposition(spec: Spec) -> tuple[Metrics, str]:
    reg = CollectorRegistry()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NameWarning)
        metrics = Metrics.from_spec(spec, registry=reg)
    for m in spec.metrics:
        if m.labels:
            metrics[m.name].labels(**{lbl: example_value(lbl) for lbl in m.labels})
    return metrics, generate_latest(reg).decode()


def series_lines(text: str, name: str) -> list[str]:
    return [ln for ln in text.splitlines() if re.match(rf"{re.escape(name)}[{{ ]", ln)]


@pytest.mark.parametrize("spec", SPECS, ids=[s.service for s in SPECS])
def test_every_declared_metric_is_exposed_as_declared(spec: Spec) -> None:
    metrics, text = exposition(spec)
    assert len(metrics) == len(spec.metrics)
    for m in spec.metrics:
        assert f"# TYPE {exposed_name(m)} {m.type}\n" in text, m.name
        assert f"# HELP {exposed_name(m)} {m.help}" in text, m.name
        for name in sample_names(m):
            lines = series_lines(text, name)
            assert lines, f"{name} not exposed"
            for ln in lines:
                for lbl in m.labels:
                    assert f'{lbl}="{example_value(lbl)}"' in ln, ln
        if m.type == "histogram":
            les = [re.search(r'le="([^"]+)"', ln).group(1) for ln in series_lines(text, f"{m.name}_bucket")]
            assert les == [floatToGoString(b) for b in bucket_bounds(m)] + ["+Inf"], m.name
            assert [float(x) for x in les[:-1]] == bucket_bounds(m)
            # the generators reproduce client_golang's float steps; the shipped examples
            # have no float noise, so they equal the model's (rounded) bounds too
            assert bucket_bounds(m) == m.bucket_bounds(), m.name


def test_kubernetesexecution_exponential_buckets_exact() -> None:
    spec = next(s for s in SPECS if s.service == "kubernetesexecution")
    _, text = exposition(spec)
    name = "kubernetesexecution_action_execution_duration_seconds_bucket"
    les = [re.search(r'le="([^"]+)"', ln).group(1) for ln in series_lines(text, name)]
    assert les == ["0.5", "1.0", "2.0", "4.0", "8.0", "16.0", "32.0", "64.0", "128.0", "256.0", "+Inf"]


@pytest.mark.parametrize("spec", SPECS, ids=[s.service for s in SPECS])
def test_exposition_parses_with_promtool(spec: Spec) -> None:
    """promtool reads the text format (exit 1 = unparsable); exit 3 = naming lint, which the seeds' names cause."""
    promtool = need("promtool")
    _, text = exposition(spec)
    proc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 3), out
    assert "error while linting" not in out and "parsing error" not in out, out


def test_go_bucket_generators() -> None:
    # client_golang: buckets[i] = start; start *= factor  /  start += width
    assert exponential_buckets(0.5, 2, 10) == [0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert exponential_buckets(0.1, 1.5, 3) == [0.1, 0.15000000000000002, 0.22500000000000003]
    assert linear_buckets(0, 0.1, 4) == [0, 0.1, 0.2, 0.30000000000000004]
    m = MetricDef(name="x_seconds", type="histogram", buckets={"linear": {"start": 0, "width": 0.1, "count": 4}})
    reg = CollectorRegistry()
    spec = _spec([m])
    Metrics.from_spec(spec, registry=reg)
    text = generate_latest(reg).decode()
    assert 'x_seconds_bucket{le="0.30000000000000004"}' in text


def _spec(metrics: list[MetricDef], service: str = "svc") -> Spec:
    return Spec.model_validate(
        {
            "apiVersion": "sloforge/v1",
            "service": service,
            "metrics": [m.model_dump(exclude_none=True) for m in metrics],
            "slos": [{"name": "a", "objective": 99, "sli": {"events": {"bad": "x_total", "total": "x_total"}}}],
        }
    )


def test_types_and_defaults() -> None:
    reg = CollectorRegistry()
    spec = _spec(
        [
            MetricDef(name="a_total", type="counter"),
            MetricDef(name="b", type="gauge", labels=["k"]),
            MetricDef(name="c_seconds", type="histogram"),
            MetricDef(name="d_seconds", type="summary", labels=["k"]),
        ]
    )
    m = Metrics.from_spec(spec, registry=reg)
    assert isinstance(m["a_total"], Counter)
    assert isinstance(m.b, Gauge)
    assert isinstance(m.c_seconds, Histogram)
    assert isinstance(m.d_seconds, Summary)
    m.a_total.inc(2)
    m.b.labels(k="v").set(3)
    m.d_seconds.labels(k="v").observe(0.2)
    text = generate_latest(reg).decode()
    assert "a_total 2.0" in text
    assert 'b{k="v"} 3.0' in text
    assert 'd_seconds_count{k="v"} 1.0' in text
    les = [re.search(r'le="([^"]+)"', ln).group(1) for ln in series_lines(text, "c_seconds_bucket")]
    assert les[:-1] == [floatToGoString(b) for b in [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]]


def test_counter_names_with_and_without_total() -> None:
    reg = CollectorRegistry()
    spec = _spec([MetricDef(name="jobs_total", type="counter"), MetricDef(name="nkx_failures", type="counter")])
    with pytest.warns(NameWarning, match="nkx_failures_total") as caught:
        m = Metrics.from_spec(spec, registry=reg)
    assert len(caught) == 1
    assert m["jobs_total"] is m["jobs"] is m.jobs_total
    assert m["nkx_failures"] is m["nkx_failures_total"]
    assert m.names() == ["jobs_total", "nkx_failures"] == list(m)
    assert "jobs" in m and "nope" not in m
    text = generate_latest(reg).decode()
    assert "# TYPE jobs_total counter" in text and "jobs_total 0.0" in text
    assert "# TYPE nkx_failures_total counter" in text
    # warned once per name, not per registry
    with warnings.catch_warnings():
        warnings.simplefilter("error", NameWarning)
        Metrics.from_spec(spec, registry=CollectorRegistry())


def test_duplicate_declaration_is_a_clear_error() -> None:
    reg = CollectorRegistry()
    Metrics.from_spec(EXAMPLES / "kubernetesexecution.yaml", registry=reg)
    with pytest.raises(DuplicateMetricError, match="'kubernetesexecution_action_execution_total'"):
        Metrics.from_spec(EXAMPLES / "kubernetesexecution.yaml", registry=reg)
    assert issubclass(DuplicateMetricError, ValueError)


def test_failed_declaration_registers_nothing() -> None:
    reg = CollectorRegistry()
    Gauge("later", "already here", registry=reg)
    spec = _spec([MetricDef(name="first_total", type="counter"), MetricDef(name="later", type="gauge")])
    with pytest.raises(DuplicateMetricError, match="'later'"):
        Metrics.from_spec(spec, registry=reg)
    assert "first" not in generate_latest(reg).decode()
    Metrics.from_spec(_spec([MetricDef(name="first_total", type="counter")]), registry=reg)


def test_label_errors_name_the_allowed_labels() -> None:
    m = Metrics.from_spec(EXAMPLES / "kubernetesexecution.yaml", registry=CollectorRegistry())
    c = m.kubernetesexecution_action_execution_total
    with pytest.raises(LabelError, match=r"unknown label\(s\) 'actoin'.*allowed labels: status, action"):
        c.labels(status="completed", actoin="scale")
    with pytest.raises(LabelError, match=r"missing label\(s\) 'action'"):
        c.labels(status="completed")
    with pytest.raises(LabelError, match="1 label value.*2 expected"):
        c.labels("completed")
    with pytest.raises(LabelError, match="declares no labels"):
        m.kubernetesexecution_job_active_total.labels(x="y")
    with pytest.raises(LabelError, match="do not chain"):
        c.labels(status="a", action="b").labels(status="a", action="b")
    assert isinstance(c.labels("completed", "scale"), Counter)
    with pytest.raises(ValueError):  # LabelError is a ValueError
        m["kubernetesexecution_action_execution_duration_seconds"].labels(status="x")


def test_unknown_metric_names() -> None:
    m = Metrics.from_spec(EXAMPLES / "kubernetesexecution.yaml", registry=CollectorRegistry())
    with pytest.raises(KeyError, match="declares no metric 'nope'"):
        m["nope"]
    with pytest.raises(AttributeError, match="declares no metric 'nope'"):
        _ = m.nope


def test_spec_from_text_file_and_directory(tmp_path) -> None:
    (tmp_path / "svc.yaml").write_text(BASE_SPEC)
    m = Metrics.from_spec(tmp_path / "svc.yaml", registry=CollectorRegistry())
    assert m.names() == ["http_requests_total", "http_request_duration_seconds"]
    with pytest.raises(ValueError, match="pass service=NAME"):
        load_spec(EXAMPLES)
    assert load_spec(EXAMPLES, service="nkudo").service == "nkudo"
    with pytest.raises(ValueError, match="no service 'nope'"):
        load_spec(EXAMPLES, service="nope")
    with pytest.raises(ValueError, match="not 'other'"):
        load_spec(SPECS[0], service="other")


def test_unregister_frees_the_names() -> None:
    reg = CollectorRegistry()
    m = Metrics.from_spec(EXAMPLES / "kubernetesexecution.yaml", registry=reg)
    m.unregister()
    assert generate_latest(reg) == b""
    Metrics.from_spec(EXAMPLES / "kubernetesexecution.yaml", registry=reg)


def test_package_docstring_example_runs() -> None:
    """The README-ready example in ``sloforge.instrument``'s docstring runs as written (repo root, own process)."""
    import sys

    import sloforge.instrument

    code = re.search(r"```python\n(.*?)```", sloforge.instrument.__doc__, re.S).group(1)
    code = code.replace("start_http_server(8000)", 'start_http_server(0, addr="127.0.0.1")')
    code += (
        "\nassert sla.check_error_budget() == 2472.0"
        "\nassert slo.status(action='scale')['events'] == 3"
        "\nfrom prometheus_client import generate_latest"
        "\ntext = generate_latest().decode()"
        "\nassert 'sloforge_slo_burn_rate{action=\"scale\"' in text and 'nkudo_slo_status' in text"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=EXAMPLES.parent, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
