"""sloforge: SLOs as code for Prometheus.

Public surface:

    from sloforge import load, generate_bundle
    spec_set = load("examples/")          # one or many specs, validated
    files = generate_bundle(spec_set)     # {relative path: text}
"""

from sloforge.model import Spec
from sloforge.spec import SpecError, load

__all__ = ["Spec", "SpecError", "load", "generate_bundle", "__version__"]
__version__ = "0.1.0"


def generate_bundle(specs, **kwargs):  # noqa: ANN001 - thin re-export
    from sloforge.generate.bundle import render_bundle

    return render_bundle(specs, **kwargs)
