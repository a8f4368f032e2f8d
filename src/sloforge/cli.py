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
) -> None:
    """Write the bundle: Prometheus rules, promtool tests, prometheus.yml, Alertmanager config,
    Grafana dashboards + provisioning, runbooks, Kubernetes manifests, Thanos/Mimir/vmalert rules.

    Example: sloforge generate examples/ -o build && sloforge check build
    """
    from sloforge.generate.bundle import render_bundle, write_atomically

    loaded = _load(paths, strict)
    try:
        files = render_bundle(loaded.specs, loaded.bundle)
    except ValueError as e:  # e.g. two dashboards on one uid, a ConfigMap over the apply limit
        err.print(f"cannot generate: {e}; nothing written", markup=False)
        raise typer.Exit(2) from None
    if python:
        from sloforge.generate.python_module import module_name, python_module

        files.update({f"python/{module_name(s)}.py": python_module(s) for s in loaded.specs})
    write_atomically(files, out)
    err.print(f"wrote {len(files)} file(s) to {out}", markup=False)


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
    Console(highlight=False).print(table)
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
    out = Console(highlight=False)
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
