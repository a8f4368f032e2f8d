"""The HTML view of an error-budget report: one self-contained page, charts as inline SVG.

Everything here reads the ``--json`` document (``report.model.document(..., history=True)``)
as plain dicts, so it renders a report from any source and ``serve`` reuses the same pieces
(:func:`page`, :func:`header`, :func:`overview`, :func:`section`).  No scripts, no external
resources (a Content-Security-Policy in the page forbids them); every text that comes from a
spec or a source is escaped; nulls show as "–" and leave gaps in the charts.  The output is a
pure function of the document: no clock, no randomness, sorted where order carries no meaning.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote

from sloforge.conventions import AT_RISK_BELOW
from sloforge.durations import DurationError, format_duration, parse_duration
from sloforge.report.model import AT_RISK, BREACHED, HEALTHY, STATUSES, UNKNOWN

NULL = "–"

STATUS_TEXT = {HEALTHY: "healthy", AT_RISK: "at risk", BREACHED: "breached", UNKNOWN: "unknown"}
STATUS_COLOUR = {HEALTHY: "#1e8e3e", AT_RISK: "#e37400", BREACHED: "#d93025", UNKNOWN: "#80868b"}
TIER_COLOUR = {"page": "#b3261e", "ticket": "#9a6700"}
WINDOW_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#e15759",
    "#ff9da7",
    "#bab0ac",
)

# chart geometry (SVG user units; the SVG scales to its box)
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 24, 14, 30

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root{--fg:#202124;--muted:#5f6368;--line:#dadce0;--bg:#fff;--alt:#f8f9fa}
*{box-sizing:border-box}
body{margin:0;padding:16px 24px 48px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:0 0 6px}h3{font-size:14px;margin:12px 0 4px}
a{color:#1a73e8;text-decoration:none}a:hover{text-decoration:underline}
.meta{color:var(--muted);margin:0 0 8px}
.counts span{margin-right:12px}
table{border-collapse:collapse;width:100%;margin:8px 0 16px}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:middle}
th{background:var(--alt);font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font:12px/1.3 ui-monospace,Menlo,Consolas,monospace;background:var(--alt);padding:1px 4px;border-radius:3px}
.labels code{margin-right:4px;white-space:nowrap}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;
white-space:nowrap}
.bar{display:inline-block;width:120px;height:10px;background:#e8eaed;border-radius:5px;overflow:hidden;
vertical-align:middle;margin-right:6px}
.bar span{display:block;height:100%}
.slo{border-top:2px solid var(--line);padding-top:14px;margin-top:24px}
.desc{white-space:pre-line;margin:4px 0 8px}
.reason{border-left:4px solid #80868b;background:var(--alt);padding:6px 10px;margin:8px 0}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:16px}
figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}
svg{width:100%;height:auto;display:block;background:var(--bg)}
svg text{font:11px system-ui,sans-serif;fill:var(--muted)}
svg .grid{stroke:#eceff1;stroke-width:1}
svg .axis{stroke:#9aa0a6;stroke-width:1}
svg .line{fill:none;stroke-width:1.6;stroke-linejoin:round}
svg .limit{stroke-width:1.2;stroke-dasharray:5 4}
svg .empty{font-size:14px}
svg .tag{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.legend{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px}
.legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:4px}
.firing{color:#b3261e;font-weight:600}
nav{margin:0 0 8px}
.facts{display:flex;flex-wrap:wrap;gap:6px 28px;margin:8px 0 12px}
.facts dt{font-size:12px;color:var(--muted)}.facts dd{margin:0;white-space:nowrap}
"""


# ----------------------------------------------------------------------------- formatting


def _text(value: object) -> str:
    """Escaped text of a value from the document; None is "–"."""
    return NULL if value is None else escape(str(value), quote=True)


def _pct(x: float | None, digits: int = 1) -> str:
    return NULL if x is None else f"{x:.{digits}%}"


def _num(x: float | None, digits: int = 2) -> str:
    return NULL if x is None else f"{x:.{digits}f}"


def _minutes(m: float | None) -> str:
    """A number of minutes as a duration (``1h23m``; seconds below a minute)."""
    if m is None:
        return NULL
    if m < 0:
        return "-" + _minutes(-m)
    return format_duration(round(m) * 60) if m >= 1 else f"{m * 60:.0f}s"


def _time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _seconds(window: str) -> float:
    try:
        return parse_duration(window)
    except DurationError:
        return math.inf


def windows_of(report: dict) -> list[str]:
    """The report's burn-rate windows, shortest first (unparsable names last, by name)."""
    names = set(report.get("burn_rates") or {}) | set(((report.get("history") or {}).get("burn_rate")) or {})
    return sorted(names, key=lambda w: (_seconds(w), w))


def label_text(labels: dict[str, str]) -> str:
    """``{k="v", ...}`` escaped, sorted; empty for no labels."""
    if not labels:
        return ""
    return "{" + ", ".join(f'{_text(k)}="{_text(v)}"' for k, v in sorted(labels.items())) + "}"


def _labels_cell(labels: dict[str, str]) -> str:
    return "".join(f"<code>{_text(k)}={_text(v)}</code>" for k, v in sorted(labels.items())) or NULL


def badge(status: str) -> str:
    colour = STATUS_COLOUR.get(status, STATUS_COLOUR[UNKNOWN])
    return f'<span class="badge" style="background:{colour}">{_text(STATUS_TEXT.get(status, status))}</span>'


def budget_bar(remaining: float | None, status: str) -> str:
    """A bar filled to the remaining share of the budget (empty when none is left), then the percent."""
    if remaining is None:
        return NULL
    fill = max(0.0, min(1.0, remaining)) * 100
    colour = STATUS_COLOUR.get(status, STATUS_COLOUR[UNKNOWN])
    return (
        f'<span class="bar" title="{_pct(remaining)} of the error budget left">'
        f'<span style="width:{fill:.1f}%;background:{colour}"></span></span>{_pct(remaining)}'
    )


def exhaustion_text(report: dict, at: float | None) -> str:
    """When the budget runs out at the current burn: ``in 3d4h`` (the time as a tooltip), or "–"."""
    t = report.get("exhaustion_at")
    if t is None:
        return NULL
    when = _text(report.get("exhaustion_at_rfc3339") or _time(t))
    if at is None:
        return when
    left = max(0.0, t - at)
    unit = 3600.0 if left >= 2 * 86400 else 60.0
    return f'<span title="{when}">in {format_duration(round(left / unit) * unit)}</span>'


def firing_text(report: dict) -> str:
    names = report.get("alerts_firing") or []
    return ", ".join(f'<span class="firing">{_text(n)}</span>' for n in names) or NULL


def anchor(report: dict) -> str:
    """A stable element id for a report's section: service, slo and a digest of its labels."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{report['service']}--{report['slo']}").strip("-")
    labels = report.get("labels") or {}
    if labels:
        digest = hashlib.sha1(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:8]
        slug += f"-{digest}"
    return f"slo-{slug}"


def slo_path(service: str, slo: str) -> str:
    """The ``serve`` page of one SLO (all its label sets)."""
    return f"/slo/{quote(service, safe='')}/{quote(slo, safe='')}"


# ----------------------------------------------------------------------------- charts


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [round(i * step, 12) for i in range(first, math.floor(hi / step + 1e-9) + 1)]


_TIME_STEPS = (300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400)


def _time_ticks(t0: float, t1: float, count: int = 7) -> list[tuple[float, str]]:
    step = next((s for s in _TIME_STEPS if (t1 - t0) / s <= count), 30 * 86400)
    fmt = "%m-%d" if step >= 86400 else "%m-%d %H:%M" if (t1 - t0) > 86400 else "%H:%M"
    first = math.ceil(t0 / step) * step
    return [(t, datetime.fromtimestamp(t, UTC).strftime(fmt)) for t in range(int(first), int(t1) + 1, step)]


class _Plot:
    """Maps data to the plot area of one chart; ``ty`` maps the (already transformed) y value."""

    def __init__(self, t: Sequence[float], ylo: float, yhi: float):
        self.t0, self.t1 = (min(t), max(t)) if t else (0.0, 1.0)
        if self.t1 <= self.t0:
            self.t0, self.t1 = self.t0 - 1800, self.t1 + 1800
        self.ylo, self.yhi = ylo, yhi if yhi > ylo else ylo + 1

    def x(self, t: float) -> float:
        return LEFT + (t - self.t0) / (self.t1 - self.t0) * (WIDTH - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return TOP + (self.yhi - v) / (self.yhi - self.ylo) * (HEIGHT - TOP - BOTTOM)

    def hline(self, v: float, cls: str, colour: str = "") -> str:
        style = f' stroke="{colour}"' if colour else ""
        y = self.y(v)
        return f'<line class="{cls}"{style} x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'

    def time_axis(self) -> str:
        out = [f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}"/>']
        for t, text in _time_ticks(self.t0, self.t1):
            x = self.x(t)
            out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>')
            out.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{text}</text>')
        return "".join(out)

    def value_axis(self, ticks: Sequence[tuple[float, str]]) -> str:
        out = []
        for v, text in ticks:
            y = self.y(v)
            out.append(self.hline(v, "grid"))
            out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{text}</text>')
        return "".join(out)

    def lines(self, t: Sequence[float], values: Sequence[float | None], colour: str, attrs: str) -> str:
        """One polyline per run of non-null points (a gap at each null); a lone point also gets a dot."""
        out, run = [], []
        for ti, v in [*zip(t, values, strict=False), (None, None)]:
            if ti is not None and v is not None and math.isfinite(v):
                run.append((self.x(ti), self.y(v)))
                continue
            if run:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                out.append(f'<polyline class="line" {attrs} stroke="{colour}" points="{points}"/>')
                if len(run) == 1:
                    out.append(f'<circle cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="2" fill="{colour}"/>')
            run = []
        return "".join(out)


def _tag(x: float, y: float, text: str, colour: str, align: str = "start") -> str:
    """A label on a chart, haloed so it stays readable over lines."""
    return f'<text class="tag" x="{x:.1f}" y="{y:.1f}" text-anchor="{align}" style="fill:{colour}">{_text(text)}</text>'


def _svg(label: str, body: str) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_text(label)}" '
        f'preserveAspectRatio="xMidYMid meet">{body}</svg>'
    )


def _empty(label: str) -> str:
    return _svg(
        label,
        f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no history for this chart</text>',
    )


def _history(report: dict) -> dict:
    return report.get("history") or {"t": [], "budget_remaining": [], "burn_rate": {}}


def _present(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def budget_chart(report: dict) -> str:
    """Budget remaining over time: the 0 line (breached) and the at-risk line (25 %) marked."""
    h = _history(report)
    t, values = h.get("t") or [], h.get("budget_remaining") or []
    seen = _present(values)
    label = f"error budget remaining of {report['service']}/{report['slo']}"
    if not seen:
        return _empty(label)
    lo, hi = min(0.0, min(seen)), max(1.0, max(seen))
    pad = (hi - lo) * 0.04
    p = _Plot(t, lo - pad, hi + pad)
    ticks = [(v, f"{v:.0%}") for v in _ticks(lo, hi)]
    risk_y, zero_y, bottom = p.y(AT_RISK_BELOW), p.y(0.0), p.y(p.ylo)
    width = WIDTH - LEFT - RIGHT
    body = [
        f'<rect x="{LEFT}" y="{risk_y:.1f}" width="{width}" height="{zero_y - risk_y:.1f}" fill="#fef7e0"/>',
        f'<rect x="{LEFT}" y="{zero_y:.1f}" width="{width}" height="{bottom - zero_y:.1f}" fill="#fce8e6"/>',
        p.value_axis(ticks),
        p.time_axis(),
        p.hline(AT_RISK_BELOW, "limit", STATUS_COLOUR[AT_RISK]),
        p.hline(0.0, "limit", STATUS_COLOUR[BREACHED]),
        p.lines(t, values, "#1a73e8", 'data-series="budget_remaining"'),
        _tag(WIDTH - RIGHT - 4, risk_y - 4, f"at risk < {AT_RISK_BELOW:.0%}", STATUS_COLOUR[AT_RISK], "end"),
        _tag(WIDTH - RIGHT - 4, zero_y - 4, "breached (0)", STATUS_COLOUR[BREACHED], "end"),
    ]
    return _svg(label, "".join(body))


def _log1p(v: float) -> float:
    return math.log1p(max(0.0, v))


_BURN_TICKS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def thresholds(report: dict) -> list[tuple[float, str, str]]:
    """(burn rate, label, tier) per distinct factor of the alert windows, highest first."""
    by_factor: dict[float, list[dict]] = {}
    for w in report.get("alert_windows") or []:
        by_factor.setdefault(float(w["burn_rate"]), []).append(w)
    out = []
    for factor in sorted(by_factor, reverse=True):
        ws = by_factor[factor]
        pairs = ", ".join(f"{w['tier']} {w['long']}/{w['short']}" for w in ws)
        out.append((factor, f"{factor:g}× {pairs}", ws[0]["tier"]))
    return out


def burn_chart(report: dict) -> str:
    """Burn rate per window over time on a log(1 + x) scale, with each alert factor as a labelled line."""
    h = _history(report)
    t, series = h.get("t") or [], h.get("burn_rate") or {}
    label = f"burn rates of {report['service']}/{report['slo']}"
    seen = [v for w in series for v in _present(series[w])]
    if not seen:
        return _empty(label)
    limits = thresholds(report)
    top = max([1.0, *seen, *(f for f, _, _ in limits)])
    p = _Plot(t, 0.0, _log1p(top) * 1.06)
    ticks = [(_log1p(v), f"{v:g}×") for v in _BURN_TICKS if v <= top * 1.06]
    body = [p.value_axis(ticks), p.time_axis()]
    tags = []
    for factor, text, tier in limits:
        colour = TIER_COLOUR.get(tier, "#5f6368")
        body.append(p.hline(_log1p(factor), "limit", colour))
        tags.append(_tag(LEFT + 4, p.y(_log1p(factor)) - 4, text, colour))
    for i, w in enumerate(windows_of(report)):
        values = [None if v is None else _log1p(v) for v in series.get(w, [])]
        colour = WINDOW_COLOURS[i % len(WINDOW_COLOURS)]
        body.append(p.lines(t, values, colour, f'data-series="burn_rate" data-window="{_text(w)}"'))
    body += tags  # over the lines
    return _svg(label, "".join(body))


def burn_legend(report: dict) -> str:
    """Window colours with the current burn rate of each."""
    rates = report.get("burn_rates") or {}
    items = []
    for i, w in enumerate(windows_of(report)):
        colour = WINDOW_COLOURS[i % len(WINDOW_COLOURS)]
        rate = rates.get(w)
        now = NULL if rate is None else f"{rate:.2f}×"
        items.append(f'<li><i style="background:{colour}"></i>{_text(w)} {now}</li>')
    return f'<ul class="legend">{"".join(items)}</ul>'


# ----------------------------------------------------------------------------- page parts


def alert_windows_table(report: dict) -> str:
    rows = []
    firing = set(report.get("alerts_firing") or [])
    rates = report.get("burn_rates") or {}
    for w in report.get("alert_windows") or []:
        state = '<span class="firing">firing</span>' if w["alert"] in firing else NULL
        rows.append(
            "<tr>"
            f"<td>{_text(w['alert'])}</td><td>{_text(w['tier'])}</td><td>{_text(w['severity'])}</td>"
            f'<td class="num">{float(w["burn_rate"]):g}×</td>'
            f"<td>{_text(w['long'])}</td><td>{_text(w['short'])}</td>"
            f'<td class="num">{_num(rates.get(w["long"]))}</td><td class="num">{_num(rates.get(w["short"]))}</td>'
            f"<td>{state}</td></tr>"
        )
    if not rows:
        return '<p class="meta">No alert windows.</p>'
    head = "".join(
        f"<th>{c}</th>"
        for c in ("alert", "tier", "severity", "burn rate ≥", "long", "short", "burn long", "burn short", "state")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _facts(report: dict, at: float | None) -> str:
    b = report.get("error_budget") or {}
    left = budget_bar(b.get("remaining"), report["status"])
    if b.get("remaining_minutes") is not None:
        left += f" ({_minutes(b['remaining_minutes'])} of {_minutes(b.get('total_minutes'))})"
    if b.get("remaining_events") is not None:
        left += f", {b['remaining_events']:.0f} of {b.get('total_events') or 0:.0f} events"
    facts = [
        ("status", badge(report["status"])),
        ("objective", f"{report['objective']:g}% over {_text(report['window'])}"),
        ("SLI", _pct(report.get("sli"), 3)),
        ("budget left", left),
        ("runs out", exhaustion_text(report, at)),
        ("firing", firing_text(report)),
        ("coverage", _pct(report.get("coverage"))),
        ("source", _text(report.get("source"))),
    ]
    return "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)


def section(report: dict, at: float | None = None) -> str:
    """One SLO series: facts, description, reason, burn-down and burn-rate charts, alert windows."""
    title = _text(report.get("title") or report["slo"])
    labels = label_text(report.get("labels") or {})
    reason = report.get("reason")
    parts = [
        f'<section class="slo" id="{anchor(report)}">',
        f"<h2>{title} <small>{labels}</small></h2>",
        f'<p class="meta">{_text(report["service"])} / <code>{_text(report["slo"])}</code></p>',
        f'<p class="desc">{_text(report["description"])}</p>' if report.get("description") else "",
        f'<div class="reason"><strong>{_text(STATUS_TEXT.get(report["status"], report["status"]))}:</strong> '
        f"{_text(reason)}</div>"
        if reason
        else "",
        f'<dl class="facts">{_facts(report, at)}</dl>',
        '<div class="charts">',
        f"<figure><figcaption>Error budget remaining</figcaption>{budget_chart(report)}</figure>",
        f"<figure><figcaption>Burn rate</figcaption>{burn_chart(report)}{burn_legend(report)}</figure>",
        "</div>",
        "<h3>Alert windows</h3>",
        alert_windows_table(report),
        "</section>",
    ]
    return "\n".join(p for p in parts if p)


def overview(reports: Sequence[dict], at: float | None, href: Callable[[dict], str]) -> str:
    """One row per SLO series; ``href(report)`` links each to its section or page."""
    cols = ("service", "SLO", "labels", "objective", "SLI", "budget remaining", "status", "runs out", "firing")
    head = "".join(f"<th>{c}</th>" for c in cols)
    rows = []
    for r in reports:
        b = r.get("error_budget") or {}
        rows.append(
            "<tr>"
            f"<td>{_text(r['service'])}</td>"
            f'<td><a href="{escape(href(r), quote=True)}">{_text(r.get("title") or r["slo"])}</a></td>'
            f'<td class="labels">{_labels_cell(r.get("labels") or {})}</td>'
            f'<td class="num">{r["objective"]:g}% / {_text(r["window"])}</td>'
            f'<td class="num">{_pct(r.get("sli"), 3)}</td>'
            f"<td>{budget_bar(b.get('remaining'), r['status'])}</td>"
            f"<td>{badge(r['status'])}</td>"
            f"<td>{exhaustion_text(r, at)}</td>"
            f"<td>{firing_text(r)}</td>"
            "</tr>"
        )
    return f'<table class="overview"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def status_counts(reports: Sequence[dict]) -> str:
    counts = {s: 0 for s in STATUSES}
    for r in reports:
        counts[r["status"] if r["status"] in counts else UNKNOWN] += 1
    return "".join(f"<span>{badge(s)} {n}</span>" for s, n in counts.items() if n or s != UNKNOWN)


def header(doc: dict, title: str = "Error-budget report") -> str:
    """Title, source, evaluation time and status counts."""
    slos = doc.get("slos") or []
    return (
        f"<header><h1>{_text(title)}</h1>"
        f'<p class="meta">source <code>{_text(doc.get("source"))}</code> · at {_text(doc.get("at_rfc3339"))}'
        f" · generated {_text(doc.get('generated_at'))} · {len(slos)} SLO series</p>"
        f'<p class="counts">{status_counts(slos)}</p></header>'
    )


def page(title: str, body: str, refresh: float | None = None) -> str:
    """A complete HTML document around ``body``; ``refresh`` reloads it every so many seconds."""
    reload = f'<meta http-equiv="refresh" content="{max(1, round(refresh))}">' if refresh else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'{reload}<link rel="icon" href="data:,"><title>{_text(title)}</title>'
        f"<style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def render_html(doc: dict) -> str:
    """The whole report as one self-contained page: overview table, then a section per SLO series."""
    slos = doc.get("slos") or []
    at = doc.get("at")
    body = [
        header(doc),
        overview(slos, at, lambda r: "#" + anchor(r)),
        *(section(r, at) for r in slos),
    ]
    return page(f"sloforge report: {doc.get('source', '')}", "\n".join(body))
