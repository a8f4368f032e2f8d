"""Property: any valid spec yields rules promtool accepts, and loading never crashes."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sloforge.generate.rules import rule_file
from sloforge.spec import SpecError, load

slug = st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,6})?", fullmatch=True)
label = st.sampled_from(["code", "route", "method", "action", "status"])
window = st.sampled_from(["7d", "14d", "28d", "30d"])
durations = st.sampled_from(["5m", "10m", "30m", "1h", "2h", "6h", "12h", "1d"])


@st.composite
def slos(draw, metric: str, hist: str, labels: list[str]):
    kind = draw(st.sampled_from(["good", "bad", "latency", "timeslice"]))
    by = draw(st.lists(st.sampled_from(labels), max_size=2, unique=True)) if labels else []
    if kind == "latency":
        sli = {"latency": {"histogram": hist, "le": draw(st.sampled_from([0.1, 0.25, 1, 2.5]))}}
    elif kind == "timeslice":
        sli = {
            "timeslice": {
                "expr": f"histogram_quantile(0.99, sum by (le) (rate({hist}_bucket[5m])))",
                "max": draw(st.floats(0.01, 100)),
            }
        }
        by = []
    else:
        code = draw(st.sampled_from(['code=~"5.."', 'code!="200"', 'code="500"']))
        sli = {"events": {kind: f"{metric}{{{code}}}", "total": metric}}
    obj = draw(
        st.one_of(
            st.floats(90, 99.999).map(lambda x: {"objective": round(x, 3)}),
            st.floats(0.9, 0.9999).map(lambda x: {"target": round(x, 4)}),
        )
    )
    slo = {"name": draw(slug), "window": draw(window), "sli": sli, **obj}
    if by:
        slo["by"] = by
    if draw(st.booleans()):
        short = draw(durations)
        factor = draw(st.floats(1, 9))
        slo["alerting"] = {
            "page": draw(st.sampled_from([False, [{"burn_rate": round(factor, 2), "long": "1h", "short": "5m"}]])),
            "ticket": [{"burn_rate": 1, "long": "3d", "short": short if short != "1d" else "6h"}],
        }
    return slo


@st.composite
def specs(draw):
    labels = draw(st.lists(label, max_size=3, unique=True))
    metric = "app_requests_total"
    hist = "app_request_duration_seconds"
    slo_list = draw(st.lists(slos(metric, hist, labels), min_size=1, max_size=3, unique_by=lambda s: s["name"]))
    return {
        "apiVersion": "sloforge/v1",
        "service": draw(slug),
        "evaluation_interval": draw(st.sampled_from(["15s", "30s", "1m"])),
        "metrics": [
            {"name": metric, "type": "counter", "labels": ["code", *labels]},
            {"name": hist, "type": "histogram", "labels": labels, "buckets": [0.1, 0.25, 1, 2.5]},
        ],
        "slos": slo_list,
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(specs())
def test_random_valid_specs_give_rules_promtool_accepts(promtool, doc):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(yaml.safe_dump(doc))
        try:
            loaded = load(path)
        except SpecError as e:
            # the only rejections a valid-looking random spec may get are semantic ones we know
            assert all("window" in p.path or "burn_rate" in p.path or "long" in p.path for p in e.problems), e
            return
        rules = Path(tmp) / "rules.yml"
        rules.write_text(rule_file(loaded.specs[0]))
        proc = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr + rules.read_text()


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=30,
    )
)
def test_loader_never_crashes_on_arbitrary_yaml(data):
    """Whatever the document holds, the result is a spec or a SpecError with a location."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.yaml"
        path.write_text(yaml.safe_dump({"apiVersion": "sloforge/v1", "service": "s", "slos": data}))
        try:
            load(path)
        except SpecError as e:
            assert e.problems and all(p.line >= 1 for p in e.problems)
