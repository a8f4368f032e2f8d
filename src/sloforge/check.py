"""``sloforge check OUT``: run the real tools over a generated bundle.

Each check is one command (``promtool check config``, ``promtool check rules``,
``promtool test rules`` per test file, ``amtool check-config``, ``vmalert -dryRun``).
Checks whose tool is not installed are reported as skipped, never as passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class Check:
    name: str
    argv: list[str]
    cwd: Path
    status: str = ""
    output: str = ""
    seconds: float = 0.0
    tool: str = field(init=False)

    def __post_init__(self) -> None:
        self.tool = self.argv[0]


def plan(out: Path) -> list[Check]:
    """The checks that apply to the files present in bundle ``out``."""
    out = Path(out)
    prom = out / "prometheus"
    checks: list[Check] = []
    if (prom / "prometheus.yml").is_file():
        checks.append(Check("prometheus.yml", ["promtool", "check", "config", "prometheus.yml"], prom))
    rules = sorted((prom / "rules").glob("*.yml"))
    if rules:
        checks.append(Check("rules", ["promtool", "check", "rules", *(str(r.relative_to(prom)) for r in rules)], prom))
    for test in sorted((prom / "tests").glob("*.yml")):
        checks.append(Check(f"tests/{test.name}", ["promtool", "test", "rules", test.name], test.parent))
    am = out / "alertmanager" / "alertmanager.yml"
    if am.is_file():
        checks.append(Check("alertmanager.yml", ["amtool", "check-config", am.name], am.parent))
    for vm in sorted((out / "vmalert" / "rules").glob("*.yml")):
        checks.append(Check(f"vmalert/{vm.name}", ["vmalert", f"-rule={vm.name}", "-dryRun"], vm.parent))
    return checks


def _run(check: Check, timeout: float) -> Check:
    if shutil.which(check.tool) is None:
        check.status, check.output = SKIPPED, f"{check.tool} not found on PATH"
        return check
    t0 = time.monotonic()
    try:
        proc = subprocess.run(check.argv, cwd=check.cwd, capture_output=True, text=True, timeout=timeout)
        check.status = PASSED if proc.returncode == 0 else FAILED
        check.output = (proc.stdout + proc.stderr).strip()
    except subprocess.TimeoutExpired:
        check.status, check.output = FAILED, f"timed out after {timeout:g}s"
    check.seconds = time.monotonic() - t0
    return check


def run(checks: list[Check], jobs: int | None = None, timeout: float = 900) -> list[Check]:
    """Run checks in parallel (promtool tests are CPU-bound: one per core), in input order."""
    jobs = jobs or max(1, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda c: _run(c, timeout), checks))
