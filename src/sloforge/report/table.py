"""The terminal view of ``sloforge report``: one row per SLO series, coloured by status."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sloforge.durations import format_duration, format_time
from sloforge.report.model import AT_RISK, BREACHED, HEALTHY, SLOReport

STYLE = {HEALTHY: "green", AT_RISK: "yellow", BREACHED: "bold red"}


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}%}"


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _burns(r: SLOReport) -> str:
    """Burn rates over the alert pairs' long windows (the short ones only confirm)."""
    longs = list(dict.fromkeys(w["long"] for w in r.alert_windows))
    shown = [(w, r.burn_rates.get(w)) for w in longs]
    return " ".join(f"{w} {b:.2f}" for w, b in shown if b is not None) or "–"


def _exhaustion(r: SLOReport, at: float) -> str:
    if r.exhaustion_at is None:
        return "–"
    left = max(0.0, r.exhaustion_at - at)
    unit = 3600.0 if left >= 2 * 86400 else 60.0
    return f"in {format_duration(round(left / unit) * unit)}"


def print_report(out: Console, reports: Sequence[SLOReport], source: str, at: float) -> None:
    table = Table(title=f"sloforge report: {source} at {format_time(at)}", title_justify="left")
    for col in ("service", "slo", "objective", "sli", "budget left", "burn rate", "runs out", "status", "firing"):
        table.add_column(col, no_wrap=col in ("objective", "sli", "budget left", "burn rate", "runs out", "status"))
    for r in reports:
        name = r.slo + (f" {{{_labels(r.labels)}}}" if r.labels else "")
        left = _pct(r.error_budget.remaining)
        if r.error_budget.remaining_minutes is not None:
            left += f" ({r.error_budget.remaining_minutes:.0f}m)"
        table.add_row(
            r.service,
            name,
            f"{r.objective:g}% / {r.window}",
            _pct(r.sli, 3),
            left,
            _burns(r),
            _exhaustion(r, at),
            Text(r.status.replace("_", " "), style=STYLE.get(r.status, "magenta")),
            ", ".join(r.alerts_firing) or "–",
        )
    out.print(table)
    for r in reports:
        if r.reason:
            out.print(f"{r.service}/{r.slo}: {r.status}: {r.reason}", markup=False, style="magenta")
