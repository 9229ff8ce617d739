"""Statistics helpers: exact binomial intervals and bootstrap bands.

Pure numpy/scipy (float64), no JAX: these run on small arrays of counts or
per-direction scores after the expensive model evaluations are done.

- :func:`clopper_pearson` -- exact two-sided interval for a binomial proportion,
  used for "fraction of directions that are strict basins" (PAPER.md section 2)
  and for Monte Carlo estimates of smoothed scores (section 4).
- :func:`clopper_pearson_lower` -- exact one-sided lower bound, for one-sided claims such as
  "with 99% confidence more than 90% of directions are strict basins";
  :func:`directions_needed` -- how many all-passing directions such a claim needs.
- :func:`mean_lower_bound` -- one-sided lower confidence bounds for the mean of i.i.d. draws: exact
  Clopper-Pearson for 0/1 draws, and for any draws in [0, 1] (an item-mean score per direction:
  p_A of the certificates) Hoeffding, empirical Bernstein (Maurer and Pontil 2009) or a betting
  confidence sequence (Waudby-Smith and Ramdas 2024); MEAN_BOUNDS names each method in words.
- :func:`mcnemar_exact` -- exact McNemar test on paired 0/1 items (the same items scored before
  and after fine-tuning): a two-sided binomial test on the discordant items.
- :func:`bootstrap_band` -- percentile bootstrap of a mean across directions,
  used to draw confidence bands around landscape curves.
- :func:`median_interval` -- distribution-free interval for a median from order statistics (the
  median basin width over a few directions).
- :func:`adjust_p` -- Holm, Bonferroni or Benjamini-Hochberg adjusted p-values across the tests of
  one table; :func:`sign_test` -- exact sign test over independent units (one per training seed).
- :func:`t_interval` -- Student t interval for a mean of independent values (one per seed).
- :func:`cluster_interval` -- interval for a mean of nested units (directions within seeds): a
  two-stage cluster bootstrap, or a t-interval over cluster means.
- :func:`detectable_drop` -- the fall in a 0/1 score that McNemar would have detected on n items,
  so that "kept" can say what it could have seen.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, TypeAlias, cast

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import beta, binom

from basinlab import _validate as validate

# What the interval functions return: a float64 array, or a numpy scalar for scalar input.
_Floats: TypeAlias = "np.ndarray | np.float64"

__all__ = ["ADJUSTMENTS", "CLUSTER_INTERVALS", "MEAN_BOUNDS", "adjust_p", "bootstrap_band", "clopper_pearson",
           "clopper_pearson_lower", "cluster_interval", "detectable_drop", "directions_needed", "mcnemar_exact",
           "mean_lower_bound", "median_interval", "sign_test", "t_interval"]

# Each one-sided lower bound of mean_lower_bound, in words (labels for tables and certificates).
MEAN_BOUNDS = {
    "clopper-pearson": "one-sided exact Clopper-Pearson on 0/1 draws",
    "hoeffding": "one-sided Hoeffding, draws in [0, 1]",
    "bernstein": "one-sided empirical Bernstein (Maurer and Pontil 2009, Thm 4), draws in [0, 1]",
    "betting": "one-sided betting confidence sequence (Waudby-Smith and Ramdas 2024, hedged capital), "
               "draws in [0, 1], valid at every n",
}


def _first_bad(x: np.ndarray, bad: np.ndarray) -> Any:
    """The first offending value, for error messages (scalar or array input)."""
    # .item(): a plain Python scalar prints as 0, not np.int64(0).
    return (x[bad].flat[0] if np.ndim(x) else x[()]).item()


def clopper_pearson(k: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> tuple[_Floats, _Floats]:
    """Exact (Clopper-Pearson) two-sided interval for a binomial proportion k/n.

    Args:
      k: successes, integer array-like (any shape), 0 <= k <= n.
      n: trials, positive integer array-like, broadcastable against ``k``.
      confidence: two-sided coverage in (0, 1), e.g. 0.99.

    Returns:
      ``(lower, upper)``: float64 arrays of the broadcast shape (numpy scalars
      for scalar input). ``lower = 0`` exactly when ``k = 0`` and ``upper = 1``
      exactly when ``k = n``; each tail gets ``(1 - confidence) / 2``, matching
      ``scipy.stats.binomtest(k, n).proportion_ci(confidence, method="exact")``.
    """
    c = validate.confidence("confidence", confidence)
    k_f, n_f = _check_counts(k, n)

    alpha = 1.0 - c
    # beta.ppf is undefined for a shape parameter of 0, so feed it a harmless
    # dummy (1) at the boundaries and overwrite with the exact 0 / 1 afterwards.
    at_zero = k_f == 0
    at_n = k_f == n_f
    lower = beta.ppf(alpha / 2, np.where(at_zero, 1.0, k_f), n_f - k_f + 1)
    upper = beta.ppf(1 - alpha / 2, k_f + 1, np.where(at_n, 1.0, n_f - k_f))
    lower = np.where(at_zero, 0.0, lower)
    upper = np.where(at_n, 1.0, upper)
    return lower[()], upper[()]


def _check_counts(k: ArrayLike, n: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(k, n) as broadcast float64 arrays: n a positive integer, k an integer in [0, n]."""
    k_arr, n_arr = np.asarray(k), np.asarray(n)
    n_f = n_arr.astype(np.float64)
    bad_n = ~(np.isfinite(n_f) & (n_f > 0) & (n_f == np.round(n_f)))
    if np.any(bad_n):
        raise ValueError(f"n must be a positive integer, got {_first_bad(n_arr, bad_n)!r}")
    k_f = k_arr.astype(np.float64)
    bad_k = ~(np.isfinite(k_f) & (k_f == np.round(k_f)))
    if np.any(bad_k):
        raise ValueError(f"k must be an integer, got {_first_bad(k_arr, bad_k)!r}")
    k_f, n_f = np.broadcast_arrays(k_f, n_f)
    out_of_range = (k_f < 0) | (k_f > n_f)
    if np.any(out_of_range):
        i = np.flatnonzero(out_of_range)[0]
        raise ValueError(f"k must lie in [0, n], got k={k_f.flat[i]:g} for n={n_f.flat[i]:g}")
    return k_f, n_f


def clopper_pearson_lower(k: ArrayLike, n: ArrayLike, confidence: float = 0.99) -> _Floats:
    """Exact one-sided (Clopper-Pearson) lower confidence bound for a binomial proportion k/n.

    The whole ``1 - confidence`` goes into the lower tail: P(p < lower) <= 1 - confidence, so
    "p > lower with `confidence`" is the one-sided claim. ``lower = 0`` exactly when ``k = 0``;
    at ``k = n`` it is ``(1 - confidence) ** (1 / n)``. Equals the lower end of the two-sided
    interval at confidence ``2 * confidence - 1`` (``scipy.stats.binomtest(k, n,
    alternative="greater").proportion_ci(confidence, method="exact").low``).

    Args: k, n, confidence as in :func:`clopper_pearson` (broadcast; numpy scalars for scalars).
    """
    c = validate.confidence("confidence", confidence)
    k_f, n_f = _check_counts(k, n)
    at_zero = k_f == 0
    lower = beta.ppf(1.0 - c, np.where(at_zero, 1.0, k_f), n_f - k_f + 1)
    return np.where(at_zero, 0.0, lower)[()]


def mean_lower_bound(values: ArrayLike, confidence: float = 0.99, method: str = "betting") -> float:
    """One-sided lower confidence bound for the mean of i.i.d. draws: P(mean < bound) <= 1 - confidence.

    values: 1-D draws (e.g. [N] per-direction scores at one sigma, each an item mean in [0, 1]:
      p_A of a certificate); NaN is an error. method (MEAN_BOUNDS says each in words):
      "clopper-pearson": exact, 0/1 draws only (k successes of n; n of n at 99%: 0.01 ** (1/n));
      "hoeffding": mean - sqrt(ln(1/a) / (2n)), a = 1 - confidence (loose when the draws vary little);
      "bernstein": mean - sqrt(2 V ln(2/a) / n) - 7 ln(2/a) / (3 (n - 1)), V the unbiased sample
        variance (Maurer and Pontil 2009, Theorem 4; n >= 2): tight when the draws barely vary;
      "betting": the largest m that the hedged capital prod_i (1 + l_i (x_i - m)) rejects at level a
        at some prefix of the draws (Ville's inequality; l_i the predictable plug-in bet of
        Waudby-Smith and Ramdas 2024, capped at 3/4 so it does not depend on m), on a grid of 1e-4.
    Returns a float in [0, 1] (bounds below 0 are 0).
    """
    c = validate.confidence("confidence", confidence)
    validate.choice("method", method, MEAN_BOUNDS)
    x = np.asarray(values, np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array of draws, got shape {x.shape}")
    bad = ~(np.isfinite(x) & (x >= 0) & (x <= 1))
    if np.any(bad):
        raise ValueError(f"values must lie in [0, 1], got {_first_bad(x, bad)!r}")
    n, a, mean = x.size, 1.0 - c, float(x.mean())
    if method == "clopper-pearson":
        if not np.all((x == 0) | (x == 1)):
            raise ValueError(f"method='clopper-pearson' needs 0/1 draws, got {float(x[(x != 0) & (x != 1)][0])!r}; "
                             f"for draws in [0, 1] use one of {[m for m in MEAN_BOUNDS if m != method]}")
        return float(clopper_pearson_lower(int(x.sum()), n, c))
    if method == "hoeffding":
        return max(0.0, mean - float(np.sqrt(np.log(1 / a) / (2 * n))))
    if method == "bernstein":
        if n < 2:
            raise ValueError("method='bernstein' needs at least 2 draws (a sample variance), got 1")
        v = float(x.var(ddof=1))
        return max(0.0, mean - float(np.sqrt(2 * v * np.log(2 / a) / n)) - 7 * np.log(2 / a) / (3 * (n - 1)))
    t = np.arange(1, n + 1)
    mu = (0.5 + np.cumsum(x)) / (t + 1)  # WSR's regularized running mean and variance after draw t
    var = (0.25 + np.cumsum((x - mu) ** 2)) / (t + 1)
    var_before = np.concatenate([[0.25], var[:-1]])  # predictable: the bet on draw t sees draws < t only
    bet = np.minimum(np.sqrt(2 * np.log(1 / a) / (var_before * t * np.log1p(t))), 0.75)  # [n]
    grid = np.linspace(0.0, 1.0, 10001)
    log_k = np.cumsum(np.log1p(bet[:, None] * (x[:, None] - grid[None])), axis=0)  # [n, G], decreasing in m
    rejected = (log_k >= np.log(1 / a)).any(axis=0)
    return float(grid[rejected].max()) if rejected.any() else 0.0


def directions_needed(fraction: float, confidence: float = 0.99, sided: str = "one") -> int:
    """Smallest n such that n of n passing directions give a Clopper-Pearson lower bound above
    `fraction`: the least number of directions a claim "with `confidence`, more than `fraction`
    of directions pass" can rest on. One-sided (the claim's form): (1 - c) ** (1/n) > fraction,
    44 at 99% / 90%; two-sided (the lower end of the two-sided interval): ((1 - c) / 2) ** (1/n) >
    fraction, 51 at 99% / 90%."""
    c = validate.confidence("confidence", confidence)
    f = float(validate.open_unit("fraction", fraction))
    validate.choice("sided", sided, ("one", "two"))
    tail = 1.0 - c if sided == "one" else (1.0 - c) / 2.0
    n = max(1, int(np.ceil(np.log(tail) / np.log(f))))
    while tail ** (1.0 / n) <= f:  # guard the float rounding at an exact integer ratio
        n += 1
    while n > 1 and tail ** (1.0 / (n - 1)) > f:
        n -= 1
    return n


def mcnemar_exact(before: ArrayLike, after: ArrayLike | None) -> dict[str, Any]:
    """Exact McNemar test of paired 0/1 outcomes (the same items scored twice, e.g. before and
    after fine-tuning).

    Only the discordant items carry information: b = items passed before and failed after,
    c = failed before and passed after. Under "no change" each discordant item is a fair coin, so
    the two-sided p-value is ``min(1, 2 * P(Binomial(b + c, 1/2) <= min(b, c)))``, which is
    ``scipy.stats.binomtest(b, b + c, 0.5).pvalue``; 1 when there is no discordant item.

    Args:
      before, after: 0/1 arrays of one shape [n_items] (NaN items, e.g. padding, are dropped in
        both), or pass counts directly as ``mcnemar_exact((b, c), None)``.

    Returns: dict with b (fell: 1 -> 0), c (rose: 0 -> 1), n (paired items), p_value (two-sided),
      p_fell (one-sided: P(X >= b) under the null, evidence that more items fell than rose) and
      p_rose (one-sided, the other way).
    """
    if after is None:
        counts = cast("Iterable[Any]", before)  # (b, c) when after is None
        b, c = (validate.nonnegative_int(name, v) for name, v in zip(("b", "c"), counts, strict=True))
        n = b + c
    else:
        x, y = np.asarray(before, np.float64), np.asarray(after, np.float64)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"before and after must be 1-D arrays of one shape, got {x.shape} and {y.shape}")
        keep = ~(np.isnan(x) | np.isnan(y))
        x, y = x[keep], y[keep]
        values = np.concatenate([x, y])
        bad = ~np.isin(values, (0.0, 1.0))
        if np.any(bad):
            raise ValueError(f"McNemar needs 0/1 item scores, got {float(values[bad][0])!r}")
        b, c, n = int(np.sum((x == 1) & (y == 0))), int(np.sum((x == 0) & (y == 1))), int(x.size)
    m = b + c
    if m == 0:
        return {"b": b, "c": c, "n": n, "p_value": 1.0, "p_fell": 1.0, "p_rose": 1.0}
    p_two = float(min(1.0, 2.0 * binom.cdf(min(b, c), m, 0.5)))
    return {"b": b, "c": c, "n": n, "p_value": p_two, "p_fell": float(binom.sf(b - 1, m, 0.5)),
            "p_rose": float(binom.sf(c - 1, m, 0.5))}


def bootstrap_band(values: ArrayLike, axis: int = 0, confidence: float = 0.95, n_boot: int = 1000,
                   seed: int = 0) -> tuple[_Floats, _Floats]:
    """Percentile-bootstrap band for the mean of ``values`` along ``axis``.

    Typical use: ``values`` has shape ``[n_directions, n_alphas]`` (one landscape
    curve per random direction) and the band is for the mean curve.

    NaN entries (e.g. failed evaluations) are ignored: every bootstrap replicate
    takes the ``nanmean`` of its resampled rows. Replicates that drew only NaN
    at some position are dropped from that position's percentiles; a position
    that is NaN in every row gives NaN.

    Args:
      values: array-like, at least 1-D; resampled with replacement along ``axis``.
      axis: the axis to resample over (the "sample" axis).
      confidence: central coverage of the band, in (0, 1).
      n_boot: number of bootstrap replicates, positive integer.
      seed: seed for ``numpy.random.default_rng``; same seed, same band.

    Returns:
      ``(lo, hi)``: float64 arrays with ``axis`` removed from ``values.shape``.
    """
    c = validate.confidence("confidence", confidence)
    n_boot = validate.positive_int("n_boot", n_boot)
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("values must be at least 1-D, got a scalar")
    try:
        x = np.moveaxis(x, axis, 0)
    except ValueError as e:  # numpy's AxisError is a ValueError
        raise ValueError(f"axis {axis!r} is out of range for values of shape {np.shape(values)}") from e
    n = x.shape[0]
    if n == 0:
        raise ValueError("values must have at least one entry along axis, got 0")

    rng = np.random.default_rng(seed)
    # A replicate is fully described by how often it draws each row, so work with
    # multinomial counts [n_boot, n] instead of materialising [n_boot, n, ...]
    # resampled copies: memory stays O(n_boot * prod(rest)).
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    finite = ~np.isnan(x)
    num = np.tensordot(counts, np.where(finite, x, 0.0), axes=(1, 0))
    den = np.tensordot(counts, finite.astype(np.float64), axes=(1, 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = num / den  # NaN where a replicate drew only NaN rows
    tail = 100.0 * (1.0 - c) / 2.0
    with warnings.catch_warnings():
        # nanpercentile warns on all-NaN slices; those positions are NaN by design.
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(means, [tail, 100.0 - tail], axis=0)
    return lo[()], hi[()]


def median_interval(values: ArrayLike, confidence: float = 0.9) -> tuple[float, float, float, float]:
    """(median, lo, hi, coverage): the sample median of the finite ``values`` (1-D) and the
    distribution-free interval [x_(k), x_(n+1-k)] of order statistics for the population median,
    with the largest k whose exact coverage 1 - 2 P(Binomial(n, 1/2) <= k - 1) is >= ``confidence``
    (returned as ``coverage``). With too few values for that coverage (n = 8 at 0.99 still works;
    n = 3 gives at most 0.75) lo, hi are NaN and coverage is the best attainable (k = 1)."""
    c = validate.confidence("confidence", confidence)
    x = np.sort(np.asarray(values, np.float64).ravel())
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        raise ValueError("median_interval needs at least one finite value, got none")
    k = 0
    while k + 1 <= (n + 1) // 2 and 1 - 2 * binom.cdf(k, n, 0.5) >= c:
        k += 1
    if k == 0:
        return float(np.median(x)), float("nan"), float("nan"), float(1 - 2 * binom.cdf(0, n, 0.5))
    return float(np.median(x)), float(x[k - 1]), float(x[n - k]), float(1 - 2 * binom.cdf(k - 1, n, 0.5))


# Each multiplicity adjustment of adjust_p, in words (the label a table prints next to its p-values).
ADJUSTMENTS = {
    "holm": "Holm step-down (family-wise error rate)",
    "bonferroni": "Bonferroni (family-wise error rate)",
    "bh": "Benjamini-Hochberg step-up (false discovery rate, independent or positively dependent tests)",
}


def adjust_p(p_values: ArrayLike, method: str = "holm") -> np.ndarray:
    """Multiplicity-adjusted p-values for one family of tests (e.g. every McNemar test of one table).

    Reject a test at level a when its adjusted p <= a; the family-wise error rate (holm, bonferroni)
    or the false discovery rate (bh) is then at most a. NaN entries (tests not run) stay NaN and do
    not count toward the family size m.

    - holm: sort p ascending, p_(i) * (m - i + 1) (i from 1), running maximum, capped at 1.
    - bonferroni: p * m, capped at 1.
    - bh: p_(i) * m / i, running minimum from the largest, capped at 1.

    Args:
      p_values: array-like of p-values in [0, 1], any shape (flattened for sorting, reshaped back).
      method: one of ADJUSTMENTS.

    Returns: float64 array of the input's shape.
    """
    method = validate.choice("method", method, ADJUSTMENTS)
    p = np.asarray(p_values, np.float64)
    validate.probability("p_values", p[~np.isnan(p)])  # NaN: a test not run
    shape, flat = p.shape, p.ravel()
    out = np.full(flat.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(flat))
    m = tested.size
    if m == 0:
        return out.reshape(shape)
    order = tested[np.argsort(flat[tested], kind="stable")]
    ranked = flat[order]
    i = np.arange(1, m + 1)
    if method == "holm":
        adjusted = np.maximum.accumulate(ranked * (m - i + 1))
    elif method == "bonferroni":
        adjusted = ranked * m
    else:
        adjusted = np.minimum.accumulate((ranked * m / i)[::-1])[::-1]
    out[order] = np.minimum(adjusted, 1.0)
    return out.reshape(shape)


def sign_test(differences: ArrayLike, alternative: str = "greater") -> dict[str, Any]:
    """Exact sign test: are positive differences more (or less) frequent than a fair coin gives?

    For paired comparisons whose independent unit is few (one difference per training seed, say):
    "small is wider in 3 of 3 seeds" is p = 0.125 one-sided, however many directions each seed has.
    Zero differences are dropped; NaN too.

    Args:
      differences: 1-D array-like, one per independent unit.
      alternative: "greater" (more positive), "less" (more negative) or "two-sided".

    Returns: dict with positive, negative, n (non-zero differences) and p_value (1 when n = 0).
    """
    alternative = validate.choice("alternative", alternative, ("greater", "less", "two-sided"))
    d = np.asarray(differences, np.float64)
    if d.ndim != 1:
        raise ValueError(f"differences must be 1-D, got shape {d.shape}")
    d = d[~np.isnan(d) & (d != 0)]
    pos, n = int(np.sum(d > 0)), int(d.size)
    neg = n - pos
    if n == 0:
        return {"positive": 0, "negative": 0, "n": 0, "p_value": 1.0}
    greater, less = float(binom.sf(pos - 1, n, 0.5)), float(binom.cdf(pos, n, 0.5))
    p = {"greater": greater, "less": less, "two-sided": min(1.0, 2.0 * min(greater, less))}[alternative]
    return {"positive": pos, "negative": neg, "n": n, "p_value": p}


def t_interval(values: ArrayLike, confidence: float = 0.95, axis: int = 0) -> tuple[_Floats, _Floats, _Floats]:
    """(mean, lower, upper): the Student t interval for a mean from independent values along ``axis``
    (exact for normal values; one value per training seed, per direction, per cluster). NaN bounds
    where fewer than 2 values."""
    from scipy.stats import t as student_t

    c = validate.confidence("confidence", confidence)
    x = np.asarray(values, np.float64)
    n = x.shape[axis] if x.ndim else 1
    mean = x.mean(axis) if x.ndim else x[()]
    if n < 2:
        nan = np.full(np.shape(mean), np.nan)[()]
        return mean, nan, nan
    half = student_t.ppf(0.5 + c / 2, n - 1) * x.std(axis, ddof=1) / np.sqrt(n)
    return mean[()], (mean - half)[()], (mean + half)[()]


# Each interval of cluster_interval, in words.
CLUSTER_INTERVALS = {
    "bootstrap": "two-stage percentile bootstrap (resample clusters, then units within each)",
    "t": "Student t over cluster means (one value per cluster)",
}


def cluster_interval(values: ArrayLike, clusters: ArrayLike, confidence: float = 0.95, method: str = "bootstrap",
                     n_boot: int = 4000, seed: int = 0) -> dict[str, Any]:
    """Confidence interval for a mean when units are nested in clusters (directions within training
    seeds, items within subjects), so that the randomness of the clusters is covered too.

    Pooling units from a few clusters as if independent understates the spread whenever clusters
    differ (24 directions from 3 seeds are not 24 independent draws). "bootstrap" resamples clusters
    with replacement, then units within each drawn cluster; "t" is the t-interval over the cluster
    means, exact for normal cluster means and the honest choice with very few clusters (with 3 the
    bootstrap has only 10 distinct cluster draws and its interval is too short).

    Args:
      values: 1-D array-like of unit values (NaN units are dropped).
      clusters: 1-D array-like of one label per unit (any hashable labels).
      confidence: central coverage in (0, 1).
      method: one of CLUSTER_INTERVALS.
      n_boot, seed: bootstrap replicates and their seed (bootstrap only).

    Returns: dict with mean (the mean of the cluster means), lower, upper, method, n_clusters, n_units.
    """
    c = validate.confidence("confidence", confidence)
    method = validate.choice("method", method, CLUSTER_INTERVALS)
    n_boot = validate.positive_int("n_boot", n_boot)
    x, labels = np.asarray(values, np.float64), np.asarray(clusters)
    if x.ndim != 1 or labels.shape != x.shape:
        raise ValueError(f"values and clusters must be 1-D of one length, got shapes {x.shape} and {labels.shape}")
    keep = ~np.isnan(x)
    x, labels = x[keep], labels[keep]
    names, index = np.unique(labels, return_inverse=True)
    k = len(names)
    if k < 2:
        raise ValueError(f"cluster_interval needs units from at least 2 clusters, got {k}")
    groups = [x[index == j] for j in range(k)]
    means = np.array([g.mean() for g in groups])
    center = float(means.mean())
    if method == "t":
        _, lo, hi = (float(v) for v in t_interval(means, c))
    else:
        rng = np.random.default_rng(seed)
        drawn = rng.multinomial(k, np.full(k, 1.0 / k), size=n_boot)  # [n_boot, k]: copies of each cluster
        # m copies of a cluster, each resampling its n units, draw its units Multinomial(m * n) times in all;
        # each copy then weighs 1/n per unit, so every drawn cluster counts once, as in the cluster means.
        stats = np.zeros(n_boot)
        for j, g in enumerate(groups):
            counts = rng.multinomial(drawn[:, j] * g.size, np.full(g.size, 1.0 / g.size))  # [n_boot, n_j]
            stats += counts @ g / g.size
        stats /= k
        tail = 100.0 * (1.0 - c) / 2.0
        lo, hi = (float(v) for v in np.percentile(stats, [tail, 100.0 - tail]))
    return {"mean": center, "lower": lo, "upper": hi, "method": method, "n_clusters": k, "n_units": int(x.size)}


def detectable_drop(n_items: int, base: float, level: float = 0.05, power: float = 0.8) -> float:
    """The smallest fall in a 0/1 score that the exact two-sided McNemar test at ``level`` detects
    with probability ``power``, on ``n_items`` items of which a fraction ``base`` pass before.

    Model: no item rises, and each passing item fails afterwards independently with probability
    drop / base (so the expected score falls by ``drop``). With c = 0 rises, McNemar rejects when the
    number of falls b has 2 * 2^-b <= level; the answer solves P(Binomial(round(base * n), q) >= b*)
    = power for q by bisection. A "kept" verdict on n items then reads "no significant change; a
    drop of `detectable_drop` or more would have been detected with `power` probability". Items that
    also rise make the test weaker, so this is the best case for the test. NaN when even losing
    every passing item is detected less often than ``power`` (too few items).
    """
    n = validate.positive_int("n_items", n_items)
    p0 = float(validate.probability("base", base))
    lv = validate.confidence("level", level)
    pw = validate.confidence("power", power)
    passing = int(round(p0 * n))
    need = int(np.ceil(np.log2(2.0 / lv) - 1e-12))  # smallest b with 2 * 0.5**b <= level
    if passing < need:
        return float("nan")
    lo, hi = 0.0, 1.0
    for _ in range(60):
        q = (lo + hi) / 2
        if binom.sf(need - 1, passing, q) >= pw:
            hi = q
        else:
            lo = q
    return hi * passing / n
