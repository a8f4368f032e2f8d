"""Timeslice SLIs through the engine against the generated rules in ``promtool test rules``.

The examples' timeslice SLOs (a ``histogram_quantile`` P95 of a histogram summed
by ``le``, ``max by`` of a state gauge, ``min by`` of a one-to-one ratio of two
gauges) run over incident shapes with resets, quiet periods (P95 NaN: a good
slice), gaps and vanishing series.  As in ``test_engine_parity``: the engine
predicts the ``ALERTS`` series at every evaluation (promtool must pass with those
expectations), and the recorded 5m and 1h rates, burn rates, budget, status and
coverage must equal what promtool recorded.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, need
from test_engine_parity import _FAILED, _GOT, RECORDED, Tally, alert_checks, engine_values, eval_time

from sloforge.durations import format_duration, parse_duration
from sloforge.evaluate import SeriesSet, evaluate, from_promtool, required_metrics, unsupported
from sloforge.evaluate.engine import Unsupported, check_supported
from sloforge.evaluate.series import Labels
from sloforge.generate.rules import rule_file, rule_groups
from sloforge.generate.yamlout import dump
from sloforge.model import Spec
from sloforge.spec import load

VALUE_EVERY = 4  # evaluations between recorded-value checks


def _text(values: np.ndarray) -> str:
    return " ".join("_" if math.isnan(v) else f"{v:.12g}" for v in values)


def _steps(n: int, base: float, *spans: tuple[int, int, float]) -> np.ndarray:
    out = np.full(n, base)
    for a, b, x in spans:
        out[a:b] = x
    return out


def _histogram(name: str, labels: str, bounds: list[str], shares: np.ndarray, per_step: np.ndarray) -> list:
    """Cumulative bucket counters from per-step observations: ``shares[k]`` is each bucket's share at step k."""
    obs = np.round(shares * per_step[:, None])
    cumulative = np.cumsum(np.cumsum(obs, axis=1), axis=0)  # over buckets (le), then over time
    cumulative = np.vstack([np.zeros((1, len(bounds))), cumulative])
    sep = "," if labels else ""
    return [(f'{name}_bucket{{{labels}{sep}le="{le}"}}', cumulative[:, j].copy()) for j, le in enumerate(bounds)]


def _latency_shares(n: int, nb: int, slow: list[tuple[int, int]], slow_bucket: int) -> np.ndarray:
    """Mostly in the first buckets; during ``slow`` spans most observations land in ``slow_bucket``."""
    shares = np.zeros((n, nb))
    shares[:, 0], shares[:, 1], shares[:, 2] = 0.5, 0.3, 0.17
    shares[:, nb - 1] = 0.03
    for a, b in slow:
        shares[a:b] = 0.0
        shares[a:b, 0], shares[a:b, slow_bucket] = 0.1, 0.9
    return shares


def _kubernetesexecution(n: int) -> list[tuple[str, np.ndarray]]:
    """30s steps: P95 over 30s for 25 minutes (execution), over 5s for 12 minutes (job creation); a reset,
    a quiet hour (no traffic: P95 is NaN, still a judged slice), a 10-minute scrape gap."""
    ex = "kubernetesexecution_action_execution_duration_seconds"
    ex_bounds = ["0.5", "1", "2", "4", "8", "16", "32", "64", "128", "256", "+Inf"]
    series = []
    for action, traffic in (("restart-pod", 12.0), ("scale-deployment", 4.0)):
        per_step = _steps(n, traffic, (300, 420, 0.0))
        shares = _latency_shares(n, len(ex_bounds), [(120, 170)], 7)
        series += _histogram(ex, f'action="{action}"', ex_bounds, shares, per_step)
    for _, v in series[: len(ex_bounds)]:  # restart-pod restarts (all buckets)
        v[250:] -= v[249]
    jc = "kubernetesexecution_job_creation_duration_seconds"
    jc_bounds = ["0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28", "2.56", "5.12", "+Inf"]
    shares = _latency_shares(n, len(jc_bounds), [(60, 84), (400, 402)], 10)
    jobs = _histogram(jc, "", jc_bounds, shares, _steps(n, 6.0))
    for _, v in jobs:
        v[440:460] = np.nan
    return series + jobs


def _titan(n: int) -> list[tuple[str, np.ndarray]]:
    """1m steps: service b's breaker open 20 minutes, a's half-open 3 minutes; one series ends, one
    service appears late."""
    name = "circuit_breaker_state"
    out = [
        (f'{name}{{mesh_service="a",dependency="x"}}', _steps(n, 0.0)),
        (f'{name}{{mesh_service="a",dependency="y"}}', _steps(n, 0.0, (100, 103, 2.0))),
        (f'{name}{{mesh_service="b",dependency="z"}}', _steps(n, 0.0, (50, 70, 1.0))),
        (f'{name}{{mesh_service="c",dependency="x"}}', _steps(n, np.nan, (120, n, 0.0), (150, 160, 1.0))),
    ]
    out[0][1][170:] = np.nan
    return out


def _sentinel(n: int) -> list[tuple[str, np.ndarray]]:
    """1m steps: model m1's version 2 at 85 % of its baseline for 40 minutes; m2's baseline missing for a while
    (no match, no slice); precision series that the selector leaves out."""
    out = []
    for model, version, acc, base in (("m1", "1", 0.9, 0.92), ("m1", "2", 0.93, 0.94), ("m2", "1", 0.8, 0.8)):
        for metric_type in ("accuracy", "precision"):
            ls = f'model_name="{model}",model_version="{version}",metric_type="{metric_type}"'
            value = _steps(n, acc, (80, 120, base * 0.85)) if (model, version) == ("m1", "2") else _steps(n, acc)
            baseline = _steps(n, base)
            if model == "m2":
                baseline[150:180] = np.nan
            out += [(f"model_accuracy{{{ls}}}", value), (f"model_accuracy_baseline{{{ls}}}", baseline)]
    return out


@dataclass
class Case:
    name: str
    spec_file: Path
    slos: tuple[str, ...]
    steps: int
    inputs: Callable[[int], list[tuple[str, np.ndarray]]]  # number of samples -> [(series, values)]


CASES = [
    Case(
        "kubernetesexecution",
        EXAMPLES / "kubernetesexecution.yaml",
        ("execution-latency-p95", "job-creation-latency-p95"),
        480,
        _kubernetesexecution,
    ),
    Case(
        "titan-mesh",
        EXAMPLES / "meta-repos/titan-microservices-mesh.yaml",
        ("circuit-breaker-availability",),
        240,
        _titan,
    ),
    Case("sentinel", EXAMPLES / "meta-repos/sentinel-ai-engine.yaml", ("model-accuracy",), 240, _sentinel),
]


def _spec(case: Case):
    """The example spec with only the case's SLOs (no operational alerts or records: they need other series)."""
    full = load(case.spec_file).specs[0]
    slos = [s for s in full.slos if s.name in case.slos]
    assert [s.name for s in slos] == list(case.slos) and all(s.sli.timeslice for s in slos)
    return full.model_copy(update={"slos": slos, "alerts": [], "records": []})


@dataclass
class Observed:
    spec: object
    evals: list
    alerts_expr: str
    alert_checks: list[dict]
    output: str
    got: dict[tuple[str, int], dict[Labels, float]]


def _promtool_values(output: str, iv: float) -> dict[tuple[str, int], dict[Labels, float]]:
    """What promtool got for every failed check: ``(expr, evaluation) -> {labels: value}``."""
    out: dict[tuple[str, int], dict[Labels, float]] = {}
    for expr, time, got in _FAILED.findall(output):
        k = 0 if time in ("0s", "0") else round(parse_duration(time) / iv)
        found = {}
        for body, value in _GOT.findall(got):
            ls = tuple(sorted((a, b.strip('"')) for a, b in (p.split("=", 1) for p in body.split(", "))))
            found[ls] = float(value)
        out[(expr, k)] = found
    return out


def _alert_checks(spec, evals, steps: int, iv: float) -> tuple[str, list[dict]]:
    by = sorted({b for slo in spec.slos for b in slo.by})
    expr = f"count by ({', '.join(['alertname', 'alertstate', 'slo', *by])}) (ALERTS)"
    return expr, alert_checks(evals, steps, expr, iv)


@pytest.fixture(scope="module")
def observe(tmp_path_factory):
    need("promtool")
    cache: dict[str, Observed] = {}

    def run(case: Case) -> Observed:
        if case.name in cache:
            return cache[case.name]
        tmp = tmp_path_factory.mktemp(case.name)
        spec = _spec(case)
        (tmp / "rules.yml").write_text(rule_file(spec))
        iv = spec.evaluation_interval
        inputs = [(s, _text(v)) for s, v in case.inputs(case.steps + 1)]
        data = SeriesSet([from_promtool(s, v, iv) for s, v in inputs])
        assert required_metrics(spec) >= {s.name for s in data} and not unsupported(spec)
        end = case.steps * iv
        evals = evaluate(spec, data, 0, end, iv, history_start=0, slo_group_interval=iv)
        alerts_expr, alerts = _alert_checks(spec, evals, case.steps, iv)
        values = [
            {"expr": name, "eval_time": eval_time(k, iv), "exp_samples": []}
            for k in range(0, case.steps + 1, VALUE_EVERY)
            for name in RECORDED
        ]
        test = {
            "rule_files": ["rules.yml"],
            "evaluation_interval": format_duration(iv),
            "group_eval_order": [g["name"] for g in rule_groups(spec)],
            "tests": [
                {
                    "name": case.name,
                    "interval": format_duration(iv),
                    "input_series": [{"series": s, "values": v} for s, v in inputs],
                    "promql_expr_test": alerts + values,
                }
            ],
        }
        (tmp / "test.yml").write_text(dump(test, ""))
        r = subprocess.run([need("promtool"), "test", "rules", "test.yml"], cwd=tmp, capture_output=True, text=True)
        out = r.stdout + r.stderr
        cache[case.name] = Observed(spec, evals, alerts_expr, alerts, out, _promtool_values(out, iv))
        return cache[case.name]

    return run


@pytest.mark.promtool
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_timeslice_alerts_equal_promtool_at_every_evaluation(observe, case):
    obs = observe(case)
    assert "err:" not in obs.output, obs.output[:4000]
    wrong = sorted(k for (expr, k) in obs.got if expr == obs.alerts_expr)
    assert not wrong, f"ALERTS differ from the engine at evaluations {wrong}:\n" + obs.output[:4000]
    assert obs.got, "promtool printed no recorded values: did it run at all?\n" + obs.output[:4000]
    firing = sum(1 for c in obs.alert_checks if c["exp_samples"])
    assert 10 < firing < len(obs.alert_checks), "the shape should make alerts fire, and not always"


@pytest.mark.promtool
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_timeslice_recorded_series_equal_promtool(observe, case):
    obs = observe(case)
    tally = Tally()
    for k in range(0, case.steps + 1, VALUE_EVERY):
        for name in RECORDED:
            want = obs.got.get((name, k), {})
            tally.check(f"{case.name}: {name} at evaluation {k}", engine_values(obs.spec, obs.evals, name, k), want)
    assert tally.compared > 500, tally
    print(f"\n{case.name}: {tally.compared} recorded values, {tally.exact} bit-exact, worst {tally.worst:.1e}")


def _timeslice(name: str, expr: str) -> dict:
    return {"name": name, "objective": 99, "sli": {"timeslice": {"expr": expr, "max": 1}}}


def test_unsupported_lists_only_timeslices_beyond_the_subset():
    events = {"bad": 'req_total{code="500"}', "total": "req_total"}
    slos = [
        {"name": "avail", "objective": 99, "sli": {"events": events}},
        _timeslice("p95", "max(queue_depth) / on() max(workers)"),
        _timeslice("topk", "topk(1, up)"),
        _timeslice("sub", "max_over_time(up[5m:1m])"),
    ]
    spec = Spec.model_validate({"apiVersion": "sloforge/v1", "service": "svc", "slos": slos})
    assert unsupported(spec) == [
        "SLO topk: the timeslice expression uses aggregation topk, which the engine cannot evaluate",
        "SLO sub: the timeslice expression uses max_over_time() of anything but a range selector (subqueries), "
        "which the engine cannot evaluate",
    ]
    assert required_metrics(spec) == {"req_total", "queue_depth", "workers"}
    check_supported(spec.slos[1])
    with pytest.raises(Unsupported, match="topk"):
        check_supported(spec.slos[2])
    data = SeriesSet([from_promtool(s, "0+1x100", 60) for s in ("queue_depth", "workers", "up")])
    evals = evaluate(spec, data, 0, 6000, 60, workers=1)
    assert {e.slo for e in evals} == {"p95"}  # no req_total data; the unsupported ones left out
