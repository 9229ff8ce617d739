"""Certificates through the landscape engine, on an analytic case: a half-space indicator score."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

from basinlab.landscape import SweepOptions
from basinlab.scoring import Benchmark
from basinlab.scoring._base import Scores
from basinlab.theory import smoothed_score_mc, strong_bound
from basinlab.theory._certify import certify, smoothed_score


@pytest.fixture(scope="module")
def model(tiny_smol):
    return tiny_smol


def half_space(params0, offset_sd):
    """S(theta) = 1[w . (theta - theta0) >= b]; E S(theta + eps) = Phi((w.(theta-theta0) - b) / (sigma |w|))."""
    leaves0 = jax.tree.leaves(params0)
    rs = np.random.RandomState(1)
    w = [jnp.asarray(rs.normal(size=x.shape), jnp.float32) for x in leaves0]
    wnorm = float(np.sqrt(sum(float((x**2).sum()) for x in w)))

    def value(params):
        leaves = zip(w, jax.tree.leaves(params), leaves0, strict=True)
        return sum(jnp.sum(wi * (p.astype(jnp.float32) - p0)) for wi, p, p0 in leaves)

    def score_fn(spec, params, data, compute_dtype):
        return Scores(score=(value(params) >= -offset_sd * wnorm * data["sigma"]).astype(jnp.float32)[None])

    return value, score_fn, w, wnorm


@pytest.mark.slow  # 100 Monte Carlo draws through the engine (one block each)
def test_smoothed_score_matches_analytic_value_and_the_pure_estimator(model):
    sigma, offset = 0.01, 1.0  # theta0 sits one noise-sd inside the half-space: p = Phi(1)
    value, score_fn, w, wnorm = half_space(model.params, offset)
    bench = Benchmark("halfspace", {"sigma": jnp.float32(sigma)}, score_fn, 1, "indicator")
    est = smoothed_score(model, bench, sigma=sigma, n=100, confidence=0.99)
    assert est.k is not None  # 0/1 draws: Clopper-Pearson
    assert est.lower <= norm.cdf(offset) <= est.upper
    # the same noise as theory.smoothed_score_mc with key(0): identical draws, identical estimate
    pure = smoothed_score_mc(lambda p: score_fn(None, p, {"sigma": sigma}, None).score[0], model.params,
                             sigma, 100, jax.random.key(0), confidence=0.99)
    assert pure.k == est.k


def test_certificate_holds_for_a_shifted_model(model):
    sigma, offset = 0.01, 2.0
    value, score_fn, w, wnorm = half_space(model.params, offset)
    bench = Benchmark("halfspace", {"sigma": jnp.float32(sigma)}, score_fn, 1, "indicator")
    # fine-tune = move theta0 against w by r = 1.5 sigma: true smoothed score Phi(2 - 1.5)
    r = 1.5 * sigma
    w_tree = jax.tree.unflatten(jax.tree.structure(model.params), w)
    theta_sft = jax.tree.map(lambda p, wi: p - r * wi / wnorm, model.params, w_tree)
    cert = certify(model, theta_sft, bench, sigma=sigma, n=300, confidence=0.99)
    assert abs(cert.r - r) < 1e-4
    assert cert.bound == pytest.approx(strong_bound(cert.p_a.lower, cert.r, sigma))
    assert cert.bound <= norm.cdf(offset - 1.5) + 1e-9  # the bound is below the truth
    assert cert.measured.lower <= norm.cdf(offset - 1.5) <= cert.measured.upper
    assert cert.consistent
    assert "certified" in str(cert)


@pytest.mark.parametrize("kwargs, match", [(dict(sigma=0.0), "sigma"), (dict(sigma=-1.0), "sigma"), (dict(n=0), "n")])
def test_bad_input_names_the_argument(model, kwargs, match):
    _, score_fn, _, _ = half_space(model.params, 0.0)
    bench = Benchmark("halfspace", {"sigma": jnp.float32(0.01)}, score_fn, 1, "indicator")
    with pytest.raises(ValueError, match=match):
        smoothed_score(model, bench, **{"sigma": 0.01, "n": 5, **kwargs})


def test_options_reach_the_engine_and_the_noise_stays_isotropic(model):
    _, score_fn, _, _ = half_space(model.params, 0.0)
    bench = Benchmark("halfspace", {"sigma": jnp.float32(0.01)}, score_fn, 1, "indicator")
    plain = smoothed_score(model, bench, sigma=0.01, n=3)
    chunked = smoothed_score(model, bench, sigma=0.01, n=3, options=SweepOptions(chunk_size=2, progress=True))
    assert (chunked.k, chunked.n, chunked.mean) == (plain.k, plain.n, plain.mean)
    for opts, field in [(SweepOptions(normalization="layer"), "normalization"), (SweepOptions(exclude="embed*"),
                        "exclude"), (SweepOptions(store="s"), "store")]:
        with pytest.raises(ValueError, match=f"'{field}' is set by smoothed_score"):
            smoothed_score(model, bench, sigma=0.01, n=3, options=opts)


def test_certificates_say_when_the_bound_is_vacuous_and_the_largest_certified_radius(model):
    from basinlab.theory import certified_radius
    from basinlab.theory._certify import VACUOUS, Certificate, certificates

    sigma, offset = 0.01, 2.0
    _, score_fn, w, wnorm = half_space(model.params, offset)
    bench = Benchmark("halfspace", {"sigma": jnp.float32(sigma)}, score_fn, 1, "indicator")
    w_tree = jax.tree.unflatten(jax.tree.structure(model.params), w)
    runs = {name: jax.tree.map(lambda p, wi, r=r: p - r * wi / wnorm, model.params, w_tree)
            for name, r in {"near": 0.5 * sigma, "adversarial-like": 250 * sigma}.items()}
    out = certificates(model, runs, bench, sigma=sigma, n=16, confidence=0.99, measure=False)
    assert out["r_over_sigma"].sel(benchmark="halfspace").values == pytest.approx([0.5, 250.0], rel=1e-3)
    p_lower = float(out["p_a_lower"].item())
    assert 0 < p_lower < 1
    near, far = out.sel(benchmark="halfspace", run="near"), out.sel(benchmark="halfspace", run="adversarial-like")
    assert float(near["bound"]) == pytest.approx(strong_bound(p_lower, float(near["r"]), sigma))
    assert not bool(near["vacuous"]) and bool(far["vacuous"]) and float(far["bound"]) < VACUOUS
    assert float(far["max_radius"]) == pytest.approx(certified_radius(p_lower, sigma, p_lower / 2))
    assert np.isnan(float(far["measured_mean"]))
    # the Certificate's own text says it plainly
    p_a = smoothed_score(model, bench, sigma=sigma, n=16, confidence=0.99)
    cert = Certificate("halfspace", sigma, float(far["r"]), p_a, float(far["bound"]), 0.0, None)
    assert cert.vacuous and cert.r_over_sigma == pytest.approx(250, rel=1e-3)
    assert "VACUOUS" in str(cert) and "largest r this p_A certifies" in str(cert)
    assert cert.max_radius(q=0.999) == 0.0 or p_lower > 0.999
    # every one of the 16 draws passes here (Phi(2) = 0.977 each; seeds 0..15, so always the same draws):
    # p_A's lower bound is the one-sided Clopper-Pearson 0.01 ** (1/16) = 0.750, not the two-sided 0.718
    assert (p_a.k, p_a.method) == (16, "clopper-pearson") and round(p_lower, 3) == 0.750 == round(p_a.lower, 3)
    assert out["p_a_method"].item() == "clopper-pearson" and "one-sided exact Clopper-Pearson" in str(cert)
    with pytest.raises(ValueError, match="runs is empty"):
        certificates(model, {}, bench, sigma=sigma, n=4)


@pytest.fixture(scope="module")
def sized(model):
    """A half-space benchmark and its basin size read off a 2-direction landscape (seeds 0 and 1)."""
    import basinlab as bl

    _, score_fn, w, wnorm = half_space(model.params, 1.0)
    bench = Benchmark("halfspace", {"sigma": jnp.float32(0.01)}, score_fn, 1, "indicator")
    ds = bl.landscape(model, bench, directions=2, alphas=[-0.08, -0.02, -0.005, 0.005, 0.02, 0.08])
    size = ds.basin.size(tol=0.1)
    w_tree = jax.tree.unflatten(jax.tree.structure(model.params), w)
    runs = {name: jax.tree.map(lambda p, wi, r=r: p - r * wi / wnorm, model.params, w_tree)
            for name, r in {"a": 0.003, "b": 0.03}.items()}
    return bench, size, runs


def test_certificates_take_sigma_from_a_measured_basin_size(model, sized):
    from basinlab.stats import clopper_pearson_lower
    from basinlab.theory._certify import certificates

    bench, size, runs = sized
    sigma = float(size["sigma"].sel(benchmark="halfspace"))
    assert sigma > 0 and not bool(size["censored"].sel(benchmark="halfspace"))
    out = certificates(model, runs, bench, sigma=size, n=4, confidence=0.99, measure=False)
    print(f"basin size {size['label'].item()}; certificates:\n"
          f"{out[['sigma', 'r_over_sigma', 'p_a_lower', 'p_a_method', 'bound']].to_dataframe()}")
    assert out["sigma"].dims == ("benchmark",) and float(out["sigma"].item()) == sigma
    assert float(out["sigma_lo"].item()) == float(size["sigma_lo"].item())
    assert float(out["sigma_hi"].item()) == float(size["sigma_hi"].item())
    assert out["r_over_sigma"].dims == ("run", "benchmark")
    assert out["r_over_sigma"].sel(benchmark="halfspace").values == pytest.approx(out["r"].values / sigma)
    # p_A's noise: seeds 2.. (after the size's directions 0 and 1, on which sigma was chosen)
    assert out.attrs["first_seed"] == 2 and json.loads(out.attrs["seeds"]) == [2, 3, 4, 5]
    assert "basin size" in out.attrs["sigma_source"] and out.attrs["size_tol"] == pytest.approx(0.1)
    assert out["p_a_method"].item() == "clopper-pearson" and not bool(out["sigma_censored"].item())
    k = round(float(out["p_a_mean"].item()) * 4)
    assert float(out["p_a_lower"].item()) == pytest.approx(clopper_pearson_lower(k, 4, 0.99))
    cert = certify(model, runs["a"], bench, sigma=size, n=4, confidence=0.99, measure=False)
    assert cert.sigma == sigma and cert.sigma_source.startswith("basin size sigma* at tol 0.1")
    assert cert.p_a == certify(model, runs["a"], bench, sigma=sigma, n=4, confidence=0.99, measure=False,
                               first_seed=2).p_a


def test_sigma_from_a_basin_size_bad_input(model, sized):
    from basinlab.theory._certify import _resolve_sigma, certificates

    bench, size, runs = sized
    one = {"a": runs["a"]}
    cases = [
        (size.assign_coords(benchmark=["other"]),
         r"benchmark 'halfspace' is not in the basin-size Dataset given as sigma; it has \['other'\]"),
        (size.drop_vars("sigma_lo"), r"with sigma, sigma_lo, sigma_hi, censored over benchmark; this one lacks "
                                     r"\['sigma_lo'\]"),
        (size.assign(sigma=size["sigma"] * np.nan), r"basin size of benchmark 'halfspace' is sigma = nan"),
        (size.assign(sigma=size["sigma"] * 0), r"basin size of benchmark 'halfspace' is sigma = 0\.0"),
        (size.assign(unresolved=("benchmark", [True])), r"'halfspace' is unresolved"),
        (size.assign_attrs(seeds="[]"), r"records no direction seeds .* pass first_seed="),
        ("0.01", r"sigma must be a positive float or a basin-size Dataset .* got str"),
        ([0.01, 0.02], r"sigma must be a positive float or a basin-size Dataset .* got list"),
        (np.nan, r"sigma must not be NaN, got nan"),
        (-0.01, r"sigma must be positive and finite, got -0\.01"),
        (0, r"sigma must be positive and finite, got 0"),
    ]
    for sigma, match in cases:
        with pytest.raises(ValueError, match=match):
            certificates(model, one, bench, sigma=sigma, n=2)
        with pytest.raises(ValueError, match=match):
            certify(model, runs["a"], bench, sigma=sigma, n=2)
    with pytest.raises(ValueError, match=r"first_seed=1 would reuse the basin size's direction seeds \(up to 1\)"):
        certificates(model, one, bench, sigma=size, n=2, first_seed=1)
    with pytest.raises(ValueError, match=r"unknown method 'wald'"):
        certificates(model, one, bench, sigma=0.01, n=2, method="wald")
    # a censored size (no crossing by the grid's end) is used as it is, and flagged
    censored = _resolve_sigma(size.assign(censored=("benchmark", [True])), ["halfspace"], None)
    assert censored.censored.tolist() == [True] and "censored: a lower bound" in censored.source[0]
    assert censored.first_seed == 2 and _resolve_sigma(size, ["halfspace"], 7).first_seed == 7
