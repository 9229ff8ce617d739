"""Alignment of a fine-tuning update with a direction, against the random-direction null.

    alignment.alignment(run.update, worst.direction)   # cosine, z = cos sqrt(d), p-value vs N(0, 1/d)
"""

from __future__ import annotations

import math
from typing import Any

from basinlab.directions import _recipes as directions
from basinlab.directions import _treemath as treemath
from basinlab.models import count_params

__all__ = ["alignment"]


def alignment(update: dict[str, Any], direction: dict[str, Any], n_random: int = 0, seed: int = 0) -> dict[str, Any]:
    """How aligned a fine-tuning update is with a direction (e.g. the worst case).

    cosine: cos(update, direction); null_std: 1/sqrt(d), the std of the cosine between a fixed
    vector and a random Gaussian direction (cos ~ N(0, 1/d) for large d); z = cosine * sqrt(d);
    p_value: two-sided P(|N(0, 1)| >= |z|) (0.0 where it underflows); random: cosines of `update`
    with n_random random Gaussian directions (an empirical check of the null)."""
    cos = float(treemath.cosine(update, direction))
    d = count_params(update)
    z = cos * math.sqrt(d)
    recipes = [directions.DirectionRecipe(seed=seed + i) for i in range(n_random)]
    rand = [float(treemath.cosine(update, directions.regenerate(r, update))) for r in recipes]
    return {"cosine": cos, "null_std": 1 / math.sqrt(d), "z": z, "p_value": math.erfc(abs(z) / math.sqrt(2)),
            "random": rand, "d": d}
