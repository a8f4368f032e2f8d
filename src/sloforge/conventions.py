"""Every metric, label and group name sloforge writes, in one place.

Recorded series use the Prometheus ``level:metric:operation`` convention.  All
SLO series carry ``service`` and ``slo`` plus the SLO's ``by`` labels; the
window of a derived series is a ``window`` label so one query draws all windows.
"""

from __future__ import annotations

# labels
LABEL_SERVICE = "service"
LABEL_SLO = "slo"
LABEL_WINDOW = "window"
LABEL_SEVERITY = "severity"
LABEL_TIER = "sloforge_tier"  # page | ticket, for inhibition and routing
LABEL_ALERT_WINDOWS = "long_window"

# recorded series
ERRORS_RATE = "sloforge:slo_errors:rate5m"  # aggregated bad events / s over 5m
TOTAL_RATE = "sloforge:slo_events:rate5m"  # aggregated total events / s over 5m
SLICES_BAD = "sloforge:slo_slices_bad"  # timeslice SLIs: bad-slice indicator, every evaluation
SLICES_TOTAL = "sloforge:slo_slices_total"  # timeslice SLIs: slices judged, every evaluation
ERRORS_RATE_1H = "sloforge:slo_errors:rate1h"  # mean of twelve abutting 5m rates: exactly 1h
TOTAL_RATE_1H = "sloforge:slo_events:rate1h"
ERROR_RATIO = "sloforge:slo_error_ratio"  # {window=...} traffic-weighted error ratio
BURN_RATE = "sloforge:slo_burn_rate"  # {window=...} error ratio / (1 - objective)
OBJECTIVE = "sloforge:slo_objective:ratio"
SLI = "sloforge:slo_sli:ratio"  # 1 - error ratio over the SLO window
BUDGET_REMAINING = "sloforge:slo_error_budget_remaining:ratio"
STATUS = "sloforge:slo_status"  # 1 healthy, 0 at risk, -1 breached
COVERAGE = "sloforge:slo_window_coverage:ratio"  # {window=...} recorded history / window
PERIOD_SECONDS = "sloforge:slo_period:seconds"

# the short base window every longer window is derived from
BASE_WINDOW = 300.0
# the block recorded from twelve base windows; windows up to BLOCK_SUM_MAX are sums of blocks
BLOCK_WINDOW = 3600.0
BLOCK_SUM_MAX = 12 * 3600.0

# status thresholds on the remaining error budget
AT_RISK_BELOW = 0.25

# guard for zero denominators: tiny, so a real rate always dominates it
DENOMINATOR_FLOOR = "1e-12"

SEVERITY_PAGE = "critical"
SEVERITY_TICKET = "warning"


def group_name(service: str, part: str) -> str:
    return f"sloforge-{service}-{part}"


def slo_alert_name(service: str, slo: str, tier: str) -> str:
    """``KubernetesexecutionActionSuccessRatePage`` from service/slo/tier slugs."""
    return _camel(service) + _camel(slo) + _camel(tier)


def _camel(slug: str) -> str:
    parts = [p for p in slug.replace("-", "_").split("_") if p]
    return "".join(p[:1].upper() + p[1:] for p in parts)


# runbooks: one Markdown page per service, one section per alert
RUNBOOK_DIR = "runbooks"


def runbook_anchor(alert_name: str) -> str:
    """The anchor a Markdown heading ``## <alert_name>`` gets (GitHub/GitLab style)."""
    return alert_name.lower()


def runbook_url(base: str | None, service: str, alert_name: str) -> str:
    """Where an alert's runbook entry lives; relative to the bundle without a base URL."""
    root = (base or RUNBOOK_DIR).rstrip("/")
    return f"{root}/{service}.md#{runbook_anchor(alert_name)}"


# Grafana
DASHBOARD_UID_MAX = 40  # Grafana rejects longer uids


def dashboard_uid(service: str, name: str | None = None) -> str:
    """Stable uid ``sloforge-<service>[-<name>]``, hashed down when Grafana's limit needs it."""
    import hashlib

    uid = f"sloforge-{service}" + (f"-{name}" if name else "")
    if len(uid) <= DASHBOARD_UID_MAX:
        return uid
    digest = hashlib.sha256(uid.encode()).hexdigest()[:8]
    return uid[: DASHBOARD_UID_MAX - 9] + "-" + digest


# Grafana sidecar discovers dashboard ConfigMaps by this label
GRAFANA_DASHBOARD_LABEL = "grafana_dashboard"


def receiver_name(service: str | None, name: str) -> str:
    """Alertmanager receiver name: a service's receivers are prefixed with the service."""
    return f"{service}-{name}" if service else name
