"""Directions in weight space and the tree maths to move along them.

A direction is a recipe (seed, kind, normalization, filters) regenerated inside jit from its key, or
an explicit pytree shaped like the parameters; theta0 + alpha * delta is always formed from theta0.

    recipe = basinlab.DirectionRecipe(seed=3, normalization="filter")
    delta = basinlab.directions.regenerate(recipe, model.params)
    theta = basinlab.directions.perturb(model.params, [delta], [0.01])
    theta = basinlab.directions.perturbed(model.params, recipe, 0.01)   # the same point, compiled once

Below every layer that perturbs weights (landscape sweeps, the lm-eval backend, worst-case search).
"""

from basinlab.directions._point import perturbed
from basinlab.directions._recipes import (
    KINDS,
    NO_BIASES,
    NO_EMBEDDINGS,
    NO_NORMS,
    NORMALIZATIONS,
    DirectionRecipe,
    check_compatible,
    normalize,
    regenerate,
)
from basinlab.directions._treemath import (
    alpha_between,
    between,
    cosine,
    difference,
    distance,
    dot,
    global_norm,
    perturb,
    plane,
    scale_to_norm,
)

__all__ = [
    "KINDS", "NORMALIZATIONS", "NO_BIASES", "NO_EMBEDDINGS", "NO_NORMS", "DirectionRecipe", "alpha_between",
    "between", "check_compatible", "cosine", "difference", "distance", "dot", "global_norm", "normalize",
    "perturb", "perturbed", "plane", "regenerate", "scale_to_norm",
]
