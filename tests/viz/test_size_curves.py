"""viz.size_curves on basin-size Datasets of the pure search over a closed-form probe (tests/probit.py):
panels, traces, the marked sigma* and interval, censored benchmarks and merged (NaN) sigma grids."""

import numpy as np
import pytest
import xarray as xr
from probit import Probit

from basinlab.analysis._size import search_size, size_from_search
from basinlab.viz import size_curves

TOL = 0.1
PROBIT = Probit()
WALK = {"precision": 1e-2, "start": 4e-2, "growth": 2.0, "max_sigma": 2.0}
Z = np.random.default_rng(3).normal(size=(4, 4))


def probe(sigma):
    """b0: the probit score along 4 sampled directions; b1: never drops (censored at max_sigma);
    b2: its error rate (lower is better: the same basin as b0)."""
    g = PROBIT.items(Z, np.array([-sigma, sigma])).mean(-1).mean(1)  # [N]
    return np.stack([g, np.ones_like(g), 1 - g], axis=1), np.array([PROBIT.base, 1.0, 1 - PROBIT.base])


@pytest.fixture(scope="module")
def size():
    sig, g, base, done, stopped = search_size(probe, [True, True, False], TOL, **WALK)
    return size_from_search(sig, g, base, done, stopped, names=["b0", "b1", "b2"], higher=[True, True, False],
                            tol=TOL, confidence=0.95, method="t", n_boot=100, seed=0, attrs={"model": "probit"},
                            walk={**WALK, "budget": -1, "n_evaluations_per_probe": 8})


def traces(fig, kind, benchmark):
    return [t for t in fig.data if t.meta["kind"] == kind and t.meta["benchmark"] == benchmark]


def test_one_panel_per_benchmark_with_directions_mean_band_and_marks(size):
    fig = size_curves(size)
    n_dir, n_sig = size.sizes["direction"], size.sizes["sigma_grid"]
    assert len({t.xaxis for t in fig.data}) == 3
    for b in ["b0", "b1", "b2"]:
        kinds = [t.meta["kind"] for t in fig.data if t.meta["benchmark"] == b]
        assert kinds.count("direction") == n_dir
        for kind in ("band", "mean", "base", "threshold", "interval", "sigma"):
            assert kinds.count(kind) == 1, (b, kind)
        (mean,) = traces(fig, "mean", b)
        base = float(size["base_score"].sel(benchmark=b))
        assert mean.x[0] == 0.0 and mean.y[0] == base  # every curve starts at theta0
        np.testing.assert_allclose(mean.x[1:], size["sigma_grid"].values)
        np.testing.assert_allclose(mean.y[1:], size["mean_score"].sel(benchmark=b).values)
        assert len(mean.x) == n_sig + 1
    # the threshold: theta0 - tol, or + tol where lower is better
    assert traces(fig, "threshold", "b0")[0].y[0] == pytest.approx(PROBIT.base - TOL)
    assert traces(fig, "threshold", "b2")[0].y[0] == pytest.approx(1 - PROBIT.base + TOL)
    assert "Definition 4.1" in fig.layout.title.text and "probit" in fig.layout.title.text


def test_sigma_and_its_interval_are_marked(size):
    fig = size_curves(size)
    for b in ["b0", "b2"]:
        row = size.sel(benchmark=b)
        assert not row["censored"].item()
        (line,) = traces(fig, "sigma", b)
        assert list(line.x) == pytest.approx([row["sigma"].item()] * 2) and not line.meta["censored"]
        (span,) = traces(fig, "interval", b)
        assert min(span.x) == pytest.approx(row["sigma_lo"].item())
        assert max(span.x) == pytest.approx(row["sigma_hi"].item())
        assert row["label"].item() in " ".join(a.text for a in fig.layout.annotations)
    # b0 and b2 are the same basin, read in opposite orientations
    assert traces(fig, "sigma", "b0")[0].x[0] == pytest.approx(traces(fig, "sigma", "b2")[0].x[0])


def test_censored_benchmark_is_drawn_as_a_lower_bound(size):
    row = size.sel(benchmark="b1")
    assert row["censored"].item() and row["label"].item().startswith(">=")
    fig = size_curves(size)
    (line,) = traces(fig, "sigma", "b1")
    assert line.meta["censored"] and line.line.dash == "dash" and "censored" in line.name
    assert line.x[0] == pytest.approx(WALK["max_sigma"])


def test_merged_searches_with_nan_sigmas_and_options(size):
    """Two searches concatenated over benchmark have NaN where a benchmark was not probed."""
    other = size.isel(benchmark=[0]).assign_coords(benchmark=["late"], sigma_grid=size["sigma_grid"].values * 1.5)
    merged = xr.concat([size, other], dim="benchmark", join="outer", combine_attrs="override")
    assert np.isnan(merged["mean_score"].values).any()
    fig = size_curves(merged)
    for t in fig.data:
        assert np.isfinite(np.asarray(t.x, float)).all() and np.isfinite(np.asarray(t.y, float)).all()
    assert len(traces(fig, "mean", "late")[0].x) == size.sizes["sigma_grid"] + 1
    assert not traces(size_curves(size, show_directions=False), "direction", "b0")
    assert size_curves(size, log_x=True).layout.xaxis.type == "log"
    with pytest.raises(ValueError, match="lacks .*sigma"):
        size_curves(size.drop_vars("sigma"))
