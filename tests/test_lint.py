"""Lint warnings: valid specs that are probably not what was meant.

Warnings go to stderr as ``FILE:LINE: warning: field.path: message`` with exit 0;
``--strict`` turns them into errors (exit 2, nothing written).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import BASE_SPEC, run_cli

from sloforge.spec import Problem, SpecError, load

# Line numbers:  3 evaluation_interval   12 slos   13 slos[0]   14 objective   16 events
BASE = BASE_SPEC.replace("service: svc\n", "service: svc\nevaluation_interval: 1m\n")


def latency_slo(le: float, histogram: str = "http_request_duration_seconds_bucket") -> str:
    """Appended to BASE: starts on line 19, ``le`` on line 24."""
    return (
        "  - name: fast\n"
        "    objective: 99\n"
        "    sli:\n"
        "      latency:\n"
        f"        histogram: {histogram}\n"
        f"        le: {le}\n"
    )


def alert(expr: str, for_: str | None = None) -> str:
    """Appended to BASE: ``alerts:`` on line 19, ``expr`` on line 21, ``for`` on line 22."""
    text = f"alerts:\n  - name: Foo\n    expr: {expr}\n"
    if for_:
        text += f"    for: {for_}\n"
    return text + "    severity: warning\n    summary: something is wrong\n"


def replace(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def write(tmp_path: Path, text: str, name: str = "svc.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def warnings_of(path: Path) -> list[Problem]:
    loaded = load(path)
    assert loaded.specs, "the spec should be valid"
    assert all(w.level == "warning" for w in loaded.warnings)
    return loaded.warnings


def one_warning(path: Path) -> Problem:
    found = warnings_of(path)
    assert len(found) == 1, "\n".join(map(str, found))
    assert found[0].file == str(path)
    return found[0]


UNDECLARED = "metric 'http_request_total' is used but not declared in 'metrics'"

# (spec text, line, field path, part of the message)
CASES = {
    "le-not-a-bucket": (
        BASE + latency_slo(30),
        24,
        "slos[1].sli.latency.le",
        "le 30 is not a bucket boundary of 'http_request_duration_seconds' (nearest: 32)",
    ),
    "undeclared-metric": (
        replace("total: http_requests_total", "total: http_request_total"),
        18,
        "slos[0].sli.events.total",
        f"{UNDECLARED} (did you mean 'http_requests_total'?)",
    ),
    "short-for": (
        BASE + alert("rate(http_requests_total[5m]) > 1", for_="10s"),
        22,
        "alerts[0].for",
        "for: 10s is shorter than the rule-group interval (1m)",
    ),
    "low-traffic": (
        replace("objective: 99.9", "objective: 99.99\n    expected_rate: 0.0001"),
        14,
        "slos[0].objective",
        "one failure breaks the SLO",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_warning_names_line_path_and_message(tmp_path, case):
    text, line, path, message = CASES[case]
    w = one_warning(write(tmp_path, text))
    assert (w.line, w.path) == (line, path)
    assert message in w.message
    assert str(w).startswith(f"{w.file}:{line}: warning: {path}: ")


@pytest.mark.parametrize("case", CASES)
def test_strict_turns_the_warning_into_an_error(tmp_path, case):
    text, line, path, message = CASES[case]
    spec = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load(spec, strict=True)
    (p,) = info.value.problems
    assert (p.file, p.line, p.path, p.level) == (str(spec), line, path, "error")
    assert message in p.message
    assert str(p) == f"{spec}:{line}: {path}: {p.message}"


def test_base_spec_has_no_warnings(tmp_path):
    assert warnings_of(write(tmp_path, BASE)) == []


# ---------------------------------------------------------------- latency le


@pytest.mark.parametrize("le", [0.5, 1, 32, 256])
def test_le_on_a_bucket_boundary_is_fine(tmp_path, le):
    assert warnings_of(write(tmp_path, BASE + latency_slo(le))) == []


def test_le_accepts_the_histogram_name_without_bucket_suffix(tmp_path):
    text = BASE + latency_slo(30, histogram="http_request_duration_seconds")
    w = one_warning(write(tmp_path, text))
    assert "(nearest: 32)" in w.message


@pytest.mark.parametrize("le,nearest", [(0.3, 0.5), (0.8, 1), (300, 256), (1000, 256)])
def test_le_names_the_nearest_boundary(tmp_path, le, nearest):
    w = one_warning(write(tmp_path, BASE + latency_slo(le)))
    assert f"le {le:g} is not a bucket boundary" in w.message
    assert f"(nearest: {nearest:g})" in w.message


def test_le_checked_against_explicit_buckets(tmp_path):
    text = replace("{exponential: {start: 0.5, factor: 2, count: 10}}", "[0.1, 0.25, 1]")
    w = one_warning(write(tmp_path, text + latency_slo(0.3)))
    assert "(nearest: 0.25)" in w.message


def test_le_checked_against_default_buckets(tmp_path):
    text = replace("    buckets: {exponential: {start: 0.5, factor: 2, count: 10}}\n", "")
    assert warnings_of(write(tmp_path, text + latency_slo(0.25), "ok.yaml")) == []
    w = one_warning(write(tmp_path, text + latency_slo(0.3)))
    assert "(nearest: 0.25)" in w.message


# ---------------------------------------------------------------- undeclared metrics


def test_undeclared_metric_in_alert_without_close_match(tmp_path):
    w = one_warning(write(tmp_path, BASE + alert("rate(something_else_total[5m]) > 1")))
    assert (w.line, w.path) == (21, "alerts[0].expr")
    assert "metric 'something_else_total' is used but not declared" in w.message
    assert "did you mean" not in w.message


def test_undeclared_metric_in_alert_with_close_match(tmp_path):
    w = one_warning(write(tmp_path, BASE + alert("rate(http_request_totals[5m]) > 1")))
    assert (w.line, w.path) == (21, "alerts[0].expr")
    assert "did you mean 'http_requests_total'?" in w.message


def test_histogram_series_and_builtins_count_as_declared(tmp_path):
    expr = (
        "histogram_quantile(0.9, rate(http_request_duration_seconds_bucket[5m])) > 1"
        " or rate(http_request_duration_seconds_count[5m]) > 0 or up == 0"
    )
    assert warnings_of(write(tmp_path, BASE + alert(expr))) == []


def test_no_metrics_section_means_no_undeclared_warning(tmp_path):
    text = BASE[: BASE.index("metrics:")] + BASE[BASE.index("slos:") :]
    assert warnings_of(write(tmp_path, text + alert("rate(whatever_total[5m]) > 1"))) == []


# ---------------------------------------------------------------- for shorter than the interval


def test_for_equal_to_the_interval_is_fine(tmp_path):
    text = BASE + alert("rate(http_requests_total[5m]) > 1", for_="1m")
    assert warnings_of(write(tmp_path, text)) == []


def test_short_for_says_what_it_acts_as(tmp_path):
    text = BASE + alert("rate(http_requests_total[5m]) > 1", for_="10s")
    w = one_warning(write(tmp_path, text))
    assert "it acts as for: 1m" in w.message


def test_short_for_on_a_burn_rate_window(tmp_path):
    page = "{burn_rate: 14.4, long: 1h, short: 5m, for: 30s}"
    alerting = f"    alerting:\n      page:\n        - {page}\n"  # 'for' on line 17
    text = replace("    objective: 99.9\n", "    objective: 99.9\n" + alerting)
    w = one_warning(write(tmp_path, text))
    assert (w.line, w.path) == (17, "slos[0].alerting.page[0].for")
    assert "for: 30s is shorter than the rule-group interval (1m)" in w.message


# ---------------------------------------------------------------- low traffic


def test_low_traffic_message_names_the_budget(tmp_path):
    text = replace("objective: 99.9", "objective: 99.99\n    expected_rate: 0.0001")
    w = one_warning(write(tmp_path, text))
    # 0.0001 events/s * 30d = 259.2 events; 0.01% of them is 0.026 events
    assert "at 0.0001 events/s the 30d budget is 0.03 events" in w.message


def test_low_traffic_with_target_points_at_target(tmp_path):
    text = replace("objective: 99.9", "target: 0.9999\n    expected_rate: 0.0001")
    w = one_warning(write(tmp_path, text))
    assert (w.line, w.path) == (14, "slos[0].target")


def test_enough_traffic_is_fine(tmp_path):
    text = replace("objective: 99.9", "objective: 99.9\n    expected_rate: 100")
    assert warnings_of(write(tmp_path, text)) == []


# ---------------------------------------------------------------- CLI


@pytest.fixture
def linted(tmp_path) -> Path:
    """One directory with one file per warning."""
    d = tmp_path / "specs"
    d.mkdir()
    for i, (case, (text, _, _, _)) in enumerate(CASES.items()):
        write(d, text.replace("service: svc", f"service: svc{i}"), f"{case}.yaml")
    return d


def assert_reported(stderr: str, prefix: str) -> None:
    """Each case is on its own stderr line: ``specs/CASE.yaml:LINE: PREFIXpath: ...message...``."""
    lines = stderr.splitlines()
    for case, (_, line, path, message) in CASES.items():
        head = f"specs/{case}.yaml:{line}: {prefix}{path}: "
        hits = [x for x in lines if x.startswith(head)]
        assert len(hits) == 1, f"{head!r} not once in:\n{stderr}"
        assert message in hits[0]


def test_cli_validate_prints_warnings_and_exits_0(tmp_path, linted):
    proc = run_cli("validate", "specs", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert_reported(proc.stderr, "warning: ")
    assert f"{len(CASES)} warning(s)" in proc.stderr
    assert proc.stdout == ""


def test_cli_validate_strict_exits_2(tmp_path, linted):
    proc = run_cli("validate", "--strict", "specs", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert_reported(proc.stderr, "")
    assert "warning:" not in proc.stderr
    assert f"{len(CASES)} problem(s); nothing written" in proc.stderr


def test_cli_generate_strict_writes_nothing(tmp_path, linted):
    out = tmp_path / "build"
    out.mkdir()
    (out / "MARKER").write_text("keep")
    proc = run_cli("generate", "--strict", "specs", "-o", "build", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert [p.name for p in out.iterdir()] == ["MARKER"]
    assert (out / "MARKER").read_text() == "keep"


def test_cli_generate_with_warnings_still_writes(tmp_path, linted):
    proc = run_cli("generate", "specs", "-o", "build", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "warning:" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "build" / "prometheus" / "rules").iterdir()) == [
        f"svc{i}.yml" for i in range(len(CASES))
    ]


def test_timeslice_max_above_the_highest_bucket(tmp_path):
    text = textwrap.dedent(
        """\
        apiVersion: sloforge/v1
        service: svc
        metrics:
          - name: job_seconds
            type: histogram
            buckets: {exponential: {start: 0.01, factor: 2, count: 10}}
        slos:
          - name: p95
            objective: 99
            sli:
              timeslice:
                expr: histogram_quantile(0.95, sum by (le) (rate(job_seconds_bucket[5m])))
                max: 10
        """
    )
    path = tmp_path / "s.yaml"
    path.write_text(text)
    (w,) = load(path).warnings
    assert (w.line, w.path) == (13, "slos[0].sli.timeslice.max")
    assert "highest bucket boundary" in w.message and "5.12" in w.message
    path.write_text(text.replace("max: 10", "max: 5"))
    assert load(path).warnings == []


def test_counter_without_total_suffix_is_warned(tmp_path):
    text = BASE_SPEC.replace(
        "  - name: http_request_duration_seconds",
        "  - name: retries\n    type: counter\n  - name: http_request_duration_seconds",
    )
    f = tmp_path / "s.yaml"
    f.write_text(text)
    proc = run_cli("validate", str(f))
    assert proc.returncode == 0
    line = text.splitlines().index("  - name: retries") + 1
    assert f"{f}:{line}: warning: metrics[1].name: counter 'retries' has no '_total' suffix" in proc.stderr
