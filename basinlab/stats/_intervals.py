"""Confidence intervals and bounds: binomial (Clopper-Pearson), means of bounded draws, bootstrap
bands, medians, t-intervals and intervals for nested (clustered) units. See `basinlab.stats`."""

from __future__ import annotations

import warnings
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import beta, binom
from scipy.stats import t as student_t

from basinlab import _validate as validate

# What the interval functions return: a float64 array, or a numpy scalar for scalar input.
_Floats: TypeAlias = "np.ndarray | np.float64"
__all__ = ["CLUSTER_INTERVALS", "MEAN_BOUNDS", "bootstrap_band", "clopper_pearson", "clopper_pearson_lower",
           "cluster_interval", "directions_needed", "mean_lower_bound", "median_interval", "t_interval"]

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


def t_interval(values: ArrayLike, confidence: float = 0.95, axis: int = 0) -> tuple[_Floats, _Floats, _Floats]:
    """(mean, lower, upper): the Student t interval for a mean from independent values along ``axis``
    (exact for normal values; one value per training seed, per direction, per cluster). NaN bounds
    where fewer than 2 values."""
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
