"""Prometheus durations: parse `1h30m` to seconds and format seconds back canonically."""

from __future__ import annotations

import re

_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_FULL = re.compile(r"^(?:\d+(?:ms|y|w|d|h|m|s))+$")


class DurationError(ValueError):
    pass


def parse_duration(text: str | int | float) -> float:
    """Seconds in a Prometheus duration such as ``5m`` or ``1h30m``."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise DurationError(f"expected a duration string like '5m' or '1h', got {text!r}")
    s = text.strip()
    if not _FULL.match(s):
        raise DurationError(f"{text!r} is not a duration (use units ms, s, m, h, d, w, y, e.g. '5m')")
    order = list(_UNITS)
    last = -1
    total = 0.0
    for num, unit in _PART.findall(s):
        idx = order.index(unit)
        if idx <= last:
            raise DurationError(f"{text!r}: units must go from largest to smallest, each once")
        last = idx
        total += int(num) * _UNITS[unit]
    if total <= 0:
        raise DurationError(f"{text!r} must be longer than zero")
    return total


def format_duration(seconds: float) -> str:
    """Canonical Prometheus duration for a number of seconds (``5400`` -> ``1h30m``)."""
    if seconds <= 0:
        return "0s"
    ms = round(seconds * 1000)
    out = []
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            n, ms = divmod(ms, size)
            out.append(f"{n}{unit}")
    return "".join(out)


def parse_time(text: str) -> float:
    """Unix seconds from RFC 3339 (``2026-11-01T00:00:00Z``; no zone = UTC) or a number of seconds."""
    from datetime import UTC, datetime

    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time (RFC 3339 or unix seconds): {text!r}") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def format_time(seconds: float) -> str:
    """RFC 3339 in UTC, to the second."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
