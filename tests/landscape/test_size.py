"""Definition 4.1's basin size read off a landscape Dataset (basinlab.landscape._size), against a probit
landscape whose E S(theta0 + sigma delta) is known in closed form (tests/probit.py)."""

import numpy as np
import pytest
import xarray as xr
from probit import Probit
from scipy.stats import binom

import basinlab
from basinlab.landscape._size import first_crossing

TOL = 0.1
PROBIT = Probit()
SIGMA = PROBIT.sigma_star(TOL)  # 0.3217...
GRID = np.round(np.linspace(-2.5 * SIGMA, 2.5 * SIGMA, 61), 12)  # symmetric, step 0.083 sigma*, 0 included


def coverage(method: str, n_directions: int, runs: int, **options) -> tuple[float, np.ndarray]:
    """(fraction of runs whose interval holds the true sigma*, [runs] point estimates / sigma*)."""
    hit, est = 0, []
    for r in range(runs):
        ds = PROBIT.dataset(np.random.default_rng(1000 + r), n_directions, GRID).sel(benchmark=["acc"])
        out = basinlab.basin_size_on_grid(ds, TOL, 0.95, method=method, **options)
        hit += int(out["sigma_lo"].item() <= SIGMA <= out["sigma_hi"].item())
        est.append(out["sigma"].item() / SIGMA)
    return hit / runs, np.asarray(est)


def slack_floor(runs: int, nominal: float) -> float:
    """The coverage below which a run count rejects "coverage >= nominal" (one-sided binomial, 0.001)."""
    return binom.ppf(0.001, runs, nominal) / runs


def test_t_interval_covers_the_true_sigma_at_its_nominal_rate_and_the_estimate_recovers_it():
    runs = 300
    cov, est = coverage("t", 8, runs)
    print(f"t interval, 8 directions, {runs} runs: coverage {cov:.3f} "
          f"(nominal 0.95, floor {slack_floor(runs, 0.95):.3f}); "
          f"estimate / sigma*: mean {est.mean():.3f}, 5-95% {np.quantile(est, 0.05):.2f}-{np.quantile(est, 0.95):.2f}")
    assert cov >= slack_floor(runs, 0.95)  # 0.913 at 300 runs: 0.95 - 3.1 binomial sd
    assert abs(est.mean() - 1) < 0.05 and abs(np.median(est) - 1) < 0.05  # grid step is 0.083 sigma*


def test_bootstrap_interval_undercovers_with_few_directions_as_documented():
    # the percentile bootstrap's band uses the plug-in variance and the normal quantile: about 0.90
    # at a nominal 0.95 with 8 directions (module docstring); it must not be far worse than that
    runs = 200
    cov, _ = coverage("bootstrap", 8, runs, n_boot=500)
    print(f"bootstrap interval, 8 directions, {runs} runs: coverage {cov:.3f} (nominal 0.95)")
    assert slack_floor(runs, 0.90) <= cov


def test_size_on_a_grid_reads_both_signs_flips_lower_is_better_and_labels_its_method():
    ds = PROBIT.dataset(np.random.default_rng(0), 8, GRID)
    out = ds.basin.size(TOL)
    # err = 1 - acc with lower better: the same basin (1 - x rounds differently: a few ulps)
    np.testing.assert_allclose(out["sigma"].sel(benchmark="acc"), out["sigma"].sel(benchmark="err"), rtol=1e-12)
    assert np.all(out["sigma_lo"] < out["sigma"]) and np.all(out["sigma"] < out["sigma_hi"])
    assert not out["censored"].any() and out.attrs["method"] == "t" and out.attrs["covers"] == "directions"
    assert out.attrs["one_sign"].startswith("none") and out.sizes["sigma_grid"] == 30
    acc = out.sel(benchmark="acc")
    lo, hi = acc["sigma_lo"].item(), acc["sigma_hi"].item()
    assert acc["label"].item() == f"{acc['sigma'].item():.3g} [{lo:.3g}, {hi:.3g}]"
    # mean over directions and both signs, per sigma, in the native orientation
    j = int(np.argmin(np.abs(GRID - GRID[40])))
    both = ds["score"].sel(benchmark="err").isel(alpha=[j, 60 - j]).mean(["alpha", "direction"]).item()
    assert out["mean_score"].sel(benchmark="err").sel(sigma_grid=abs(GRID[j]), method="nearest").item() == \
        pytest.approx(both, abs=1e-12)
    # positive alphas only: the same sigmas from one sign, said in attrs
    half = basinlab.basin_size_on_grid(ds.sel(alpha=GRID[GRID >= 0]), TOL)
    assert half.attrs["one_sign"].startswith("only one sign") and half.sizes["sigma_grid"] == 30
    # grid resolution: sigma and sigma_lo the last grid sigma inside, sigma_hi the first one outside its band end
    snap = ds.basin.size(TOL, interpolate=False)
    sig = out["sigma_grid"].values
    for v in ("sigma", "sigma_lo", "sigma_hi"):
        assert np.all(np.isin(snap[v].values, np.concatenate([[0.0], sig])))
    assert np.all(snap["sigma"] <= out["sigma"]) and np.all(snap["sigma_hi"] >= out["sigma_hi"])


def test_items_bootstrap_runs_with_base_items_and_covers_items_too():
    ds = PROBIT.dataset(np.random.default_rng(0), 8, GRID)
    out = ds.basin.size(TOL, method="bootstrap", items=True, n_boot=300)
    plain = ds.basin.size(TOL, method="bootstrap", n_boot=300)
    assert out.attrs["covers"].startswith("directions and items")
    assert np.all(out["sigma"] == plain["sigma"])  # the same point estimate
    width = (out["sigma_hi"] - out["sigma_lo"]).values
    assert np.all(width > (plain["sigma_hi"] - plain["sigma_lo"]).values)  # more randomness covered: wider


def curve_ds(curve: np.ndarray, sigmas: np.ndarray, base: float = 1.0) -> xr.Dataset:
    """Two directions with the same score curve on a symmetric grid (a band of zero width)."""
    alphas = np.concatenate([-sigmas[::-1], sigmas])
    vals = np.concatenate([curve[::-1], curve])
    return xr.Dataset({"score": (("direction", "alpha", "benchmark"), np.tile(vals[None, :, None], (2, 1, 1))),
                       "base_score": ("benchmark", [base])},
                      coords={"alpha": alphas, "benchmark": ["b"]})


def test_first_crossing_when_the_mean_is_not_monotone_and_a_rise_never_ends_the_basin():
    sig = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # drops by 0.2 at sigma 2, recovers at 3, drops again at 5: the first crossing (tol 0.1) is 1.5
    out = curve_ds(np.array([1.0, 0.8, 1.0, 1.0, 0.5]), sig).basin.size(0.1)
    assert out["sigma"].item() == pytest.approx(1.5) and out["sigma_lo"].item() == out["sigma_hi"].item() == 1.5
    rise = curve_ds(np.array([1.2, 1.5, 1.9, 2.0, 2.0]), sig).basin.size(0.1)
    assert bool(rise["censored"].item()) and rise["sigma"].item() == 5.0
    assert rise["label"].item() == ">= 5 (beyond max sigma = 5)"
    # inside at 2 (drop 0.05), outside at 3 (0.3): tol is reached 0.05 / 0.25 of the way
    assert first_crossing(sig, np.array([0.0, 0.05, 0.3, 0.0, 0.0]), 0.1) == pytest.approx((2.0, 3.0, 2.2, False))
    assert first_crossing(sig, np.array([0.5, 0, 0, 0, 0]), 0.1)[:2] == (0.0, 1.0)


def test_bad_input_names_the_value():
    ds = PROBIT.dataset(np.random.default_rng(0), 4, GRID)
    for tol in (0, -0.1):
        with pytest.raises(ValueError, match=f"tol must be .*{tol}"):
            ds.basin.size(tol)
    with pytest.raises(ValueError, match="at least 2 directions, got 1"):
        ds.isel(direction=[0]).basin.size(TOL)
    with pytest.raises(ValueError, match="at least 2 directions, got 0"):
        ds.isel(direction=[]).basin.size(TOL)
    with pytest.raises(ValueError, match="no theta0 point: no 'base_score'.*no alpha = 0"):
        ds.drop_vars("base_score").sel(alpha=GRID[GRID != 0]).basin.size(TOL)
    no_base = ds.drop_vars("base_score").basin.size(TOL)  # theta0 from the alpha = 0 column
    assert np.all(no_base["sigma"] == ds.basin.size(TOL)["sigma"])
    nan = ds.copy(deep=True)
    nan["score"][1, 45, 0] = np.nan
    with pytest.raises(ValueError, match=f"score is NaN at direction 1, alpha {GRID[45]:g}, benchmark 'acc'"):
        nan.basin.size(TOL)
    nan_base = ds.copy(deep=True)
    nan_base["base_score"][1] = np.nan
    with pytest.raises(ValueError, match="base_score .* is nan for benchmark 'err'"):
        nan_base.basin.size(TOL)
    with pytest.raises(ValueError, match="unknown method 'z'"):
        ds.basin.size(TOL, method="z")
    with pytest.raises(ValueError, match="items=True .* only method='bootstrap'"):
        ds.basin.size(TOL, items=True)
    with pytest.raises(ValueError, match="items=True needs per-item scores"):
        ds.drop_vars("item_score").basin.size(TOL, method="bootstrap", items=True)
    with pytest.raises(ValueError, match="no alpha != 0"):
        ds.sel(alpha=[0.0]).basin.size(TOL)
    with pytest.raises(ValueError, match="confidence must lie in"):
        ds.basin.size(TOL, confidence=1.0)
