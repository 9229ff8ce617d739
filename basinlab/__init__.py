"""basinlab: measure, certify and explore the basin-like loss landscapes of language models.

    import basinlab
    model = basinlab.load("smollm2-135m-instruct")
    ds = basinlab.landscape.landscape(model, basinlab.benchmarks.registry.build("pydoc", model))
    ds.basin.width(tol=0.1)

Layers, each importing only from those before it (README, "Layout"):
models -> benchmarks -> landscape -> theory -> training -> analysis -> viz -> integrations.
Subpackages load on first use (`basinlab.theory.strong_bound`, `basinlab.viz.plots.curves`, ...),
so the notebook-only dependencies are needed only by viz. Importing basinlab registers the
`ds.basin` accessor on xarray Datasets.
"""

import importlib

from basinlab import _aliases
from basinlab import models as models
from basinlab._version import __version__ as __version__
from basinlab.landscape import accessor as _accessor  # noqa: F401  registers ds.basin
from basinlab.models import Model as Model
from basinlab.models import ModelSpec as ModelSpec
from basinlab.models import load as load

_aliases.install()

_LAZY = ("analysis", "benchmarks", "cli", "integrations", "landscape", "stats", "theory", "training",
                "validate", "viz")
_OLD_PATHS = tuple(name.rsplit(".", 1)[1] for name in _aliases.ALIASES)

__all__ = ["Model", "ModelSpec", "__version__", "load", "models", *_LAZY]


def __getattr__(name):
    if name in _LAZY or name in _OLD_PATHS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'basinlab' has no attribute {name!r}")
