"""Spec errors: every problem names FILE:LINE: field.path, all are reported at once,
the CLI exits 2 without a traceback and writes nothing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import BASE_SPEC, run_cli

from sloforge.spec import Problem, SpecError, load

# A valid spec the error cases below are variations of.  Line numbers:
#  1 apiVersion   4 metrics[0]      7 metrics[1]     11 slos     14 sli
#  2 service      5  .type          8  .type         12 slos[0]  15 events
#  3 metrics      6  .labels        9  .labels       13 objective 16 bad / 17 total
#                                  10  .buckets
BASE = BASE_SPEC

# appended to BASE: the SLO starts on line 18
SECOND_SLO = """\
  - name: avail
    objective: 99
    sli:
      events:
        bad: http_requests_total{code=~"5.."}
        total: http_requests_total
"""


def write(tmp_path: Path, text: str | bytes, name: str = "svc.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(*paths: Path) -> list[Problem]:
    with pytest.raises(SpecError) as info:
        load(*paths)
    assert info.value.problems, "SpecError without problems"
    return info.value.problems


def only(path: Path) -> Problem:
    found = problems(path)
    assert len(found) == 1, "\n".join(map(str, found))
    (p,) = found
    assert p.file == str(path)
    assert p.level == "error"
    return p


def replace(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_base_spec_is_valid(tmp_path):
    loaded = load(write(tmp_path, BASE))
    assert [s.service for s in loaded.specs] == ["svc"]
    assert loaded.warnings == []


def test_problem_prints_file_line_path_message(tmp_path):
    path = write(tmp_path, replace("    objective:", "    objectiv:"))
    p = only(path)
    message = "unknown field 'objectiv'; did you mean 'objective'?"
    assert str(p) == f"{path}:13: slos[0].objectiv: {message}"


# ---------------------------------------------------------------- reading the file


def test_yaml_syntax_error(tmp_path):
    path = write(tmp_path, replace("    objective: 99.9", "    objective: 99.9: x"))
    p = only(path)
    assert (p.line, p.path) == (13, "")
    assert p.message.startswith("YAML syntax error")
    assert "mapping values are not allowed" in p.message


def test_yaml_tab_indentation(tmp_path):
    path = write(tmp_path, "apiVersion: sloforge/v1\nservice: svc\nslos:\n\t- name: a\n")
    p = only(path)
    assert (p.line, p.path) == (4, "")
    assert "YAML syntax error" in p.message
    assert "'\\t'" in p.message


def test_yaml_unterminated_quote_points_at_the_opening_quote(tmp_path):
    text = "apiVersion: sloforge/v1\nservice: svc\nslos:\n  - name: 'a\n    objective: 99\n"
    path = write(tmp_path, text)  # 5 lines; the quote opens on line 4
    p = only(path)
    assert "YAML syntax error" in p.message
    assert (p.line, p.path) == (4, "")


def test_non_utf8_bytes(tmp_path):
    raw = BASE.encode().replace(b"service: svc", b"service: caf\xe9")
    path = write(tmp_path, raw)
    p = only(path)
    assert (p.line, p.path) == (2, "")
    assert "not UTF-8" in p.message
    assert "0xe9" in p.message


def test_binary_input(tmp_path):
    path = write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00")
    p = only(path)
    assert (p.line, p.path) == (1, "")
    assert "binary file (NUL bytes)" in p.message


def test_nul_inside_text(tmp_path):
    path = write(tmp_path, BASE.encode().replace(b"svc\n", b"svc\x00\n"))
    p = only(path)
    assert "NUL" in p.message


def test_object_constructing_tag_is_rejected_and_not_executed(tmp_path, capfd):
    path = write(
        tmp_path,
        replace("  - name: avail", '  - name: !!python/object/apply:os.system ["echo hi"]'),
    )
    p = only(path)
    assert (p.line, p.path) == (12, "slos[0].name")
    assert "YAML tag" in p.message and "python/object/apply:os.system" in p.message
    assert "not allowed" in p.message
    out, err = capfd.readouterr()
    assert "hi" not in out.split() and "hi" not in err.split()


@pytest.mark.parametrize(
    "tagged",
    [
        '!!python/object/apply:os.system ["touch {marker}"]',
        "!!python/name:os.system",
        '!!python/object/new:os.system ["touch {marker}"]',
        "!!python/object/apply:os.system\n      args: ['touch {marker}']",
        "!custom-local-tag value",
    ],
)
def test_no_tag_executes_anything(tmp_path, tagged):
    marker = tmp_path / "pwned"
    text = replace("    objective: 99.9", f"    objective: 99.9\n    description: {tagged}")
    path = write(tmp_path, text.replace("{marker}", str(marker)))
    p = only(path)
    assert (p.line, p.path) == (14, "slos[0].description")
    assert "is not allowed" in p.message
    assert not marker.exists()


def billion_laughs() -> str:
    lol = ", ".join(['"lol"'] * 9)
    lines = ["apiVersion: sloforge/v1", "service: svc", f"a: &a [{lol}]"]
    prev = "a"
    for name in "bcdefghi":  # 9 levels of 9: 9**9 strings once expanded
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
        prev = name
    lines.append("slos: *i")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_rejected(tmp_path):
    path = write(tmp_path, billion_laughs())
    p = only(path)
    assert "alias bomb" in p.message
    assert 3 <= p.line <= 12  # somewhere inside the anchors


def test_small_aliases_still_work(tmp_path):
    text = replace("        total: http_requests_total", "        total: &t http_requests_total")
    text += "  - name: second\n    objective: 99\n    sli:\n      events:\n"
    text += '        bad: http_requests_total{code="500"}\n        total: *t\n'
    spec = load(write(tmp_path, text)).specs[0]
    assert spec.slos[1].sli.events.total == "http_requests_total"


# ---------------------------------------------------------------- fields


def test_misspelt_field_suggests_objective(tmp_path):
    p = only(write(tmp_path, replace("    objective:", "    objectiv:")))
    assert (p.line, p.path) == (13, "slos[0].objectiv")
    assert "unknown field 'objectiv'" in p.message
    assert "did you mean 'objective'?" in p.message


def test_misspelt_sli_kind_suggests_events(tmp_path):
    p = only(write(tmp_path, replace("      events:", "      event:")))
    assert (p.line, p.path) == (15, "slos[0].sli.event")
    assert "did you mean 'events'?" in p.message


def test_misspelt_sli_kind_in_flow_mapping(tmp_path):
    text = "apiVersion: sloforge/v1\nservice: svc\nslos:\n  - name: a\n    objective: 99.9\n"
    text += "    sli: {event: {bad: 'x_total{code=\"500\"}', total: x_total}}\n"
    p = only(write(tmp_path, text))
    assert (p.line, p.path) == (6, "slos[0].sli.event")
    assert "did you mean 'events'?" in p.message


def test_unknown_field_without_close_match_lists_allowed(tmp_path):
    p = only(write(tmp_path, replace("    objective:", "    zzzzzz: 1\n    objective:")))
    assert (p.line, p.path) == (13, "slos[0].zzzzzz")
    assert "unknown field 'zzzzzz'" in p.message
    assert "allowed:" in p.message and "objective" in p.message


OUT_OF_RANGE = [
    pytest.param("objective: 150", "objective", "objective 150", id="objective-150"),
    pytest.param("objective: 0", "objective", "objective 0", id="objective-0"),
    pytest.param("target: 1.5", "target", "target 1.5", id="target-1.5"),
]


@pytest.mark.parametrize("line,field,message", OUT_OF_RANGE)
def test_objective_out_of_range_message(tmp_path, line, field, message):
    p = only(write(tmp_path, replace("objective: 99.9", line)))
    assert p.path.startswith("slos[0]")
    assert p.line in (12, 13)
    assert message in p.message and "out of range" in p.message


@pytest.mark.parametrize("line,field,message", OUT_OF_RANGE)
def test_objective_out_of_range_points_at_the_field(tmp_path, line, field, message):
    p = only(write(tmp_path, replace("objective: 99.9", line)))
    assert (p.line, p.path) == (13, f"slos[0].{field}")


def test_target_that_looks_like_a_percent_hints_objective(tmp_path):
    p = only(write(tmp_path, replace("objective: 99.9", "target: 99.9")))
    assert "did you mean objective?" in p.message


@pytest.mark.parametrize(
    "window,message",
    [
        ("30", "30 has no unit"),
        ("5x", "'5x' is not a duration"),
        ("0s", "longer than zero"),
    ],
)
def test_bad_duration(tmp_path, window, message):
    text = replace("    objective: 99.9", f"    objective: 99.9\n    window: {window}")
    p = only(write(tmp_path, text))
    assert (p.line, p.path) == (14, "slos[0].window")
    assert message in p.message


def test_window_without_unit_suggests_a_duration(tmp_path):
    text = replace("    objective: 99.9", "    objective: 99.9\n    window: 30")
    p = only(write(tmp_path, text))
    assert "'30s'" in p.message or "'5m'" in p.message


def test_promql_that_does_not_parse_in_sli_total(tmp_path):
    text = replace("total: http_requests_total", "total: sum(rate(http_requests_total[5m])")
    p = only(write(tmp_path, text))
    assert (p.line, p.path) == (17, "slos[0].sli.events.total")
    assert "PromQL does not parse" in p.message
    assert "parenthesis" in p.message


def test_promql_that_does_not_parse_in_sli_bad(tmp_path):
    text = replace('bad: http_requests_total{code=~"5.."}', 'bad: http_requests_total{code=~"5..}')
    p = only(write(tmp_path, text))
    assert (p.line, p.path) == (16, "slos[0].sli.events.bad")
    assert "PromQL does not parse" in p.message


def test_sli_selector_with_a_name_regex_is_refused(tmp_path):
    """Several metrics in one selector would collide in the level-1 rule's ``x - x offset 5m``."""
    text = replace('bad: http_requests_total{code=~"5.."}', """bad: '{__name__=~"a_total|b_total"}'""")
    p = only(write(tmp_path, text))
    assert (p.line, p.path) == (16, "slos[0].sli.events.bad")
    assert "must name one metric" in p.message and "offset 5m" in p.message


def test_promql_that_does_not_parse_in_alert_expr(tmp_path):
    text = BASE + textwrap.dedent(
        """\
        alerts:
          - name: TooManyErrors
            severity: warning
            summary: too many errors
            expr: rate(http_requests_total[5m] > 1
        """
    )
    p = only(write(tmp_path, text))
    assert (p.line, p.path) == (22, "alerts[0].expr")
    assert "PromQL does not parse" in p.message


def test_both_good_and_bad(tmp_path):
    text = replace("        bad:", '        good: http_requests_total{code!~"5.."}\n        bad:')
    p = only(write(tmp_path, text))
    assert (p.line, p.path) == (15, "slos[0].sli.events")
    assert "either 'good' or 'bad', not both" in p.message


def test_neither_good_nor_bad(tmp_path):
    p = only(write(tmp_path, replace('        bad: http_requests_total{code=~"5.."}\n', "")))
    assert (p.line, p.path) == (15, "slos[0].sli.events")
    assert "'good' or 'bad'" in p.message


def test_duplicate_slo_names(tmp_path):
    p = only(write(tmp_path, BASE + SECOND_SLO))
    assert (p.line, p.path) == (18, "slos[1].name")
    assert "duplicate SLO name 'avail'" in p.message
    assert "slos[0]" in p.message


@pytest.mark.parametrize("service", ["../x", "a/b", "..", "/etc", "A B"])
def test_service_name_that_could_escape_the_output_folder(tmp_path, service):
    p = only(write(tmp_path, replace("service: svc", f"service: {service!r}")))
    assert (p.line, p.path) == (2, "service")
    assert "must be a lowercase slug" in p.message


def test_slo_name_that_could_escape_the_output_folder(tmp_path):
    p = only(write(tmp_path, replace("  - name: avail", "  - name: ../avail")))
    assert (p.line, p.path) == (12, "slos[0].name")
    assert "must be a lowercase slug" in p.message


def test_latency_sli_on_a_counter(tmp_path):
    text = BASE + (
        "  - name: fast\n"
        "    objective: 99\n"
        "    sli:\n"
        "      latency:\n"
        "        histogram: http_requests_total\n"
        "        le: 1\n"
    )
    p = only(write(tmp_path, text))
    assert (p.line, p.path) == (22, "slos[1].sli.latency.histogram")
    assert "'http_requests_total' is declared as a counter" in p.message
    assert "histogram" in p.message


def test_by_label_not_declared_on_the_metric(tmp_path):
    text = replace("    objective: 99.9", "    objective: 99.9\n    by: [tenant]")
    found = problems(write(tmp_path, text))
    assert {(p.line, p.path) for p in found} == {(14, "slos[0].by")}
    assert "tenant" in found[0].message
    assert "not declared on metric 'http_requests_total'" in found[0].message
    assert "code, route" in found[0].message


def test_by_label_not_declared_is_reported_once(tmp_path):
    text = replace("    objective: 99.9", "    objective: 99.9\n    by: [tenant]")
    found = problems(write(tmp_path, text))
    assert len(found) == 1, "\n".join(map(str, found))


def test_empty_slos(tmp_path):
    text = BASE.split("slos:")[0] + "slos: []\n"
    p = only(write(tmp_path, text))
    assert (p.line, p.path) == (11, "slos")
    assert "at least 1" in p.message


def test_unknown_api_version(tmp_path):
    p = only(write(tmp_path, replace("sloforge/v1", "sloforge/v2")))
    assert (p.line, p.path) == (1, "apiVersion")
    assert "unknown apiVersion 'sloforge/v2'" in p.message
    assert "sloforge/v1" in p.message


def test_api_version_not_first(tmp_path):
    text = replace("apiVersion: sloforge/v1\nservice: svc\n", "service: svc\napiVersion: slo/v9\n")
    p = only(write(tmp_path, text))
    assert (p.line, p.path) == (2, "apiVersion")
    assert "unknown apiVersion 'slo/v9'" in p.message


def test_missing_api_version(tmp_path):
    p = only(write(tmp_path, replace("apiVersion: sloforge/v1\n", "")))
    assert (p.line, p.path) == (1, "apiVersion")
    assert "missing apiVersion" in p.message


def test_document_that_is_not_a_mapping(tmp_path):
    p = only(write(tmp_path, "- apiVersion: sloforge/v1\n"))
    assert p.line == 1
    assert "mapping" in p.message


# ---------------------------------------------------------------- all problems at once


def test_several_field_errors_in_one_file(tmp_path):
    text = """\
    apiVersion: sloforge/v1
    service: ../x
    metrics:
      - name: http_requests_total
        type: countr
    slos:
      - name: avail
        objectiv: 99.9
        sli:
          events:
            bad: http_requests_total{code=~"5.."}
            total: http_requests_total
      - name: fast
        objective: 99
        window: 5x
        sli:
          latency: {histogram: h_bucket, le: 1}
    """
    found = problems(write(tmp_path, text))
    assert [(p.line, p.path) for p in found] == [
        (2, "service"),
        (5, "metrics[0].type"),
        (8, "slos[0].objectiv"),
        (15, "slos[1].window"),
    ]
    assert "did you mean 'objective'?" in found[2].message
    assert "'5x' is not a duration" in found[3].message


def test_several_cross_field_errors_in_one_file(tmp_path):
    text = """\
    apiVersion: sloforge/v1
    service: svc
    metrics:
      - name: http_requests_total
        type: counter
        labels: [code]
    slos:
      - name: avail
        objective: 99.9
        by: [tenant]
        sli:
          events:
            bad: http_requests_total{code=~"5.."}
            total: sum(rate(http_requests_total[5m])
      - name: avail
        objective: 99
        sli:
          events:
            good: http_requests_total{code!~"5.."}
            total: http_requests_total
    alerts:
      - name: X
        expr: rate(http_requests_total[5m] > 1
        severity: page
        summary: s
    """
    found = problems(write(tmp_path, text))
    assert [(p.line, p.path) for p in found] == [
        (10, "slos[0].by"),
        (14, "slos[0].sli.events.total"),
        (15, "slos[1].name"),
        (23, "alerts[0].expr"),
    ]


def test_errors_across_files_in_a_directory(tmp_path):
    specs = tmp_path / "specs"
    a = write(specs, replace("    objective:", "    objectiv:"), "a.yaml")
    b = write(
        specs,
        replace("service: svc", "service: other", replace("objective: 99.9", "target: 1.5")),
        "nested/b.yml",
    )
    write(specs, replace("service: svc", "service: fine"), "c.yaml")
    write(specs, "not: [yaml", "notes.txt")
    found = problems(specs)
    assert [(p.file, p.line) for p in found] == [(str(a), 13), (str(b), 13)]
    assert "did you mean 'objective'?" in found[0].message
    assert "target 1.5 is out of range" in found[1].message


def test_errors_of_every_document_in_a_multi_document_file(tmp_path):
    first = replace("    objective:", "    objectiv:")
    second = replace("sloforge/v1", "sloforge/v7", replace("service: svc", "service: two"))
    found = problems(write(tmp_path, first + "---\n" + second))
    assert [(p.line, p.path) for p in found] == [(13, "slos[0].objectiv"), (19, "apiVersion")]


def test_same_service_in_two_files(tmp_path):
    write(tmp_path, BASE, "a.yaml")
    write(tmp_path, BASE, "b.yaml")
    found = problems(tmp_path)
    assert len(found) == 1
    assert found[0].path == "service"
    assert "also defined in" in found[0].message


# ---------------------------------------------------------------- CLI


@pytest.fixture
def bad_specs(tmp_path) -> Path:
    """A directory of broken specs, one per way of breaking them."""
    d = tmp_path / "bad"
    write(d, replace("    objective:", "    objectiv:"), "typo.yaml")
    write(d, replace("    objective: 99.9", "    objective: 99.9: x"), "syntax.yaml")
    write(d, BASE.encode().replace(b"service: svc", b"service: caf\xe9"), "latin1.yaml")
    write(d, b"\x00\x01\x02binary", "binary.yaml")
    marker = tmp_path / "pwned"
    tag = f'  - name: !!python/object/apply:os.system ["touch {marker}"]'
    write(d, replace("  - name: avail", tag), "tag.yaml")
    write(d, billion_laughs(), "bomb.yaml")
    write(d, replace("service: svc", "service: ../x"), "escape.yaml")
    return d


def test_cli_validate_reports_every_file_with_line_and_exit_2(tmp_path, bad_specs):
    proc = run_cli("validate", "bad", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    err = proc.stderr
    for expected in [
        "bad/typo.yaml:13: slos[0].objectiv: unknown field 'objectiv'; did you mean 'objective'?",
        "bad/syntax.yaml:13: YAML syntax error",
        "bad/latin1.yaml:2: not UTF-8",
        "bad/binary.yaml:1: binary file",
        "bad/tag.yaml:12: slos[0].name: YAML tag",
        "bad/bomb.yaml:",
        "bad/escape.yaml:2: service: '../x' must be a lowercase slug",
    ]:
        assert expected in err, err
    assert "alias bomb" in err
    assert "7 problem(s); nothing written" in err
    assert not (tmp_path / "pwned").exists()


def test_cli_validate_single_error(tmp_path):
    write(tmp_path, replace("    objective: 99.9", "    objective: 99.9\n    window: 30"))
    proc = run_cli("validate", "svc.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert "svc.yaml:14: slos[0].window: 30 has no unit" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_validate_ok(tmp_path):
    write(tmp_path, BASE)
    proc = run_cli("validate", "svc.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "ok: 1 spec(s), 1 SLO(s)" in proc.stderr


def test_cli_generate_leaves_existing_output_untouched(tmp_path, bad_specs):
    out = tmp_path / "build"
    (out / "prometheus" / "rules").mkdir(parents=True)
    (out / "MARKER").write_text("do not touch\n")
    (out / "prometheus" / "rules" / "old.yml").write_text("groups: []\n")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    siblings = sorted(tmp_path.iterdir())

    proc = run_cli("generate", "bad", "-o", "build", cwd=tmp_path)

    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "bad/typo.yaml:13:" in proc.stderr
    assert "nothing written" in proc.stderr
    assert (out / "MARKER").read_text() == "do not touch\n"
    assert (out / "prometheus" / "rules" / "old.yml").read_text() == "groups: []\n"
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert sorted(tmp_path.iterdir()) == siblings  # no temp or backup dir left beside it


def test_cli_generate_one_bad_file_among_good_ones_writes_nothing(tmp_path):
    specs = tmp_path / "specs"
    write(specs, BASE, "good.yaml")
    write(specs, replace("service: svc", "service: two") + SECOND_SLO, "dup.yaml")
    out = tmp_path / "out"
    out.mkdir()
    (out / "MARKER").write_text("x")
    proc = run_cli("generate", "specs", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "specs/dup.yaml:18: slos[1].name: duplicate SLO name" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["MARKER"]


def test_cli_generate_does_not_create_a_missing_output_dir(tmp_path):
    write(tmp_path, replace("sloforge/v1", "sloforge/v2"))
    proc = run_cli("generate", "svc.yaml", "-o", "build", cwd=tmp_path)
    assert proc.returncode == 2
    assert "svc.yaml:1: apiVersion: unknown apiVersion" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "build").exists()


# ---------------------------------------------------------------- buckets and alerting defaults


def metric_bounds(tmp_path: Path, buckets: str) -> list[float]:
    text = replace("{exponential: {start: 0.5, factor: 2, count: 10}}", buckets)
    spec = load(write(tmp_path, text)).specs[0]
    return spec.metric("http_request_duration_seconds").bucket_bounds()


def test_exponential_buckets(tmp_path):
    bounds = metric_bounds(tmp_path, "{exponential: {start: 0.5, factor: 2, count: 10}}")
    assert bounds == [0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256]


def test_linear_buckets(tmp_path):
    bounds = metric_bounds(tmp_path, "{linear: {start: 0, width: 2, count: 10}}")
    assert bounds == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]


def test_linear_buckets_without_float_noise(tmp_path):
    bounds = metric_bounds(tmp_path, "{linear: {start: 0.1, width: 0.1, count: 3}}")
    assert bounds == [0.1, 0.2, 0.3]


def test_explicit_and_default_buckets(tmp_path):
    assert metric_bounds(tmp_path, "[0.1, 0.5, 1]") == [0.1, 0.5, 1]
    text = replace("    buckets: {exponential: {start: 0.5, factor: 2, count: 10}}\n", "")
    spec = load(write(tmp_path, text, "default.yaml")).specs[0]
    bounds = spec.metric("http_request_duration_seconds").bucket_bounds()
    assert bounds == [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]


BUCKETS = "{exponential: {start: 0.5, factor: 2, count: 10}}"


def test_bad_bucket_generator_field(tmp_path):
    text = replace(BUCKETS, "{exponential: {start: 0.5, factor: 1, count: 10}}")
    found = problems(write(tmp_path, text))
    assert (10, "metrics[1].buckets.exponential.factor") in [(p.line, p.path) for p in found]
    assert any("greater than 1" in p.message for p in found)


def test_bad_bucket_generator_reports_no_spurious_list_error(tmp_path):
    text = replace(BUCKETS, "{exponential: {start: 0.5, factor: 1, count: 10}}")
    found = problems(write(tmp_path, text))
    assert [(p.line, p.path) for p in found] == [(10, "metrics[1].buckets.exponential.factor")]


def test_bucket_generator_with_both_kinds(tmp_path):
    both = "{exponential: {start: 1, factor: 2, count: 4}, linear: {start: 0, width: 1, count: 2}}"
    text = replace(BUCKETS, both)
    found = problems(write(tmp_path, text))
    assert any("exactly one of 'exponential' or 'linear'" in p.message for p in found), found
    assert all(p.line == 10 and p.path.startswith("metrics[1].buckets") for p in found), found


@pytest.mark.parametrize(
    "buckets,message",
    [("[1, 0.5]", "strictly increasing"), ("[]", "must not be empty"), ("[1, .inf]", "finite")],
)
def test_bad_bucket_list_message(tmp_path, buckets, message):
    p = only(write(tmp_path, replace(BUCKETS, buckets)))
    assert p.path.startswith("metrics[1]")
    assert message in p.message


def test_bad_bucket_list_points_at_buckets(tmp_path):
    p = only(write(tmp_path, replace(BUCKETS, "[1, 0.5]")))
    assert (p.line, p.path) == (10, "metrics[1].buckets")


def windows(tier) -> list[tuple[float, float, float]]:
    return [(bw.burn_rate, bw.long, bw.short) for bw in tier]


H = 3600


def test_default_alerting_windows(tmp_path):
    slo = load(write(tmp_path, BASE)).specs[0].slos[0]
    assert windows(slo.alerting.page) == [(14.4, 1 * H, 300), (6, 6 * H, 30 * 60)]
    assert windows(slo.alerting.ticket) == [(3, 24 * H, 2 * H), (1, 72 * H, 6 * H)]


def test_burn_rate_shorthands_set_the_page_factors(tmp_path):
    shorthands = "    objective: 99.9\n    burn_rate_fast: 10\n    burn_rate_slow: 5"
    text = replace("    objective: 99.9", shorthands)
    slo = load(write(tmp_path, text)).specs[0].slos[0]
    assert windows(slo.alerting.page) == [(10, 1 * H, 300), (5, 6 * H, 30 * 60)]
    assert windows(slo.alerting.ticket) == [(3, 24 * H, 2 * H), (1, 72 * H, 6 * H)]


def test_burn_rate_shorthands_do_not_leak_into_other_slos(tmp_path):
    text = replace("    objective: 99.9", "    objective: 99.9\n    burn_rate_fast: 10")
    text += SECOND_SLO.replace("name: avail", "name: other")
    slos = load(write(tmp_path, text)).specs[0].slos
    assert slos[0].alerting.page[0].burn_rate == 10
    assert slos[1].alerting.page[0].burn_rate == 14.4


def test_page_false_disables_the_page_tier(tmp_path):
    text = replace("    objective: 99.9", "    objective: 99.9\n    alerting:\n      page: false")
    slo = load(write(tmp_path, text)).specs[0].slos[0]
    assert slo.alerting.page == []
    assert windows(slo.alerting.ticket) == [(3, 24 * H, 2 * H), (1, 72 * H, 6 * H)]


def test_by_label_that_sloforge_sets_is_refused(tmp_path):
    text = BASE_SPEC.replace("labels: [code, route]", "labels: [code, route, service]") + "    by: [service]\n"
    f = tmp_path / "s.yaml"
    f.write_text(text)
    proc = run_cli("validate", str(f))
    assert proc.returncode == 2
    assert f"{f}:{len(text.splitlines())}: slos[0].by[0]: 'service' is a label sloforge sets" in proc.stderr
