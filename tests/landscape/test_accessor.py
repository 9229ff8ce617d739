"""Tests for basinlab.landscape._accessor: ds.basin.width (snapped and interpolated), strict_fraction, band."""

import numpy as np
import pytest
import xarray as xr

import basinlab  # noqa: F401  registers ds.basin
from basinlab.stats import bootstrap_band, clopper_pearson, clopper_pearson_lower

ALPHAS = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])


def synthetic(scores, alphas=ALPHAS, base=None, nll=None):
    """A landscape-shaped Dataset: score [direction, alpha, benchmark=1] (+ nll), base at alpha = 0."""
    scores = np.asarray(scores, float)[:, :, None]
    i0 = int(np.argmin(np.abs(alphas)))
    dims = ("direction", "alpha", "benchmark")
    data = {"score": (dims, scores),
            "base_score": (("benchmark",), [scores[0, i0, 0] if base is None else base]),
            "higher_is_better": (("benchmark",), [True])}
    if nll is not None:
        data["nll"] = (dims, np.asarray(nll, float)[:, :, None])
        data["base_nll"] = (("benchmark",), [np.asarray(nll, float)[0, i0]])
    return xr.Dataset(data, coords={"direction": np.arange(len(scores)), "alpha": alphas, "benchmark": ["b"]})


# ----------------------------------------------------------------------------- width


def test_width_snapped_to_the_grid_and_interpolated():
    # Direction 0: score 1 - 2|alpha| leaves 1 +- 0.05 at |alpha| = 0.025, between grid points 0 and 0.1.
    # Direction 1: flat, so both edges are censored at the ends of the grid.
    ds = synthetic([1 - 2 * np.abs(ALPHAS), np.ones(5)])
    snapped = ds.basin.width(0.05)
    np.testing.assert_allclose(snapped["left"].values[:, 0], [0.0, -0.2])
    np.testing.assert_allclose(snapped["right"].values[:, 0], [0.0, 0.2])
    np.testing.assert_allclose(snapped["width"].values[:, 0], [0.0, 0.4])
    assert snapped["censored"].values[:, 0].tolist() == [False, True]
    assert snapped.attrs["interpolated"] == 0 and snapped.attrs["tol"] == 0.05
    inter = ds.basin.width(0.05, interpolate=True)
    np.testing.assert_allclose(inter["left"].values[:, 0], [-0.025, -0.2])
    np.testing.assert_allclose(inter["right"].values[:, 0], [0.025, 0.2])
    np.testing.assert_allclose(inter["width"].values[:, 0], [0.05, 0.4])
    assert inter["censored"].values[:, 0].tolist() == [False, True]
    assert inter.attrs["interpolated"] == 1
    # The widest snapped tolerance: within 0.2 of the base up to |alpha| = 0.1 on both sides.
    np.testing.assert_allclose(ds.basin.width(0.2)["width"].values[0, 0], 0.2)


def test_two_sided_width_ends_at_a_rise_and_nan_is_outside():
    # sided="two": a score that *rises* leaves the basin too (|score - base| > tol); NaN ends the walk.
    ds = synthetic([[0.5, 0.9, 0.9, 0.92, 1.0], [np.nan, 0.9, 0.9, np.nan, 0.9]], base=0.9)
    w = ds.basin.width(0.05, sided="two")
    np.testing.assert_allclose(w["left"].values[:, 0], [-0.1, -0.1])
    np.testing.assert_allclose(w["right"].values[:, 0], [0.1, 0.0])
    assert w.attrs["sided"] == "two" and "two-sided" in w["width"].attrs["long_name"]
    wi = ds.basin.width(0.05, interpolate=True, sided="two")
    # Left of direction 0: distance 0 at -0.1, 0.4 at -0.2 -> reaches 0.05 at -0.1 - 0.1 * 0.05 / 0.4.
    np.testing.assert_allclose(wi["left"].values[0, 0], -0.1125)
    # Right of direction 0: distance 0.02 at 0.1, 0.1 at 0.2 -> 0.05 at 0.1 + 0.1 * 0.03 / 0.08.
    np.testing.assert_allclose(wi["right"].values[0, 0], 0.1375)
    # A NaN neighbour has no distance to interpolate: the edge is that grid point.
    np.testing.assert_allclose(wi["right"].values[1, 0], 0.1)


def test_one_sided_width_is_the_default_and_a_rise_never_ends_the_basin():
    # Direction 0 rises to the right (0.9 -> 1.0) and falls to the left; direction 1 is the mirror
    # image of a score whose benchmark is lower-is-better (an error rate): a fall is the good way.
    up = [0.5, 0.9, 0.9, 0.97, 1.0]
    ds = synthetic([up, up], base=0.9)
    one, two = ds.basin.width(0.05), ds.basin.width(0.05, sided="two")
    assert one.attrs["sided"] == "one" and "per direction" in one.attrs["definition"]
    assert "4.1" not in one.attrs["definition"]  # Definition 4.1's basin size is ds.basin.size
    np.testing.assert_allclose(one["right"].values[:, 0], [0.2, 0.2])  # rises: censored at the grid end
    np.testing.assert_allclose(two["right"].values[:, 0], [0.0, 0.0])  # the rise of 0.07 ends it
    np.testing.assert_allclose(one["left"].values[:, 0], [-0.1, -0.1])
    assert one["censored"].values[:, 0].tolist() == [True, True]
    assert one["width"].values[0, 0] == pytest.approx(0.3) and two["width"].values[0, 0] == pytest.approx(0.1)
    # interpolated one-sided: the drop is -0.07 at 0.1 and -0.1 at 0.2 on the right (inside), and
    # 0 at -0.1, 0.4 at -0.2 on the left -> -0.1125
    wi = ds.basin.width(0.05, interpolate=True)
    np.testing.assert_allclose(wi["left"].values[0, 0], -0.1125)
    # lower is better: the same curve is a drop on the right and a gain on the left
    lower = ds.assign(higher_is_better=("benchmark", [False]))
    w = lower.basin.width(0.05)
    np.testing.assert_allclose(w["right"].values[:, 0], [0.0, 0.0])
    np.testing.assert_allclose(w["left"].values[:, 0], [-0.2, -0.2])
    with pytest.raises(ValueError, match=r"unknown sided 'both'; valid choices: 'one', 'two'"):
        ds.basin.width(0.05, sided="both")


def test_width_of_nll_and_an_unsorted_grid():
    order = np.array([3, 0, 4, 2, 1])
    nll = [2.0 + 10 * ALPHAS**2]  # 2.1 at |alpha| = 0.1, 2.4 at 0.2
    ds = synthetic([np.ones(5)], nll=nll).isel(alpha=order)
    w = ds.basin.width(0.15, "nll")
    assert (w["left"].item(), w["right"].item()) == pytest.approx((-0.1, 0.1))
    assert w.attrs["variable"] == "nll"
    wi = ds.basin.width(0.15, "nll", interpolate=True)
    assert wi["right"].item() == pytest.approx(0.1 + 0.1 * 0.05 / 0.3)


def test_width_rejects_bad_arguments():
    ds = synthetic([1 - 2 * np.abs(ALPHAS)])
    with pytest.raises(ValueError, match=r"variable='loss' is not supported; valid: \['score'\]"):
        ds.basin.width(variable="loss")
    with pytest.raises(ValueError, match=r"valid: \['score', 'nll'\]"):
        synthetic([np.ones(5)], nll=[np.ones(5)]).basin.width(variable="higher_is_better")
    for tol in (-0.1, np.nan, np.inf):
        with pytest.raises(ValueError, match="tol must be a finite number >= 0"):
            ds.basin.width(tol)
    with pytest.raises(TypeError, match="tol must be a real number"):
        ds.basin.width("0.1")
    assert ds.basin.width(0.0)["width"].item() == 0.0  # tol = 0 is allowed: exactly the base score
    with pytest.raises(ValueError, match=r"alpha grid must contain 0 \(or straddle it\), got \[0\.1, 0\.3\]"):
        synthetic([np.ones(3)], alphas=np.array([0.1, 0.2, 0.3])).basin.width()
    plane = ds.expand_dims(beta=[0.0, 0.1])
    with pytest.raises(ValueError, match="select a beta first"):
        plane.basin.width()
    with pytest.raises(TypeError):
        ds.basin.width(0.05, "score", True)  # interpolate is keyword-only


# ----------------------------------------------------------------------------- strict_fraction, band


def test_strict_fraction_counts_directions_at_or_above_the_base():
    scores = [[1, 1, 1, 1, 1], [1, 1, 1, 0.9, 1], [1, 1, 1, 0.99, 1], [1, 1, 1, np.nan, 1]]
    ds = synthetic(scores, base=1.0)
    sf = ds.basin.strict_fraction(0.1)
    k, n = 1, 4  # only direction 0 keeps the base score at alpha = 0.1; NaN is not a basin
    assert sf["k"].item() == k and sf["fraction"].item() == k / n
    # one-sided by default: the lower bound only, with all of 1 - confidence in one tail
    assert sf["lower"].item() == pytest.approx(clopper_pearson_lower(k, n, 0.99)) and sf["upper"].item() == 1.0
    assert sf.attrs["alpha"] == 0.1 and sf.attrs["n"] == n and sf.attrs["sided"] == "one"
    assert sf.attrs["n_needed"] == 44 and not bool(sf["holds"].item())
    two = ds.basin.strict_fraction(0.1, sided="two")
    assert (two["lower"].item(), two["upper"].item()) == pytest.approx(clopper_pearson(k, n, 0.99))
    assert two.attrs["n_needed"] == 51
    assert ds.basin.strict_fraction(0.1, tol=0.02)["k"].item() == 2  # 0.99 is within tol


def test_strict_fraction_never_snaps_alpha_to_the_grid():
    ds = synthetic([np.ones(5)], base=1.0)
    with pytest.raises(ValueError, match=r"alpha=0.09 is not on the landscape's grid \(nearest grid values: 0, 0.1\)"):
        ds.basin.strict_fraction(0.09)
    with pytest.raises(ValueError, match=r"nearest grid values: 0.2\)"):
        ds.basin.strict_fraction(0.3)
    assert ds.basin.strict_fraction(0.1 + 1e-12).attrs["alpha"] == 0.1  # float noise is the same point


def test_44_passing_directions_make_the_strict_basin_claim_and_43_do_not():
    rising = [1.0, 1.0, 1.0, 1.0, 1.0]
    ds = synthetic([rising] * 44, base=1.0)
    sf = ds.basin.strict_fraction(0.1, confidence=0.99, fraction=0.9)
    assert sf["lower"].item() > 0.90 and bool(sf["holds"].item())
    failing = ds.copy(deep=True)
    failing["score"][0, 3, 0] = 0.5  # one direction falls at alpha = 0.1
    sf = failing.basin.strict_fraction(0.1, confidence=0.99, fraction=0.9)
    assert sf["k"].item() == 43 and sf["lower"].item() < 0.90 and not bool(sf["holds"].item())
    # two-sided, 44 of 44 is not enough
    assert ds.basin.strict_fraction(0.1, sided="two")["lower"].item() < 0.90


def test_band_is_the_bootstrap_band_of_the_mean():
    rng = np.random.default_rng(0)
    ds = synthetic(rng.uniform(size=(6, 5)))
    band = ds.basin.band(confidence=0.9, n_boot=200, seed=3)
    lo, hi = bootstrap_band(ds["score"].values, axis=0, confidence=0.9, n_boot=200, seed=3)
    np.testing.assert_allclose(band["mean"].values, ds["score"].mean("direction").values)
    np.testing.assert_array_equal(band["lower"].values, lo)
    np.testing.assert_array_equal(band["upper"].values, hi)
    assert band["mean"].dims == ("alpha", "benchmark")
