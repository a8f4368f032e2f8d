"""Safe YAML reading that keeps a line number for every field.

PyYAML's SafeLoader composes the node graph; we build plain Python values
ourselves so that we can (1) record ``path -> line`` for error messages,
(2) refuse any tag that would construct objects, (3) refuse duplicate keys and
(4) bound alias expansion (a "billion laughs" document fails fast).
"""

from __future__ import annotations

import yaml

from sloforge.spec.errors import Problem

MAX_NODES = 200_000  # values built per document, aliases counted each time they expand
MAX_BYTES = 4 * 1024 * 1024

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_NODES


class YamlDoc:
    """One YAML document: its data and the line of every path in it."""

    def __init__(self, data, lines: dict[tuple, int], start_line: int):
        self.data = data
        self.lines = lines
        self.start_line = start_line

    def line_of(self, path: tuple) -> int:
        """Line of the deepest known prefix of ``path`` (1-based)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), self.start_line)


def read_documents(name: str, raw: bytes) -> tuple[list[YamlDoc], list[Problem]]:
    if len(raw) > MAX_BYTES:
        return [], [Problem(name, 1, "", f"file is larger than {MAX_BYTES} bytes")]
    if b"\x00" in raw:
        return [], [Problem(name, 1, "", "binary file (NUL bytes), expected YAML text")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        return [], [Problem(name, line, "", f"not UTF-8 text (byte 0x{raw[e.start]:02x})")]
    docs: list[YamlDoc] = []
    try:
        for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
            if node is None:
                continue
            lines: dict[tuple, int] = {}
            data = _build(node, (), lines, _Budget(), name)
            docs.append(YamlDoc(data, lines, node.start_mark.line + 1))
    except _BuildError as e:
        return [], [e.problem]
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        if e.context_mark is not None and "end of stream" in (e.problem or ""):
            mark = e.context_mark  # an unclosed quote or bracket: point at where it opened
        line = mark.line + 1 if mark else 1
        msg = " ".join(x for x in (e.context, e.problem) if x)
        return [], [Problem(name, line, "", f"YAML syntax error: {msg}")]
    except yaml.YAMLError as e:
        return [], [Problem(name, 1, "", f"YAML error: {e}")]
    if not docs:
        return [], [Problem(name, 1, "", "empty file: no YAML document (delete it or write a spec)")]
    return docs, []


class _BuildError(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem


def _build(node, path: tuple, lines: dict, budget: _Budget, name: str):
    from sloforge.spec.errors import dotted

    budget.left -= 1
    if budget.left < 0:
        raise _BuildError(
            Problem(
                name,
                node.start_mark.line + 1,
                dotted(path),
                f"document expands to more than {MAX_NODES} values (alias bomb?)",
            )
        )
    lines.setdefault(path, node.start_mark.line + 1)
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # a date is text to sloforge (OpenSLO's calendar startTime)
        if node.tag not in _SCALAR_TAGS:
            raise _BuildError(Problem(name, line, dotted(path), f"YAML tag {node.tag!r} is not allowed"))
        return _CONSTRUCTOR.yaml_constructors[node.tag](_CONSTRUCTOR, node)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ:
            raise _BuildError(Problem(name, line, dotted(path), f"YAML tag {node.tag!r} is not allowed"))
        return [_build(child, path + (i,), lines, budget, name) for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP:
            raise _BuildError(Problem(name, line, dotted(path), f"YAML tag {node.tag!r} is not allowed"))
        out: dict = {}
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                raise _BuildError(
                    Problem(name, knode.start_mark.line + 1, dotted(path), "YAML merge keys (<<) are not supported")
                )
            key = _build(knode, path + ("<key>",), {}, budget, name)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise _BuildError(
                    Problem(name, knode.start_mark.line + 1, dotted(path), "mapping keys must be plain scalars")
                )
            if key in out:
                raise _BuildError(Problem(name, knode.start_mark.line + 1, dotted(path + (key,)), "duplicate key"))
            lines[path + (key,)] = knode.start_mark.line + 1
            out[key] = _build(vnode, path + (key,), lines, budget, name)
            lines[path + (key,)] = knode.start_mark.line + 1
        return out
    raise _BuildError(Problem(name, line, dotted(path), "unsupported YAML node"))
