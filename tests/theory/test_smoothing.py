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


# ---------------------------------------------------------------- one-sided bounds for p_A (certificates)
# Coverage by simulation with known truth. The slack: the measured coverage of R simulated runs has a
# Monte Carlo standard error of sqrt(c (1 - c) / R) around the true coverage; 3 of those (0.02 at
# c = 0.9, R = 2000; 0.052 at R = 300) is what a bound of exact coverage c may fall short by.
# The nominal level is 0.9 (not 0.99) so that a failing bound would show within a few thousand runs.

def _coverage(truth, bounds):
    return float(np.mean(np.asarray(bounds) <= truth))


def test_one_sided_clopper_pearson_lower_bound_covers_bernoulli_draws():
    c, n, reps, p = 0.9, 40, 2000, 0.8
    rng = np.random.default_rng(0)
    draws = rng.random((reps, n)) < p
    est = [T.smoothed_interval(d.astype(float), c, sided="one") for d in draws]
    assert {e.method for e in est} == {"clopper-pearson"} and all(e.k is not None for e in est)
    cover_lo = _coverage(p, [e.lower for e in est])
    cover_hi = _coverage(-p, [-e.upper for e in est])  # the one-sided upper bound of the same method
    two_sided = _coverage(p, [T.smoothed_interval(d.astype(float), c).lower for d in draws])
    print(f"Bernoulli p = {p}, n = {n}, {reps} runs, nominal {c}: one-sided Clopper-Pearson lower bound covers "
          f"{cover_lo:.4f}, upper bound {cover_hi:.4f} (the two-sided interval's lower end: {two_sided:.4f})")
    slack = 3 * math.sqrt(c * (1 - c) / reps)
    assert cover_lo >= c - slack and cover_hi >= c - slack
    # one-sided is tighter: the two-sided lower end is a one-sided bound at (1 + c) / 2 = 0.95
    assert two_sided > cover_lo


def test_one_sided_bounds_cover_item_mean_draws():
    # Each draw's score is the mean of 16 items scored 0/1 under the same noise: item i passes with
    # probability Phi(a_i + 1.5 z), z ~ N(0, 1) shared by the draw's items (a weight perturbation moves
    # every item). E Phi(a + 1.5 z) = Phi(a / sqrt(1 + 1.5^2)), so p_A = mean_i of that, exactly.
    c, n, reps = 0.9, 24, 300
    a = np.linspace(-0.5, 2.5, 16)
    truth = float(np.mean(ndtr(a / math.sqrt(1 + 1.5**2))))
    rng = np.random.default_rng(1)
    z = rng.standard_normal((reps, n, 1))
    items = rng.random((reps, n, a.size)) < ndtr(a + 1.5 * z)
    scores = items.mean(-1)  # [reps, n] item means in [0, 1]
    slack = 3 * math.sqrt(c * (1 - c) / reps)
    lines = []
    for method in (None, "hoeffding"):
        est = [T.smoothed_interval(s, c, sided="one", method=method) for s in scores]
        assert {e.method for e in est} == {method or "betting"}
        cover = _coverage(truth, [e.lower for e in est])
        cover_hi = _coverage(-truth, [-e.upper for e in est])
        lines.append(f"{est[0].method}: lower {cover:.4f}, upper {cover_hi:.4f}")
        assert cover >= c - slack and cover_hi >= c - slack
    # what the bound must not be: Clopper-Pearson on the pooled items, as if each were an independent
    # Bernoulli draw (k = items passed of 8n). The shared noise makes items of a draw agree, so it covers
    # far less often than its nominal level.
    from basinlab.stats import clopper_pearson_lower

    pooled = _coverage(truth, clopper_pearson_lower(items.sum((1, 2)), n * a.size, c))
    print(f"item means (16 items, p_A = {truth:.4f}), n = {n}, {reps} runs, nominal {c}: " + "; ".join(lines)
          + f"; Clopper-Pearson on pooled items (invalid here): {pooled:.4f}")
    assert pooled < c - slack


def test_sixteen_of_sixteen_at_99_percent_is_the_one_sided_0_750():
    est = T.smoothed_interval(np.ones(16), 0.99, sided="one")
    assert est.lower == pytest.approx(0.01 ** (1 / 16)) and round(est.lower, 3) == 0.750
    assert (est.k, est.method, est.sided, est.upper) == (16, "clopper-pearson", "one", 1.0)
    assert "Clopper-Pearson" in est.description
    assert round(T.smoothed_interval(np.ones(16), 0.99).lower, 3) == 0.718  # the two-sided interval's lower end


@pytest.mark.parametrize("kwargs, match", [
    (dict(sided="both"), r"unknown sided 'both'; valid choices: 'one', 'two'"),
    (dict(sided="one", method="wald"), r"unknown method 'wald'; valid choices: 'clopper-pearson', 'hoeffding'"),
    (dict(method="betting"), r"method='betting' picks a one-sided bound: give sided='one'"),
])
def test_smoothed_interval_one_sided_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        T.smoothed_interval([0.5, 1.0], 0.9, **kwargs)
    with pytest.raises(ValueError, match=r"method='clopper-pearson' needs 0/1 draws, got 0\.5"):
        T.smoothed_interval([0.5, 1.0], 0.9, sided="one", method="clopper-pearson")
