"""Backtest speed: sloforge's NumPy engine over months of history, and the same rules in ``promtool test rules``.

Cases (synthetic request counters with incidents, ``bench/_backtest_data.py``):

* A: 100 SLOs x 30 days, 60 s scrape, rules every 1m (target: under 10 s on 2 cores);
* B: 10 SLOs x 90 days, 10 s scrape, rules every 1m;
* C: as B, rules every 10 s (the 10-second evaluation grid).

Each case: wall time of ``evaluate(spec, data, start, end)`` (best of ``--repeat``, default threads =
one per core) and its process CPU time (all threads: robust when other jobs share the cores), raw
samples per second (input samples / wall), and the peak memory the call allocates (``tracemalloc``
peak during one extra, untimed call; NumPy reports its buffers to tracemalloc).

promtool: 4 SLOs x 1 day at 1m (``--quick``: 4 hours), a size ``promtool test rules`` 2.42 handles
in about a minute (it loads at most 10,000 samples per query and re-reads every window at every
step), the generated rule file runs over the same raw series.  A verification run checks
``count by (alertname, alertstate, slo) (ALERTS)`` at every evaluation step against the engine's
alert states (it must pass: identical pending/firing times); a timing run has one check at the last
step, so promtool's time is rule evaluation.  Ratio = promtool seconds / engine seconds on the same
data, and per SLO-day against case A.

    python bench/backtest.py [--quick] [--slos 100] [--days 30] [--repeat 3] [--profile]

Prints a table and writes bench/results/backtest.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _backtest_data import DAY, ROOT, load_spec, requests, spec_text  # noqa: E402
from datagen import T0  # noqa: E402

from sloforge.durations import format_duration  # noqa: E402
from sloforge.evaluate import FIRING, PENDING, Evaluation, SeriesSet, evaluate  # noqa: E402
from sloforge.evaluate.series import render  # noqa: E402
from sloforge.generate.rules import rule_file, rule_groups  # noqa: E402
from sloforge.generate.yamlout import dump  # noqa: E402
from sloforge.model import Spec  # noqa: E402

OUT = ROOT / "bench" / "results" / "backtest.json"
TARGET_SECONDS = 10.0  # case A
TARGET_RATIO = 100.0
ALERTS_BY = "count by (alertname, alertstate, slo) (ALERTS)"
R = TypeVar("R")


@dataclass(frozen=True)
class Case:
    name: str
    slos: int
    days: float
    scrape: float  # seconds
    interval: str  # the spec's evaluation_interval

    @property
    def slo_days(self) -> float:
        return self.slos * self.days


def cases(quick: bool, slos: int | None, days: float | None) -> list[Case]:
    if quick:
        a, b, c = Case("A", 20, 7, 60, "1m"), Case("B", 3, 14, 10, "1m"), Case("C", 2, 7, 10, "10s")
    else:
        a, b, c = Case("A", 100, 30, 60, "1m"), Case("B", 10, 90, 10, "1m"), Case("C", 10, 90, 10, "10s")
    a = Case("A", slos or a.slos, days or a.days, a.scrape, a.interval)
    return [a, b, c]


def promtool_case(quick: bool) -> Case:
    return Case("promtool", 4, 1 / 6, 60, "1m") if quick else Case("promtool", 4, 1, 60, "1m")


# ---------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Timing:
    """Seconds of one run: wall clock and CPU (all threads; for promtool, the child process)."""

    wall: float
    cpu: float


def best(runs: list[Timing]) -> Timing:
    """The least wall and the least CPU over the runs (other load on the machine only adds)."""
    return Timing(min(r.wall for r in runs), min(r.cpu for r in runs))


def timed(fn: Callable[[], R], repeat: int) -> tuple[list[Timing], R]:
    """Timings of ``repeat`` calls and the last result."""
    runs = []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        runs.append(Timing(time.perf_counter() - t, time.process_time() - c))
    return runs, result


def peak_bytes(fn: Callable[[], object]) -> int:
    """Peak of the memory traced during one call (Python objects and NumPy buffers)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def data_bytes(data: SeriesSet) -> int:
    return sum(s.t.nbytes + s.v.nbytes for s in data)


def firing_count(evals: list[Evaluation]) -> int:
    return sum(len(e.firing(a)) for e in evals for a in e.alerts)


def run_case(case: Case, repeat: int, workers: int | None) -> dict:
    spec = load_spec(spec_text(case.slos, case.interval))
    t = time.perf_counter()
    data = requests(spec, case.days * DAY, case.scrape, T0)
    generate_s = time.perf_counter() - t
    end = T0 + case.days * DAY

    def call() -> list[Evaluation]:
        return evaluate(spec, data, T0, end, workers=workers)

    runs, evals = timed(call, repeat)
    peak = peak_bytes(call)
    wall = best(runs).wall
    steps = sum(e.times.size for e in evals)
    return {
        **asdict(case),
        "raw_series": len(data),
        "raw_samples": data.samples(),
        "raw_data_mb": round(data_bytes(data) / 2**20, 1),
        "output_steps": steps,
        "generate_seconds": round(generate_s, 3),
        "wall_seconds": round(wall, 3),
        "wall_seconds_all": [round(r.wall, 3) for r in runs],
        "cpu_seconds": round(best(runs).cpu, 3),
        "samples_per_second": round(data.samples() / wall),
        "slo_days_per_second": round(case.slo_days / wall, 1),
        "peak_mb_tracemalloc": round(peak / 2**20, 1),
        "firing_intervals": firing_count(evals),
    }


# ---------------------------------------------------------------- promtool


def _eval_time(seconds: float) -> str:
    return format_duration(seconds) if seconds else "0s"


def input_series(data: SeriesSet, scrape_ms: int) -> list[dict]:
    """Every series as a promtool ``input_series`` entry: sample k at ``k * interval`` from 0."""
    out = []
    for s in data:
        assert s.t.size and s.t[0] == 0 and (np.diff(s.t) == scrape_ms).all(), f"{s} is not on the test grid"
        out.append({"series": render(s.labels), "values": " ".join(f"{v:.17g}" for v in s.v)})
    return out


def alert_checks(evals: list[Evaluation], steps: list[int]) -> list[dict]:
    """``ALERTS`` as the engine predicts it at the given output steps (indices into ``times``)."""
    checks = []
    for k in steps:
        exp = []
        for e in evals:
            for name, state in sorted(e.alerts.items()):
                if state[k] in (PENDING, FIRING):
                    alertstate = "firing" if state[k] == FIRING else "pending"
                    exp.append(
                        {"labels": f'{{alertname="{name}",alertstate="{alertstate}",slo="{e.slo}"}}', "value": 1}
                    )
        checks.append({"expr": ALERTS_BY, "eval_time": _eval_time(float(evals[0].times[k])), "exp_samples": exp})
    return checks


def test_file(spec: Spec, rules: str, series: list[dict], interval: str, checks: list[dict]) -> str:
    test = {
        "rule_files": [rules],
        "evaluation_interval": interval,
        # groups reading each other at one timestamp run in this order (promtool's sort is unstable without it)
        "group_eval_order": [g["name"] for g in rule_groups(spec)],
        "tests": [{"name": "backtest", "interval": interval, "input_series": series, "promql_expr_test": checks}],
    }
    return dump(test, "")


def promtool(tmp: Path, name: str) -> tuple[Timing, subprocess.CompletedProcess]:
    exe = shutil.which("promtool")
    if exe is None:
        raise SystemExit("promtool not found (apt-get install prometheus)")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run([exe, "test", "rules", name], cwd=tmp, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu), r


def run_promtool(case: Case, repeat: int, engine_repeat: int) -> dict:
    spec = load_spec(spec_text(case.slos, case.interval))
    duration = case.days * DAY
    data = requests(spec, duration, case.scrape, 0.0)
    scrape_ms = round(case.scrape * 1000)

    def engine(workers: int | None = None) -> list[Evaluation]:
        # promtool runs every group at the test's evaluation_interval, the SLO-window group included
        return evaluate(
            spec, data, 0, duration, case.scrape, history_start=0, slo_group_interval=case.scrape, workers=workers
        )

    runs, evals = timed(engine, engine_repeat)
    runs1, _ = timed(lambda: engine(1), engine_repeat)
    n = evals[0].times.size
    series = input_series(data, scrape_ms)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        (tmp / "bench.yml").write_text(rule_file(spec))
        every = alert_checks(evals, list(range(n)))
        (tmp / "verify.test.yml").write_text(test_file(spec, "bench.yml", series, case.interval, every))
        (tmp / "time.test.yml").write_text(test_file(spec, "bench.yml", series, case.interval, every[-1:]))
        verify_t, verify = promtool(tmp, "verify.test.yml")
        checked = [promtool(tmp, "time.test.yml") for _ in range(repeat)]
    output = verify.stdout + verify.stderr
    identical = verify.returncode == 0 and all(r.returncode == 0 for _, r in checked)
    if not identical:
        print(output[:4000], file=sys.stderr)
    prom = best([t for t, _ in checked])
    eng, eng1 = best(runs), best(runs1)
    states = [s for e in evals for a in e.alerts.values() for s in a]
    return {
        **asdict(case),
        "raw_series": len(data),
        "raw_samples": data.samples(),
        "steps_checked": len(every),
        "alert_samples_firing": sum(1 for s in states if s == FIRING),
        "alert_samples_pending": sum(1 for s in states if s == PENDING),
        "firing_intervals": firing_count(evals),
        "identical_firing": identical,
        "promtool_verify_seconds": round(verify_t.wall, 3),
        "promtool_seconds": round(prom.wall, 3),
        "promtool_cpu_seconds": round(prom.cpu, 3),
        "promtool_seconds_all": [round(t.wall, 3) for t, _ in checked],
        "engine_seconds": round(eng.wall, 5),
        "engine_cpu_seconds": round(eng.cpu, 5),
        "engine_seconds_1_thread": round(eng1.wall, 5),
        "ratio": round(prom.wall / eng.wall, 1),
        "ratio_1_thread": round(prom.wall / eng1.wall, 1),
        "ratio_cpu": round(prom.cpu / eng.cpu, 1),
        "promtool_seconds_per_slo_day": round(prom.wall / case.slo_days, 4),
    }


# ---------------------------------------------------------------- report


def profile_case(case: Case, top: int = 20) -> str:
    """cProfile of one single-threaded evaluate over the case: where the time goes."""
    spec = load_spec(spec_text(case.slos, case.interval))
    data = requests(spec, case.days * DAY, case.scrape, T0)
    prof = cProfile.Profile()
    prof.runcall(evaluate, spec, data, T0, T0 + case.days * DAY, workers=1)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def table(rows: list[dict], pt: dict, verdict: dict) -> str:
    head = (
        f"{'case':<5} {'SLOs':>4} {'days':>5} {'scrape':>6} {'eval':>5} {'raw samples':>12} {'wall s':>7} "
        f"{'CPU s':>6} {'samples/s':>11} {'SLO-days/s':>10} {'peak MB':>8} {'firing':>6}"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['name']:<5} {r['slos']:>4} {r['days']:>5g} {r['scrape']:>5g}s {r['interval']:>5} "
            f"{r['raw_samples']:>12,} {r['wall_seconds']:>7.2f} {r['cpu_seconds']:>6.2f} "
            f"{r['samples_per_second']:>11,} {r['slo_days_per_second']:>10,} {r['peak_mb_tracemalloc']:>8,} "
            f"{r['firing_intervals']:>6}"
        )
    lines += [
        "",
        f"promtool test rules, {pt['slos']} SLOs x {format_duration(pt['days'] * DAY)} @ {pt['scrape']:g}s "
        f"({pt['raw_samples']:,} raw samples): promtool {pt['promtool_seconds']:.2f} s "
        f"({pt['promtool_cpu_seconds']:.2f} s CPU), engine {pt['engine_seconds'] * 1000:.1f} ms "
        f"({pt['engine_cpu_seconds'] * 1000:.1f} ms CPU; {pt['engine_seconds_1_thread'] * 1000:.1f} ms on 1 thread)",
        f"  speed ratio on the same data: {pt['ratio']:,}x wall, {pt['ratio_cpu']:,}x CPU, "
        f"{pt['ratio_1_thread']:,}x vs 1 engine thread",
        f"  per SLO-day, promtool vs case A: {verdict['ratio_per_slo_day']:,}x wall, "
        f"{verdict['ratio_per_slo_day_cpu']:,}x CPU   (target >= {TARGET_RATIO:g}x: "
        f"{'ok' if verdict['ratio_ok'] else 'MISSED'})",
        f"  identical firing: {'yes' if pt['identical_firing'] else 'NO'} "
        f"(ALERTS checked at all {pt['steps_checked']:,} steps: {pt['alert_samples_firing']:,} firing and "
        f"{pt['alert_samples_pending']:,} pending samples, {pt['firing_intervals']} firing intervals)",
        f"case A: {verdict['wall_seconds']:.2f} s wall, target < {TARGET_SECONDS:g} s: "
        f"{'ok' if verdict['wall_ok'] else 'MISSED'}",
    ]
    return "\n".join(lines)


def environment(workers: int | None) -> dict:
    exe = shutil.which("promtool")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout if exe else ""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "engine_threads": workers or os.cpu_count(),
        "machine": platform.machine(),
        "promtool": version.split("\n")[0],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def verdict_of(a: dict, pt: dict) -> dict:
    """Case A against its target; promtool against the engine on the same data and per SLO-day of case A."""
    slo_days = a["slos"] * a["days"]
    per, per_cpu = a["wall_seconds"] / slo_days, a["cpu_seconds"] / slo_days
    out = {
        "wall_seconds": a["wall_seconds"],
        "wall_ok": a["wall_seconds"] < TARGET_SECONDS,
        "ratio_same_data": pt["ratio"],
        "ratio_per_slo_day": round(pt["promtool_seconds_per_slo_day"] / per, 1),
        "ratio_per_slo_day_cpu": round(pt["promtool_cpu_seconds"] / (pt["slos"] * pt["days"]) / per_cpu, 1),
        "engine_seconds_per_slo_day_case_a": round(per, 5),
        "identical_firing": pt["identical_firing"],
    }
    out["ratio_ok"] = min(out["ratio_same_data"], out["ratio_per_slo_day"]) >= TARGET_RATIO
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run in well under a minute")
    ap.add_argument("--slos", type=int, help="SLOs in case A (default 100)")
    ap.add_argument("--days", type=float, help="days in case A (default 30)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per case (the best counts)")
    ap.add_argument("--workers", type=int, help="engine threads (default: one per core)")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of case A (single thread)")
    args = ap.parse_args()
    env = environment(args.workers)
    todo = cases(args.quick, args.slos, args.days)
    rows = []
    for case in todo:
        print(
            f"case {case.name}: {case.slos} SLOs x {case.days:g} d @ {case.scrape:g}s, rules every {case.interval}",
            flush=True,
        )
        rows.append(run_case(case, args.repeat, args.workers))
    pcase = promtool_case(args.quick)
    print(f"promtool: {pcase.slos} SLOs x {format_duration(pcase.days * DAY)} @ {pcase.scrape:g}s", flush=True)
    pt = run_promtool(pcase, repeat=1, engine_repeat=5 if args.quick else 20)
    verdict = verdict_of(rows[0], pt)
    print()
    print(table(rows, pt, verdict))
    load = ", ".join(f"{x:g}" for x in env["load_average_at_start"])
    print(
        f"\nPython {env['python']}, NumPy {env['numpy']}, {env['cpus']} CPUs, {env['engine_threads']} engine threads, "
        f"load average at start {load}"
    )
    if args.profile:
        print(profile_case(todo[0]))
    result = {
        "quick": args.quick,
        "environment": env,
        "targets": {"case_a_seconds": TARGET_SECONDS, "ratio": TARGET_RATIO},
        "verdict": verdict,
        "cases": rows,
        "promtool": pt,
        "method": {
            "wall_seconds": "best of --repeat evaluate() calls (time.perf_counter)",
            "cpu_seconds": "process CPU time of the best call, all threads (time.process_time)",
            "peak_mb_tracemalloc": "tracemalloc peak during one extra evaluate() call (NumPy buffers included)",
            "promtool": "verification run: ALERTS at every step must equal the engine's; timing run: one check",
        },
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")
    if not pt["identical_firing"]:
        raise SystemExit("promtool's ALERTS differ from the engine's")


if __name__ == "__main__":
    main()
