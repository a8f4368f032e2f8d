"""Grafana dashboards: importable structure (JSON schema, grid, uids, ids), every query parses,
every spec panel and SLO panel present as specified, deterministic files, provisioning."""

from __future__ import annotations

import copy
import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import jsonschema
import promql_parser
import pytest
import yaml
from conftest import BASE_SPEC, EXAMPLES

from sloforge import conventions as C
from sloforge.durations import format_duration
from sloforge.generate import grafana
from sloforge.generate.rules import slo_alerts
from sloforge.model import SLO, Bundle, Dashboard, Panel, Spec, Threshold
from sloforge.spec import load

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "grafana_dashboard.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

# BASE_SPEC with `by` labels, a latency SLO without a page tier, every panel type, an extra dashboard
SPEC_TEXT = BASE_SPEC.replace("    objective: 99.9\n", "    objective: 99.9\n    by: [route]\n") + textwrap.dedent(
    """\
      - name: fast
        title: Fast requests
        objective: 99
        by: [route]
        sli:
          latency: {histogram: http_request_duration_seconds, le: 1}
        alerting: {page: false}
    dashboard:
      - title: Requests
        expr: sum by (route) (rate(http_requests_total[5m]))
        legend: "{{route}}"
        unit: reqps
        min: 0
        decimals: 1
        width: 16
        height: 6
        thresholds: [{value: 100, color: orange}, {value: 200, color: red}]
        description: Requests per second by route
      - title: Errors now
        type: stat
        expr: sum(rate(http_requests_total{code=~"5.."}[5m]))
        unit: reqps
        thresholds: [{value: 1, color: red, op: gt}]
        width: 8
        height: 6
      - title: Success ratio
        type: gauge
        expr: 1 - sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
        unit: percentunit
        min: 0
        max: 1
        thresholds: [{value: 0.999, color: red, op: lt}]
      - title: Latency heatmap
        type: heatmap
        expr: sum by (le) (rate(http_request_duration_seconds_bucket[5m]))
        unit: s
        width: 24
    dashboards:
      - name: details
        title: Request details
        folder: HTTP
        variables: [code, route]
        panels:
          - title: Requests by code
            type: piechart
            expr: sum by (code) (rate(http_requests_total{route=~"$route"}[5m]))
            legend: "{{code}}"
          - title: Top routes
            type: table
            targets:
              - {expr: 'topk(10, sum by (route) (rate(http_requests_total{code=~"$code"}[5m])))', legend: rps}
              - {expr: 'sum by (route) (rate(http_requests_total{code=~"5.."}[5m]))', legend: errors}
          - title: Error share by route
            type: bargauge
            expr: |
              sum by (route) (rate(http_requests_total{code=~"5.."}[5m]))
              / sum by (route) (rate(http_requests_total[5m]))
            unit: percentunit
            instant: true
            thresholds: [{value: 0.01, color: red}]
          - title: Mean latency (graph)
            type: graph
            expr: sum(rate(http_request_duration_seconds_sum[5m])) / sum(rate(http_request_duration_seconds_count[5m]))
            unit: s
            width: 24
            height: 10
    """
)

LONG = "a-service-with-a-very-long-name-that-goes-on-and-on-and-on"  # 59 characters
LONG_SPEC_TEXT = BASE_SPEC.replace("service: svc", f"service: {LONG}") + textwrap.dedent(
    f"""\
    dashboards:
      - name: {"x" * 60}
        title: Long
        panels: [{{title: Up, expr: up}}]
    """
)

BUNDLE_TEXT = """\
apiVersion: sloforge/v1
kind: Bundle
name: fleet
description: Fleet of services
dashboard:
  - {title: Scrape targets up, type: piechart, expr: sum by (job) (up), legend: "{{job}}"}
  - {title: SLOs breached, type: stat, expr: 'count(sloforge:slo_status == -1) or vector(0)', thresholds: [{value: 1}]}
"""


@pytest.fixture(scope="module")
def examples():
    """Every spec in examples/ (and its Bundle, if one is there)."""
    return load(EXAMPLES)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, examples) -> tuple[list[Spec], Bundle]:
    d = tmp_path_factory.mktemp("specs")
    (d / "svc.yaml").write_text(SPEC_TEXT)
    (d / "long.yaml").write_text(LONG_SPEC_TEXT)
    (d / "bundle.yaml").write_text(BUNDLE_TEXT)
    own = load(d)
    return examples.specs + own.specs, own.bundle


@pytest.fixture(scope="module")
def specs(loaded) -> list[Spec]:
    return loaded[0]


@pytest.fixture(scope="module")
def svc(specs) -> Spec:
    return next(s for s in specs if s.service == "svc")


@pytest.fixture(scope="module")
def files(loaded) -> dict[str, str]:
    return grafana.dashboard_files(*loaded)


@pytest.fixture(scope="module")
def dashboards(files) -> dict[str, dict]:
    return {path: json.loads(text) for path, text in files.items() if path.endswith(".json")}


def all_panels(dashboards: dict[str, dict]):
    for path, dash in dashboards.items():
        for panel in dash["panels"]:
            yield path, panel


def sections(dash: dict) -> dict[str | None, list[dict]]:
    """Data panels grouped under the row above them (None: before any row)."""
    out: dict[str | None, list[dict]] = {None: []}
    current = None
    for p in dash["panels"]:
        if p["type"] == "row":
            current = p["title"]
            out[current] = []
        else:
            out[current].append(p)
    return out


def color_at(steps: list[dict], value: float) -> str:
    """The colour Grafana gives ``value``: the last step whose value is at most it."""
    color = steps[0]["color"]
    for step in steps[1:]:
        if value >= step["value"]:
            color = step["color"]
    return color


GRAFANA_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
DURATION_VARS = {"__rate_interval", "__interval", "__range"}


def substitute(expr: str) -> str:
    """Grafana variables -> what Grafana would send: durations for interval macros, a regex for labels."""

    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        return "5m" if name in DURATION_VARS else "(a|b.c)"

    return GRAFANA_VAR.sub(repl, expr)


# ---------------------------------------------------------------- structure


def test_schema_itself_is_valid():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def expected_dashboard_files(specs: list[Spec]) -> set[str]:
    out = {"grafana/dashboards/overview.json"}
    for spec in specs:
        out.add(f"grafana/dashboards/{spec.service}.json")
        out |= {
            f"grafana/dashboards/{d.folder + '/' if d.folder else ''}{spec.service}-{d.name}.json"
            for d in spec.dashboards
        }
    return out


def test_every_dashboard_matches_the_schema(dashboards):
    for path, dash in dashboards.items():
        errors = sorted(VALIDATOR.iter_errors(dash), key=lambda e: list(e.absolute_path))
        assert not errors, f"{path}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def test_expected_files(specs, files):
    assert set(files) == expected_dashboard_files(specs) | {
        "grafana/provisioning/dashboards/sloforge.yml",
        "grafana/provisioning/datasources/sloforge.yml",
    }
    assert {
        f"grafana/dashboards/{LONG}-{'x' * 60}.json",
        f"grafana/dashboards/{LONG}.json",
        "grafana/dashboards/HTTP/svc-details.json",
        "grafana/dashboards/svc.json",
    } <= set(files)


def test_uids_unique_and_short(dashboards):
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids)
    assert all(len(u) <= C.DASHBOARD_UID_MAX for u in uids)
    assert dashboards["grafana/dashboards/svc.json"]["uid"] == C.dashboard_uid("svc")
    assert dashboards["grafana/dashboards/HTTP/svc-details.json"]["uid"] == C.dashboard_uid("svc", "details")
    assert dashboards["grafana/dashboards/overview.json"]["uid"] == C.dashboard_uid("overview")


def check_grid(path: str, dash: dict) -> None:
    """Unique panel ids; every panel inside the 24 columns; no two panels share a grid cell."""
    ids = [p["id"] for p in dash["panels"]]
    assert len(set(ids)) == len(ids), path
    taken: dict[tuple[int, int], int] = {}
    for p in dash["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= grafana.GRID_WIDTH, (path, p["title"])
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in taken, f"{path}: {p['title']!r} overlaps panel {taken[(x, y)]}"
                taken[(x, y)] = p["id"]


def test_panel_ids_unique_and_grid_without_overlap(dashboards):
    for path, dash in dashboards.items():
        check_grid(path, dash)


def test_grid_wraps_panels_of_any_size(svc):
    sizes = [(12, 8), (12, 3), (6, 5), (18, 2), (7, 9), (17, 4), (24, 2), (1, 2), (23, 6), (2, 2), (22, 40)]
    panels = [Panel(title=f"p{i}", expr="up", width=w, height=h) for i, (w, h) in enumerate(sizes)]
    dash = grafana.extra_dashboard(svc, Dashboard(name="grid", title="Grid", panels=panels))
    check_grid("grid", dash)
    assert [(p["gridPos"]["w"], p["gridPos"]["h"]) for p in dash["panels"]] == sizes
    assert [p["gridPos"]["x"] for p in dash["panels"]] == [0, 12, 0, 6, 0, 7, 0, 0, 1, 0, 2]


def test_dashboard_basics(dashboards):
    for path, dash in dashboards.items():
        assert dash["schemaVersion"] == 39 and dash["editable"] is True
        assert dash["time"] == {"from": "now-24h", "to": "now"} and dash["refresh"]
        assert "sloforge" in dash["tags"], path
    assert dashboards["grafana/dashboards/svc.json"]["tags"] == ["sloforge", "svc"]
    assert dashboards["grafana/dashboards/HTTP/svc-details.json"]["tags"] == ["sloforge", "svc"]


def test_every_query_parses_after_grafana_substitution(dashboards):
    for path, panel in all_panels(dashboards):
        for t in panel.get("targets", []):
            promql_parser.parse(substitute(t["expr"]))  # raises on an invalid query or regex
            assert t["expr"] == t["expr"].strip(), (path, panel["title"])
    for path, dash in dashboards.items():
        for var in dash["templating"]["list"]:
            if var["type"] != "query":
                continue
            m = re.fullmatch(r"label_values\((?:(.+), )?(\w+)\)", var["definition"])
            assert m and m.group(2) == var["name"], (path, var)
            if m.group(1):
                promql_parser.parse(m.group(1))
            assert var["query"]["query"] == var["definition"]


def test_substitution_helper_catches_broken_queries():
    promql_parser.parse(substitute('rate(x{a=~"$a",b=~"${b:regex}"}[$__rate_interval])'))
    with pytest.raises(ValueError):
        promql_parser.parse(substitute("rate(x[5m]"))


def test_datasource_is_the_variable_everywhere(dashboards):
    for path, dash in dashboards.items():
        ds = dash["templating"]["list"][0]
        assert (ds["name"], ds["type"], ds["query"]) == ("datasource", "datasource", "prometheus"), path
        for var in dash["templating"]["list"][1:]:
            assert var.get("datasource", grafana.DATASOURCE) == grafana.DATASOURCE
    for path, panel in all_panels(dashboards):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, (path, panel["title"])
        assert panel["targets"]
        for t in panel["targets"]:
            assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, (path, panel["title"])


def test_links_between_dashboards(dashboards, specs):
    overview_url = f"/d/{C.dashboard_uid('overview')}"
    for path, dash in dashboards.items():
        if path.endswith("overview.json"):
            continue
        service = dash["tags"][1]
        assert {"url": overview_url, "type": "link"}.items() <= dash["links"][1].items()
        assert dash["links"][0]["type"] == "dashboards" and dash["links"][0]["tags"] == ["sloforge", service]
    overview = dashboards["grafana/dashboards/overview.json"]
    assert sorted(link["url"] for link in overview["links"]) == sorted(
        f"/d/{C.dashboard_uid(s.service)}" for s in specs
    )


# ---------------------------------------------------------------- spec panels


def check_spec_panel(panel: Panel, got: dict) -> None:
    """``got`` is ``panel`` as the spec gives it."""
    where = panel.title
    assert got["title"] == panel.title
    assert got["type"] == panel.type, where
    assert got["description"] == panel.description
    assert (got["gridPos"]["w"], got["gridPos"]["h"]) == (panel.width, panel.height), where
    assert [t["expr"] for t in got["targets"]] == [t.expr.strip() for t in panel.targets], where
    for spec_t, t in zip(panel.targets, got["targets"], strict=True):
        if spec_t.legend is not None:
            assert t["legendFormat"] == spec_t.legend, where
        table = panel.type == "table"
        assert t["instant"] == (panel.instant or table) and t["range"] == (not t["instant"]), where
        assert t["format"] == ("table" if table else "heatmap" if panel.type == "heatmap" else "time_series")
    defaults = got["fieldConfig"]["defaults"]
    if panel.type == "heatmap":
        assert got["options"]["yAxis"].get("unit") == panel.unit, where
        assert got["options"]["calculate"] is False
    else:
        assert defaults.get("unit") == panel.unit, where
    for key in ("min", "max", "decimals"):
        assert defaults.get(key) == getattr(panel, key), (where, key)
    steps = defaults["thresholds"]["steps"]
    if len(panel.thresholds) == 1:
        t = panel.thresholds[0]
        beyond, inside = (t.value + 1e-9, t.value - 1e-9) if t.op == "gt" else (t.value - 1e-9, t.value + 1e-9)
        assert color_at(steps, beyond) == t.color and color_at(steps, inside) == "green", where
    if panel.thresholds and panel.type == "timeseries":
        assert defaults["custom"]["thresholdsStyle"]["mode"] != "off"


def test_spec_panels_appear_as_written(specs, dashboards):
    checked = 0
    for spec in specs:
        main = sections(dashboards[f"grafana/dashboards/{spec.service}.json"])
        if spec.dashboard:
            got = main[f"{spec.service} panels"]
            assert len(got) == len(spec.dashboard)
            for panel, g in zip(spec.dashboard, got, strict=True):
                check_spec_panel(panel, g)
                checked += 1
        for d in spec.dashboards:
            folder = f"{d.folder}/" if d.folder else ""
            extra = dashboards[f"grafana/dashboards/{folder}{spec.service}-{d.name}.json"]
            assert extra["title"] == d.title
            for panel, g in zip(d.panels, extra["panels"], strict=True):
                check_spec_panel(panel, g)
                checked += 1
    assert checked == sum(len(s.dashboard) + sum(len(d.panels) for d in s.dashboards) for s in specs) >= 9


def test_bundle_panels_on_the_overview(loaded, dashboards):
    bundle = loaded[1]
    got = sections(dashboards["grafana/dashboards/overview.json"])["fleet panels"]
    for panel, g in zip(bundle.dashboard, got, strict=True):
        check_spec_panel(panel, g)


def test_panel_types_modelled(dashboards):
    main = sections(dashboards["grafana/dashboards/svc.json"])["svc panels"]
    heatmap = next(p for p in main if p["type"] == "heatmap")
    assert heatmap["targets"][0]["format"] == "heatmap" and heatmap["targets"][0]["legendFormat"] == "{{le}}"
    details = dashboards["grafana/dashboards/HTTP/svc-details.json"]["panels"]
    table = next(p for p in details if p["type"] == "table")
    assert [t["legendFormat"] for t in table["targets"]] == ["rps", "errors"]
    assert all(t["instant"] and t["format"] == "table" for t in table["targets"])
    assert [t["id"] for t in table["transformations"]] == ["merge", "organize"]
    assert next(p for p in details if p["type"] == "piechart")["options"]["reduceOptions"]["calcs"] == ["lastNotNull"]
    assert next(p for p in details if p["type"] == "bargauge")["targets"][0]["instant"] is True
    assert next(p for p in details if p["title"] == "Mean latency (graph)")["type"] == "timeseries"


def test_heatmap_without_buckets_lets_grafana_calculate():
    panel = grafana.spec_panel(Panel(title="h", type="heatmap", expr="rate(x_total[5m])"))
    assert panel["targets"][0]["format"] == "time_series" and panel["options"]["calculate"] is True


@pytest.mark.parametrize(
    ("thresholds", "expect"),
    [
        ([Threshold(value=5)], [("green", None), ("red", 5)]),
        ([Threshold(value=0.99, color="orange", op="lt")], [("orange", None), ("green", 0.99)]),
        ([Threshold(value=5, color="orange"), Threshold(value=10)], [("green", None), ("orange", 5), ("red", 10)]),
        (
            [Threshold(value=0.99, op="lt"), Threshold(value=0.999, color="orange", op="lt")],
            [("red", None), ("orange", 0.99), ("green", 0.999)],
        ),
        ([Threshold(value=0.1, op="lt"), Threshold(value=0.9, op="gt")], [("red", None), ("green", 0.1), ("red", 0.9)]),
    ],
)
def test_threshold_steps(thresholds, expect):
    assert [(s["color"], s["value"]) for s in grafana.threshold_steps(thresholds)] == expect


# ---------------------------------------------------------------- SLO panels


def slo_section(dashboards: dict, spec: Spec, slo: SLO) -> dict[str, dict]:
    main = sections(dashboards[f"grafana/dashboards/{spec.service}.json"])
    rows = [title for title in main if title and title.startswith(f"SLO {slo.title or slo.name}:")]
    assert len(rows) == 1, rows
    return {p["title"]: p for p in main[rows[0]]}


def test_every_slo_has_its_panels(specs, dashboards):
    for spec in specs:
        for slo in spec.slos:
            panels = slo_section(dashboards, spec, slo)
            alerts = [name for _, name, _ in slo_alerts(spec, slo)]
            expected = {"SLI vs objective", "Error budget remaining", "Status", "Burn rate per alert window"}
            expected |= {"Window coverage"} | ({"Alert state"} if alerts else set())
            assert set(panels) == expected, (spec.service, slo.name)
            for p in panels.values():
                assert p["description"], p["title"]
            check_slo_filters(spec, slo, panels)
            check_slo_series(spec, slo, panels, alerts)


def check_slo_filters(spec: Spec, slo: SLO, panels: dict[str, dict]) -> None:
    """Every SLO query selects service and slo, and filters on each `by` variable (objective has no by labels)."""
    for p in panels.values():
        for t in p["targets"]:
            assert f'service="{spec.service}"' in t["expr"] and f'slo="{slo.name}"' in t["expr"]
            if C.OBJECTIVE not in t["expr"]:
                for b in slo.by:
                    assert f'{b}=~"${b}"' in t["expr"], t["expr"]


def check_slo_series(spec: Spec, slo: SLO, panels: dict[str, dict], alerts: list[str]) -> None:
    sli = [t["expr"] for t in panels["SLI vs objective"]["targets"]]
    assert sli[0].startswith(C.SLI + "{") and sli[1].startswith(C.OBJECTIVE + "{")
    budget = panels["Error budget remaining"]
    assert budget["targets"][0]["expr"].startswith(C.BUDGET_REMAINING + "{")
    defaults = budget["fieldConfig"]["defaults"]
    assert defaults["unit"] == "percentunit"
    steps = defaults["thresholds"]["steps"]
    assert color_at(steps, -0.1) == "red" and color_at(steps, C.AT_RISK_BELOW - 0.01) == "orange"
    assert color_at(steps, C.AT_RISK_BELOW + 0.01) == "green"
    status = panels["Status"]
    assert status["targets"][0]["expr"].startswith(C.STATUS + "{")
    texts = {k: v["text"] for k, v in status["fieldConfig"]["defaults"]["mappings"][0]["options"].items()}
    assert texts == {"1": "healthy", "0": "at risk", "-1": "breached"}
    burn = panels["Burn rate per alert window"]
    windows = [format_duration(w) for w in slo.windows()]
    assert [t["expr"] for t in burn["targets"]] == [
        grafana.slo_series(spec, slo, C.BURN_RATE, window=w) for w in windows
    ]
    lines = {s["value"] for s in burn["fieldConfig"]["defaults"]["thresholds"]["steps"][1:]}
    assert lines == {bw.burn_rate for bw in slo.alerting.page + slo.alerting.ticket}
    if alerts:
        expr = panels["Alert state"]["targets"][0]["expr"]
        assert expr.startswith('ALERTS{alertname=~"') and all(a in expr for a in alerts)
    assert panels["Window coverage"]["targets"][0]["expr"].startswith(C.COVERAGE + "{")


def test_slo_without_page_tier(svc, dashboards):
    fast = next(s for s in svc.slos if s.name == "fast")
    panels = slo_section(dashboards, svc, fast)
    steps = panels["Burn rate per alert window"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert {s["color"] for s in steps[1:]} == {grafana.TICKET_COLOR}
    assert "SvcFastTicket" in panels["Alert state"]["targets"][0]["expr"]
    assert "SvcFastPage" not in panels["Alert state"]["targets"][0]["expr"]


def test_by_label_variables(specs, dashboards):
    for spec in specs:
        labels = list(dict.fromkeys(b for slo in spec.slos for b in slo.by))
        variables = {v["name"]: v for v in dashboards[f"grafana/dashboards/{spec.service}.json"]["templating"]["list"]}
        assert list(variables) == ["datasource", *labels]
        for b in labels:
            v = variables[b]
            assert v["type"] == "query" and v["multi"] and v["includeAll"] and v["allValue"] == ".*"
            assert v["definition"] == f'label_values({C.SLI}{{service="{spec.service}"}}, {b})'
    details = dashboards["grafana/dashboards/HTTP/svc-details.json"]["templating"]["list"]
    assert [v["name"] for v in details] == ["datasource", "code", "route"]
    assert details[1]["definition"] == "label_values(http_requests_total, code)"  # a series its panels read


def test_overview(specs, dashboards):
    overview = dashboards["grafana/dashboards/overview.json"]
    panels = sections(overview)["SLOs"]
    table = panels[0]
    assert table["type"] == "table"
    exprs = " ".join(t["expr"] for t in table["targets"])
    for series in (C.SLI, C.OBJECTIVE, C.BUDGET_REMAINING, C.STATUS):
        assert series in exprs
    organize = table["transformations"][1]["options"]
    assert list(organize["renameByName"].values()) == ["SLI", "objective", "budget remaining", "status"]
    index = organize["indexByName"]
    assert sorted(index, key=index.get) == ["service", "slo", "Value #A", "Value #B", "Value #C", "Value #D"]
    titles = {p["title"] for p in panels}
    assert {"Error budget remaining by SLO", "Burn rate over $window", "Firing SLO alerts"} <= titles
    names = [v["name"] for v in overview["templating"]["list"]]
    assert names == ["datasource", "service", "window"]
    window = overview["templating"]["list"][2]
    assert window["current"]["value"] == "1h" and "3d" in window["query"].split(",")


def test_example_bundle_overview(examples):
    """The overview of examples/ alone, with the examples' Bundle panels if there is one."""
    dash = grafana.overview_dashboard(examples.specs, examples.bundle)
    assert not list(VALIDATOR.iter_errors(dash))
    if examples.bundle and examples.bundle.dashboard:
        got = sections(dash)[f"{examples.bundle.name} panels"]
        for panel, g in zip(examples.bundle.dashboard, got, strict=True):
            check_spec_panel(panel, g)


def test_overview_without_bundle(specs):
    dash = grafana.overview_dashboard(specs, None)
    assert [p["title"] for p in dash["panels"] if p["type"] == "row"] == ["SLOs"]
    assert not list(VALIDATOR.iter_errors(dash))


# ---------------------------------------------------------------- files


def test_output_is_deterministic(loaded, files):
    again = grafana.dashboard_files(*loaded)
    assert again == files
    for path, text in files.items():
        assert text.endswith("\n")
        if path.endswith(".json"):
            assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_provisioning(files):
    ds = yaml.safe_load(files["grafana/provisioning/datasources/sloforge.yml"])
    assert ds["apiVersion"] == 1
    assert ds["datasources"][0]["type"] == "prometheus" and ds["datasources"][0]["url"] == "http://127.0.0.1:9090"
    dash = yaml.safe_load(files["grafana/provisioning/dashboards/sloforge.yml"])
    assert dash["apiVersion"] == 1
    provider = dash["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"] == {"path": grafana.DASHBOARDS_PATH, "foldersFromFilesStructure": True}
    custom = grafana.provisioning("http://prometheus:9090")
    assert yaml.safe_load(custom["grafana/provisioning/datasources/sloforge.yml"])["datasources"][0]["url"] == (
        "http://prometheus:9090"
    )


def test_colliding_dashboards_are_refused(svc):
    twin = svc.model_copy(update={"dashboards": []})
    with pytest.raises(ValueError, match="share a file name or uid"):
        grafana.dashboard_files([svc, twin], None)


# ---------------------------------------------------------------- the schema catches real mistakes


def _drop_gridpos(d: dict) -> None:
    del d["panels"][1]["gridPos"]


def _set(path: tuple, value: object) -> Callable[[dict], None]:
    def mutate(d: dict) -> None:
        target = d
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


BROKEN = {
    "missing gridPos": _drop_gridpos,
    "too wide": _set(("panels", 1, "gridPos", "w"), 30),
    "gridPos as strings": _set(("panels", 1, "gridPos", "x"), "0"),
    "schemaVersion as string": _set(("schemaVersion",), "39"),
    "old schemaVersion": _set(("schemaVersion",), 27),
    "uid too long": _set(("uid",), "x" * 41),
    "expr not a string": _set(("panels", 1, "targets", 0, "expr"), 5),
    "fixed datasource": _set(("panels", 1, "datasource"), {"type": "prometheus", "uid": "prometheus"}),
    "pre-8 panel type": _set(("panels", 1, "type"), "graph"),
    "no targets": _set(("panels", 1, "targets"), []),
    "first step has a value": _set(("panels", 1, "fieldConfig", "defaults", "thresholds", "steps", 0, "value"), 0),
    "unknown key": _set(("panels", 1, "legend"), "x"),
    "editable missing": lambda d: d.pop("editable"),
    "tags without sloforge": _set(("tags",), ["svc", "x"]),
}


@pytest.mark.parametrize("mutation", list(BROKEN), ids=list(BROKEN))
def test_schema_rejects_broken_dashboards(dashboards, mutation):
    dash = copy.deepcopy(dashboards["grafana/dashboards/svc.json"])
    assert VALIDATOR.is_valid(dash)
    BROKEN[mutation](dash)
    assert not VALIDATOR.is_valid(dash)
