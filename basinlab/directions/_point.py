"""One point of weight space: ``theta0 + alpha * delta`` formed eagerly, compiled once per params structure.

The landscape engine forms its points inside its own compiled program; this is the same maths for
code that needs one perturbed model as a params dict (the lm-eval backend, the live explorer's
answers, a user's own evaluation).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from basinlab import _validate as validate
from basinlab.directions import _recipes as recipes
from basinlab.directions import _treemath as treemath

__all__ = ["perturbed"]


def perturbed(theta0: treemath.PyTree, direction: recipes.DirectionRecipe | treemath.PyTree | None,
              alpha: float) -> Any:
    """``theta0 + alpha * delta`` computed in float32 and cast back to each leaf's dtype. direction: a
    :class:`DirectionRecipe` (regenerated inside the compiled program; its seed is traced, so every
    seed and alpha reuse one compilation), a direction pytree shaped like theta0, or None (theta0
    itself). theta0 is not modified; with ``alpha == 0`` theta0 is returned as is (the direction is
    still validated). ValueError names a non-finite alpha or a direction that does not fit theta0."""
    if direction is None:
        return theta0
    recipe = isinstance(direction, recipes.DirectionRecipe)
    if not recipe:
        recipes.check_compatible(theta0, direction)
    alpha = validate.finite("alpha", alpha)
    if alpha == 0.0:
        return theta0
    if recipe:
        # uint32 seed: any valid seed (< 2**32) traces, and fold_in casts to uint32 anyway.
        direction = jax.tree.map(lambda s: jnp.asarray(s, jnp.uint32), direction)
    return _point(theta0, direction, jnp.asarray(alpha, jnp.float32))


@jax.jit
def _point(theta0, direction, alpha):
    # The maths is the landscape engine's own (treemath.perturb, float32).
    if isinstance(direction, recipes.DirectionRecipe):
        direction = recipes.regenerate(direction, theta0)
    return treemath.perturb(theta0, [direction], [alpha])
