"""The terminal view of ``sloforge backtest``: one summary row per SLO series, then what went wrong."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from sloforge.durations import format_duration, format_time


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"


def _remaining(r: dict) -> str:
    values = [v for _, v in r["budget_remaining"] if v is not None]
    return f"{values[-1]:.1%}" if values else "-"


def _fired(r: dict, tier: str) -> str:
    n = sum(len(a["firing"]) for a in r["alerts"] if a["tier"] == tier)
    return str(n) if any(a["tier"] == tier for a in r["alerts"]) else "-"


def print_backtest(out: Console, results: Sequence[dict], start: float, end: float) -> None:
    table = Table(title=f"sloforge backtest {format_time(start)} .. {format_time(end)}")
    for col in ("service", "slo", "labels", "budget burned", "remaining", "pages", "tickets", "incidents"):
        table.add_column(col)
    table.add_column("missed", style="red")
    table.add_column("noise", style="yellow")
    for r in results:
        table.add_row(
            r["service"],
            r["slo"],
            _labels(r["labels"]),
            f"{r['budget_burned']:.1%}",
            _remaining(r),
            _fired(r, "page"),
            _fired(r, "ticket"),
            str(len(r["incidents"])),
            str(len(r["missed"])),
            str(len(r["noise"])),
        )
    out.print(table)
    for r in results:
        where = f"{r['service']}/{r['slo']} {_labels(r['labels'])}"
        for i in r["missed"]:
            out.print(
                f"missed: {where}: {format_time(i['start'])} for {format_duration(i['end'] - i['start'])} "
                f"burned {i['budget_burned']:.1%} of the budget and no page fired"
                + (" (a ticket did)" if i["ticketed"] else ""),
                markup=False,
            )
        for n in r["noise"]:
            out.print(
                f"noise: {where}: {n['alert']} fired {format_time(n['start'])} for "
                f"{format_duration(n['end'] - n['start'])} while {n['budget_burned']:.2%} of the budget burned",
                markup=False,
            )
