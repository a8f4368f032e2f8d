"""Generated ``<service>_metrics.py`` modules: imported for real, their exposition compared with
``Metrics.from_spec`` on a fresh registry, and checked with ruff."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import typing
from pathlib import Path
from types import ModuleType

import pytest
from conftest import EXAMPLES, REPO
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest

from sloforge.generate.python_module import class_name, field_name, module_name, python_module
from sloforge.instrument import Metrics
from sloforge.model import Spec
from sloforge.spec import load

EDGE_SPEC = """\
apiVersion: sloforge/v1
service: edge-cases
metrics:
  - name: edge_requests_total
    type: counter
    labels: [code]
    help: 'Requests with "quotes", a backslash \\\\ and unicode: 1 µs … done'
  - name: edge_retries
    type: counter
    help: a counter declared without _total
  - name: edge_queue_bytes
    type: gauge
    unit: bytes
    help: >-
      A gauge whose help text is long enough that one line of generated code cannot hold it,
      so the generator must split it over lines
  - name: "edge:latency:seconds"
    type: histogram
    labels: [route, method]
    buckets: {linear: {start: 0.1, width: 0.1, count: 12}}
  - name: edge_payload_size
    type: summary
    labels: [route]
  - name: edge_default_buckets
    type: histogram
slos:
  - name: availability
    objective: 99
    sli:
      events:
        bad: edge_requests_total{code=~"5.."}
        total: edge_requests_total
"""

# the examples' seed names without _total are reported by Metrics.from_spec; not this module's concern
pytestmark = pytest.mark.filterwarnings("ignore::sloforge.instrument.NameWarning")

_CREATED = re.compile(r"^[^#\s]+_created[{ ]")


def all_specs(tmp_path: Path) -> list[Spec]:
    edge = tmp_path / "edge.yaml"
    edge.write_text(EDGE_SPEC)
    return [*load(EXAMPLES).specs, *load(edge).specs]


def import_module(source: str, path: Path) -> ModuleType:
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # as a real import: dataclasses resolve annotations through it
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[path.stem]
    return module


def exercise(metric: object) -> None:
    """One sample per metric (label value "v" for every label), the same on both sides."""
    names = getattr(metric, "_labelnames", ())
    child = metric.labels(*["v"] * len(names)) if names else metric  # type: ignore[attr-defined]
    if isinstance(metric, Counter):
        child.inc(3)
    elif isinstance(metric, Gauge):
        child.set(7)
    else:
        child.observe(0.3)


def exposition(registry: CollectorRegistry) -> str:
    """Exposition text without the ``_created`` timestamps (they differ between registries)."""
    return "".join(line for line in generate_latest(registry).decode().splitlines(True) if not _CREATED.match(line))


def test_generated_modules_expose_exactly_what_metrics_from_spec_does(tmp_path: Path):
    for spec in all_specs(tmp_path):
        module = import_module(python_module(spec), tmp_path / f"{module_name(spec)}.py")
        assert spec.service == module.SERVICE
        gen_registry, run_registry = CollectorRegistry(), CollectorRegistry()
        generated = module.register(gen_registry)
        runtime = Metrics.from_spec(spec, registry=run_registry)
        for m in spec.metrics:
            exercise(getattr(generated, field_name(m.name)))
            exercise(runtime[m.name])
        assert exposition(gen_registry) == exposition(run_registry), spec.service
        for m in spec.metrics:  # every declared metric is there, with its TYPE
            exposed = m.name.removesuffix("_total") + "_total" if m.type == "counter" else m.name
            assert f"# TYPE {exposed} {m.type}\n" in exposition(gen_registry)


def test_bucket_literals_are_the_runtime_bounds(tmp_path: Path):
    edge = next(s for s in all_specs(tmp_path) if s.service == "edge-cases")
    source = python_module(edge)
    # linear 0.1 + 0.1 steps keep client_golang's float noise, as Metrics.from_spec does
    assert "buckets=[\n                0.1,\n                0.2,\n                0.30000000000000004,\n" in source
    assert "buckets=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]" in source
    assert 'unit="bytes"' in source
    assert "# exposed as edge_retries_total" in source
    module = import_module(source, tmp_path / "edge_cases_metrics.py")
    hist = module.register(CollectorRegistry()).edge_latency_seconds
    assert hist._upper_bounds[:3] == [0.1, 0.2, 0.30000000000000004]


def test_types_names_and_registration(tmp_path: Path):
    kinds = {"counter": Counter, "gauge": Gauge, "histogram": Histogram, "summary": Summary}
    for spec in all_specs(tmp_path):
        module = import_module(python_module(spec), tmp_path / f"{module_name(spec)}.py")
        cls = getattr(module, class_name(spec))
        hints = typing.get_type_hints(cls, vars(module))
        assert hints == {field_name(m.name): kinds[m.type] for m in spec.metrics}
        registry = CollectorRegistry()
        module.register(registry)
        with pytest.raises(ValueError, match="Duplicated timeseries"):
            module.register(registry)
    assert module_name(spec) == spec.service.replace("-", "_") + "_metrics"


def test_importing_registers_nothing(tmp_path: Path):
    from prometheus_client import REGISTRY

    spec = load(EXAMPLES / "kubernetesexecution.yaml").specs[0]
    before = set(REGISTRY._names_to_collectors)
    import_module(python_module(spec), tmp_path / "kubernetesexecution_metrics.py")
    assert set(REGISTRY._names_to_collectors) == before


def test_deterministic_and_ruff_clean(tmp_path: Path):
    out = tmp_path / "generated"
    out.mkdir()
    for spec in all_specs(tmp_path):
        text = python_module(spec)
        assert text == python_module(spec)
        (out / f"{module_name(spec)}.py").write_text(text)
    ruff = Path(sys.executable).parent / "ruff"
    config = str(REPO / "pyproject.toml")
    check = subprocess.run([ruff, "check", "--no-cache", "--config", config, out], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run(
        [ruff, "format", "--check", "--no-cache", "--config", config, out], capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
