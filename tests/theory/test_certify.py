"""Certificates through the landscape engine, on an analytic case: a half-space indicator score."""

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


@pytest.mark.slow  # 300 Monte Carlo draws through the engine: over a minute on this 2-core machine
def test_smoothed_score_matches_analytic_value_and_the_pure_estimator(model):
    sigma, offset = 0.01, 1.0  # theta0 sits one noise-sd inside the half-space: p = Phi(1)
    value, score_fn, w, wnorm = half_space(model.params, offset)
    bench = Benchmark("halfspace", {"sigma": jnp.float32(sigma)}, score_fn, 1, "indicator")
    est = smoothed_score(model, bench, sigma=sigma, n=300, confidence=0.99)
    assert est.k is not None  # 0/1 draws: Clopper-Pearson
    assert est.lower <= norm.cdf(offset) <= est.upper
    # the same noise as theory.smoothed_score_mc with key(0): identical draws, identical estimate
    pure = smoothed_score_mc(lambda p: score_fn(None, p, {"sigma": sigma}, None).score[0], model.params,
                             sigma, 300, jax.random.key(0), confidence=0.99)
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
    with pytest.raises(ValueError, match="runs is empty"):
        certificates(model, {}, bench, sigma=sigma, n=4)
