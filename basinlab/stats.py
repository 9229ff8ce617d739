"""Statistics helpers: exact binomial intervals and bootstrap bands.

Pure numpy/scipy (float64), no JAX: these run on small arrays of counts or
per-direction scores after the expensive model evaluations are done.

- :func:`clopper_pearson` -- exact two-sided interval for a binomial proportion,
  used for "fraction of directions that are strict basins" (PAPER.md section 2)
  and for Monte Carlo estimates of smoothed scores (section 4).
- :func:`bootstrap_band` -- percentile bootstrap of a mean across directions,
  used to draw confidence bands around landscape curves.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import beta

from basinlab import validate

__all__ = ["clopper_pearson", "bootstrap_band"]


def _first_bad(x: np.ndarray, bad: np.ndarray):
    """The first offending value, for error messages (scalar or array input)."""
    # .item(): a plain Python scalar prints as 0, not np.int64(0).
    return (x[bad].flat[0] if np.ndim(x) else x[()]).item()


def clopper_pearson(k, n, confidence: float = 0.95):
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
    k_arr = np.asarray(k)
    n_arr = np.asarray(n)
    # Validate n first so that "n = 0" is reported as a bad n, not a bad k.
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
        raise ValueError(
            f"k must lie in [0, n], got k={k_f.flat[i]:g} for n={n_f.flat[i]:g}"
        )

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


def bootstrap_band(values, axis: int = 0, confidence: float = 0.95, n_boot: int = 1000, seed: int = 0):
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
