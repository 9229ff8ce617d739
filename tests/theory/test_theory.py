"""Tests for basinlab.theory: randomized-smoothing bounds (PAPER.md section 4)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import log_ndtr, ndtr, ndtri

from basinlab import theory as T

probs = st.floats(0.0, 1.0)
radii = st.floats(0.0, 50.0)
sigmas = st.floats(1e-4, 10.0)
SETTINGS = settings(max_examples=200, deadline=None)

# ----------------------------------------------------------------- PAPER.md values

TABLE = {  # p_A -> strong bound at r/sigma = 0.1, 0.5, 1, 2 (PAPER.md section 4)
    0.6: [0.560938, 0.402588, 0.227637, 0.040349],
    0.9: [0.881308, 0.782761, 0.610856, 0.236240],
    0.99: [0.987005, 0.966101, 0.907638, 0.627919],
}
RATIOS = [0.1, 0.5, 1.0, 2.0]


@pytest.mark.parametrize("sigma", [1.0, 0.003])
def test_strong_bound_table(sigma):
    for p_a, row in TABLE.items():
        for t, expected in zip(RATIOS, row):
            assert abs(T.strong_bound(p_a, t * sigma, sigma) - expected) < 1e-6, (p_a, t)


def test_strong_bound_table_vectorized():
    p = np.array(list(TABLE))[:, None]
    got = T.strong_bound(p, np.array(RATIOS)[None, :] * 0.003, 0.003)
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got, np.array(list(TABLE.values())), atol=1e-6, rtol=0)


def test_weak_bound_values():
    assert abs(T.weak_bound(0.9, 0.1, 1.0) - 0.860106) < 1e-6
    assert abs(T.weak_bound(0.9, 1.0, 1.0) - 0.501058) < 1e-6
    assert abs(T.weak_bound(0.9, 0.003, 0.003) - 0.501058) < 1e-6


def test_inverse_sqrt_2pi():
    # The Lipschitz constant of Thm 4.2 is the largest local slope (at p_A = 1/2).
    assert abs(T.local_slope(0.5, 1.0) - 0.3989422804) < 1e-10
    assert abs((0.9 - T.weak_bound(0.9, 1.0, 1.0)) - 0.3989422804) < 1e-10
    assert abs(T.local_slope(0.5, 0.5) - 2 * 0.3989422804) < 1e-9


# ----------------------------------------------------------------- properties


@SETTINGS
@given(p=probs, r=radii, s=sigmas)
def test_weak_below_strong(p, r, s):
    w, b = T.weak_bound(p, r, s), T.strong_bound(p, r, s)
    assert 0.0 <= w <= b + 1e-12
    assert 0.0 <= b <= 1.0


@SETTINGS
@given(p=probs, s=sigmas)
def test_no_step_no_loss(p, s):
    assert T.strong_bound(p, 0.0, s) == pytest.approx(p, abs=1e-12)
    assert T.weak_bound(p, 0.0, s) == pytest.approx(p, abs=1e-15)


@SETTINGS
@given(p1=probs, p2=probs, r=radii, s=sigmas)
def test_strong_bound_increasing_in_p(p1, p2, r, s):
    lo, hi = sorted([p1, p2])
    assert T.strong_bound(lo, r, s) <= T.strong_bound(hi, r, s) + 1e-12


@SETTINGS
@given(p=probs, r1=radii, r2=radii, s=sigmas)
def test_strong_bound_decreasing_in_r(p, r1, r2, s):
    lo, hi = sorted([r1, r2])
    assert T.strong_bound(p, hi, s) <= T.strong_bound(p, lo, s) + 1e-12


@SETTINGS
@given(p=probs, r=radii, s1=sigmas, s2=sigmas)
def test_strong_bound_increasing_in_sigma(p, r, s1, s2):
    lo, hi = sorted([s1, s2])
    assert T.strong_bound(p, r, lo) <= T.strong_bound(p, r, hi) + 1e-12


@SETTINGS
@given(p1=probs, p2=probs, s=sigmas, q=st.floats(0.01, 0.99))
def test_certified_radius_increasing_in_p(p1, p2, s, q):
    lo, hi = sorted([p1, p2])
    r_lo, r_hi = T.certified_radius(lo, s, q), T.certified_radius(hi, s, q)
    assert 0.0 <= r_lo <= r_hi * (1 + 1e-12) + 1e-15


@SETTINGS
@given(p=probs, s1=sigmas, s2=sigmas, q=st.floats(0.01, 0.99))
def test_certified_radius_increasing_in_sigma(p, s1, s2, q):
    lo, hi = sorted([s1, s2])
    assert 0.0 <= T.certified_radius(p, lo, q) <= T.certified_radius(p, hi, q) * (1 + 1e-12)


@SETTINGS
@given(p=st.floats(0.02, 0.999), s=sigmas, q=st.floats(0.01, 0.99))
def test_certified_radius_is_where_strong_bound_hits_q(p, s, q):
    R = T.certified_radius(p, s, q)
    if p <= q:
        assert R == 0.0
    else:
        assert R > 0
        assert T.strong_bound(p, R, s) == pytest.approx(q, abs=1e-9)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("s", [0.003, 1.0])
def test_local_slope_is_derivative_of_strong_bound(p, s):
    h = 1e-6 * s
    slope = (T.strong_bound(p, 0.0, s) - T.strong_bound(p, h, s)) / h
    assert slope == pytest.approx(T.local_slope(p, s), rel=1e-4)
    assert T.local_slope(p, s) <= 1 / (math.sqrt(2 * math.pi) * s) + 1e-12


def test_lipschitz_deviation_and_concentration():
    expected = 2.0 * 0.01 * math.sqrt(2 * math.log(20.0))
    assert T.lipschitz_deviation(2.0, 0.01, 0.05) == pytest.approx(expected, rel=1e-14)
    assert T.concentration_lower_bound(0.9, 2.0, 0.01, 0.05) == pytest.approx(0.9 - expected, rel=1e-14)
    assert T.lipschitz_deviation(0.0, 0.01, 0.05) == 0.0
    # Smaller delta -> larger deviation; vectorized over delta.
    d = T.lipschitz_deviation(1.0, 1.0, np.array([0.5, 0.1, 1e-6]))
    assert d.shape == (3,) and np.all(np.diff(d) > 0)


# ----------------------------------------------------------------- numerical stability


def test_exact_at_zero_and_one():
    for r in [0.0, 1.0, 1e3, np.inf]:
        assert T.strong_bound(1.0, r, 0.003) == 1.0
        assert T.strong_bound(0.0, r, 0.003) == 0.0
        assert T.weak_bound(0.0, r, 0.003) == 0.0
        assert T.log_strong_bound(1.0, r, 0.003) == 0.0
        assert T.log_strong_bound(0.0, r, 0.003) == -np.inf
    assert T.certified_radius(1.0, 0.003) == np.inf
    assert T.certified_radius(0.0, 0.003) == 0.0
    assert T.local_slope(0.0, 1.0) == 0.0 and T.local_slope(1.0, 1.0) == 0.0
    assert T.strong_bound(0.9, np.inf, 1.0) == 0.0


def test_strong_bound_near_one():
    p = 1 - 1e-12
    tail = 1.0 - p  # exact in float64 (Sterbenz); differs from 1e-12 by rounding of p
    for t in [0.0, 0.5, 3.0, 10.0]:
        got = T.strong_bound(p, t, 1.0)
        assert np.isfinite(got)
        # Independent route: Phi^-1(p) = -Phi^-1(1 - p) through the small argument.
        expected = ndtr(-ndtri(tail) - t)
        assert got == pytest.approx(expected, rel=1e-9)
    assert 1 - T.strong_bound(p, 0.0, 1.0) == pytest.approx(tail, rel=1e-6)
    assert T.strong_bound(p, 0.0, 1.0) < 1.0


def test_strong_bound_far_tail_matches_log_space():
    p, t = 1 - 1e-12, 40.0
    got = T.strong_bound(p, t, 1.0)
    assert got > 0.0  # ~1e-238: the accurate tiny value, not 0 from cancellation
    ref = log_ndtr(ndtri(p) - t)
    assert math.log(got) == pytest.approx(ref, rel=1e-10)
    assert T.log_strong_bound(p, t, 1.0) == pytest.approx(ref, rel=1e-12)


def test_log_strong_bound_where_value_underflows():
    # p_A = 0.9, r/sigma = 40: the bound is ~1e-328 (0 in float64) but its log is finite.
    x = 40.0 - ndtri(0.9)
    # Independent check, the asymptotic series
    # log Phi(-x) = -x^2/2 - log(x sqrt(2 pi)) + log(1 - 1/x^2 + 3/x^4 - 15/x^6 + ...).
    series = -0.5 * x * x - math.log(x * math.sqrt(2 * math.pi))
    series += math.log(1 - x**-2 + 3 * x**-4 - 15 * x**-6)
    got = T.log_strong_bound(0.9, 40.0, 1.0)
    assert got == pytest.approx(series, rel=1e-10)
    assert got == pytest.approx(log_ndtr(ndtri(0.9) - 40.0), rel=1e-14)


def test_strong_bound_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50

    def phi_inv(p):
        return mpmath.sqrt(2) * mpmath.erfinv(2 * mpmath.mpf(p) - 1)

    for p, t in [(0.9, 1.0), (1 - 1e-12, 5.0), (1 - 1e-12, 30.0), (0.3, 8.0)]:
        z = phi_inv(p) - t
        expected = float(mpmath.ncdf(z))
        assert T.strong_bound(p, t, 1.0) == pytest.approx(expected, rel=1e-8)


# ----------------------------------------------------------------- input validation


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: T.strong_bound(1.5, 0.1, 1.0), r"p_a must lie in \[0, 1\], got 1\.5"),
        (lambda: T.weak_bound(-0.1, 0.1, 1.0), r"p_a must lie in \[0, 1\], got -0\.1"),
        (lambda: T.strong_bound([0.5, 2.0], 0.1, 1.0), r"p_a must lie in \[0, 1\], got 2\.0"),
        (lambda: T.strong_bound(np.nan, 0.1, 1.0), r"p_a must not be NaN"),
        (lambda: T.strong_bound(0.5, 0.1, 0.0), r"sigma must be positive and finite, got 0\.0"),
        (lambda: T.weak_bound(0.5, 0.1, -1.0), r"sigma must be positive and finite, got -1\.0"),
        (lambda: T.strong_bound(0.5, -0.1, 1.0), r"r must be >= 0, got -0\.1"),
        (lambda: T.certified_radius(0.5, 1.0, q=1.0), r"q must lie in \(0, 1\), got 1\.0"),
        (lambda: T.certified_radius(0.5, 0.0), r"sigma must be positive"),
        (lambda: T.local_slope(0.5, -2.0), r"sigma must be positive"),
        (lambda: T.lipschitz_deviation(1.0, 1.0, 1.0), r"delta must lie in \(0, 1\), got 1\.0"),
        (lambda: T.lipschitz_deviation(1.0, 1.0, 0.0), r"delta must lie in \(0, 1\), got 0\.0"),
        (lambda: T.lipschitz_deviation(-1.0, 1.0, 0.1), r"L must be >= 0, got -1\.0"),
        (lambda: T.input_bound(0.5, -1.0, 1.0), r"embedding_shift must be >= 0"),
        (lambda: T.input_bound(0.5, np.ones(3), 1.0), r"embedding_shift .* 1-D"),
        (lambda: T.input_bound(0.5, 1.0, 0.0), r"sigma must be positive"),
        (lambda: T.token_substitutions_certified(None, 0.9, 1.0, distance=0.0), r"distance must be positive"),
        (lambda: T.token_substitutions_certified(np.eye(3), 0.9, 1.0, quantile=0.0), r"quantile must lie"),
        (lambda: T.embedding_distances(np.ones((1, 4))), r"W must be an embedding matrix"),
    ],
)
def test_bad_input_names_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------- Thm 4.5 (inputs)


def test_input_bound_scalar_and_per_token():
    assert T.input_bound(0.9, 0.5, 1.0) == T.strong_bound(0.9, 0.5, 1.0)
    shifts = np.array([[3.0, 0.0], [0.0, 4.0]])  # Frobenius norm 5
    assert T.input_bound(0.9, shifts, 10.0) == pytest.approx(T.strong_bound(0.9, 5.0, 10.0), rel=1e-15)
    assert T.input_bound(0.9, jnp.asarray(shifts), 10.0) == pytest.approx(T.strong_bound(0.9, 5.0, 10.0))
    batched = np.stack([shifts, 2 * shifts])  # [2, n_tokens, d_model]
    np.testing.assert_allclose(T.input_bound(0.9, batched, 10.0), T.strong_bound(0.9, [5.0, 10.0], 10.0))
    assert "equal-in-distribution" in T.input_bound.__doc__
    assert "W = (0, a)" in T.input_bound.__doc__


def test_input_bound_counterexample_from_docstring():
    # Vocabulary {A, B}, W = (0, a): "A B" -> "B B" breaks Thm 4.5 without its assumption.
    a, sigma, c = 0.01, 1.0, 0.05
    W = {"W": jnp.array([0.0, a])}
    key = jax.random.key(7)
    score = lambda tokens: (lambda p: jnp.abs(p["W"][tokens[0]] - p["W"][tokens[1]]) >= c)  # noqa: E731
    p_a = T.smoothed_score_mc(score((0, 1)), W, sigma, 2000, key, confidence=0.99)
    after = T.smoothed_score_mc(score((1, 1)), W, sigma, 2000, key, confidence=0.99)
    bound = T.input_bound(p_a.lower, a, sigma)
    assert bound > 0.9  # the heuristic bound promises a high score ...
    assert after.mean == 0.0 and after.upper < 0.01  # ... but the substituted input scores 0


def _brute_force_nearest(W):
    d = np.sqrt(((W[:, None, :].astype(np.float64) - W[None, :, :]) ** 2).sum(-1))
    d[d == 0] = np.inf  # self and exact duplicates
    return d.min(axis=1), d


def test_embedding_distances_match_brute_force():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(300, 16)).astype(np.float32)
    W[10] = W[20]  # duplicate rows must not count as nearest neighbours
    W[30] = W[20]
    nn_true, full = _brute_force_nearest(W)
    out = T.embedding_distances(W, n_pairs=500, seed=1, n_queries=120, chunk=7)
    assert out.nearest.shape == out.query_ids.shape == (120,)
    assert len(np.unique(out.query_ids)) == 120
    np.testing.assert_allclose(out.nearest, nn_true[out.query_ids], rtol=1e-12)
    every = T.embedding_distances(W, n_pairs=0, n_queries=None)
    np.testing.assert_allclose(every.nearest, nn_true, rtol=1e-12)
    assert every.pairwise.shape == (0,)
    # Each sampled pair distance is a distance between two different tokens.
    finite = np.sort(full[np.isfinite(full)])
    idx = np.clip(np.searchsorted(finite, out.pairwise), 1, len(finite) - 1)
    nearest_entry = np.minimum(abs(finite[idx] - out.pairwise), abs(finite[idx - 1] - out.pairwise))
    assert out.pairwise.shape == (500,) and np.all(nearest_entry < 1e-9)
    # Same seed, same sample; pairwise mean near the population mean.
    again = T.embedding_distances(W, n_pairs=500, seed=1, n_queries=120)
    np.testing.assert_array_equal(again.pairwise, out.pairwise)
    assert out.pairwise.mean() == pytest.approx(finite.mean(), rel=0.05)
    assert T.embedding_distances(W, n_pairs=10, nearest=False).nearest is None


def test_embedding_distances_accepts_bf16_jax():
    W = jax.random.normal(jax.random.key(0), (64, 8), dtype=jnp.bfloat16)
    out = T.embedding_distances(W, n_pairs=20, n_queries=None)
    nn_true, _ = _brute_force_nearest(np.asarray(W, dtype=np.float32))
    np.testing.assert_allclose(out.nearest, nn_true, rtol=1e-12)


def test_token_substitutions_certified_known_geometry():
    # 1-D tokens at 0, 1, 3, 3: nearest nonzero distances 1, 1, 2, 2 (duplicate ignored).
    W = np.array([[0.0], [1.0], [3.0], [3.0]])
    p_a, sigma, q = 0.99, 3.0, 0.5
    cert = T.token_substitutions_certified(W, p_a, sigma, q, n_queries=None)
    assert cert.distance == 2.0  # conservative: the largest nearest-neighbour distance
    R = sigma * (ndtri(p_a) - ndtri(q))
    assert cert.radius == pytest.approx(R)
    assert cert.k == math.floor((R / 2.0) ** 2) == 12
    assert T.input_bound(p_a, math.sqrt(cert.k) * 2.0, sigma) >= q
    assert T.input_bound(p_a, math.sqrt(cert.k + 1) * 2.0, sigma) < q
    assert "equal-in-distribution" in cert.assumption
    typical = T.token_substitutions_certified(W, p_a, sigma, q, n_queries=None, quantile=0.25)
    assert typical.distance == 1.0 and typical.k == math.floor(R**2)


def test_token_substitutions_certified_edges():
    assert T.token_substitutions_certified(None, 1.0, 0.1, distance=0.5).k == math.inf
    assert T.token_substitutions_certified(None, 0.4, 0.1, q=0.5, distance=0.5).k == 0
    # Exactly at the boundary: r = sqrt(k) * d with k = 4 must still be certified.
    p = float(ndtr(ndtri(0.5) + 2.0))  # certified radius 2 * sigma with sigma = 1
    assert T.token_substitutions_certified(None, p, 1.0, distance=1.0).k in (3, 4)


# ----------------------------------------------------------------- Monte Carlo


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
