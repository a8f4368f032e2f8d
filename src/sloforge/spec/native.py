"""The native format: ``apiVersion: sloforge/v1`` documents -> ``Spec``."""

from __future__ import annotations

import difflib
import types
import typing

from pydantic import BaseModel, ValidationError

from sloforge.model import Bundle, Spec
from sloforge.spec.errors import Problem, dotted
from sloforge.spec.yamlsafe import YamlDoc


def to_spec(doc: YamlDoc, file: str) -> tuple[Spec | Bundle | None, list[Problem]]:
    """``kind: ServiceLevels`` (the default) gives a ``Spec``, ``kind: Bundle`` a ``Bundle``."""
    root: type[Spec] | type[Bundle] = Bundle if doc.data.get("kind") == "Bundle" else Spec
    try:
        spec = root.model_validate(doc.data)
    except ValidationError as e:
        return None, _problems(e, doc, file, root)
    spec.source_file = file
    return spec, []


def _problems(err: ValidationError, doc: YamlDoc, file: str, root: type[BaseModel]) -> list[Problem]:
    out: list[Problem] = []
    seen: set[str] = set()
    for e in err.errors(include_url=False):
        path = _data_path(doc.data, e["loc"])
        msg = _message(e, path, root)
        key = dotted(path)
        if key in seen and e["type"] not in ("extra_forbidden", "missing"):
            continue  # union members repeat the same complaint
        seen.add(key)
        out.append(Problem(file, doc.line_of(path), key, msg))
    return out


def _data_path(data, loc: tuple) -> tuple:
    """Keep the parts of a pydantic location that address the YAML data.

    Pydantic adds union tags and validator names to a location; they are skipped.
    """
    path: list = []
    cur = data
    loc = tuple(loc)
    for i, part in enumerate(loc):
        if _addresses(cur, part):
            path.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and any(isinstance(p, str) and p in cur for p in loc[i + 1 :]):
            continue  # a union tag such as 'generator' before a real key
        elif isinstance(cur, dict) and isinstance(part, str) and part.isidentifier():
            path.append(part)  # a missing or unexpected key
            break
        else:
            break
    return tuple(path)


def _addresses(cur, part) -> bool:
    if isinstance(cur, dict):
        return part in cur
    return isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)


def _message(e: dict, path: tuple, root: type[BaseModel]) -> str:
    kind = e["type"]
    if kind == "extra_forbidden":
        field = path[-1] if path else "?"
        known = _known_fields(path[:-1], root)
        close = difflib.get_close_matches(str(field), known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        allowed = f" (allowed: {', '.join(sorted(known))})" if known and not close else ""
        return f"unknown field {field!r}{hint}{allowed}"
    if kind == "missing":
        return "required field is missing"
    msg = e["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if kind == "literal_error" and path and path[-1] == "apiVersion":
        return f"unknown apiVersion {e.get('input')!r}: expected 'sloforge/v1'"
    return msg


def _known_fields(path: tuple, root: type[BaseModel]) -> list[str]:
    """Field names (aliases) accepted at ``path`` of a native document."""
    models: list[type[BaseModel]] = [root]
    for part in path:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for m in models:
            for name, f in m.model_fields.items():
                if part in (name, f.alias):
                    nxt += _models_in(f.annotation)
        models = nxt
    names: set[str] = set()
    for m in models:
        for name, f in m.model_fields.items():
            if f.exclude:
                continue
            names.add(f.alias or name)
    return sorted(names)


def _models_in(tp) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    out = []
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(tp)[0])
    if origin in (list, dict, typing.Union, types.UnionType) or origin is not None:
        for a in typing.get_args(tp):
            out += _models_in(a)
    return out
