"""Tests and corrections: exact McNemar and sign tests, multiplicity adjustment, the detectable fall
of a paired test. See `basinlab.stats`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import binom

from basinlab import _validate as validate

__all__ = ["ADJUSTMENTS", "adjust_p", "detectable_drop", "mcnemar_exact", "sign_test"]


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
