"""Worst-case collapse against the random basin edge (basinlab.analysis._collapse)."""

import math

import numpy as np
import pytest
import xarray as xr

from basinlab.analysis import _collapse as collapse


def sweep(scores, alphas, base):
    """A Dataset shaped like landscape()'s: score [direction, alpha, benchmark]."""
    scores = np.asarray(scores, float)
    return xr.Dataset(
        {"score": (("direction", "alpha", "benchmark"), scores), "base_score": (("benchmark",), base)},
        coords={"direction": np.arange(scores.shape[0]), "alpha": alphas,
                "benchmark": [f"b{i}" for i in range(scores.shape[2])]})


def test_collapse_compares_first_exit_with_the_median_random_edge():
    alphas = np.array([0.0, 1e-4, 1e-3, 1e-2])
    worst = sweep([[[1.0, 1.0], [1.0, 1.0], [0.2, 1.0], [0.0, 1.0]]], alphas, [1.0, 1.0])
    ra = np.array([-0.02, -0.01, 0.0, 0.01, 0.02])
    rand = sweep([[[0.0, 1], [1.0, 1], [1.0, 1], [1.0, 1], [0.5, 1]],
                  [[0.0, 1], [0.0, 1], [1.0, 1], [1.0, 1], [1.0, 1]]], ra, [1.0, 1.0])
    out = collapse.collapse(worst, rand, tol=0.1)
    assert out["worst_alpha"].values[0] == 1e-3 and math.isinf(out["worst_alpha"].values[1])
    # edges: direction 0 -> 0.01 both sides; direction 1 -> 0 left, 0.02 right (censored)
    assert out["random_edge"].values[0] == pytest.approx(0.01)
    assert out["ratio"].values[0] == pytest.approx(10.0) and np.isnan(out["ratio"].values[1])
    assert bool(out["random_censored"].values[0])
    with pytest.raises(ValueError, match="tol must be >= 0"):
        collapse.collapse(worst, rand, tol=-1)
    with pytest.raises(ValueError, match=r"\['b1'\] are in the worst-case sweep but not in the random one"):
        collapse.collapse(worst, rand.sel(benchmark=["b0"]))


def test_a_rising_score_collapses_only_two_sided():
    alphas = np.array([0.0, 1e-4, 1e-3])
    worst = sweep([[[0.5], [0.7], [0.9]]], alphas, [0.5])  # the score *rises* along the direction
    ra = np.array([-0.01, 0.0, 0.01])
    rand = sweep([[[0.5], [0.5], [0.5]]], ra, [0.5])
    one = collapse.collapse(worst, rand, tol=0.1)
    assert math.isinf(one["worst_alpha"].values[0]) and one.attrs["sided"] == "one"
    two = collapse.collapse(worst, rand, tol=0.1, sided="two")
    assert two["worst_alpha"].values[0] == 1e-4 and two.attrs["sided"] == "two"
    with pytest.raises(ValueError, match="unknown sided"):
        collapse.collapse(worst, rand, sided="up")
