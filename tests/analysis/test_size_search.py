"""The basin-size search (basinlab.analysis._size): walk and bisection in sigma over a closed-form
probe (tests/probit.py), its budget and max_sigma, and one small run on the tiny model."""

import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from probit import Probit

import basinlab
from basinlab.analysis._size import search_size, size_from_search
from basinlab.scoring import token_benchmark

TOL = 0.1
PROBIT = Probit()
SIGMA = PROBIT.sigma_star(TOL)
WALK = {"precision": 1e-3, "start": 4e-3, "growth": 2.0, "max_sigma": 10.0}


def run(probe, higher, budget=None, cost=16, **walk):
    """search_size then its Dataset, as basin_size does with a model."""
    settings = {**WALK, **walk}
    sig, g, base, done, stopped = search_size(probe, higher, TOL, budget=budget, cost=cost, **settings)
    return size_from_search(sig, g, base, done, stopped, names=[f"b{k}" for k in range(len(higher))],
                            higher=higher, tol=TOL, confidence=0.95, method="t", n_boot=100, seed=0, attrs={},
                            walk={**settings, "budget": -1 if budget is None else budget,
                                  "n_evaluations_per_probe": cost})


def exact(sigma):
    """Two directions that both score E S exactly (a band of zero width) and one that never drops."""
    f = PROBIT.f(sigma)
    return np.array([[f, 1.0], [f, 1.0]]), np.array([PROBIT.base, 1.0])


def test_search_finds_the_closed_form_sigma_to_its_precision_and_censors_only_at_max_sigma():
    out = run(exact, [True, True], cost=4)
    b0 = out.sel(benchmark="b0")
    # the bracket is 1e-3 wide and f is nearly straight inside it: the interpolation is much closer
    assert abs(b0["sigma"].item() - SIGMA) < 1e-3 * 1e-2
    assert b0["sigma_lo"].item() == b0["sigma_hi"].item() == b0["sigma"].item() and not b0["censored"].item()
    b1 = out.sel(benchmark="b1")
    assert b1["censored"].item() and b1["sigma"].item() == 10.0
    assert b1["label"].item() == ">= 10 (beyond max_sigma = 10)"
    assert out.attrs["stopped"] == "converged" and not out["unresolved"].any()
    assert out.attrs["n_evaluations"] == 4 * out.attrs["n_probes"] == 4 * out.sizes["sigma_grid"]
    # the ladder to 10 (start 4e-3, doubling: 13 rungs) and ~9 bisections of the drop's bracket
    assert out.attrs["n_probes"] < 30


def test_search_on_sampled_directions_agrees_with_the_grid_estimator_of_the_same_directions():
    z = np.random.default_rng(3).normal(size=(8, 4))

    def probe(sigma):
        g = PROBIT.items(z, np.array([-sigma, sigma])).mean(-1).mean(1)  # [N]: mean over items, then signs
        return g[:, None], np.array([PROBIT.base])

    out = run(probe, [True])
    alphas = np.linspace(-1.2, 1.2, 2401)  # step 1e-3, the search's precision
    x = PROBIT.items(z, alphas).mean(-1)[..., None]
    grid = xr.Dataset({"score": (("direction", "alpha", "benchmark"), x), "base_score": ("benchmark", [PROBIT.base])},
                      coords={"alpha": alphas, "benchmark": ["b0"]}).basin.size(TOL)
    # the estimate is a step function of sigma here (0/1 items): both find its first crossing within
    # a bracket of 1e-3; sigma_lo may differ where the band's end crosses between the walk's rungs
    assert abs(out["sigma"].item() - grid["sigma"].item()) <= 2e-3
    assert abs(out["sigma_hi"].item() - grid["sigma_hi"].item()) <= 2e-3
    assert out["sigma_lo"].item() >= grid["sigma_lo"].item() - 2e-3
    assert out.attrs["n_evaluations"] < 0.25 * x.shape[0] * alphas.size  # a fraction of the grid's points


def test_budget_stops_the_search_unresolved_not_censored():
    out = run(exact, [True, True], budget=40, cost=16)  # two probes: 0.004 and 0.008
    assert out.attrs["n_probes"] == 2 and out.attrs["n_evaluations"] == 32
    assert out.attrs["stopped"].startswith("budget: 32 of 40 evaluations spent")
    assert out["unresolved"].all() and not out["censored"].any()
    assert "beyond the last probe = 0.008" in out["label"].sel(benchmark="b0").item()
    assert "unresolved: budget" in out["label"].sel(benchmark="b0").item()


@pytest.mark.slow  # a dozen landscape calls and their compilation: about 20 s on this shared 2-core machine
def test_basin_size_on_the_tiny_model_resumes_from_its_store(tiny_smol, tmp_path):
    # the model's own greedy continuations: top-1 accuracy 1 at theta0 (but the prompt), so it can drop
    prompts = jnp.asarray(np.random.RandomState(0).randint(3, 150, size=(4, 2)), jnp.int32)
    cont = basinlab.generate(tiny_smol.spec, tiny_smol.params, prompts, max_new_tokens=10, eos_ids=[])
    bench = token_benchmark(np.concatenate([prompts, np.asarray(cont)], axis=1), name="greedy")
    kw = dict(tol=0.1, directions=2, max_sigma=0.4, precision=5e-4, start=1e-3, store=tmp_path / "size")
    out = basinlab.basin_size(tiny_smol, bench, **kw)
    assert out.attrs["n_evaluations"] == 4 * out.attrs["n_probes"] and out.sizes["direction"] == 2
    assert out.attrs["covers"] == "directions" and out.attrs["stopped"] == "converged"
    print(f"tiny model: sigma {out['label'].item()}, {out.attrs['n_probes']} probes")
    probes = sorted(p.name for p in (tmp_path / "size").iterdir())
    assert len(probes) == out.attrs["n_probes"]  # one store folder per probe
    again = basinlab.basin_size(tiny_smol, bench, **kw)  # every probe read back from the store
    assert sorted(p.name for p in (tmp_path / "size").iterdir()) == probes
    assert not out["censored"].item() and 0 < out["sigma_lo"].item() <= out["sigma"].item() <= out["sigma_hi"].item()
    for v in ("sigma", "sigma_lo", "sigma_hi", "mean_score"):
        np.testing.assert_array_equal(out[v].values, again[v].values)


def test_basin_size_bad_input_names_the_value(tiny_smol):
    bench = token_benchmark(np.random.RandomState(0).randint(3, 400, size=(2, 8)), name="text")
    with pytest.raises(ValueError, match="tol must be > 0.*got 0"):
        basinlab.basin_size(tiny_smol, bench, tol=0)
    with pytest.raises(ValueError, match="at least 2 directions, got 1"):
        basinlab.basin_size(tiny_smol, bench, directions=1)
    with pytest.raises(ValueError, match="'store' is set by basin_size"):
        basinlab.basin_size(tiny_smol, bench, options=basinlab.SweepOptions(store="elsewhere"))
    with pytest.raises(ValueError, match="budget must be a positive integer, got 0"):
        basinlab.basin_size(tiny_smol, bench, budget=0)
    with pytest.raises(ValueError, match="the probe at sigma=0.004 gave .*nan"):
        run(lambda s: (np.full((2, 1), np.nan), np.ones(1)), [True])
