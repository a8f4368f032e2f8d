"""PromQL helpers: validate with promql-parser, inspect selectors, render templates.

Templates use ``string.Template`` with ``substitute`` so a missing key raises
instead of writing a broken rule.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from string import Template

import promql_parser

_LABEL_VALUE_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})


class PromQLError(ValueError):
    pass


def check(expr: str) -> str | None:
    """The parser's complaint about ``expr``, or None if it is valid PromQL."""
    if not isinstance(expr, str) or not expr.strip():
        return "empty PromQL expression"
    try:
        promql_parser.parse(expr)
    except ValueError as e:
        return str(e)
    return None


def parse(expr: str):
    try:
        return promql_parser.parse(expr)
    except ValueError as e:
        raise PromQLError(f"{e}: {expr}") from None


def metric_names(expr: str) -> list[str]:
    """Metric names read by ``expr`` (selectors with a literal name), in order, unique."""
    names: list[str] = []

    def visit(node) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name
            if not name:
                for m in node.matchers.matchers:
                    if m.name == "__name__" and str(m.op) == "MatchOp.Equal":
                        name = m.value
            if name and name not in names:
                names.append(name)
        return True

    promql_parser.walk(parse(expr), visit)
    return names


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # = != =~ !~
    value: str

    def render(self) -> str:
        return f'{self.name}{self.op}"{self.value.translate(_LABEL_VALUE_ESCAPES)}"'

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        hit = re.fullmatch(self.value, value) is not None
        return hit if self.op == "=~" else not hit


_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


@dataclass(frozen=True)
class Selector:
    """A plain instant-vector selector: metric name plus matchers."""

    name: str
    matchers: tuple[Matcher, ...] = ()

    def with_name(self, name: str) -> Selector:
        return Selector(name, self.matchers)

    def with_matcher(self, m: Matcher) -> Selector:
        return Selector(self.name, self.matchers + (m,))

    def render(self) -> str:
        if not self.matchers:
            return self.name
        return self.name + "{" + ",".join(m.render() for m in self.matchers) + "}"

    def label_names(self) -> set[str]:
        return {m.name for m in self.matchers}


def selectors(expr: str) -> list[Selector]:
    """Every vector selector in ``expr`` (inside functions, aggregations, ranges)."""
    found: list[Selector] = []

    def visit(node) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(_to_selector(node, expr))
        return True

    promql_parser.walk(parse(expr), visit)
    return found


def selector(expr: str) -> Selector:
    """Parse ``expr`` that must be a single vector selector like ``x_total{code=~"5.."}``."""
    node = parse(expr)
    if not isinstance(node, promql_parser.VectorSelector):
        raise PromQLError(f'expected a series selector such as metric_total{{label="value"}}, got {expr!r}')
    if node.offset is not None or node.at is not None:
        raise PromQLError(f"offset and @ are not allowed in an SLI selector: {expr!r}")
    return _to_selector(node, expr)


def _to_selector(node, expr: str) -> Selector:
    name = node.name or ""
    matchers = []
    for m in node.matchers.matchers:
        op = _OPS[str(m.op)]
        if m.name == "__name__" and op == "=":
            name = m.value
            continue
        matchers.append(Matcher(m.name, op, m.value))
    if not name:
        raise PromQLError(
            f'the selector must name one metric (metric_total{{...}} or {{__name__="metric_total"}}): {expr!r}; '
            "a regex on __name__ could match several metrics whose series collide once the name is dropped "
            "(as in x - x offset 5m): give one SLO per metric or record their sum first"
        )
    if node.matchers.or_matchers:
        raise PromQLError(f"'or' inside a selector is not supported: {expr!r}")
    return Selector(name, tuple(matchers))


def bucket_le(sel: Selector) -> float | None:
    """The `le` of a `_bucket{le="X"}` selector (finite, > 0), else None."""
    les = [m for m in sel.matchers if m.name == "le"]
    if len(les) != 1 or les[0].op != "=":
        return None
    try:
        le = float(les[0].value)
    except ValueError:
        return None
    return le if math.isfinite(le) and le > 0 else None


def render(template: str, **values: object) -> str:
    """Fill ``$name`` placeholders; a missing key is an error, never an empty string."""
    try:
        return Template(template).substitute(**{k: str(v) for k, v in values.items()})
    except KeyError as e:
        raise PromQLError(f"PromQL template needs {e.args[0]!r}") from None


def number(x: float) -> str:
    """A float as PromQL writes it: no trailing zeros, no exponent surprises."""
    text = f"{x:.12g}"
    return text


def le_regex(le: float) -> str:
    """Match a bucket bound however the client library printed it (Go: ``32``, Python: ``32.0``)."""
    text = number(le)
    if "e" in text:
        text = repr(float(le))
    escaped = re.escape(text)
    if "." in text:
        return escaped + "0*"
    return escaped + r"(\.0+)?"
