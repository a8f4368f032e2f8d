"""OpenMetrics / Prometheus text files with timestamps, the input of ``promtool tsdb create-blocks-from openmetrics``.

Lines are read one at a time (plain or gzip, detected by its magic bytes), so
memory holds only the samples kept: pass ``names`` and ``start``/``end`` to read
just what an evaluation needs from a large file.  Timestamps are seconds
(OpenMetrics; converted to ms as promtool does, ``int64(ts * 1000)``) or, with
``timestamp_unit="ms"``, Prometheus text-format milliseconds.  Samples are
sorted per series; of equal timestamps the last one wins.  NaN values are
dropped (the engine uses NaN for "absent"); ``# EOF`` ends the input.
"""

from __future__ import annotations

import gzip
import io
import re
from array import array
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, Literal

import numpy as np

from sloforge.evaluate.series import NAME, Labels, Series, SeriesSet, render

GZIP_MAGIC = b"\x1f\x8b"

_LINE = re.compile(
    r"""^(?P<key>(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?)"""
    r"""[ \t]+(?P<value>\S+)(?:[ \t]+(?P<ts>[^\s#]+))?[ \t]*(?:\#.*)?$"""
)
_PAIR = re.compile(r"""\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)""")
_UNESCAPE = re.compile(r"\\(.)")


class OpenMetricsError(ValueError):
    """A line that is no sample with a timestamp; the message names file and line."""


def _unescape(v: str) -> str:
    return _UNESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse_labels(name: str, body: str | None, where: str) -> Labels:
    """Label pairs of ``{a="b",...}`` (body with its braces) plus ``__name__``."""
    out = {NAME: name}
    inner = (body or "{}")[1:-1].strip()
    pos = 0
    while pos < len(inner):
        m = _PAIR.match(inner, pos)
        if not m:
            raise OpenMetricsError(f"{where}: cannot parse the labels {body}")
        out[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
    return tuple(sorted((k, v) for k, v in out.items() if v != ""))


def _open(source: str | Path | IO[bytes]) -> tuple[IO[str], str]:
    if isinstance(source, str | Path):
        raw: IO[bytes] = open(source, "rb")  # noqa: SIM115 - closed by the caller's wrapper
        where = str(source)
    else:
        raw, where = source, getattr(source, "name", "<stream>")
    if not hasattr(raw, "peek"):
        raw = io.BufferedReader(raw)  # type: ignore[arg-type]
    if raw.peek(2)[:2] == GZIP_MAGIC:  # type: ignore[attr-defined]
        raw = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
    return io.TextIOWrapper(raw, encoding="utf-8", newline=None), where  # type: ignore[arg-type]


def _samples(
    source: str | Path | IO[bytes], unit: Literal["s", "ms"], known: dict[str, tuple[str, Labels]]
) -> Iterator[tuple[str, int, float]]:
    """``(series key, timestamp ms, value)`` per sample line; ``known`` maps each key to (name, labels).

    A line whose series key was seen before is split from the right (value and
    timestamp hold no spaces); new keys, exemplars and odd spacing take the regex.
    """
    text, where = _open(source)
    with text:
        for lineno, raw in enumerate(text, 1):
            line = raw.strip()
            if not line:
                continue
            if line[0] == "#":
                if line == "# EOF":
                    return
                continue
            parts = line.rsplit(" ", 2) if "#" not in line else ()
            if len(parts) == 3 and parts[0] in known:
                key, value, ts = parts
            else:
                m = _LINE.match(line)
                if not m:
                    raise OpenMetricsError(f"{where}:{lineno}: not a sample line: {line[:120]!r}")
                key, value, ts = m.group("key"), m.group("value"), m.group("ts")
                if ts is None:
                    raise OpenMetricsError(f"{where}:{lineno}: sample without a timestamp: {line[:120]!r}")
                if key not in known:
                    known[key] = (m.group("name"), parse_labels(m.group("name"), m.group("labels"), where))
            try:
                yield key, int(float(ts) * 1000) if unit == "s" else int(ts), float(value)
            except ValueError:
                raise OpenMetricsError(f"{where}:{lineno}: bad value or timestamp: {line[:120]!r}") from None


def iter_samples(
    source: str | Path | IO[bytes], timestamp_unit: Literal["s", "ms"] = "s"
) -> Iterator[tuple[Labels, int, float]]:
    """``(labels, timestamp ms, value)`` per sample line, in file order (streaming)."""
    known: dict[str, tuple[str, Labels]] = {}
    for key, t, v in _samples(source, timestamp_unit, known):
        yield known[key][1], t, v


def read_openmetrics(
    source: str | Path | IO[bytes],
    *,
    names: Collection[str] | None = None,
    start: float | None = None,
    end: float | None = None,
    timestamp_unit: Literal["s", "ms"] = "s",
) -> SeriesSet:
    """The series of a file (or binary stream); only metric ``names`` and samples in ``[start, end]`` (unix
    seconds) when given."""
    lo = -(2**63) if start is None else round(start * 1000)
    hi = 2**63 - 1 if end is None else round(end * 1000)
    known: dict[str, tuple[str, Labels]] = {}
    builders: dict[str, tuple[array, array] | None] = {}  # None: a series of a metric not asked for
    for key, t, value in _samples(source, timestamp_unit, known):
        if key in builders:
            b = builders[key]
        else:
            wanted = names is None or known[key][0] in names
            b = builders[key] = (array("q"), array("d")) if wanted else None
        if b is None or t < lo or t > hi:
            continue
        b[0].append(t)
        b[1].append(value)
    merged: dict[Labels, tuple[list[array], list[array]]] = {}
    for key, b in builders.items():  # the same labels may be written in several ways
        if b is None:
            continue
        m = merged.setdefault(known[key][1], ([], []))
        m[0].append(b[0])
        m[1].append(b[1])
    out = []
    for ls, (tss, vss) in merged.items():
        t = np.concatenate([np.frombuffer(a, dtype=np.int64) for a in tss])
        v = np.concatenate([np.frombuffer(a, dtype=np.float64) for a in vss])
        out.append(Series.of(ls, t, v))
    return SeriesSet(out)


def _seconds(ms: int) -> str:
    whole, frac = divmod(ms, 1000)
    return f"{whole}.{frac:03d}" if frac else str(whole)


def _value(v: float) -> str:
    return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)


def write_openmetrics(data: SeriesSet, path: str | Path) -> None:
    """``data`` as an OpenMetrics file (gzip when ``path`` ends in ``.gz``): the input of ``read_openmetrics``
    and of ``promtool tsdb create-blocks-from openmetrics``.  One ``# TYPE <name> unknown`` per metric, series
    in label order, timestamps in seconds, values in shortest round-trip form; deterministic (gzip without
    a modification time)."""
    path = Path(path)
    by_name: dict[str, list[Series]] = {}
    for s in data:
        by_name.setdefault(s.name, []).append(s)
    raw = gzip.GzipFile(path, "wb", mtime=0) if path.suffix == ".gz" else open(path, "wb")  # noqa: SIM115
    with raw, io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as out:
        for name in sorted(by_name):
            out.write(f"# TYPE {name} unknown\n")
            for s in sorted(by_name[name], key=lambda s: s.labels):
                key = render(s.labels)
                samples = zip(s.t.tolist(), s.v.tolist(), strict=True)
                out.writelines(f"{key} {_value(v)} {_seconds(t)}\n" for t, v in samples)
        out.write("# EOF\n")
