"""Runtime library cost: ``SLOTracker.record`` vs ``Counter.inc`` and middleware overhead per request.

Runs the two focused benchmarks in turn (each documents its method):

* ``bench/instrument_tracker.py``: per-event cost of the tracker against a bare
  ``prometheus_client.Counter.inc`` (target: ``record`` <= 1.5x);
* ``bench/instrument_middleware.py``: CPU time per request with and without the
  metrics middleware (target: <= 10 % of a trivial FastAPI endpoint's time; the
  Starlette and bare-app rows show the floor, where prometheus_client's own
  ``inc`` + ``observe`` alone exceed 10 %).

    python bench/instrument.py [--quick]

Prints both tables and a verdict; writes bench/results/instrument.json (plus
each script's own file).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
OUT = RESULTS / "instrument.json"


def run(script: str, args: list[str]) -> dict:
    subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], check=True)
    return json.loads((RESULTS / script.replace(".py", ".json")).read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run, noisier figures)")
    quick = ap.parse_args().quick
    tracker = run("instrument_tracker.py", ["--number", "50000", "--repeat", "5"] if quick else [])
    middleware = run("instrument_middleware.py", ["--rounds", "5"] if quick else [])
    record = tracker["ratios"]["record / Counter.inc"]
    fastapi = next(r for r in middleware["rows"] if r["endpoint"] == "fastapi")
    verdict = {
        "record_vs_counter_inc": round(record, 3),
        "record_target": tracker["target_ratio"],
        "record_ok": record <= tracker["target_ratio"],
        "middleware_overhead_pct_fastapi": fastapi["overhead_pct"],
        "middleware_target_pct": middleware["target_overhead_pct"],
        "middleware_ok": fastapi["within_target"],
    }
    print()
    print(
        f"SLOTracker.record / Counter.inc   {record:6.2f}x   target <= {tracker['target_ratio']}x   "
        f"{'ok' if verdict['record_ok'] else 'OVER'}"
    )
    print(
        f"middleware on a FastAPI endpoint  {fastapi['overhead_pct']:6.1f} %  target <= "
        f"{middleware['target_overhead_pct']} %   {'ok' if verdict['middleware_ok'] else 'OVER'}"
    )
    OUT.write_text(
        json.dumps({"verdict": verdict, "tracker": tracker, "middleware": middleware}, indent=2, sort_keys=True) + "\n"
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
