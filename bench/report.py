"""Report cost: queries and wall time of ``reports_from_prometheus`` for 50 SLOs, and slo-generator on the same data.

Five services of ten SLOs each (good/total events, objectives 95-99.9 %, a 1h
window, a 14.4x 1h/5m page) over three hours of synthetic counters at 60s
with incidents, backfilled into Prometheus 2.42; the generated rules are
backfilled over the last 75 minutes (``sloforge backfill``).  At the end of
the history:

* sloforge, recorded path: ``reports_from_prometheus`` on the five specs;
* sloforge, raw path: the same specs under other service names, so nothing is
  recorded for them and every SLO falls back to its raw counters;
* slo-generator 2.6 (PyPI, in its own venv, ``--slo-generator-venv``, created
  with ``setuptools<82`` if missing): Prometheus backend, ``good_bad_ratio``,
  one error-budget-policy step per window (5m, 1h).  Its backend sends no
  ``time`` (it always asks for "now"), so its client is wrapped to pass the
  report time; nothing else is changed.

SLIs: slo-generator's (rounded to 6 decimals) against sloforge's raw path (the
same ``increase`` ratios) and recorded path (counted 5m pieces: differs by
the extrapolation ``increase`` does).  Times are medians of ``--repeat`` runs.

    python bench/report.py [--repeat 5] [--slo-generator-venv /tmp/slogen]

Prints a table and writes bench/results/report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import backfilled_prometheus  # noqa: E402

from sloforge.backfill import run_backfill  # noqa: E402
from sloforge.durations import format_duration  # noqa: E402
from sloforge.generate.rules import rule_groups  # noqa: E402
from sloforge.model import Spec  # noqa: E402
from sloforge.report.from_prometheus import reports_from_prometheus  # noqa: E402
from sloforge.sources.openmetrics import write_openmetrics  # noqa: E402
from sloforge.sources.prometheus import Connection, PrometheusSource  # noqa: E402
from sloforge.sources.synthetic import DAY, Incident, history  # noqa: E402

T0 = 1_767_225_600.0
HOURS = 3.0
END = T0 + HOURS * 3600
AT = END - 0.001
RECORDED_FROM = END - 75 * 60
SERVICES, PER_SERVICE = 5, 10
OBJECTIVES = (99.0, 99.5, 99.9, 98.0, 95.0)
WINDOWS = (300.0, 3600.0)
SLO_GENERATOR = "slo-generator==2.6.0"

# runs inside slo-generator's venv: one compute() per SLO, the client passes the report time
SLO_GENERATOR_JOB = r"""
import json, logging, os, sys, time
logging.disable(logging.CRITICAL)
job = json.load(sys.stdin)
os.environ["PROMETHEUS_URL"] = job["url"]
from prometheus_http_client import Prometheus
from slo_generator.compute import compute

class AtClient:
    def __init__(self):
        self.inner, self.count = Prometheus(), 0
    def query(self, **kw):
        self.count += 1
        return self.inner.query(time=job["at"], **kw)

steps = [
    {"name": name, "window": int(w), "burn_rate_threshold": 14.4, "alert": False,
     "message_alert": "burning", "message_ok": "ok"}
    for name, w in job["windows"]
]
config = {"backends": {"prometheus": {"url": job["url"]}}, "error_budget_policies": {"default": {"steps": steps}}}
client, sli, seconds = AtClient(), {}, []
for _ in range(job["repeat"]):
    client.count = 0
    t = time.perf_counter()
    for s in job["slos"]:
        slo = {
            "apiVersion": "sre.google.com/v2",
            "kind": "ServiceLevelObjective",
            "metadata": {"name": s["name"], "labels": {"service_name": s["service"], "slo_name": s["slo"]}},
            "spec": {
                "description": s["name"], "backend": "prometheus", "method": "good_bad_ratio", "exporters": [],
                "service_level_indicator": {"filter_good": s["good"], "filter_valid": s["valid"]},
                "goal": s["goal"],
            },
        }
        for r in compute(slo, config, timestamp=job["at"], client=client):
            sli[s["name"] + "/" + r["error_budget_policy_step_name"]] = r.get("sli_measurement")
    seconds.append(time.perf_counter() - t)
print(json.dumps({"queries": client.count, "seconds": seconds, "sli": sli}))
"""


def spec_text(service: str, metric: str) -> str:
    slos = "".join(
        f"""\
  - name: slo-{k}
    objective: {OBJECTIVES[k % len(OBJECTIVES)]}
    window: 1h
    alerting: {{page: [{{burn_rate: 14.4, long: 1h, short: 5m}}], ticket: false}}
    sli:
      events:
        good: '{metric}{{endpoint="e{k}",code="200"}}'
        total: '{metric}{{endpoint="e{k}"}}'
"""
        for k in range(PER_SERVICE)
    )
    return f"apiVersion: sloforge/v1\nservice: {service}\nslos:\n{slos}"


def specs(prefix: str) -> list[Spec]:
    out = []
    for i in range(SERVICES):
        doc = yaml.safe_load(spec_text(f"{prefix}{i}", f"bench{i}_requests_total"))
        out.append(Spec.model_validate(doc))
    return out


def run_sloforge(url: str, specs_: list[Spec], repeat: int) -> tuple[list, dict, list[float]]:
    seconds = []
    for _ in range(repeat):
        t = time.perf_counter()
        with PrometheusSource(Connection(url, retries=0)) as src:
            reports, stats = reports_from_prometheus(specs_, src, AT)
        seconds.append(time.perf_counter() - t)
    return reports, stats, seconds


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", "import slo_generator.compute"], capture_output=True)
    if probe.returncode != 0:
        pip = [str(python), "-m", "pip", "install", "-q", f"{SLO_GENERATOR}", "prometheus-http-client", "setuptools<82"]
        subprocess.run(pip, check=True)
    return python


def run_slo_generator(python: Path, url: str, specs_: list[Spec], repeat: int) -> dict:
    slos = []
    for spec in specs_:
        for slo in spec.slos:
            assert slo.sli.events and slo.sli.events.good
            slos.append(
                {
                    "name": f"{spec.service}/{slo.name}",
                    "service": spec.service,
                    "slo": slo.name,
                    "good": slo.sli.events.good,
                    "valid": slo.sli.events.total,
                    "goal": slo.ratio,
                }
            )
    job = {"url": url, "at": AT, "repeat": repeat, "slos": slos, "windows": [[format_duration(w), w] for w in WINDOWS]}
    out = subprocess.run(
        [str(python), "-c", SLO_GENERATOR_JOB], input=json.dumps(job), capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def sli_by_window(reports: list) -> dict[str, float | None]:
    """``service/slo/window`` -> 1 - error ratio, from a report's burn rates."""
    out = {}
    for r in reports:
        for w, burn in r.burn_rates.items():
            out[f"{r.service}/{r.slo}/{w}"] = None if burn is None else 1 - burn * r.error_budget.total
    return out


def max_diff(ours: dict[str, float | None], theirs: dict[str, float | None]) -> dict[str, float | None]:
    """Largest |difference| of SLIs per window (None if either side lacks a value)."""
    out: dict[str, float | None] = {}
    for key, v in sorted(theirs.items()):
        window = key.rsplit("/", 1)[1]
        mine = ours.get(key)
        if mine is None or v is None:
            out[window] = None
        elif out.get(window, 0.0) is not None:
            out[window] = max(out.get(window, 0.0), abs(mine - v))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--slo-generator-venv", type=Path, default=Path("/tmp/slogen"))
    args = ap.parse_args()
    recorded_specs, raw_specs = specs("svc"), specs("raw")
    incidents = [Incident(day=1.5 / 24, hours=0.5, burn=8.0), Incident(day=2.6 / 24, hours=0.4, burn=20.0)]
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        data = history(recorded_specs, T0, HOURS * 3600 / DAY, 60.0, incidents=incidents, events_per_second=5.0)
        write_openmetrics(data, tmp / "raw.om")
        prom = backfilled_prometheus(tmp, tmp / "raw.om")
        try:
            rules = tmp / "bench.rules.yml"
            rules.write_text(yaml.safe_dump({"groups": [g for s in recorded_specs for g in rule_groups(s)]}))
            t = time.perf_counter()
            for line in run_backfill(
                rules, tmp / "blocks", prom.url, str(RECORDED_FROM), str(END), between=prom.load_blocks
            ):
                print(line.split(" -> ")[0], file=sys.stderr)
            backfill_s = time.perf_counter() - t
            recorded, rec_stats, rec_s = run_sloforge(prom.url, recorded_specs, args.repeat)
            raw, raw_stats, raw_s = run_sloforge(prom.url, raw_specs, args.repeat)
            gen: dict = {}
            try:
                gen = run_slo_generator(ensure_venv(args.slo_generator_venv), prom.url, recorded_specs, args.repeat)
            except (subprocess.CalledProcessError, OSError) as e:
                detail = getattr(e, "stderr", "") or str(e)
                gen = {"error": f"slo-generator could not run: {detail.strip()[-600:]}"}
        finally:
            prom.stop()
    assert rec_stats["recorded"] == raw_stats["raw"] == SERVICES * PER_SERVICE, (rec_stats, raw_stats)
    rows = [
        {"tool": "sloforge (recorded)", "queries": rec_stats["queries"], "seconds": statistics.median(rec_s)},
        {"tool": "sloforge (raw fallback)", "queries": raw_stats["queries"], "seconds": statistics.median(raw_s)},
    ]
    result: dict = {
        "slos": SERVICES * PER_SERVICE,
        "services": SERVICES,
        "windows": [format_duration(w) for w in WINDOWS],
    }
    result["backfill_seconds"] = round(backfill_s, 1)
    if "error" in gen:
        result["slo_generator"] = gen["error"]
    else:
        gen_sli = gen["sli"]
        rows.append(
            {"tool": "slo-generator 2.6", "queries": gen["queries"], "seconds": statistics.median(gen["seconds"])}
        )
        ours_raw = {k.replace("raw", "svc", 1): v for k, v in sli_by_window(raw).items()}
        result["sli_max_abs_diff_vs_slo_generator"] = {
            "raw": max_diff(ours_raw, gen_sli),
            "recorded": max_diff(sli_by_window(recorded), gen_sli),
        }
        result["slo_generator_sli_rounding"] = 5e-7
    base = rows[0]["seconds"]
    for row in rows:
        row["seconds"] = round(row["seconds"], 4)
        row["x_slower_than_recorded"] = round(row["seconds"] / base, 1) if base else None
    result["rows"] = rows
    print(f"{'tool':<26} {'queries':>8} {'seconds':>9} {'x recorded':>11}")
    for row in rows:
        print(f"{row['tool']:<26} {row['queries']:>8} {row['seconds']:>9.3f} {row['x_slower_than_recorded']:>11}")
    for k, per_window in result.get("sli_max_abs_diff_vs_slo_generator", {}).items():
        shown = ", ".join(f"{w} {d:.1e}" if d is not None else f"{w} -" for w, d in per_window.items())
        print(f"SLI max |diff| vs slo-generator, sloforge {k}: {shown}")
    if "slo_generator" in result:
        print(result["slo_generator"])
    out = ROOT / "bench" / "results" / "report.json"
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
