"""The output bundle: ``{relative path: text}`` from specs, and an atomic writer."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sloforge.generate import promtool_tests, rules
from sloforge.model import Spec


def render_bundle(specs: list[Spec]) -> dict[str, str]:
    files: dict[str, str] = {}
    for spec in sorted(specs, key=lambda s: s.service):
        files[f"prometheus/rules/{spec.service}.yml"] = rules.rule_file(spec)
        for name, text in promtool_tests.test_files(spec).items():
            files[f"prometheus/tests/{name}"] = text
    return files


def write_atomically(files: dict[str, str], out: str | Path) -> None:
    """Write the whole bundle to a sibling temp dir, then swap it in.

    A failure at any point leaves an existing ``out`` exactly as it was.
    """
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for rel, text in sorted(files.items()):
            target = (tmp / rel).resolve()
            if tmp not in target.parents:
                raise ValueError(f"refusing to write outside the bundle: {rel}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
