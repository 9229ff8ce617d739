"""basinlab: measure, certify and explore the basin-like loss landscapes of language models.

    import basinlab
    model = basinlab.load("smollm2-135m-instruct")
    ds = basinlab.landscape.landscape(model, basinlab.benchmarks.registry.build("pydoc", model))

Submodules load on first use (`basinlab.theory.strong_bound`, `basinlab.plots.curves`, ...), so
importing basinlab stays cheap and the notebook-only dependencies are needed only by plots/widgets.
"""

import importlib

from . import models as models
from ._version import __version__ as __version__
from .models import Model as Model
from .models import ModelSpec as ModelSpec
from .models import load as load

_SUBMODULES = (
    "basins", "benchmarks", "bound_plots", "certify", "cli", "directions", "go_plots", "landscape", "lmeval",
    "optim", "plots", "pretrain", "results", "sft", "stats", "theory", "train", "widgets", "worstcase",
)

__all__ = ["Model", "ModelSpec", "__version__", "load", "models", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'basinlab' has no attribute {name!r}")
