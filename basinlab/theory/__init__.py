"""Theory: the randomized-smoothing bounds of PAPER.md section 4 and certificates built on them.

    from basinlab import theory
    theory.strong_bound(p_a=0.9, r=0.002, sigma=0.01)

Modules: bounds (Theorems 4.2-4.5, numpy, float64), certify (smoothed scores through the landscape
engine and certified lower bounds for a fine-tuned model).
"""

from basinlab.theory.bounds import *  # noqa: F403  (its __all__ is the public bound API)
from basinlab.theory.bounds import __all__ as _bounds_all

__all__ = list(_bounds_all)
