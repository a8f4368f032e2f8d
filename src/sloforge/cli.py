"""The ``sloforge`` command line.

Exit codes: 0 ok, 1 a tool or backend failed, 2 the spec (or usage) is wrong.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sloforge.spec import Loaded, SpecError, load

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="SLOs as code for Prometheus: one reviewed spec -> rules, alerts, tests.",
)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SpecArg = Annotated[list[Path], typer.Argument(help="spec files or directories (searched recursively)")]
Strict = Annotated[bool, typer.Option("--strict", help="treat lint warnings as errors")]


def _stdout() -> Console:
    """Tables for stdout: the terminal's width, or 160 columns when piped (rich would wrap at 80)."""
    import os

    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(highlight=False, width=160 if piped else None)


def _load(paths: list[Path], strict: bool) -> Loaded:
    try:
        loaded = load(*paths, strict=strict)
    except SpecError as e:
        for p in e.problems:
            err.print(str(p), markup=False)
        err.print(f"{len(e.problems)} problem(s); nothing written", markup=False)
        raise typer.Exit(2) from None
    for w in loaded.warnings:
        err.print(str(w), markup=False, style="yellow")
    return loaded


@app.command()
def validate(paths: SpecArg, strict: Strict = False) -> None:
    """Check specs: errors (exit 2) and lint warnings (stderr, exit 0). Writes nothing.

    Example: sloforge validate examples/ --strict
    """
    loaded = _load(paths, strict)
    n = sum(len(s.slos) for s in loaded.specs)
    err.print(f"ok: {len(loaded.specs)} spec(s), {n} SLO(s), {len(loaded.warnings)} warning(s)", markup=False)


@app.command()
def generate(
    paths: SpecArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="output directory (replaced atomically)")] = Path("build"),
    strict: Strict = False,
    python: Annotated[
        bool, typer.Option("--python", help="also write python/<service>_metrics.py (prometheus_client objects)")
    ] = False,
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help="rule files only for: prometheus (files + promtool tests), operator (PrometheusRule CRDs), "
            "thanos, mimir, vmalert; repeatable; default all",
        ),
    ] = None,
    mimir_tenant: Annotated[
        str | None, typer.Option("--mimir-tenant", help="tenant for mimir/load.sh (mimirtool rules load --id)")
    ] = None,
    thanos_label: Annotated[
        list[str] | None, typer.Option("--thanos-label", help="external label k=v of the Thanos Ruler (repeatable)")
    ] = None,
) -> None:
    """Write the bundle: Prometheus rules, promtool tests, prometheus.yml, Alertmanager config,
    Grafana dashboards + provisioning, runbooks, Kubernetes manifests, Thanos/Mimir/vmalert rules.

    \b
    Examples:
      sloforge generate examples/ -o build && sloforge check build
      sloforge generate sloth-specs/ --target operator -o deploy
    """
    from sloforge.generate.bundle import render_bundle, select_targets, write_atomically
    from sloforge.generate.rulers import Deployment

    labels = dict(item.partition("=")[::2] for item in thanos_label or [])
    if any(not k or not v for k, v in labels.items()) or len(labels) != len(thanos_label or []):
        err.print("--thanos-label: give name=value, each name once", markup=False)
        raise typer.Exit(2)
    loaded = _load(paths, strict)
    deploy = Deployment(mimir_tenant, labels)
    try:
        files = select_targets(render_bundle(loaded.specs, loaded.bundle, deploy), target or [])
    except ValueError as e:  # e.g. two dashboards on one uid, a ConfigMap over the apply limit
        err.print(f"cannot generate: {e}; nothing written", markup=False)
        raise typer.Exit(2) from None
    if python:
        from sloforge.generate.python_module import module_name, python_module

        files.update({f"python/{module_name(s)}.py": python_module(s) for s in loaded.specs})
    write_atomically(files, out)
    err.print(f"wrote {len(files)} file(s) to {out}", markup=False)


def _emit(text: str, out: Path | None) -> None:
    """``text`` to ``out``, or to stdout without one."""
    if out is None:
        print(text, end="")
        return
    out.write_text(text, encoding="utf-8")
    err.print(f"wrote {out}", markup=False)


@app.command("import")
def import_(
    paths: SpecArg,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="native YAML to write (default: stdout)")] = None,
) -> None:
    """Convert Sloth (prometheus/v1, PrometheusServiceLevel), Pyrra (ServiceLevelObjective) or OpenSLO files to
    native sloforge/v1 YAML.  Every format loads directly too; import makes the spec yours to edit.  What a
    format has that sloforge cannot express is an error naming the field, never dropped.

    \b
    Example:
      sloforge import sloth/slos.yml -o slos.yaml && sloforge validate slos.yaml
    """
    from sloforge.generate.native_export import to_native

    text = to_native(_load(paths, False).specs)
    _emit(text, out)


@app.command()
def export(
    paths: SpecArg,
    to: Annotated[str, typer.Option("--to", help="format: openslo (OpenSLO v1)")] = "openslo",
    out: Annotated[Path | None, typer.Option("-o", "--out", help="file to write (default: stdout)")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="refuse to drop what OpenSLO cannot hold")] = False,
) -> None:
    """Write the specs' SLOs as OpenSLO v1 (Service, SLO with inline SLI, AlertPolicy per tier).  What OpenSLO
    cannot hold is listed in a comment at the top (with --strict: an error, exit 2).

    \b
    Example:
      sloforge export examples/kubernetesexecution.yaml --to openslo -o kubernetesexecution.openslo.yaml
    """
    from sloforge.generate.openslo_export import ExportError, to_openslo

    if to != "openslo":
        err.print(f"--to: unknown format {to!r}: openslo is supported", markup=False)
        raise typer.Exit(2)
    specs = _load(paths, False).specs
    try:
        text = to_openslo(specs, strict=strict)
    except ExportError as e:
        for p in e.problems:
            err.print(str(p), markup=False)
        raise typer.Exit(2) from None
    _emit(text, out)


@app.command()
def check(
    out: Annotated[Path, typer.Argument(help="a bundle written by 'sloforge generate'")] = Path("build"),
    jobs: Annotated[int | None, typer.Option("-j", "--jobs", help="parallel checks (default: CPU count)")] = None,
    require_tools: Annotated[
        bool, typer.Option("--require-tools", help="fail when promtool/amtool/vmalert are missing")
    ] = False,
) -> None:
    """Check a bundle with the real tools and summarise.

    Runs promtool check config, promtool check rules, promtool test rules (every
    generated test file), amtool check-config and, when installed, vmalert -dryRun.
    Exit 1 when a check fails (or a tool is missing with --require-tools).

    Example: sloforge generate examples -o build && sloforge check build
    """
    from rich.table import Table

    from sloforge import check as checks

    if not out.is_dir():
        err.print(f"{out}: no such bundle directory (run 'sloforge generate' first)", markup=False)
        raise typer.Exit(2)
    planned = checks.plan(out)
    if not planned:
        err.print(f"{out}: nothing to check (no prometheus/ or alertmanager/ files)", markup=False)
        raise typer.Exit(2)
    done = checks.run(planned, jobs)
    table = Table(title=f"sloforge check {out}")
    for col in ("check", "tool", "result", "seconds"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    style = {checks.PASSED: "green", checks.FAILED: "red", checks.SKIPPED: "yellow"}
    for c in done:
        table.add_row(c.name, c.tool, f"[{style[c.status]}]{c.status}[/]", f"{c.seconds:.1f}")
    _stdout().print(table)
    for c in done:
        if c.status == checks.FAILED or (c.status == checks.SKIPPED and require_tools):
            err.print(f"--- {c.name}: {' '.join(c.argv)} (in {c.cwd})\n{c.output}", markup=False)
    failed = [c for c in done if c.status == checks.FAILED]
    skipped = [c for c in done if c.status == checks.SKIPPED]
    passed = len(done) - len(failed) - len(skipped)
    err.print(f"{passed} passed, {len(failed)} failed, {len(skipped)} skipped", markup=False)
    if failed or (skipped and require_tools):
        raise typer.Exit(1)


def _seconds(v: float | None) -> str:
    from sloforge.durations import format_duration

    return "-" if v is None else format_duration(round(v))


@app.command()
def simulate(
    paths: SpecArg,
    as_json: Annotated[bool, typer.Option("--json", help="print the rows as JSON")] = False,
) -> None:
    """Run incident scenarios through each SLO's alerts with the evaluation engine.

    Per SLO, scenario (error ratio x duration) and alert tier: fired or not,
    detection time (and the SRE Workbook's prediction), reset time after the
    incident ends, share of the error budget spent before the alert; then
    precision and recall over incidents and harmless blips.

    Example: sloforge simulate examples/kubernetesexecution.yaml --json
    """
    import json

    from rich.table import Table

    from sloforge.evaluate import unsupported
    from sloforge.evaluate.simulate import simulate as run_simulation
    from sloforge.evaluate.simulate import summarize

    loaded = _load(paths, False)
    rows = []
    for spec in loaded.specs:
        for line in unsupported(spec):
            err.print(f"{spec.service}: skipped: {line}", markup=False, style="yellow")
        rows += run_simulation(spec)
    if as_json:
        print(json.dumps(rows, indent=2, sort_keys=True))
        return
    out = _stdout()
    table = Table(title="sloforge simulate: incident scenarios")
    for col in (
        "service",
        "slo",
        "error ratio",
        "duration",
        "tier",
        "fired",
        "detection",
        "workbook",
        "reset",
        "budget spent",
    ):
        table.add_column(col)
    for r in rows:
        sc = r["scenario"]
        table.add_row(
            r["service"],
            r["slo"],
            f"{sc['error_ratio']:.3%}",
            _seconds(sc["duration_seconds"]),
            r["tier"],
            "yes" if r["fired"] else "no",
            _seconds(r["detection_seconds"]),
            _seconds(r.get("expected_detection_seconds")),
            _seconds(r["reset_seconds"]),
            "-" if r["budget_spent"] is None else f"{r['budget_spent']:.2%}",
        )
    out.print(table)
    summary = Table(title="precision / recall per alert")
    for col in ("service", "slo", "alert", "precision", "recall", "median detection"):
        summary.add_column(col)
    for s in summarize(rows):
        summary.add_row(
            s["service"],
            s["slo"],
            s["alert"],
            "-" if s["precision"] is None else f"{s['precision']:.2f}",
            "-" if s["recall"] is None else f"{s['recall']:.2f}",
            _seconds(s["median_detection_seconds"]),
        )
    out.print(summary)


DataOpt = Annotated[Path | None, typer.Option("--data", help="OpenMetrics file with timestamps (.gz ok)")]
FromOpt = Annotated[str | None, typer.Option("--from", help="start: RFC 3339 or unix seconds")]
ToOpt = Annotated[str | None, typer.Option("--to", help="end: RFC 3339 or unix seconds")]


def _time(text: str | None, option: str) -> float | None:
    from sloforge.durations import parse_time

    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as e:
        err.print(f"{option}: {e}", markup=False)
        raise typer.Exit(2) from None


PromOpt = Annotated[
    str | None,
    typer.Option("--prometheus", help="URL of a Prometheus-compatible API (Prometheus, Thanos, Mimir, VM)"),
]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="tenant ID sent as X-Scope-OrgID (Mimir, Cortex)")]
TokenOpt = Annotated[Path | None, typer.Option("--bearer-token-file", help="file holding a bearer token")]
BasicOpt = Annotated[Path | None, typer.Option("--basic-auth-file", help="file holding user:password")]
CaOpt = Annotated[Path | None, typer.Option("--ca-file", help="CA bundle to verify the server's TLS certificate")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="seconds per request (retried 3 times with backoff)")]


def _source(paths, data, url, tenant, token, basic, ca, timeout: float):  # noqa: ANN001, ANN202 - CLI plumbing
    """The specs and, for --prometheus, the connection; exactly one of --data / --prometheus is required."""
    from sloforge.sources.prometheus import Connection

    if (data is None) == (url is None):
        err.print("give one source: --data FILE (OpenMetrics with timestamps) or --prometheus URL", markup=False)
        raise typer.Exit(2)
    specs = _load(paths, False).specs
    if url is None:
        return specs, None
    return specs, Connection(
        url, tenant=tenant, bearer_token_file=token, basic_auth_file=basic, ca_file=ca, timeout=timeout
    )


def _history(specs: list, data: Path | None, conn, start: float | None, end: float | None, at: float | None = None):  # noqa: ANN001, ANN202, E501
    """Raw series the specs' SLOs read (an OpenMetrics file or a Prometheus API) and the range to evaluate.

    From a file the default range is all of it; from an API the last 7 days, fetched from one SLO window
    earlier so budgets start complete."""
    import time

    from sloforge.evaluate import required_metrics

    names = sorted(set().union(*(required_metrics(s) for s in specs)))
    if data is not None:
        from sloforge.sources.openmetrics import OpenMetricsError, read_openmetrics

        try:
            with err.status(f"reading {data}"):
                series = read_openmetrics(data, names=names, end=at)
        except (OSError, OpenMetricsError) as e:
            err.print(f"--data: {e}", markup=False)
            raise typer.Exit(2) from None
    else:
        from rich.progress import Progress

        from sloforge.sources.prometheus import PrometheusSource, SourceError

        end = time.time() if end is None else end
        start = end - 7 * 86400 if start is None else start
        history = max((slo.window for s in specs for slo in s.slos), default=0.0)
        try:
            with PrometheusSource(conn) as source, Progress(console=err, transient=True) as bar:
                task = bar.add_task(f"fetching {len(names)} metrics from {conn.url}", total=1.0)
                series = source.raw(names, start - history, end, progress=lambda f: bar.update(task, completed=f))
        except SourceError as e:
            err.print(f"--prometheus: {e}", markup=False)
            raise typer.Exit(1) from None
    span = series.time_range()
    if span is None:
        where = data or conn.url
        err.print(f"{where}: no samples of {', '.join(names) or 'the SLIs'}", markup=False)
        raise typer.Exit(1)
    return series, (span[0] / 1000 if start is None else start), (span[1] / 1000 if end is None else end)


@app.command()
def backtest(
    paths: SpecArg,
    data: DataOpt = None,
    prometheus: PromOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON")] = False,
    resolution: Annotated[str, typer.Option("--resolution", help="step of budget_remaining in the output")] = "1h",
    tenant: TenantOpt = None,
    bearer_token_file: TokenOpt = None,
    basic_auth_file: BasicOpt = None,
    ca_file: CaOpt = None,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Replay history through the SLOs' generated rules: what would the alerts have done?

    Per SLO (and `by` value): each alert's firing intervals, the budget
    remaining over time and burned per day, incidents (5m burn >= 2x) that
    burned > 10 % of the budget with no page (missed), and alerts that fired
    while < 1 % of the budget burned (noise).  Default range: all of the data
    file, or the last 7 days of a --prometheus API (raw series fetched in
    chunks from one SLO window earlier).

    \b
    Examples:
      sloforge backtest examples/kubernetesexecution.yaml
        --data examples/data/kubernetesexecution.om.gz --json
      sloforge backtest specs/ --prometheus https://mimir.example/prometheus
        --tenant team-a --from 2026-10-01T00:00:00Z --to 2026-11-01T00:00:00Z
    """
    import json

    from rich.progress import Progress

    from sloforge.durations import parse_duration
    from sloforge.evaluate.backtest import backtest as run_backtest
    from sloforge.evaluate.engine import unsupported_slos

    specs, conn = _source(paths, data, prometheus, tenant, bearer_token_file, basic_auth_file, ca_file, timeout)
    series, t0, t1 = _history(specs, data, conn, _time(start, "--from"), _time(end, "--to"))
    results, left_out = [], []
    with Progress(console=err, transient=True, disable=as_json or not err.is_terminal) as bar:
        for spec in specs:
            left_out += [f"{spec.service}/{name}: {why}" for name, why in unsupported_slos(spec).items()]
            task = bar.add_task(spec.service, total=len(spec.slos))
            step = parse_duration(resolution)
            results += run_backtest(spec, series, t0, t1, resolution=step, progress=lambda _, t=task: bar.advance(t))
    for line in left_out:
        err.print(f"skipped: {line}", markup=False, style="yellow")
    if as_json:
        doc = {"from": t0, "to": t1, "source": str(data or prometheus), "slos": results, "skipped": left_out}
        print(json.dumps(doc, indent=2, sort_keys=True))
        return
    from sloforge.report.backtest_table import print_backtest

    print_backtest(_stdout(), results, t0, t1)


def _reports(specs: list, data: Path | None, conn, at: float | None, history: bool):  # noqa: ANN001, ANN202
    """SLO reports at ``at`` (default: the data's end, or now) from a data file or a Prometheus API."""
    import time

    from sloforge.report.from_engine import reports_from_engine

    step = 3600.0 if history else None
    if data is not None:
        series, _, end = _history(specs, data, None, None, at)
        return reports_from_engine(specs, series, end, source=str(data), history_step=step), end
    from sloforge.report.from_prometheus import reports_from_prometheus
    from sloforge.sources.prometheus import PrometheusSource, SourceError

    at = time.time() if at is None else at
    try:
        with PrometheusSource(conn) as source:
            reports, _ = reports_from_prometheus(specs, source, at, history=history)
    except SourceError as e:  # the client could not even start (a token file, a URL)
        err.print(f"--prometheus: {e}", markup=False)
        raise typer.Exit(2) from None
    return reports, at


@app.command()
def report(
    paths: SpecArg,
    data: DataOpt = None,
    prometheus: PromOpt = None,
    at_text: Annotated[str | None, typer.Option("--at", help="report time: RFC 3339 or unix seconds")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="also write a self-contained HTML page")] = None,
    fail_on_breach: Annotated[bool, typer.Option("--fail-on-breach", help="exit 3 if an SLO is breached")] = False,
    tenant: TenantOpt = None,
    bearer_token_file: TokenOpt = None,
    basic_auth_file: BasicOpt = None,
    ca_file: CaOpt = None,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Where every SLO stands: SLI, error budget left, burn rates, when the budget runs out.

    Per SLO and `by` value: SLI over the window, budget total / used / left
    (share, minutes of full outage, events), burn rate per alert window, status
    (healthy while >= 25 % of the budget is left, at risk while some is,
    breached when none is, unknown when the source cannot tell), projected
    exhaustion at the current 1h burn, alerts that would be firing.  From a
    data file the engine replays the rules; from a Prometheus API the recorded
    series are read (raw series when they are missing).

    Exit status: 0, 1 when an SLO is unknown, 3 with --fail-on-breach when one
    is breached.

    \b
    Examples:
      sloforge report examples/kubernetesexecution.yaml
        --data examples/data/kubernetesexecution.om.gz --html report.html
      sloforge report specs/ --prometheus http://127.0.0.1:9090 --json
    """
    import json
    import time

    from sloforge.report.model import BREACHED, UNKNOWN, document

    specs, conn = _source(paths, data, prometheus, tenant, bearer_token_file, basic_auth_file, ca_file, timeout)
    reports, at = _reports(specs, data, conn, _time(at_text, "--at"), history=html is not None)
    doc = document(time.time(), str(data or prometheus), at, reports, history=html is not None)
    if html is not None:
        from sloforge.report.html import render_html

        html.write_text(render_html(doc), encoding="utf-8")
        err.print(f"wrote {html}", markup=False)
    if as_json:
        doc["slos"] = [r.to_json() for r in reports]
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        from sloforge.report.table import print_report

        print_report(_stdout(), reports, doc["source"], at)
    statuses = {r.status for r in reports}
    if UNKNOWN in statuses:
        raise typer.Exit(1)
    if fail_on_breach and BREACHED in statuses:
        raise typer.Exit(3)


@app.command()
def serve(
    paths: SpecArg,
    data: DataOpt = None,
    prometheus: PromOpt = None,
    host: Annotated[str, typer.Option("--host", help="address to bind (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 8080,
    refresh: Annotated[float, typer.Option("--refresh", help="seconds between re-reads of the source")] = 60.0,
    tenant: TenantOpt = None,
    bearer_token_file: TokenOpt = None,
    basic_auth_file: BasicOpt = None,
    ca_file: CaOpt = None,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Serve the report: an overview page, a page per SLO with its charts,
    /api/slos (the --json document), /metrics (sloforge_slo_* gauges to scrape)
    and /healthz.

    \b
    Example:
      sloforge serve examples/kubernetesexecution.yaml
        --data examples/data/kubernetesexecution.om.gz --port 8080
    """
    import time

    from sloforge.report.model import document
    from sloforge.report.serve import serve as run_server

    specs, conn = _source(paths, data, prometheus, tenant, bearer_token_file, basic_auth_file, ca_file, timeout)
    source = str(data or prometheus)
    fixed = _reports(specs, data, conn, None, history=True) if data is not None else None  # a file does not change

    def build() -> dict:
        reports, at = fixed or _reports(specs, None, conn, None, history=True)
        return document(time.time(), source, at, reports, history=True)

    err.print(f"serving {source} on http://{host}:{port}/", markup=False)
    run_server(build, host=host, port=port, refresh=refresh)


@app.command("demo-data")
def demo_data(
    paths: SpecArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="file to write (.gz: gzip)")],
    days: Annotated[float, typer.Option("--days", help="length of the history")] = 30,
    scrape: Annotated[str, typer.Option("--scrape", help="scrape interval")] = "1m",
    end: ToOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="random seed")] = 1,
) -> None:
    """Write a synthetic history for the specs' SLIs as OpenMetrics (input of backtest/report --data and of
    `promtool tsdb create-blocks-from openmetrics`): daily traffic cycle, errors at 0.3x the budget, and per
    SLO four incidents on its first `by` value (15m outage, 3h at 10x, 36h at 2x, a 2m blip).

    \b
    Example:
      sloforge demo-data examples/kubernetesexecution.yaml --days 30 --scrape 2m
        -o examples/data/kubernetesexecution.om.gz
    """
    import time

    from sloforge.durations import parse_duration
    from sloforge.sources.openmetrics import write_openmetrics
    from sloforge.sources.synthetic import DAY, history

    specs = _load(paths, False).specs
    stop = _time(end, "--to") or time.time()
    start = (stop - days * DAY) // DAY * DAY
    left_out: list[str] = []
    series = history(specs, start, days, parse_duration(scrape), seed=seed, skipped=left_out)
    for line in left_out:
        err.print(f"skipped: {line}", markup=False, style="yellow")
    write_openmetrics(series, out)
    err.print(f"wrote {out}: {len(series)} series, {series.samples()} samples", markup=False)


@app.command()
def backfill(
    rules: Annotated[Path, typer.Argument(help="generated rule file (prometheus/rules/<service>.yml)")],
    out: Annotated[Path, typer.Argument(help="directory for the TSDB blocks")],
    prometheus: Annotated[str, typer.Option("--prometheus", help="URL of the Prometheus with raw data")],
    start: Annotated[str, typer.Option("--from", help="start: RFC 3339 or unix seconds")],
    end: Annotated[str | None, typer.Option("--to", help="end (default now - 3h)")] = None,
    interval: Annotated[str | None, typer.Option("--eval-interval", help="default: each group's")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Prometheus storage path: load each level there")
    ] = None,
) -> None:
    """Backfill recorded SLO series so long windows are complete right after rollout.

    Wraps `promtool tsdb create-blocks-from rules`, one dependency level per pass
    (5m rates first, then the windows derived from them). With --data-dir each
    level is copied into Prometheus' storage and awaited before the next.

    \b
    Example:
      sloforge backfill build/prometheus/rules/shop.yml blocks/
        --prometheus http://127.0.0.1:9090 --from 2026-10-01T00:00:00Z
        --data-dir /var/lib/prometheus
    """
    from sloforge.backfill import BackfillError, run_backfill

    try:
        for line in run_backfill(rules, out, prometheus, start, end, interval, data_dir=data_dir):
            err.print(line, markup=False)
    except BackfillError as e:
        err.print(f"backfill failed: {e}", markup=False)
        raise typer.Exit(1) from None


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
