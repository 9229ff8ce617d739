"""Tests for basinlab.theory._smoothing: Monte Carlo smoothed scores and their intervals."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import ndtr

from basinlab.directions._recipes import DirectionRecipe, regenerate
from basinlab.stats import clopper_pearson
from basinlab.theory import _smoothing as T


def _halfspace_problem():
    theta = {"a": jnp.array([0.3, -0.2, 0.1]), "b": jnp.full((2, 2), 0.1), "step": jnp.array(3)}
    w = {"a": jnp.array([1.0, 2.0, 0.5]), "b": jnp.array([[1.0, 0.0], [0.0, -1.0]])}
    b = -0.05

    def score(p):
        # Integer leaves must not be perturbed: the score collapses to 0 if they are.
        dot = jnp.vdot(w["a"], p["a"]) + jnp.vdot(w["b"], p["b"])
        return (dot >= b) & (p["step"] == 3)

    margin = float(jnp.vdot(w["a"], theta["a"]) + jnp.vdot(w["b"], theta["b"])) - b
    w_norm = math.sqrt(sum(float(jnp.vdot(v, v)) for v in w.values()))
    return theta, score, margin, w_norm


def test_smoothed_score_mc_halfspace():
    theta, score, margin, w_norm = _halfspace_problem()
    sigma = 0.2
    truth = ndtr(margin / (sigma * w_norm))  # ~0.56
    est = T.smoothed_score_mc(score, theta, sigma, 2000, jax.random.key(0), confidence=0.99)
    assert isinstance(est, T.SmoothedScore)
    assert est.n == 2000 and est.k is not None and est.mean == est.k / 2000
    assert est.lower < truth < est.upper
    assert est.upper - est.lower < 0.07  # a real interval, not [0, 1]
    # Batch size changes the schedule, not the draws.
    again = T.smoothed_score_mc(score, theta, sigma, 2000, jax.random.key(0), confidence=0.99, batch=7)
    assert again == est
    other = T.smoothed_score_mc(score, theta, sigma, 2000, jax.random.key(1), confidence=0.99)
    assert other.k != est.k


def test_smoothed_score_mc_fractional_scores_use_hoeffding():
    # S(theta) = Phi(w . theta); E Phi(w.theta + N(0, s^2 |w|^2)) = Phi(w.theta / sqrt(1 + s^2 |w|^2)).
    theta = {"x": jnp.array([0.4, -0.1])}
    w = jnp.array([1.0, 1.0])
    sigma = 0.5
    score = lambda p: jax.scipy.stats.norm.cdf(jnp.vdot(w, p["x"]))  # noqa: E731
    truth = ndtr(0.3 / math.sqrt(1 + sigma**2 * 2))
    est = T.smoothed_score_mc(score, theta, sigma, 2000, jax.random.key(3), confidence=0.99)
    assert est.k is None
    half = math.sqrt(math.log(2 / 0.01) / (2 * 2000))
    assert est.upper - est.lower == pytest.approx(2 * half, rel=1e-9)
    assert est.lower < truth < est.upper
    assert abs(est.mean - truth) < 0.02


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=0), r"n must be a positive integer, got 0"),
        (dict(n=-5), r"n must be a positive integer, got -5"),
        (dict(sigma=0.0), r"sigma must be positive and finite, got 0\.0"),
        (dict(sigma=-0.1), r"sigma must be positive and finite, got -0\.1"),
        (dict(confidence=1.0), r"confidence must lie in \(0, 1\)"),
        (dict(batch=0), r"batch must be a positive integer"),
    ],
)
def test_smoothed_score_mc_bad_input(kwargs, match):
    args = dict(score_fn=lambda p: 1.0, theta={"x": jnp.zeros(2)}, sigma=0.1, n=10, key=jax.random.key(0))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        T.smoothed_score_mc(**args)


def test_smoothed_score_mc_rejects_scores_outside_unit_interval():
    with pytest.raises(ValueError, match=r"score_fn must return values in \[0, 1\]"):
        T.smoothed_score_mc(lambda p: p["x"][0] * 100.0, {"x": jnp.zeros(2)}, 1.0, 20, jax.random.key(0))


def test_smoothed_score_mc_leaves_get_independent_noise():
    # Two leaves of the same shape: with independent noise u - v ~ N(0, 2 sigma^2), so
    # P(u - v >= sigma) = Phi(-1/sqrt(2)) ~ 0.24; shared noise would give exactly 0.
    theta = {"u": jnp.zeros(3), "v": jnp.zeros(3)}
    score = lambda p: p["u"][1] - p["v"][1] >= 0.1  # noqa: E731
    est = T.smoothed_score_mc(score, theta, 0.1, 1000, jax.random.key(5), confidence=0.99)
    assert est.lower < ndtr(-1 / math.sqrt(2)) < est.upper


def test_noise_is_the_landscape_direction_of_seed_i():
    # Draw i is theta + sigma * regenerate(DirectionRecipe(seed=i), key_base=key): the engine's noise.
    # A score linear in one coordinate recovers the mean of that coordinate's noise over the draws.
    theta = {"x": jnp.array([0.5, 0.0, 0.0], jnp.float32), "n": jnp.array(7)}
    sigma, n, key = 0.01, 50, jax.random.key(11)
    est = T.smoothed_score_mc(lambda p: p["x"][0], theta, sigma, n, key)
    eps = [float(regenerate(DirectionRecipe(seed=i), theta, key_base=key)["x"][0]) for i in range(n)]
    assert est.mean == pytest.approx(float(np.mean(0.5 + sigma * np.asarray(eps, np.float32))), rel=1e-6)
    assert est.k is None and 0.49 < est.mean < 0.51


def test_smoothed_interval_clopper_pearson_and_hoeffding():
    k01 = T.smoothed_interval([1, 0, 1, 1], confidence=0.9)
    lo, hi = clopper_pearson(3, 4, 0.9)
    assert k01 == T.SmoothedScore(0.75, float(lo), float(hi), 4, 3, 0.9, "two-sided clopper-pearson")
    assert k01.sided == "two" and T.SmoothedScore(0.75, 0.5, 0.9, 4, 3, 0.9).method == "unstated"
    frac = T.smoothed_interval(np.full((2, 5), 0.5), confidence=0.95)
    half = math.sqrt(math.log(2 / 0.05) / (2 * 10))
    assert frac.k is None and frac.n == 10 and frac.method == "two-sided hoeffding"
    assert (frac.lower, frac.upper) == pytest.approx((0.5 - half, 0.5 + half))


@pytest.mark.parametrize("scores, confidence, match", [
    ([], 0.95, r"n must be a positive integer, got 0"),
    ([0.5, np.nan], 0.95, "NaN"),
    ([0.5, 1.5], 0.95, r"values in \[0, 1\].*1\.5"),
    ([0.5], 1.0, r"confidence must lie in \(0, 1\)"),
])
def test_smoothed_interval_bad_input(scores, confidence, match):
    with pytest.raises(ValueError, match=match):
        T.smoothed_interval(scores, confidence)
