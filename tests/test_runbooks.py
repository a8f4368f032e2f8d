"""Runbook pages: one section per alert at the anchor its runbook_url names, valid PromQL, budget math."""

from __future__ import annotations

import re

import promql_parser
import pytest
from conftest import BASE_SPEC, EXAMPLES
from markdown_it import MarkdownIt
from markdown_it.token import Token

from sloforge import conventions as C
from sloforge.generate.rules import rule_groups
from sloforge.generate.runbooks import budget_seconds, outage_text, runbook_page, split_comparison
from sloforge.model import Bundle, Spec
from sloforge.spec import load

# continues the base spec's SLO 'avail', then adds SLOs and top-level fields
SYNTHETIC = (
    BASE_SPEC
    + """\
    runbook:
      meaning: Checkout requests **fail**; customers cannot pay.
      investigate:
        - Error ratio by route
        - up{job="svc"} == 0
        - http_requests_total
      commands:
        - kubectl -n shop get pods -l app=svc
        - kubectl -n shop logs deploy/svc --since=15m | grep -i error
      causes: [A bad deploy, "Database connection pool exhausted"]
      mitigation: ["Roll back: `kubectl -n shop rollout undo deploy/svc`", Scale out]
      dashboard: deep-dive
  - name: latency
    title: Fast | responses
    description: Requests under 1s *per route*
    objective: 99
    window: 7d
    by: [route]
    alerting:
      ticket: false
      page: [{burn_rate: 14.4, long: 1h, short: 5m}, {burn_rate: 6, long: 6h, short: 30m, for: 5m}]
    sli:
      latency: {histogram: http_request_duration_seconds, le: 1}
  - name: p95
    objective: 99.9
    sli:
      timeslice:
        expr: |
          histogram_quantile(0.95,
            sum by (le) (rate(http_request_duration_seconds_bucket{route=~"/pay|/cart"}[5m])))
        max: 2
description: Checkout API | pays the <orders>
alerts:
  - name: SvcDown
    expr: up{job="svc"} == 0
    for: 2m
    severity: critical
    summary: The service is down.
    runbook:
      investigate: [Error ratio by route]
      escalation: Call the payments lead.
  - name: SvcSlow
    expr: |
      histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))
        > 3
    for: 10m
    keep_firing_for: 5m
    severity: warning
    summary: p99 above 3s
    description: "p99 is {{ $value }}s"
  - name: SvcNoTraffic
    expr: absent(http_requests_total{route="/pay"})
    severity: info
    summary: No traffic on /pay
    runbook_url: https://wiki.example.com/svc#no-traffic
queries:
  - name: Error ratio by route
    description: 5xx share per route
    expr: |
      sum by (route) (rate(http_requests_total{code=~"5.."}[5m]))
      / sum by (route) (rate(http_requests_total[5m]))
dashboards:
  - name: deep-dive
    title: API deep dive
    panels: [{title: Up, expr: up}]
runbooks:
  escalation: "Page #payments-oncall, then the payments lead."
  procedures:
    - title: Scaling workers
      when: Lag grows while CPU is saturated.
      steps:
        - "Scale out: `kubectl -n shop scale deploy/svc --replicas=6`"
        - Watch the burn rate fall.
    - title: Emergency stop
      steps: [Stop traffic at the ingress, "Tell #payments", Restart traffic slowly]
"""
)

BUNDLE = """\
apiVersion: sloforge/v1
kind: Bundle
name: fleet
description: Cross-service alerts
alerts:
  - name: FleetTargetsDown
    expr: count(up == 0) > 3
    severity: critical
    summary: Many targets down
runbooks:
  procedures:
    - {title: Fleet-wide outage, steps: [Check the load balancer]}
"""

# a real CommonMark renderer with GFM tables (markdown-it-py, installed with rich)
MD = MarkdownIt("commonmark").enable("table")


def github_slug(heading: str) -> str:
    """GitHub's heading anchor: lowercase, punctuation except '-' and '_' dropped, spaces -> '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def inline_text(token: Token) -> str:
    """The rendered text of an inline token (what GitHub slugs a heading from)."""
    return "".join(c.content for c in token.children or [] if c.type in ("text", "code_inline"))


def headings(page: str) -> list[tuple[int, str, int]]:
    """``(level, rendered text, first line)`` of every heading."""
    tokens = MD.parse(page)
    return [
        (int(t.tag[1]), inline_text(tokens[i + 1]), t.map[0])
        for i, t in enumerate(tokens)
        if t.type == "heading_open" and t.map
    ]


def sections(page: str) -> dict[str, str]:
    """Anchor of each ``##`` heading -> the raw Markdown up to the next ``##``."""
    lines = page.splitlines()
    h2 = [(github_slug(text), line) for level, text, line in headings(page) if level == 2]
    ends = [line for _, line in h2[1:]] + [len(lines)]
    return {slug: "\n".join(lines[start + 1 : end]) for (slug, start), end in zip(h2, ends, strict=True)}


def code_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced block as the renderer sees it."""
    return [(t.info, t.content) for t in MD.parse(text) if t.type == "fence"]


def table_rows(page: str) -> list[list[str]]:
    """Rendered cells of every table row, header rows included."""
    rows: list[list[str]] = []
    for t in MD.parse(page):
        if t.type == "tr_open":
            rows.append([])
        elif t.type == "inline" and rows and t.level >= 4:
            rows[-1].append(inline_text(t))
    return [r for r in rows if r]


def alert_rules(spec: Spec | Bundle) -> list[dict]:
    return [r for g in rule_groups(spec) for r in g["rules"] if "alert" in r]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Spec:
    path = tmp_path_factory.mktemp("spec") / "svc.yaml"
    path.write_text(SYNTHETIC)
    return load(path).specs[0]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Bundle:
    path = tmp_path_factory.mktemp("bundle") / "fleet.yaml"
    path.write_text(BUNDLE)
    loaded = load(path)
    assert loaded.bundle is not None
    return loaded.bundle


def all_specs(synthetic: Spec, bundle: Bundle) -> list[Spec | Bundle]:
    return [*load(EXAMPLES).specs, synthetic, bundle]


def test_every_alert_has_one_section_at_its_runbook_url_anchor(synthetic, bundle):
    for spec in all_specs(synthetic, bundle):
        page = runbook_page(spec)
        slugs = [github_slug(h) for _, h, _ in headings(page)]
        rules = alert_rules(spec)
        assert rules, spec.service
        for rule in rules:
            url = rule["annotations"]["runbook_url"]
            if rule["alert"] == "SvcNoTraffic":  # its runbook_url points elsewhere
                assert url in page
                continue
            assert url.startswith(f"{C.RUNBOOK_DIR}/{spec.service}.md#"), url
            assert slugs.count(url.split("#", 1)[1]) == 1, (spec.service, rule["alert"])
            assert f"\n## {rule['alert']}\n" in page


def test_markdown_renders_cleanly(synthetic, bundle):
    """Unique headings, one title, no accidental indented code, tables keep their columns, no trailing spaces."""
    for spec in all_specs(synthetic, bundle):
        page = runbook_page(spec)
        found = headings(page)
        slugs = [github_slug(h) for _, h, _ in found]
        assert len(slugs) == len(set(slugs)), spec.service
        assert [level for level, _, _ in found].count(1) == 1
        assert not [t for t in MD.parse(page) if t.type == "code_block"]
        table: list[int] = []
        for line in page.splitlines() + [""]:
            if line.startswith("|"):
                table.append(len(re.findall(r"(?<!\\)\|", line)))
            elif table:
                assert len(set(table)) == 1, (spec.service, table)
                table = []
        assert not [line for line in page.splitlines() if line != line.rstrip()]
        assert page.endswith("\n") and not page.endswith("\n\n")


def test_every_code_block_is_tagged_and_promql_parses(synthetic, bundle):
    for spec in all_specs(synthetic, bundle):
        blocks = code_blocks(runbook_page(spec))
        assert {lang for lang, _ in blocks} <= {"promql", "sh"}
        promql = [body for lang, body in blocks if lang == "promql"]
        assert promql
        for body in promql:
            promql_parser.parse(body)  # raises on invalid PromQL


def test_query_names_resolve_and_unknown_names_are_promql(synthetic):
    page = sections(runbook_page(synthetic))
    avail = page["svcavailpage"]
    blocks = [body.strip() for lang, body in code_blocks(avail.split("**Investigate**")[1]) if lang == "promql"]
    query = synthetic.queries[0]
    assert query.expr.strip() in blocks
    assert "5xx share per route" in avail
    assert 'up{job="svc"} == 0' in blocks
    assert "http_requests_total" in blocks  # not a query name: used as PromQL
    assert len(blocks) == 3  # an explicit investigate list replaces the generated queries
    assert query.expr.strip() in [b.strip() for _, b in code_blocks(page["svcdown"])]


def test_unknown_query_name_that_is_no_promql_is_an_error(synthetic):
    spec = synthetic.model_copy(deep=True)
    spec.alerts[0].runbook.investigate = ["Error ratio per route"]
    with pytest.raises(ValueError, match=r"alerts\[0\] 'SvcDown': runbook.investigate\[0\] 'Error ratio per route'"):
        runbook_page(spec)


def test_section_content(synthetic):
    page = runbook_page(synthetic)
    sec = sections(page)
    avail = sec["svcavailpage"]
    assert "Checkout requests **fail**" in avail
    assert (
        "```sh\nkubectl -n shop get pods -l app=svc\nkubectl -n shop logs deploy/svc --since=15m | grep -i error\n```"
        in avail
    )
    assert "- A bad deploy\n- Database connection pool exhausted" in avail
    assert "- Roll back: `kubectl -n shop rollout undo deploy/svc`" in avail
    assert "**Dashboard:** [API deep dive](/d/sloforge-svc-deep-dive)" in avail
    assert "Page #payments-oncall" in avail  # the spec-wide escalation
    # burn-rate math: 14.4x over 1h of 30d spends 2 %, the budget lasts 30d / 14.4
    assert "| 14.4× | 1h | 5m | – | 2d2h | 2 % |" in avail
    assert "| 6× | 6h | 30m | 5m | 1d4h | 21.4286 % |" in sec["svclatencypage"]
    assert "svclatencyticket" not in sec  # ticket tier disabled
    assert "Call the payments lead." in sec["svcdown"]
    assert "above `3`, for at least 10m, and keeps firing 5m after that" in sec["svcslow"]
    value = [b for lang, b in code_blocks(sec["svcslow"]) if lang == "promql"][-1]
    assert value.strip() == "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"
    assert "returns any series" in sec["svcnotraffic"]
    assert "https://wiki.example.com/svc#no-traffic" in sec["svcnotraffic"]
    assert "[svc](/d/sloforge-svc)" in page and "[API deep dive](/d/sloforge-svc-deep-dive)" in page
    assert "\nCheckout API | pays the \\<orders\\>\n" in page  # escaped plain text
    assert "| Fast \\| responses (`latency`) |" in page  # pipe in a table cell


def test_escalation_defaults_follow_severity(synthetic):
    spec = synthetic.model_copy(deep=True)
    spec.runbooks.escalation = ""
    sec = sections(runbook_page(spec))
    on_call, next_day = "Pages the on-call engineer", "handled on the next working day"
    assert on_call in sec["svcavailpage"] and next_day in sec["svcavailticket"]
    assert next_day in sec["svcslow"] and next_day in sec["svcnotraffic"]
    assert "Call the payments lead." in sec["svcdown"] and on_call not in sec["svcdown"]


def test_procedures_in_order_with_steps(synthetic):
    page = runbook_page(synthetic)
    titles = [h for _, h, _ in headings(page)]
    assert titles[-2:] == ["Scaling workers", "Emergency stop"]
    sec = sections(page)
    assert "**When to use:** Lag grows while CPU is saturated." in sec["scaling-workers"]
    assert (
        "1. Scale out: `kubectl -n shop scale deploy/svc --replicas=6`\n2. Watch the burn rate fall."
        in (sec["scaling-workers"])
    )
    assert "1. Stop traffic at the ingress\n2. Tell #payments\n3. Restart traffic slowly" in sec["emergency-stop"]
    assert "[Scaling workers](#scaling-workers), [Emergency stop](#emergency-stop)" in page


def test_procedure_title_clashing_with_an_alert_is_an_error(synthetic):
    spec = synthetic.model_copy(deep=True)
    spec.runbooks.procedures[1].title = "svcdown"
    with pytest.raises(ValueError, match="same anchor #svcdown"):
        runbook_page(spec)


def test_operational_alert_named_like_an_slo_alert_is_an_error(synthetic):
    spec = synthetic.model_copy(deep=True)
    spec.alerts[0].name = "SvcAvailPage"
    with pytest.raises(ValueError, match="alert name 'SvcAvailPage' is used by SLO `avail`"):
        runbook_page(spec)


def test_error_budget_as_time(synthetic):
    avail, latency, p95 = synthetic.slos
    assert budget_seconds(avail) == pytest.approx(2592)
    assert outage_text(budget_seconds(avail)) == "43.2 min"
    assert outage_text(budget_seconds(latency)) == "100.8 min"
    rows = {row[0]: row for row in table_rows(runbook_page(synthetic))}
    assert rows["avail"][1:] == ["99.9 %", "30d", rows["avail"][3], "0.001 (0.1 %)", "43.2 min of full outage"]
    assert rows["Fast | responses (latency)"][1:3] == ["99 %", "7d"]
    assert rows["Fast | responses (latency)"][4:] == ["0.01 (1 %)", "100.8 min of full outage"]
    assert rows["p95"][5] == "8.64 bad 5m slices of 8640 = 43.2 min"
    assert 'route=~"/pay|/cart"' in rows["p95"][3]  # a pipe inside a code span in a table cell


def test_split_comparison():
    assert split_comparison("(\n  a / b\n) < 0.99") == ("(\n  a / b\n)", "<", "0.99")
    assert split_comparison("time() - x > 300") == ("time() - x", ">", "300")
    assert split_comparison("a + b >= 1e3") == ("a + b", ">=", "1e3")
    assert split_comparison("expiry - time() < 86400 * 7") == ("expiry - time()", "<", "86400 * 7")
    assert split_comparison("a>=b>=3") == ("a>=b", ">=", "3")
    assert split_comparison("a > bool 3") is None
    assert split_comparison("a > b") is None
    assert split_comparison("a > 3 and b") is None
    assert split_comparison("absent(a)") is None
    # a trailing comment: the value comes from the parser
    assert split_comparison("rate(a[5m]) > 3 # why") == ("rate(a[5m])", ">", "3")


def test_bundle_page_covers_cross_service_alerts(bundle):
    page = runbook_page(bundle)
    assert page.count("\n## FleetTargetsDown\n") == 1
    assert "/d/" not in page  # no panels, no dashboard
    assert "Service level objectives" not in page
    assert headings(page)[-1][1] == "Fleet-wide outage"


def test_deterministic(synthetic, bundle):
    assert runbook_page(synthetic) == runbook_page(load(synthetic.source_file).specs[0])
    first = [runbook_page(s) for s in load(EXAMPLES).specs]
    assert first == [runbook_page(s) for s in load(EXAMPLES).specs]
    assert runbook_page(bundle) == runbook_page(bundle)


def test_example_pages_name_every_slo():
    for spec in load(EXAMPLES).specs:
        page = runbook_page(spec)
        for slo in spec.slos:
            assert f"(`{slo.name}`)" in page
        assert f"[{spec.service}](/d/{C.dashboard_uid(spec.service)})" in page
