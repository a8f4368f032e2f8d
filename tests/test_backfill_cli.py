"""Backfill level splitting and CLI help, without a server."""

from __future__ import annotations

import yaml
from conftest import EXAMPLES, run_cli

from sloforge.backfill import BackfillError, parse_time, split_levels
from sloforge.generate.rules import rule_groups
from sloforge.promql import selectors
from sloforge.spec import load


def test_levels_follow_dependencies():
    """No rule shares a level with a rule whose series it reads (promtool cannot see those)."""
    spec = load(EXAMPLES / "kubernetesexecution.yaml").specs[0]
    levels = split_levels(rule_groups(spec))
    assert len(levels) >= 4
    recorded = [r for g in rule_groups(spec) for r in g["rules"] if "record" in r]
    placed = 0
    for groups in levels:
        rules = [r for g in groups for r in g["rules"]]
        placed += len(rules)
        assert all("alert" not in r for r in rules), "promtool ignores alerting rules"
        for r in rules:
            for sel in selectors(r["expr"]):
                for q in rules:
                    labels = {"__name__": q["record"], **q["labels"]}
                    hit = q["record"] == sel.name and all(m.matches(labels.get(m.name, "")) for m in sel.matchers)
                    assert not hit, f"{r['record']} reads {q['record']} {q['labels']} in the same level"
    assert placed == len(recorded)
    # groups keep their names and intervals, so evaluation phases match the live rules
    names = {g["name"]: g.get("interval") for groups in levels for g in groups}
    assert names == {g["name"]: g["interval"] for g in rule_groups(spec) if g["name"] in names}


def test_parse_time():
    assert parse_time("1767225600") == 1767225600.0
    assert parse_time("2026-01-01T00:00:00Z") == 1767225600.0
    try:
        parse_time("yesterday")
    except BackfillError as e:
        assert "RFC 3339" in str(e)
    else:
        raise AssertionError("no error")


def test_every_command_has_help_with_an_example():
    for cmd in ("validate", "generate", "backfill"):
        out = run_cli(cmd, "--help")
        assert out.returncode == 0, out.stderr
        assert "Example" in out.stdout and "sloforge " + cmd in out.stdout


def test_rule_groups_are_valid_yaml_roundtrip():
    spec = load(EXAMPLES / "workflowexecution.yaml").specs[0]
    groups = rule_groups(spec)
    assert yaml.safe_load(yaml.safe_dump({"groups": groups}))["groups"] == groups
