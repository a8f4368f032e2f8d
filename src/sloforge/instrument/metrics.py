"""The metrics a spec declares, as live ``prometheus_client`` objects.

Names, types, help, labels and buckets come from the spec, so the service
exposes exactly what the generated rules and dashboards read. Two
``prometheus_client`` conventions show through:

* a counter declared ``foo_total`` is created as ``Counter("foo")`` and exposes
  ``foo_total`` (plus ``foo_created``); both names find it here;
* a counter declared without ``_total`` (``foo``) exposes ``foo_total`` in the
  text format: prometheus_client always appends the suffix. Such a declaration
  gets a ``NameWarning`` once, because PromQL over ``foo`` finds nothing.

Bucket generators reproduce client_golang's ``ExponentialBuckets`` /
``LinearBuckets`` float steps exactly (``linear 0, 0.1`` gives
``0.30000000000000004`` as a Go service does), so a Python and a Go service
expose the same ``le`` values.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client.metrics import MetricWrapperBase

from sloforge.model import MetricDef, Spec

__all__ = [
    "DuplicateMetricError",
    "LabelError",
    "Metrics",
    "NameWarning",
    "bucket_bounds",
    "exponential_buckets",
    "linear_buckets",
    "load_spec",
]


class LabelError(ValueError):
    """``.labels()`` called with names the metric does not declare (or without the ones it does)."""


class DuplicateMetricError(ValueError):
    """A declared metric is already registered on the registry."""


class NameWarning(UserWarning):
    """A declared name that prometheus_client exposes differently."""


def load_spec(spec: str | Path | Spec, service: str | None = None) -> Spec:
    """A loaded spec: ``spec`` itself, or the one service of a file/directory (``service`` picks one of several)."""
    if isinstance(spec, Spec):
        if service is not None and service != spec.service:
            raise ValueError(f"the spec is for service {spec.service!r}, not {service!r}")
        return spec
    from sloforge.spec import load

    specs = load(spec).specs
    if service is not None:
        found = [s for s in specs if s.service == service]
        if not found:
            raise ValueError(f"{spec}: no service {service!r} (services: {', '.join(s.service for s in specs)})")
        return found[0]
    if len(specs) != 1:
        raise ValueError(
            f"{spec} holds {len(specs)} services ({', '.join(s.service for s in specs)}): pass service=NAME"
        )
    return specs[0]


# ------------------------------------------------------------------ buckets


def exponential_buckets(start: float, factor: float, count: int) -> list[float]:
    """client_golang's ``ExponentialBuckets``: ``start``, multiplied by ``factor`` each step (same float steps)."""
    out = []
    for _ in range(count):
        out.append(start)
        start *= factor
    return out


def linear_buckets(start: float, width: float, count: int) -> list[float]:
    """client_golang's ``LinearBuckets``: ``start``, plus ``width`` each step (same float steps)."""
    out = []
    for _ in range(count):
        out.append(start)
        start += width
    return out


def bucket_bounds(metric: MetricDef) -> list[float]:
    """Upper bounds (without +Inf) exactly as a client_golang service would expose them."""
    gen = metric.buckets
    if gen is None or isinstance(gen, list):
        return metric.bucket_bounds()
    if gen.exponential:
        e = gen.exponential
        return exponential_buckets(e.start, e.factor, e.count)
    assert gen.linear
    lin = gen.linear
    return linear_buckets(lin.start, lin.width, lin.count)


# ------------------------------------------------------------------ label checks


def _label_message(name: str, allowed: tuple[str, ...], values: tuple, kw: dict[str, Any]) -> str:
    if not allowed:
        return f"{name} declares no labels: call its methods directly, without .labels()"
    allowed_text = f"allowed labels: {', '.join(allowed)}"
    if values and kw:
        return f"{name}: pass label values either by position or by name, not both ({allowed_text})"
    if values:
        return f"{name}: {len(values)} label value(s) given, {len(allowed)} expected ({allowed_text})"
    unknown = sorted(set(kw) - set(allowed))
    missing = [a for a in allowed if a not in kw]
    parts = []
    if unknown:
        parts.append(f"unknown label(s) {', '.join(repr(u) for u in unknown)}")
    if missing:
        parts.append(f"missing label(s) {', '.join(repr(m) for m in missing)}")
    return f"{name}: {'; '.join(parts) or 'labels already set'} ({allowed_text})"


class _CheckedLabels:
    """``.labels()`` with an error naming the allowed labels; no cost on the success path."""

    def labels(self, *values: object, **kw: object):  # type: ignore[no-untyped-def]
        try:
            return super().labels(*values, **kw)  # type: ignore[misc]
        except ValueError as e:
            name = self._name + ("_total" if self._type == "counter" else "")  # type: ignore[attr-defined]
            if self._labelvalues:  # type: ignore[attr-defined]
                raise LabelError(f"{name}: labels already set; do not chain .labels()") from e
            raise LabelError(_label_message(name, self._labelnames, values, kw)) from e  # type: ignore[attr-defined]


class SpecCounter(_CheckedLabels, Counter):
    pass


class SpecGauge(_CheckedLabels, Gauge):
    pass


class SpecHistogram(_CheckedLabels, Histogram):
    pass


class SpecSummary(_CheckedLabels, Summary):
    pass


_CLASSES: dict[str, type[MetricWrapperBase]] = {
    "counter": SpecCounter,
    "gauge": SpecGauge,
    "histogram": SpecHistogram,
    "summary": SpecSummary,
}

_warned: set[str] = set()


def _create(m: MetricDef, registry: CollectorRegistry) -> MetricWrapperBase:
    kwargs: dict[str, Any] = {"labelnames": tuple(m.labels), "registry": registry}
    if m.type == "histogram":
        kwargs["buckets"] = bucket_bounds(m)
    if m.unit and m.name.endswith("_" + m.unit):
        kwargs["unit"] = m.unit  # a unit not in the name would be appended to it: the declared name wins
    name = m.name.removesuffix("_total") if m.type == "counter" else m.name
    try:
        return _CLASSES[m.type](name, m.help, **kwargs)
    except ValueError as e:
        if "Duplicated timeseries" in str(e):
            taken = ", ".join(sorted(getattr(e, "duplicates", ()))) or m.name
            raise DuplicateMetricError(
                f"metric {m.name!r} is already registered on this registry (series {taken}): "
                "is the spec declared twice? Use one Metrics per spec and registry"
            ) from e
        raise


def _warn_suffix(m: MetricDef) -> None:
    if m.type == "counter" and not m.name.endswith("_total") and m.name not in _warned:
        _warned.add(m.name)
        warnings.warn(
            f"counter {m.name!r} is exposed as {m.name}_total by prometheus_client; "
            f"declare it as {m.name}_total so PromQL and the spec use one name",
            NameWarning,
            stacklevel=3,
        )


class Metrics(Mapping[str, Any]):
    """Every metric of one spec, by declared name (``m["x_total"]``) or attribute (``m.x_total``).

    Iterating yields the declared names in spec order; a counter is also found by its
    name without ``_total``.
    """

    def __init__(self, spec: Spec, objects: dict[str, MetricWrapperBase], registry: CollectorRegistry) -> None:
        self.spec = spec
        self.registry = registry
        self._declared = [m.name for m in spec.metrics]
        self._objects = dict(objects)
        for m in spec.metrics:
            if m.type == "counter":
                alias = m.name.removesuffix("_total") if m.name.endswith("_total") else m.name + "_total"
                self._objects.setdefault(alias, objects[m.name])

    @classmethod
    def from_spec(
        cls, spec: str | Path | Spec, registry: CollectorRegistry | None = None, service: str | None = None
    ) -> Metrics:
        """Create every declared metric on ``registry`` (default: prometheus_client's global REGISTRY).

        All or nothing: on a duplicate the metrics created so far are unregistered again.
        """
        model = load_spec(spec, service)
        reg = REGISTRY if registry is None else registry
        created: dict[str, MetricWrapperBase] = {}
        try:
            for m in model.metrics:
                _warn_suffix(m)
                created[m.name] = _create(m, reg)
        except Exception:
            for obj in created.values():
                reg.unregister(obj)
            raise
        return cls(model, created, reg)

    def __getitem__(self, name: str) -> Any:
        try:
            return self._objects[name]
        except KeyError:
            raise KeyError(f"{self.spec.service} declares no metric {name!r}") from None

    def __getattr__(self, name: str) -> Any:
        objects = self.__dict__.get("_objects")
        if objects is not None and name in objects:
            return objects[name]
        spec = self.__dict__.get("spec")
        raise AttributeError(f"{spec.service if spec else 'the spec'} declares no metric {name!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._declared)

    def __len__(self) -> int:
        return len(self._declared)

    def __contains__(self, name: object) -> bool:
        return name in self._objects

    def names(self) -> list[str]:
        """Declared names, in spec order."""
        return list(self._declared)

    def unregister(self) -> None:
        """Remove every metric from the registry (e.g. between tests)."""
        for name in self._declared:
            self.registry.unregister(self._objects[name])

    def __repr__(self) -> str:
        return f"Metrics({self.spec.service!r}, {len(self)} metrics)"
