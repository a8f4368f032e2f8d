"""Cold start: backfill the recorded SLO series from raw history.

``promtool tsdb create-blocks-from rules`` evaluates recording rules against a
running Prometheus, but cannot see what it backfills in the same pass, so the
generated rules are split by dependency level (5m rates, then the windows
derived from them, ...) and backfilled one level per pass.  Between passes
the new blocks must be visible to that Prometheus: either we copy them into
its data dir (``--data-dir``) and wait until they answer queries, or a caller
supplies its own ``between`` hook (tests restart their Prometheus).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import yaml

from sloforge import durations
from sloforge.promql import metric_names


class BackfillError(RuntimeError):
    pass


def parse_time(text: str) -> float:
    """Unix seconds from RFC 3339 or a number."""
    try:
        return durations.parse_time(text)
    except ValueError as e:
        raise BackfillError(str(e)) from None


def split_levels(groups: list[dict]) -> list[list[dict]]:
    """Rule groups per dependency level; alerting rules are dropped (promtool ignores them)."""
    level: dict[str, int] = {}
    rules_at: list[list[tuple[str, str | None, dict]]] = []
    for g in groups:
        for r in g.get("rules", []):
            if "record" not in r:
                continue
            deps = [level[n] for n in metric_names(r["expr"]) if n in level]
            lv = 1 + max(deps, default=0)
            level[r["record"]] = max(level.get(r["record"], 0), lv)
            while len(rules_at) < lv:
                rules_at.append([])
            rules_at[lv - 1].append((g["name"], g.get("interval"), r))
    out = []
    for rules in rules_at:
        groups_out: dict[str, dict] = {}
        for name, interval, r in rules:
            g = groups_out.setdefault(name, {"name": name, **({"interval": interval} if interval else {}), "rules": []})
            g["rules"].append(r)
        out.append(list(groups_out.values()))
    return out


def run_backfill(
    rule_file: Path,
    out: Path,
    url: str,
    start: str,
    end: str | None = None,
    eval_interval: str | None = None,
    data_dir: Path | None = None,
    between: Callable[[Path], None] | None = None,
    wait_seconds: float = 300.0,
) -> Iterator[str]:
    """Backfill every level of ``rule_file`` into ``out/level-N``; yields progress lines."""
    if shutil.which("promtool") is None:
        raise BackfillError("promtool not found (Debian package 'prometheus')")
    try:
        groups = yaml.safe_load(Path(rule_file).read_text())["groups"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as e:
        raise BackfillError(f"cannot read rule file {rule_file}: {e}") from None
    t0 = parse_time(start)
    t1 = parse_time(end) if end else time.time() - 3 * 3600
    if t1 <= t0:
        raise BackfillError("--to must be after --from")
    levels = split_levels(groups)
    out.mkdir(parents=True, exist_ok=True)
    rules_path = out / "rules" / Path(rule_file).name
    rules_path.parent.mkdir(exist_ok=True)
    for i, level_groups in enumerate(levels, start=1):
        target = out / f"level-{i}"
        if target.exists():
            raise BackfillError(f"{target} exists: backfilling twice doubles samples")
        # One path for every level: promtool derives each group's evaluation phase from
        # the group name and the file path, and the levels must share a phase
        # (level 2 reads level 1 at exact offsets).
        rules_path.write_text(yaml.safe_dump({"groups": level_groups}, sort_keys=False))
        cmd = [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "rules",
            f"--url={url}",
            f"--start={int(t0)}",
            f"--end={int(t1)}",
            f"--output-dir={target}",
        ]
        if eval_interval:
            cmd.append(f"--eval-interval={eval_interval}")
        cmd.append(str(rules_path))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BackfillError(f"level {i}: promtool failed: {proc.stderr.strip()[-2000:]}")
        n = sum(len(g["rules"]) for g in level_groups)
        yield f"level {i}/{len(levels)}: {n} recording rule(s) -> {target}"
        if between is not None:
            between(target)
        elif data_dir is not None:
            _load_blocks(target, data_dir)
            if i < len(levels):
                probe = level_groups[0]["rules"][0]["record"]
                _wait_for(url, probe, t0, t1, wait_seconds)
            yield f"level {i}: blocks copied into {data_dir}"
        elif i < len(levels):
            raise BackfillError(
                f"level {i} written; later levels need it loaded first: pass --data-dir with the "
                "Prometheus storage path so sloforge can copy the blocks in"
            )


def _load_blocks(src: Path, data_dir: Path) -> None:
    for block in sorted(p for p in src.iterdir() if p.is_dir()):
        shutil.copytree(block, data_dir / block.name)


def _wait_for(url: str, record: str, t0: float, t1: float, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    with httpx.Client(base_url=url, timeout=10) as client:
        while time.monotonic() < deadline:
            r = client.get(
                "/api/v1/query", params={"query": f"count(count_over_time({record}[1h]))", "time": (t0 + t1) / 2}
            )
            if r.status_code == 200 and r.json()["data"]["result"]:
                return
            time.sleep(2)
    raise BackfillError(f"Prometheus did not load the backfilled {record} within {wait_seconds:.0f}s")
