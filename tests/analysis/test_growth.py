"""Basin growth helpers (basinlab.analysis._growth): relative-tol widths, their summary, loss matching."""

import numpy as np
import pytest
import xarray as xr

from basinlab.analysis import _growth as growth


def linear_landscape(bases, slopes, rise_right=False):
    """score = base - slope * |alpha| per benchmark (2 directions); with rise_right the first
    benchmark rises on alpha > 0 instead (a rise never ends a one-sided basin)."""
    alphas = np.linspace(-0.1, 0.1, 41)
    score = np.empty((2, len(alphas), len(bases)))
    for b, (base, slope) in enumerate(zip(bases, slopes, strict=True)):
        score[:, :, b] = base - slope * np.abs(alphas)
        if rise_right and b == 0:
            score[:, alphas > 0, b] = base + slope * alphas[alphas > 0]
    return xr.Dataset({"score": (("direction", "alpha", "benchmark"), score),
                       "base_score": ("benchmark", np.asarray(bases, float))},
                      coords={"direction": [0, 1], "alpha": alphas, "benchmark": ["a", "b"]})


def test_relative_widths_use_each_benchmarks_own_score():
    # tol = 0.1 * base: edges at |alpha| = 0.1 * base / slope -> a: 0.08 / 2 = 0.04, b: 0.02 / 1 = 0.02
    w = growth.relative_widths(linear_landscape([0.8, 0.2], [2.0, 1.0]), rel_tol=0.1)
    np.testing.assert_allclose(w["tol"].values, [0.08, 0.02])
    np.testing.assert_allclose(w["width"].sel(benchmark="a").values, 0.08, atol=1e-9)
    np.testing.assert_allclose(w["width"].sel(benchmark="b").values, 0.04, atol=1e-9)
    assert not w["censored"].any() and w.attrs["sided"] == "one"
    # an absolute tol of 0.08 would give b (base 0.2) a basin twice as wide as relative-tol does
    absolute = linear_landscape([0.8, 0.2], [2.0, 1.0]).basin.width(0.08, interpolate=True)
    assert float(absolute["width"].sel(benchmark="b").max()) == pytest.approx(0.16)


def test_relative_widths_one_sided_ignores_a_rise_two_sided_does_not():
    ds = linear_landscape([0.5, 0.5], [1.0, 1.0], rise_right=True)
    one = growth.relative_widths(ds, 0.1).sel(benchmark="a")
    two = growth.relative_widths(ds, 0.1, sided="two").sel(benchmark="a")
    assert float(one["right"].max()) == pytest.approx(0.1) and bool(one["censored"].all())
    assert float(two["right"].max()) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="sided"):
        growth.relative_widths(ds, 0.1, sided="both")
    with pytest.raises(ValueError, match="rel_tol"):
        growth.relative_widths(ds, -0.1)


def test_width_summary_is_the_median_with_order_statistics():
    s = growth.width_summary([0.08, 0.01, 0.05, 0.02, 0.07, 0.03, 0.04, 0.06], censored=[0] * 7 + [1])
    assert s["median"] == pytest.approx(0.045) and (s["lo"], s["hi"]) == (0.02, 0.07)
    assert s["coverage"] == pytest.approx(1 - 2 * 9 / 256) and s["n"] == 8 and s["n_censored"] == 1


def test_match_by_loss_pairs_nearest_within_the_gap():
    pairs = growth.match_by_loss([2.5, 2.0, 1.6], [2.6, 2.1, 1.9, 1.7, 1.5], max_gap=0.06)
    assert pairs == []  # nearest gaps are 0.1, 0.1, 0.1
    pairs = growth.match_by_loss([2.5, 2.0, 1.6], [2.6, 2.1, 1.9, 1.7, 1.5], max_gap=0.1 + 1e-9)
    assert [(i, j) for i, j, _ in pairs] == [(0, 0), (1, 1), (2, 3)]
    assert pairs[2][2] == pytest.approx(0.1)
    assert growth.match_by_loss([2.0], [np.nan, 2.01], 0.05) == [(0, 1, pytest.approx(0.01))]
