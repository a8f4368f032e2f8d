"""Sliding-window counts in bounded memory: time-bucketed rings, numerator and denominator apart.

A window of ``W`` seconds is read from a ring of buckets ``r`` seconds wide: the
last ``ceil(W / r)`` buckets, the current (partial) one included. It therefore
covers between ``W - r`` and ``W`` seconds of history (exactly the events whose
bucket ``floor(t / r)`` is one of those indices). ``r`` is the coarsest of
``RESOLUTIONS`` that still cuts ``W`` into at least ``MIN_SLOTS`` buckets (the
finest when none does): 5m, 30m, 1h -> 10s; 2h, 6h -> 1m; 1d, 3d -> 5m; 30d -> 1h.
Windows that share a resolution share one ring, so the default alert windows
plus a 30d SLO window cost 2,304 buckets of two float64 per label set (37 KB).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field

RESOLUTIONS: tuple[float, ...] = (10.0, 60.0, 300.0, 3600.0)
MIN_SLOTS = 100
_NEVER = -(2**62)


def resolution_for(window: float, resolutions: tuple[float, ...] = RESOLUTIONS, min_slots: int = MIN_SLOTS) -> float:
    """The coarsest resolution cutting ``window`` into at least ``min_slots`` buckets (else the finest)."""
    fits = [r for r in resolutions if window / r >= min_slots]
    return max(fits) if fits else min(resolutions)


def slots_for(window: float, resolution: float) -> int:
    return max(1, math.ceil(window / resolution))


class Ring:
    """``size`` buckets of ``res`` seconds holding two sums (``total``, ``bad``); bucket ``head`` is the newest."""

    __slots__ = ("res", "size", "total", "bad", "head")

    def __init__(self, res: float, size: int) -> None:
        self.res = res
        self.size = size
        self.total = array("d", bytes(8 * size))
        self.bad = array("d", bytes(8 * size))
        self.head = _NEVER

    def advance(self, idx: int) -> None:
        """Make bucket ``idx`` the newest, clearing the buckets that slid out of the ring."""
        head = self.head
        if idx <= head:
            return
        if idx - head >= self.size:
            zeros = array("d", bytes(8 * self.size))
            self.total[:] = zeros
            self.bad[:] = zeros
        else:
            for i in range(head + 1, idx + 1):
                j = i % self.size
                self.total[j] = 0.0
                self.bad[j] = 0.0
        self.head = idx

    def add(self, idx: int, total: float, bad: float) -> None:
        """Add to bucket ``idx``; a bucket older than the ring holds is dropped."""
        if idx > self.head:
            self.advance(idx)
        elif idx <= self.head - self.size:
            return
        j = idx % self.size
        self.total[j] += total
        self.bad[j] += bad

    def sums(self, idx: int, n: int) -> tuple[float, float]:
        """``(total, bad)`` of the ``n`` buckets ending at bucket ``idx`` (read at ``head`` if that is later)."""
        self.advance(idx)
        idx = max(idx, self.head)
        n = min(n, self.size)
        start, end = (idx - n + 1) % self.size, idx % self.size + 1
        if start < end:
            return math.fsum(self.total[start:end]), math.fsum(self.bad[start:end])
        return (
            math.fsum(self.total[start:]) + math.fsum(self.total[:end]),
            math.fsum(self.bad[start:]) + math.fsum(self.bad[:end]),
        )


@dataclass(frozen=True)
class Layout:
    """Which ring serves which window: ``rings`` are ``(resolution, buckets)``; ``windows`` map a
    window to ``(ring number, buckets)``; ``fine`` is the finest resolution (the hot-path bucket)."""

    rings: tuple[tuple[float, int], ...]
    windows: dict[float, tuple[int, int]] = field(hash=False)
    fine: float

    @classmethod
    def for_windows(
        cls, windows: list[float], resolutions: tuple[float, ...] = RESOLUTIONS, min_slots: int = MIN_SLOTS
    ) -> Layout:
        chosen = {w: resolution_for(w, resolutions, min_slots) for w in windows}
        ress = sorted(set(chosen.values()))
        fine = ress[0]
        for r in ress:
            if r % fine:
                raise ValueError(f"resolution {r:g}s is not a multiple of the finest, {fine:g}s")
        sizes = {r: max(slots_for(w, r) for w in windows if chosen[w] == r) for r in ress}
        return cls(
            rings=tuple((r, sizes[r]) for r in ress),
            windows={w: (ress.index(chosen[w]), slots_for(w, chosen[w])) for w in sorted(windows)},
            fine=fine,
        )

    def resolution(self, window: float) -> float:
        return self.rings[self.windows[window][0]][0]

    @property
    def slots(self) -> int:
        """Buckets per label set, over all rings."""
        return sum(size for _, size in self.rings)


class WindowedCounts:
    """Event counts of one label set over every window of a ``Layout``.

    The hot path only adds to ``total``/``bad`` of the current fine bucket (``floor(t / fine)``,
    which ends at time ``edge``); the rings are written when a later bucket starts
    (``advance``) or before a read (``flush``). The caller holds the lock.
    """

    __slots__ = ("bucket", "edge", "total", "bad", "rings", "steps", "fine")

    def __init__(self, layout: Layout) -> None:
        self.bucket = float(_NEVER)
        self.edge = -math.inf
        self.total = 0
        self.bad = 0
        self.fine = layout.fine
        self.rings = [Ring(r, size) for r, size in layout.rings]
        self.steps = [round(r / layout.fine) for r, _ in layout.rings]

    def flush(self) -> None:
        """Move the current bucket's counts into every ring."""
        if self.total or self.bad:
            b = int(self.bucket)
            for ring, step in zip(self.rings, self.steps, strict=True):
                ring.add(b // step, self.total, self.bad)
            self.total = 0
            self.bad = 0

    def advance(self, now: float) -> None:
        """Start the fine bucket of time ``now`` (never moves back: a late event counts in the current one)."""
        bucket = now // self.fine
        if bucket > self.bucket:
            self.flush()
            self.bucket = bucket
            self.edge = (bucket + 1) * self.fine

    def sums(self, layout: Layout, now: float) -> dict[float, tuple[float, float]]:
        """``{window: (total, bad)}`` at time ``now``."""
        self.advance(now)
        self.flush()
        b = int(self.bucket)
        return {w: self.rings[ring_no].sums(b // self.steps[ring_no], n) for w, (ring_no, n) in layout.windows.items()}

    def nbytes(self) -> int:
        """Bytes held by the rings' buffers."""
        return sum(r.total.itemsize * (len(r.total) + len(r.bad)) for r in self.rings)
