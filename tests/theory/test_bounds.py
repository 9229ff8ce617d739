"""Tests for basinlab.theory._bounds: Theorems 4.2-4.5 (PAPER.md section 4), and the theory package's names."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import log_ndtr, ndtr, ndtri

from basinlab import theory
from basinlab.theory import _bounds as T
from basinlab.theory._smoothing import smoothed_score_mc

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
        for t, expected in zip(RATIOS, row, strict=True):
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
    p_a = smoothed_score_mc(score((0, 1)), W, sigma, 2000, key, confidence=0.99)
    after = smoothed_score_mc(score((1, 1)), W, sigma, 2000, key, confidence=0.99)
    bound = T.input_bound(p_a.lower, a, sigma)
    assert bound > 0.9  # the heuristic bound promises a high score ...
    assert after.mean == 0.0 and after.upper < 0.01  # ... but the substituted input scores 0




# ----------------------------------------------------------------- the package's names

# basinlab.theory's __all__ before it was split into bounds / embeddings / smoothing.
PUBLIC = ["weak_bound", "strong_bound", "log_strong_bound", "certified_radius", "local_slope",
          "lipschitz_deviation", "concentration_lower_bound", "input_bound", "INPUT_BOUND_ASSUMPTION",
          "EmbeddingDistances", "embedding_distances", "TokenCertificate", "token_substitutions_certified",
          "SmoothedScore", "smoothed_score_mc"]


def test_theory_package_gives_every_public_name_from_its_home_module():
    homes = (theory._bounds, theory._embeddings, theory._smoothing)
    for name in PUBLIC:
        assert name in theory.__all__, name
        owners = [m for m in homes if name in m.__all__]
        assert len(owners) == 1, (name, owners)  # one home per name
        assert getattr(theory, name) is getattr(owners[0], name), name
    assert theory.strong_bound(0.9, 1.0, 1.0) == pytest.approx(0.610856, abs=1e-6)
