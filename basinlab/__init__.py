"""basinlab: measure, certify and explore the basin-like loss landscapes of language models.

    import basinlab
    model = basinlab.load("smollm2-135m-instruct")
"""

from . import models as models
from ._version import __version__ as __version__
from .models import Model as Model
from .models import ModelSpec as ModelSpec
from .models import load as load

__all__ = ["Model", "ModelSpec", "__version__", "load", "models"]
