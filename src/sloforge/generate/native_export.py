"""Specs as native ``sloforge/v1`` YAML: what ``sloforge import`` writes for Sloth, Pyrra and OpenSLO files.

Only what differs from the defaults is written, so the file reads like one an
SRE would write; loading it gives back the same model.
"""

from __future__ import annotations

from collections.abc import Sequence

from sloforge.generate.yamlout import dump
from sloforge.model import Spec


def to_native(specs: Sequence[Spec]) -> str:
    """One YAML document per spec, each headed by where it came from."""
    docs = []
    for spec in specs:
        data = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True, exclude_none=True)
        data = {"apiVersion": "sloforge/v1", **{k: v for k, v in data.items() if k not in ("apiVersion", "kind")}}
        header = f"# Imported by sloforge from {spec.source_file}: review, then keep this file as the source.\n"
        docs.append(dump(data, header))
    return "---\n".join(docs)
