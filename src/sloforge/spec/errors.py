"""Spec errors that name file, line and field: ``FILE:LINE: field.path: what is wrong``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    path: str
    message: str
    level: str = field(default="error", compare=False)

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        prefix = "warning: " if self.level == "warning" else ""
        return f"{self.file}:{self.line}: {prefix}{where}{self.message}"


class SpecError(Exception):
    """One or more problems in spec files; nothing downstream should run."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def dotted(path: tuple) -> str:
    """``('slos', 0, 'sli')`` -> ``slos[0].sli``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
