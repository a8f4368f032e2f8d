"""What an error-budget report says about one SLO series, whatever the source (the JSON contract).

Status (the same thresholds as the ``sloforge:slo_status`` rule): **healthy**
while at least ``AT_RISK_BELOW`` (25 %) of the budget remains, **at risk**
while some remains, **breached** when none does, **unknown** when the source
could not tell (``reason`` says why).  ``exhaustion_at`` projects the
remaining budget at the current burn: at burn rate ``b`` (measured over the
SLO's shortest page long window, 1h by default) a budget lasts ``window / b``,
so what remains runs out ``remaining * window / b`` from now; ``None`` when
nothing burns or the budget is already gone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from sloforge import conventions as C
from sloforge.durations import format_duration, format_time
from sloforge.model import SLO, Spec

HEALTHY, AT_RISK, BREACHED, UNKNOWN = "healthy", "at_risk", "breached", "unknown"
STATUSES = (HEALTHY, AT_RISK, BREACHED, UNKNOWN)


def status_of(remaining: float | None) -> str:
    if remaining is None or not math.isfinite(remaining):
        return UNKNOWN
    if remaining >= C.AT_RISK_BELOW:
        return HEALTHY
    return AT_RISK if remaining > 0 else BREACHED


@dataclass
class Budget:
    """``total``: the allowed error ratio (1 - objective); ``used``/``remaining``: fractions of the budget;
    the budget in minutes of full outage over the window and, for event SLIs, in events."""

    total: float
    used: float | None
    remaining: float | None
    total_minutes: float
    remaining_minutes: float | None
    total_events: float | None = None
    remaining_events: float | None = None


@dataclass
class History:
    """Series for charts: unix seconds and, per time, the budget remaining and burn rates per window."""

    t: list[float] = field(default_factory=list)
    budget_remaining: list[float | None] = field(default_factory=list)
    burn_rate: dict[str, list[float | None]] = field(default_factory=dict)


@dataclass
class SLOReport:
    service: str
    slo: str
    title: str
    description: str
    labels: dict[str, str]
    objective: float  # percent
    window: str
    sli: float | None
    error_budget: Budget
    burn_rates: dict[str, float | None]  # window text -> burn rate
    status: str
    exhaustion_at: float | None  # unix seconds
    alerts_firing: list[str]
    alert_windows: list[dict]  # {"alert", "tier", "severity", "burn_rate", "long", "short"}
    coverage: float | None  # share of the SLO window with recorded history
    source: str  # "recorded" | "raw" | "engine"
    reason: str | None = None  # why the status is unknown, or a caveat
    history: History | None = None

    def to_json(self, history: bool = False) -> dict:
        d = asdict(self)
        d["exhaustion_at_rfc3339"] = None if self.exhaustion_at is None else format_time(self.exhaustion_at)
        if not history:
            d.pop("history")
        return _finite(d)


def _finite(x):  # noqa: ANN001, ANN202 - JSON has no NaN/Inf: None instead
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def alert_windows(spec: Spec, slo: SLO) -> list[dict]:
    """Every burn-rate pair of the SLO's alert tiers, for reports and charts."""
    names = {tier: (name, severity) for tier, name, severity in slo.alerts(spec.service)}
    out = []
    for tier, (name, severity) in names.items():
        for bw in getattr(slo.alerting, tier):
            out.append(
                {
                    "alert": name,
                    "tier": tier,
                    "severity": severity,
                    "burn_rate": bw.burn_rate,
                    "long": format_duration(bw.long),
                    "short": format_duration(bw.short),
                }
            )
    return out


def projection_window(slo: SLO) -> float:
    """The window whose burn rate projects exhaustion: the shortest page long window, else 1h."""
    pairs = slo.alerting.page or slo.alerting.ticket
    return min((bw.long for bw in pairs), default=C.BLOCK_WINDOW)


def exhaustion(at: float, remaining: float | None, burn: float | None, slo_window: float) -> float | None:
    """When the budget runs out at the current burn: ``remaining * slo_window / burn`` seconds after ``at``."""
    if remaining is None or burn is None or not (math.isfinite(remaining) and math.isfinite(burn)):
        return None
    if remaining <= 0 or burn <= 0:
        return None
    return at + remaining * slo_window / burn


def budget(slo: SLO, used: float | None, events_in_window: float | None = None) -> Budget:
    remaining = None if used is None or not math.isfinite(used) else 1.0 - used
    minutes = slo.error_budget * slo.window / 60
    total_events = None if events_in_window is None else slo.error_budget * events_in_window
    return Budget(
        total=slo.error_budget,
        used=used,
        remaining=remaining,
        total_minutes=round(minutes, 6),
        remaining_minutes=None if remaining is None else round(minutes * remaining, 6),
        total_events=total_events,
        remaining_events=None if total_events is None or remaining is None else total_events * remaining,
    )


def document(generated_at: float, source: str, at: float, reports: list[SLOReport], history: bool = False) -> dict:
    """The ``--json`` document."""
    return {
        "generated_at": format_time(generated_at),
        "source": source,
        "at": at,
        "at_rfc3339": format_time(at),
        "slos": [r.to_json(history) for r in reports],
    }
