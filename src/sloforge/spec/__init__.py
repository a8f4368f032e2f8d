"""Loading specs: files or directories -> validated ``Spec`` objects, or a ``SpecError``.

Every problem names ``FILE:LINE: field.path``; all problems of all files are
collected before anything is raised, so one run shows every mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sloforge.model import Bundle, Spec
from sloforge.spec import checks, lint, native, openslo, pyrra, sloth
from sloforge.spec.errors import Problem, SpecError, dotted
from sloforge.spec.yamlsafe import YamlDoc, read_documents

__all__ = ["Loaded", "Problem", "SpecError", "load", "spec_files"]

# apiVersion -> loader; Kubernetes CRD loaders check `kind` themselves
_LOADERS = {"sloforge/v1": native.to_spec, **sloth.LOADERS, **pyrra.LOADERS}


@dataclass
class Loaded:
    specs: list[Spec]
    warnings: list[Problem] = field(default_factory=list)
    bundle: Bundle | None = None


def spec_files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in (".yaml", ".yml"))
    return [p]


def load(*paths: str | Path, strict: bool = False) -> Loaded:
    """Load and validate every spec under ``paths``; raise ``SpecError`` listing all problems."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    specs: list[Spec] = []
    bundles: list[Bundle] = []
    yaml_of: dict[int, YamlDoc] = {}  # id(document) -> its YAML, for line numbers of late checks
    openslo_files: list[tuple[str, list[YamlDoc]]] = []
    files = [f for p in paths for f in spec_files(p)]
    if not files:
        raise SpecError([Problem(str(paths[0]) if paths else "?", 0, "", "no *.yaml or *.yml files")])
    for f in files:
        name = str(f)
        try:
            raw = f.read_bytes()
        except OSError as e:
            errors.append(Problem(name, 0, "", f"cannot read: {e.strerror}"))
            continue
        docs, problems = read_documents(name, raw)
        errors += problems
        if openslo.is_openslo(docs):  # OpenSLO objects refer to each other across documents and files
            openslo_files.append((name, docs))
            continue
        for doc in docs:
            spec, problems = _to_spec(doc, name)
            errors += [p for p in problems if p.level != "warning"]
            warnings += [p for p in problems if p.level == "warning"]
            if spec is None:
                continue
            yaml_of[id(spec)] = doc
            if isinstance(spec, Bundle):
                cross = checks.bundle_errors(spec)
                errors += [Problem(name, doc.line_of(p), dotted(p), m) for p, m in cross]
                if not cross:
                    warnings += [
                        Problem(name, doc.line_of(p), dotted(p), m, level="warning")
                        for p, m in lint.untestable_alerts(spec)
                    ]
                if not cross:
                    bundles.append(spec)
                continue
            cross = checks.spec_errors(spec)
            errors += [Problem(name, doc.line_of(p), dotted(p), m) for p, m in cross]
            warnings += [
                Problem(name, doc.line_of(p), dotted(p), m, level="warning") for p, m in lint.spec_warnings(spec)
            ]
            if not cross:
                specs.append(spec)
    if openslo_files:
        imported = openslo.load_openslo_files(openslo_files)
        errors += [p for p in imported.problems if p.level != "warning"]
        warnings += [p for p in imported.problems if p.level == "warning"]
        specs += imported.specs  # already checked (spec_errors, spec_warnings)
        yaml_of.update(imported.docs)  # native paths -> OpenSLO lines, for the checks across files
    errors += _across_files(specs, bundles)
    errors += [
        Problem(d.source_file, yaml_of[id(d)].line_of(p), dotted(p), m)
        for d, p, m in checks.routing_across(specs, bundles[0] if bundles else None)
    ]
    if strict:
        errors += [Problem(w.file, w.line, w.path, w.message) for w in warnings]
    if errors:
        raise SpecError(errors)
    return Loaded(specs, sorted(warnings), bundles[0] if bundles else None)


def _to_spec(doc: YamlDoc, name: str) -> tuple[Spec | None, list[Problem]]:
    if not isinstance(doc.data, dict):
        return None, [Problem(name, doc.start_line, "", "a spec must be a YAML mapping")]
    api = doc.data.get("apiVersion")
    if api is None and "version" in doc.data:  # Sloth's prometheus/v1 names it 'version'
        api = doc.data["version"]
    if api is None:
        return None, [Problem(name, doc.start_line, "apiVersion", "missing apiVersion (expected 'sloforge/v1')")]
    loader = _LOADERS.get(api) if isinstance(api, str) else None
    if loader is None:
        return None, [
            Problem(
                name,
                doc.line_of(("apiVersion",)),
                "apiVersion",
                f"unknown apiVersion {api!r}: expected one of {', '.join(_LOADERS)}",
            )
        ]
    return loader(doc, name)


def _across_files(specs: list[Spec], bundles: list[Bundle]) -> list[Problem]:
    out = [
        Problem(b.source_file, 1, "kind", f"a second 'kind: Bundle' (the first is in {bundles[0].source_file})")
        for b in bundles[1:]
    ]
    seen: dict[str, str] = {b.name: b.source_file for b in bundles[:1]}
    for s in specs:
        if s.service in seen:
            out.append(
                Problem(s.source_file, 1, "service", f"service {s.service!r} is also defined in {seen[s.service]}")
            )
        seen.setdefault(s.service, s.source_file)
    return out
