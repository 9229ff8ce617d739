"""Tests for basinlab.stats: Clopper-Pearson intervals and bootstrap bands."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from basinlab.stats import bootstrap_band, clopper_pearson

# ----------------------------------------------------------------- Clopper-Pearson


@pytest.mark.parametrize(
    "k, n, lo, hi",
    [(48, 50, 0.827498, 0.997911), (45, 50, 0.741950, 0.977782)],  # PAPER.md section 4
)
def test_clopper_pearson_paper_values(k, n, lo, hi):
    lower, upper = clopper_pearson(k, n, confidence=0.99)
    assert abs(lower - lo) < 1e-6
    assert abs(upper - hi) < 1e-6


def test_clopper_pearson_matches_scipy_grid():
    for n in [1, 2, 3, 7, 20, 50, 137, 1000]:
        k = np.arange(n + 1)
        for conf in [0.8, 0.95, 0.99]:
            lower, upper = clopper_pearson(k, n, conf)  # vectorized over k
            assert lower.shape == upper.shape == (n + 1,)
            # Every k for small n; a spread of k (both ends included) for large n.
            ks = range(n + 1) if n <= 50 else sorted({0, 1, 2, n // 3, n // 2, n - 2, n - 1, n})
            for kk in ks:
                ci = binomtest(kk, n).proportion_ci(confidence_level=conf, method="exact")
                assert lower[kk] == pytest.approx(ci.low, abs=1e-10), (kk, n, conf)
                assert upper[kk] == pytest.approx(ci.high, abs=1e-10), (kk, n, conf)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 5000),
    frac=st.floats(0, 1),
    conf=st.floats(0.5, 0.999),
)
def test_clopper_pearson_matches_scipy_hypothesis(n, frac, conf):
    k = int(round(frac * n))
    lower, upper = clopper_pearson(k, n, conf)
    ci = binomtest(k, n).proportion_ci(confidence_level=conf, method="exact")
    assert lower == pytest.approx(ci.low, abs=1e-9)
    assert upper == pytest.approx(ci.high, abs=1e-9)
    assert 0.0 <= lower <= k / n <= upper <= 1.0


def test_clopper_pearson_exact_endpoints_and_broadcasting():
    lower, upper = clopper_pearson(np.array([0, 10]), np.array([[10], [20]]), 0.95)
    assert lower.shape == (2, 2)
    assert lower[0, 0] == 0.0 and lower[1, 0] == 0.0  # k = 0
    assert upper[0, 1] == 1.0  # k = n = 10
    assert upper[1, 1] < 1.0  # k = 10 of 20
    assert 0.0 < upper[0, 0] < 1.0 and 0.0 < lower[0, 1] < 1.0
    # Closed form at k = 0: upper = 1 - (alpha/2)^(1/n).
    assert upper[0, 0] == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-12)
    # Scalar input gives scalars.
    lo, hi = clopper_pearson(3, 10)
    assert np.ndim(lo) == 0 and np.ndim(hi) == 0


def test_clopper_pearson_wider_at_higher_confidence():
    lo90, hi90 = clopper_pearson(30, 50, 0.90)
    lo99, hi99 = clopper_pearson(30, 50, 0.99)
    assert lo99 < lo90 < 0.6 < hi90 < hi99


@pytest.mark.parametrize(
    "k, n, conf, match",
    [
        (0, 0, 0.95, r"n must be a positive integer, got 0"),
        (1, -3, 0.95, r"n must be a positive integer, got -3"),
        (1, 2.5, 0.95, r"n must be a positive integer, got 2\.5"),
        (-1, 10, 0.95, r"k must lie in \[0, n\], got k=-1 for n=10"),
        (11, 10, 0.95, r"k must lie in \[0, n\], got k=11 for n=10"),
        (1.5, 10, 0.95, r"k must be an integer"),
        (1, 10, 0.0, r"confidence must lie in \(0, 1\), got 0\.0"),
        (1, 10, 1.0, r"confidence must lie in \(0, 1\)"),
        (1, 10, 95, r"confidence must lie in \(0, 1\), got 95"),
        ([1, 2], [10, 0], 0.95, r"n must be a positive integer, got 0"),
    ],
)
def test_clopper_pearson_bad_input(k, n, conf, match):
    with pytest.raises(ValueError, match=match):
        clopper_pearson(k, n, conf)


# ----------------------------------------------------------------- bootstrap band


def test_bootstrap_band_deterministic_and_seeded():
    x = np.random.default_rng(1).normal(size=(30, 5))
    a = bootstrap_band(x, seed=3)
    b = bootstrap_band(x, seed=3)
    c = bootstrap_band(x, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_bootstrap_band_shape_axis_and_contains_mean():
    x = np.random.default_rng(2).normal(size=(4, 25, 3))
    lo, hi = bootstrap_band(x, axis=1)
    assert lo.shape == hi.shape == (4, 3)
    m = x.mean(axis=1)
    assert np.all(lo < m) and np.all(m < hi)
    lo2, hi2 = bootstrap_band(x, axis=-2)
    np.testing.assert_array_equal(lo, lo2)


def test_bootstrap_band_width_matches_normal_theory():
    # For a mean of n iid N(0, 1) draws the 95% band is about +-1.96/sqrt(n).
    x = np.random.default_rng(3).normal(size=400)
    lo, hi = bootstrap_band(x, confidence=0.95, n_boot=4000)
    assert hi - lo == pytest.approx(2 * 1.96 / np.sqrt(400), rel=0.15)
    lo80, hi80 = bootstrap_band(x, confidence=0.80, n_boot=4000)
    assert lo < lo80 < hi80 < hi


def test_bootstrap_band_nan_aware():
    x = np.array(
        [
            [1.0, np.nan, 2.0],
            [1.0, np.nan, 4.0],
            [1.0, np.nan, np.nan],
            [1.0, np.nan, 6.0],
        ]
    )
    lo, hi = bootstrap_band(x, axis=0, n_boot=500)
    assert lo[0] == hi[0] == 1.0  # constant column: degenerate band
    assert np.isnan(lo[1]) and np.isnan(hi[1])  # all-NaN column
    assert np.isfinite(lo[2]) and np.isfinite(hi[2])  # NaN ignored, not propagated
    assert 2.0 <= lo[2] <= 4.0 <= hi[2] <= 6.0


def test_bootstrap_band_single_row():
    lo, hi = bootstrap_band(np.array([[0.3, 0.7]]))
    np.testing.assert_allclose(lo, [0.3, 0.7])
    np.testing.assert_allclose(hi, [0.3, 0.7])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(confidence=1.2), r"confidence must lie in \(0, 1\), got 1\.2"),
        (dict(n_boot=0), r"n_boot must be a positive integer, got 0"),
        (dict(axis=5), r"axis 5 is out of range"),
    ],
)
def test_bootstrap_band_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_band(np.ones((3, 2)), **kwargs)


def test_bootstrap_band_empty_or_scalar():
    with pytest.raises(ValueError, match="values must have at least one entry"):
        bootstrap_band(np.ones((0, 2)))
    with pytest.raises(ValueError, match="values must be at least 1-D"):
        bootstrap_band(1.0)


# ----------------------------------------------------------------- one-sided bound, McNemar


def test_one_sided_clopper_pearson_lower_bound():
    from basinlab.stats import clopper_pearson_lower, directions_needed

    # The strict-basin claim at 99% / 90%: 44 of 44 directions make it, 43 of 44 do not.
    assert clopper_pearson_lower(44, 44, 0.99) > 0.90
    assert clopper_pearson_lower(44, 44, 0.99) == pytest.approx(0.01 ** (1 / 44))
    assert clopper_pearson_lower(43, 44, 0.99) < 0.90
    assert clopper_pearson_lower(43, 43, 0.99) < 0.90
    # two-sided needs 51: the lower end of the two-sided 99% interval puts only 0.5% in that tail
    assert clopper_pearson(50, 50, 0.99)[0] < 0.90 < clopper_pearson(51, 51, 0.99)[0]
    assert directions_needed(0.9, 0.99) == 44 and directions_needed(0.9, 0.99, sided="two") == 51
    assert directions_needed(0.4, 0.5) == 1 and directions_needed(0.5, 0.5) == 2  # 0.5 ** 1 is not > 0.5
    for k, n, c in [(0, 10, 0.95), (3, 10, 0.9), (10, 10, 0.99), (37, 50, 0.8)]:
        ci = binomtest(k, n, alternative="greater").proportion_ci(confidence_level=c, method="exact")
        assert clopper_pearson_lower(k, n, c) == pytest.approx(ci.low, abs=1e-10)
        # the one-sided bound at c is the two-sided interval's lower end at 2c - 1
        assert clopper_pearson_lower(k, n, c) == pytest.approx(clopper_pearson(k, n, 2 * c - 1)[0], abs=1e-12)
    np.testing.assert_allclose(clopper_pearson_lower(np.array([1, 2]), 4, 0.9),
                               [clopper_pearson_lower(1, 4, 0.9), clopper_pearson_lower(2, 4, 0.9)])
    with pytest.raises(ValueError, match="k must lie in"):
        clopper_pearson_lower(5, 4)
    with pytest.raises(ValueError, match="unknown sided 'three'"):
        directions_needed(0.9, sided="three")
    with pytest.raises(ValueError, match="fraction"):
        directions_needed(1.0)


def test_mcnemar_on_a_constructed_table():
    from basinlab.stats import mcnemar_exact

    # 20 items: 10 pass both times, 6 fell (1 -> 0), 1 rose (0 -> 1), 3 fail both times.
    before = np.array([1] * 10 + [1] * 6 + [0] * 1 + [0] * 3, float)
    after = np.array([1] * 10 + [0] * 6 + [1] * 1 + [0] * 3, float)
    out = mcnemar_exact(before, after)
    assert (out["b"], out["c"], out["n"]) == (6, 1, 20)
    assert out["p_value"] == pytest.approx(binomtest(6, 7, 0.5).pvalue)
    assert out["p_fell"] == pytest.approx(binomtest(6, 7, 0.5, alternative="greater").pvalue)
    assert out["p_rose"] == pytest.approx(binomtest(1, 7, 0.5, alternative="greater").pvalue)
    assert mcnemar_exact((6, 1), None) == out | {"n": 7}
    # the unpaired view sees 16/20 vs 11/20; the concordant items do not change the paired test
    more = mcnemar_exact(np.r_[before, np.ones(50)], np.r_[after, np.ones(50)])
    assert more["p_value"] == out["p_value"] and more["n"] == 70
    assert mcnemar_exact(np.ones(5), np.ones(5))["p_value"] == 1.0  # no discordant item
    nan_padded = mcnemar_exact(np.r_[before, np.nan], np.r_[after, np.nan])
    assert nan_padded == out
    with pytest.raises(ValueError, match="0/1 item scores, got 0.5"):
        mcnemar_exact(np.array([0.5, 1.0]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="one shape"):
        mcnemar_exact(np.ones(3), np.ones(4))


def test_median_interval_order_statistics_and_coverage():
    from scipy.stats import binom

    from basinlab.stats import median_interval

    x = np.random.RandomState(0).permutation(np.arange(1.0, 9.0))  # 1..8, shuffled
    med, lo, hi, cov = median_interval(x, 0.9)
    assert (med, lo, hi) == (4.5, 2.0, 7.0) and cov == pytest.approx(1 - 2 * binom.cdf(1, 8, 0.5))
    assert median_interval(x, 0.99)[1:3] == (1.0, 8.0)  # needs k = 1 (coverage 0.992)
    med, lo, hi, cov = median_interval([3.0, 1.0, np.nan, 2.0], 0.9)  # NaN dropped; n = 3 reaches 0.75
    assert med == 2.0 and np.isnan(lo) and np.isnan(hi) and cov == 0.75
    # empirical coverage on normal samples of n = 20 is at least the promised one (up to sampling noise)
    rs = np.random.RandomState(1)
    hits = [lo <= 0 <= hi for lo, hi in (median_interval(rs.normal(size=20), 0.95)[1:3] for _ in range(400))]
    assert np.mean(hits) > 0.93
    with pytest.raises(ValueError, match="at least one finite"):
        median_interval([np.nan])


# ----------------------------------------------------------------- one-sided lower bounds for a mean (p_A)


def test_one_sided_clopper_pearson_all_pass_is_the_closed_form():
    from basinlab.stats import mean_lower_bound

    # 16 of 16 at 99% one-sided: 0.01 ** (1/16) = 0.750, not the two-sided interval's lower end 0.718
    assert mean_lower_bound(np.ones(16), 0.99, "clopper-pearson") == pytest.approx(0.01 ** (1 / 16), abs=1e-12)
    assert round(mean_lower_bound(np.ones(16), 0.99, "clopper-pearson"), 3) == 0.750
    assert round(float(clopper_pearson(16, 16, 0.99)[0]), 3) == 0.718


@pytest.mark.parametrize("method", ["hoeffding", "bernstein", "betting"])
def test_mean_lower_bounds_cover_at_their_nominal_rate(method):
    from scipy.stats import binom

    from basinlab.stats import mean_lower_bound

    # per-direction item means: 20 items, each passing with a direction-dependent probability
    # p ~ Beta(8, 2) (true mean 0.8); 400 runs of 32 directions at a one-sided 90%
    rng = np.random.default_rng(7)
    runs, n = 400, 32
    draws = rng.binomial(20, rng.beta(8, 2, size=(runs, n))) / 20
    bounds = np.asarray([mean_lower_bound(x, 0.9, method) for x in draws])
    cov = np.mean(bounds <= 0.8)
    floor = binom.ppf(0.001, runs, 0.9) / runs  # "coverage >= 0.9" rejected below this (one-sided 0.001)
    print(f"{method}: coverage {cov:.3f} over {runs} runs (nominal 0.90, floor {floor:.3f}), "
          f"mean bound {bounds.mean():.3f} (true mean 0.8)")
    assert cov >= floor
    assert bounds.mean() > 0.45  # not vacuous: Hoeffding's 0.8 - 0.19, Bernstein's ~0.5, betting's ~0.7


def test_one_sided_clopper_pearson_covers_bernoulli_draws():
    from basinlab.stats import mean_lower_bound

    rng = np.random.default_rng(8)
    draws = (rng.random((400, 16)) < 0.8).astype(float)
    cov = np.mean([mean_lower_bound(x, 0.9, "clopper-pearson") <= 0.8 for x in draws])
    print(f"clopper-pearson: coverage {cov:.3f} over 400 runs (nominal 0.90)")
    assert cov >= 0.9 - 3 * np.sqrt(0.09 / 400)


def test_mean_lower_bounds_order_and_bad_input():
    from basinlab.stats import MEAN_BOUNDS, mean_lower_bound

    tight = 0.95 + 0.01 * np.random.default_rng(0).standard_normal(400)  # barely varies
    hoeff, bern, bet = (mean_lower_bound(tight, 0.99, m) for m in ("hoeffding", "bernstein", "betting"))
    assert hoeff < bern < tight.mean() and hoeff < bet < tight.mean()  # variance-adaptive bounds are tighter
    assert set(MEAN_BOUNDS) == {"clopper-pearson", "hoeffding", "bernstein", "betting"}
    assert mean_lower_bound(np.zeros(5), 0.99) == 0.0
    with pytest.raises(ValueError, match=r"values must lie in \[0, 1\], got 1.5"):
        mean_lower_bound([0.5, 1.5])
    with pytest.raises(ValueError, match="got nan"):
        mean_lower_bound([0.5, np.nan])
    with pytest.raises(ValueError, match="needs 0/1 draws, got 0.5"):
        mean_lower_bound([1.0, 0.5], method="clopper-pearson")
    with pytest.raises(ValueError, match="at least 2 draws"):
        mean_lower_bound([0.5], method="bernstein")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        mean_lower_bound([])
    with pytest.raises(ValueError, match="unknown method 'wald'"):
        mean_lower_bound([0.5], method="wald")


def test_adjust_p_holm_bonferroni_and_bh_on_textbook_examples():
    from basinlab.stats import adjust_p

    # Holm on four p-values by hand: sorted 0.005*4, 0.01*3, 0.03*2 (running max 0.06), 0.04*1 -> 0.06.
    np.testing.assert_allclose(adjust_p([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(adjust_p([0.01, 0.04, 0.03, 0.005], "bonferroni"), [0.04, 0.16, 0.12, 0.02])
    # Benjamini and Hochberg (1995), section 4: 15 p-values, FDR 0.05 rejects the four smallest.
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719,
         0.6528, 0.7590, 1.0000]
    bh = adjust_p(p, "bh")
    assert np.sum(bh <= 0.05) == 4 and bh[3] == pytest.approx(0.0095 * 15 / 4)
    assert np.all(np.diff(bh) >= 0)  # monotone in p
    # Holm on the same family rejects three (0.0095 * 12 = 0.114 > 0.05).
    assert np.sum(adjust_p(p, "holm") <= 0.05) == 3
    # The case: p = 0.016 among 29 tests does not survive Holm.
    assert adjust_p([0.016] + [0.5] * 28)[0] > 0.05


def test_adjust_p_keeps_shape_and_nan_and_rejects_bad_input():
    from basinlab.stats import adjust_p

    out = adjust_p([[0.01, np.nan], [0.02, 0.5]])
    assert out.shape == (2, 2) and np.isnan(out[0, 1])
    np.testing.assert_allclose(out[[0, 1, 1], [0, 0, 1]], [0.03, 0.04, 0.5])  # m = 3: the NaN is no test
    assert np.all(np.isnan(adjust_p([np.nan, np.nan])))
    with pytest.raises(ValueError, match=r"unknown method 'fdr'.*'holm'"):
        adjust_p([0.1], "fdr")
    with pytest.raises(ValueError, match=r"p_values must lie in \[0, 1\], got 1.5"):
        adjust_p([0.1, 1.5])


def test_sign_test_counts_and_exact_p():
    from basinlab.stats import sign_test

    r = sign_test([0.3, 0.1, 0.2])  # 3 of 3 seeds point one way
    assert (r["positive"], r["negative"], r["n"]) == (3, 0, 3) and r["p_value"] == pytest.approx(0.125)
    assert sign_test([0.3, 0.1, 0.2], "two-sided")["p_value"] == pytest.approx(0.25)
    assert sign_test([0.3, -0.1, 0.0, np.nan], "less")["p_value"] == pytest.approx(0.75)  # zero and NaN dropped
    assert sign_test([0.0])["p_value"] == 1.0
    with pytest.raises(ValueError, match="alternative"):
        sign_test([1.0], "bigger")


def _nested(rng, n_seeds, n_dirs, tau, s):
    """A nested design: a seed effect N(0, tau^2) shared by its directions, direction noise N(0, s^2)."""
    effect = rng.normal(0.0, tau, n_seeds)
    values = (effect[:, None] + rng.normal(0.0, s, (n_seeds, n_dirs))).ravel()
    return values, np.repeat(np.arange(n_seeds), n_dirs)


def test_cluster_interval_covers_a_nested_design_where_pooling_does_not():
    """True mean 0; Var(mean) = tau^2/S + s^2/(S D). With a strong seed effect the pooled t-interval
    (units as independent) undercovers badly; both cluster intervals cover near their nominal rate."""
    from scipy.stats import t as student_t

    from basinlab.stats import cluster_interval

    rng = np.random.default_rng(0)
    runs, n_seeds, n_dirs, conf = 200, 12, 8, 0.9
    hits = {"bootstrap": 0, "t": 0, "pooled": 0}
    widths = []
    for r in range(runs):
        values, clusters = _nested(rng, n_seeds, n_dirs, tau=1.0, s=1.0)
        for method in ("bootstrap", "t"):
            ci = cluster_interval(values, clusters, conf, method, n_boot=400, seed=r)
            hits[method] += ci["lower"] <= 0.0 <= ci["upper"]
            if method == "bootstrap":
                widths.append(ci["upper"] - ci["lower"])
        half = student_t.ppf(0.95, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
        hits["pooled"] += abs(values.mean()) <= half
    cover = {k: v / runs for k, v in hits.items()}
    print("coverage at nominal 0.90:", cover)
    assert cover["t"] >= 0.84 and cover["bootstrap"] >= 0.8
    assert cover["pooled"] <= 0.6
    # the bootstrap interval's width matches the true standard error's 2 * 1.645 * sqrt(1/12 + 1/96)
    assert np.median(widths) == pytest.approx(2 * 1.645 * np.sqrt(1 / 12 + 1 / 96), rel=0.2)


def test_cluster_interval_fields_and_bad_input():
    from basinlab.stats import cluster_interval

    ci = cluster_interval([1.0, 2.0, np.nan, 4.0, 6.0], ["a", "a", "a", "b", "b"], method="t")
    assert ci["mean"] == pytest.approx((1.5 + 5.0) / 2) and (ci["n_clusters"], ci["n_units"]) == (2, 4)
    assert ci["lower"] < ci["mean"] < ci["upper"]
    same = cluster_interval([1.0, 2.0, 4.0, 6.0], [0, 0, 1, 1], seed=3)
    assert same == cluster_interval([1.0, 2.0, 4.0, 6.0], [0, 0, 1, 1], seed=3)  # seeded
    with pytest.raises(ValueError, match="at least 2 clusters, got 1"):
        cluster_interval([1.0, 2.0], [0, 0])
    with pytest.raises(ValueError, match="one length"):
        cluster_interval([1.0, 2.0], [0])
    with pytest.raises(ValueError, match=r"unknown method 'jackknife'.*'bootstrap'"):
        cluster_interval([1.0, 2.0], [0, 1], method="jackknife")


def test_detectable_drop_against_a_direct_power_computation():
    from scipy.stats import binom

    from basinlab.stats import detectable_drop

    # 20 items, 16 pass: McNemar at 0.05 needs b >= 6 falls (2 * 2^-5 = 0.0625 > 0.05 >= 2 * 2^-6).
    d = detectable_drop(20, 0.8)
    q = d / 0.8
    assert binom.sf(5, 16, q) == pytest.approx(0.8, abs=1e-9)
    assert 0.3 < d < 0.8 * 20 / 20
    assert detectable_drop(200, 0.8) < detectable_drop(40, 0.8) < d  # more items, smaller drops seen
    assert np.isnan(detectable_drop(20, 0.2))  # 4 passing items can never give 6 falls
    with pytest.raises(ValueError, match="power"):
        detectable_drop(20, 0.8, power=1.0)
