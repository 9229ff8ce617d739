"""Alignment of an update with a direction (basinlab.analysis._alignment) against the random null."""

import math

import jax
import numpy as np
import pytest

from basinlab.analysis import _alignment as alignment
from basinlab.directions import _recipes as D
from basinlab.models import count_params


def test_alignment_against_the_random_null(tiny_smol):
    u = D.regenerate(D.DirectionRecipe(seed=100), tiny_smol.params)
    same = alignment.alignment(u, jax.tree.map(lambda x: 3.0 * x, u))
    assert same["cosine"] == pytest.approx(1.0, abs=1e-6)
    assert same["z"] == pytest.approx(math.sqrt(same["d"]), rel=1e-5) and same["p_value"] == 0.0
    out = alignment.alignment(u, D.regenerate(D.DirectionRecipe(seed=101), tiny_smol.params), n_random=20)
    assert out["null_std"] == pytest.approx(1 / math.sqrt(count_params(tiny_smol.params)))
    # Independent Gaussian directions: cosines ~ N(0, 1/d); 20 draws stay inside 5 std.
    assert abs(out["z"]) < 5 and np.all(np.abs(out["random"]) < 5 * out["null_std"])
    assert 0.0 < out["p_value"] <= 1.0
    assert 0.3 * out["null_std"] < np.std(out["random"]) < 2 * out["null_std"]
