"""The HTML report: structure, charts that plot every known point, escaping, no external resources, determinism."""

from __future__ import annotations

import copy
import json
import math
import re
from html.parser import HTMLParser

import pytest

from sloforge.report.html import anchor, render_html
from sloforge.report.model import AT_RISK, BREACHED, HEALTHY, UNKNOWN, Budget, History, SLOReport, document

AT = 1_790_000_000.0  # 2026-09-21, on an hour
HOUR = 3600.0
WINDOWS = ("5m", "1h", "6h", "30d")

ALERT_WINDOWS = [
    {"alert": "PayPage", "tier": "page", "severity": "critical", "burn_rate": 14.4, "long": "1h", "short": "5m"},
    {"alert": "PayPage", "tier": "page", "severity": "critical", "burn_rate": 6.0, "long": "6h", "short": "30m"},
    {"alert": "PayTicket", "tier": "ticket", "severity": "warning", "burn_rate": 1.0, "long": "3d", "short": "6h"},
]


def _history(seed: int, gaps: set[int], start_remaining: float, slope: float) -> History:
    """A week of hourly points; ``gaps`` are indexes with no data (null in every series)."""
    t = [AT - 168 * HOUR + i * HOUR for i in range(169)]
    remaining = [None if i in gaps else round(start_remaining - slope * i, 6) for i in range(169)]
    burn = {
        w: [None if i in gaps else round(abs(math.sin((i + seed) / (3 + k))) * (2 + 6 * k), 6) for i in range(169)]
        for k, w in enumerate(WINDOWS)
    }
    burn["30d"][5] = None  # a gap in one series only
    return History(t=t, budget_remaining=remaining, burn_rate=burn)


def _report(service: str, slo: str, labels: dict[str, str], status: str, remaining: float | None, **kw) -> SLOReport:
    used = None if remaining is None else 1 - remaining
    fields = {
        "service": service,
        "slo": slo,
        "title": slo.title(),
        "description": f"{slo} of {service}\nsecond line",
        "labels": labels,
        "objective": 99.9,
        "window": "30d",
        "sli": None if remaining is None else 1 - 0.001 * (used or 0),
        "error_budget": Budget(0.001, used, remaining, 43.2, None if remaining is None else 43.2 * remaining),
        "burn_rates": {w: (None if remaining is None else 0.5 + i) for i, w in enumerate(WINDOWS)},
        "status": status,
        "exhaustion_at": None if remaining is None or remaining <= 0 else AT + 86400 * 3,
        "alerts_firing": [],
        "alert_windows": ALERT_WINDOWS,
        "coverage": None if remaining is None else 1.0,
        "source": "engine",
    }
    fields.update(kw)
    return SLOReport(**fields)


def synthetic_document() -> dict:
    """Five SLO series of two services: by labels, every status, nulls, gaps, a series without history."""
    reports = [
        _report("checkout", "availability", {}, HEALTHY, 0.8, history=_history(0, {40, 41, 42, 100}, 0.9, 0.0005)),
        _report(
            "checkout",
            "latency",
            {"route": "/pay", "method": "POST"},
            AT_RISK,
            0.2,
            alerts_firing=["PayTicket"],
            history=_history(1, {7}, 0.5, 0.0018),
        ),
        _report(
            "checkout",
            "latency",
            {"route": "/cart", "method": "GET"},
            BREACHED,
            -0.4,
            alerts_firing=["PayPage", "PayTicket"],
            history=_history(2, set(), 0.6, 0.006),
        ),
        _report(
            "search",
            "avail",
            {},
            UNKNOWN,
            None,
            reason="no samples of the SLI's series before 2026-09-21T00:00:00Z",
            history=History(t=[AT - HOUR, AT], budget_remaining=[None, None], burn_rate={"1h": [None, None]}),
        ),
        _report("search", "freshness", {"index": "main"}, HEALTHY, 0.95, alert_windows=[], history=None),
    ]
    return document(AT, "synthetic", AT, reports, history=True)


class Elements(HTMLParser):
    """Every element as (tag, attrs, section id it is in), plus the text of each section and the whole page."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None], str | None]] = []
        self.section: str | None = None
        self.text: dict[str | None, list[str]] = {}
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.section = a.get("id")
        self.elements.append((tag, a, self.section))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs), self.section))

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.section = None

    def handle_data(self, data: str) -> None:
        self.text.setdefault(self.section, []).append(data)

    def find(self, tag: str, section: str | None = ..., **attrs: str) -> list[dict]:
        return [
            a
            for t, a, s in self.elements
            if t == tag and (section is ... or s == section) and all(a.get(k) == v for k, v in attrs.items())
        ]

    def section_text(self, section: str | None) -> str:
        return "".join(self.text.get(section, []))


def _points(polylines: list[dict]) -> int:
    return sum(len(p["points"].split()) for p in polylines)


def _known(values: list[float | None]) -> int:
    return sum(v is not None for v in values)


@pytest.fixture(scope="module")
def doc() -> dict:
    return synthetic_document()


@pytest.fixture(scope="module")
def page(doc: dict) -> Elements:
    return Elements(render_html(doc))


def test_one_section_per_slo_series_linked_from_the_overview(doc: dict, page: Elements) -> None:
    sections = page.find("section")
    ids = [s["id"] for s in sections]
    assert ids == [anchor(r) for r in doc["slos"]]
    assert len(set(ids)) == len(doc["slos"]) == 5
    links = [a["href"] for a in page.find("a")]
    assert links == ["#" + i for i in ids]
    rows = page.find("tr", section=None)
    assert len(rows) == 1 + len(doc["slos"])  # header row + one per series
    overview = page.section_text(None)
    for r in doc["slos"]:
        assert r["title"] in overview
    assert "synthetic" in overview and doc["at_rfc3339"] in overview


def test_charts_plot_every_known_point_with_gaps_at_nulls(doc: dict, page: Elements) -> None:
    for r in doc["slos"]:
        sid = anchor(r)
        svgs = page.find("svg", sid)
        assert len(svgs) == 2, sid
        h = r["history"]
        if h is None or not _known(h["budget_remaining"]):
            assert not page.find("polyline", sid)
            assert "no history for this chart" in page.section_text(sid)
            continue
        budget = page.find("polyline", sid, **{"data-series": "budget_remaining"})
        assert _points(budget) == _known(h["budget_remaining"]), sid
        for w, values in h["burn_rate"].items():
            lines = page.find("polyline", sid, **{"data-series": "burn_rate", "data-window": w})
            assert _points(lines) == _known(values), (sid, w)
            runs = sum(1 for i, v in enumerate(values) if v is not None and (i == 0 or values[i - 1] is None))
            assert len(lines) == runs  # one polyline per run of known points: a gap at each null


def test_threshold_lines_and_alert_windows(doc: dict, page: Elements) -> None:
    r = doc["slos"][2]
    sid = anchor(r)
    text = page.section_text(sid)
    for label in ("14.4× page 1h/5m", "6× page 6h/30m", "1× ticket 3d/6h", "at risk < 25%", "breached (0)"):
        assert label in text
    assert len(page.find("line", sid, **{"class": "limit"})) == 3 + 2
    assert page.find("table", sid), "alert windows table"
    assert text.count("firing") >= 2
    assert "-40.0%" in text and "breached" in text


def test_nulls_render_as_dash_and_reason_is_shown(doc: dict, page: Elements) -> None:
    r = doc["slos"][3]
    text = page.section_text(anchor(r))
    assert r["reason"] in text
    assert "unknown" in text
    assert text.count("–") >= 5  # SLI, budget left, runs out, firing, coverage
    words = set(re.findall(r"\w+", " ".join(page.section_text(s) for s in page.text)))
    assert not words & {"None", "nan", "NaN", "inf", "null"}
    freshness = page.section_text(anchor(doc["slos"][4]))
    assert "No alert windows." in freshness


def test_spec_text_is_escaped() -> None:
    doc = synthetic_document()
    evil = "<script>alert('x')</script>"
    r = doc["slos"][1]
    r.update(title=evil, description=evil + " & more", labels={**r["labels"], "route": evil})
    r["alert_windows"] = [{**w, "alert": evil} for w in r["alert_windows"]]
    r["alerts_firing"] = [evil]
    doc["source"] = evil
    out = render_html(doc)
    assert "<script" not in out
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in out
    parsed = Elements(out)
    assert not parsed.find("script")
    assert evil in parsed.section_text(anchor(r))  # shown as text, exactly


def test_no_external_resources(page: Elements) -> None:
    refs = [v for _, a, _ in page.elements for k, v in a.items() if k in ("src", "href", "xlink:href", "action") and v]
    assert refs and all(not v.lower().startswith(("http:", "https:", "//")) for v in refs), refs
    assert not page.find("script") and not page.find("img") and not page.find("iframe")
    assert page.find("meta", **{"http-equiv": "Content-Security-Policy"})
    out = render_html(synthetic_document())
    assert "http://" not in out and "https://" not in out and "@import" not in out and "url(" not in out


def test_deterministic(doc: dict) -> None:
    again = json.loads(json.dumps(copy.deepcopy(doc)))
    assert render_html(doc) == render_html(again) == render_html(synthetic_document())


def test_empty_document() -> None:
    out = render_html(document(AT, "empty", AT, []))
    parsed = Elements(out)
    assert not parsed.find("section") and "0 SLO series" in parsed.section_text(None)
