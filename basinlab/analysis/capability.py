"""Capability change of a fine-tuned model: the same items at theta0 and at theta_sft, a paired test.

    ds = landscape(model, benchmarks, directions=[treemath.between(theta0, theta_sft)], alphas=sft_alphas(alpha))
    capability.capability_change(ds, alpha)    # kept / fell / rose per benchmark (PAPER.md section 6)
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from basinlab import validate
from basinlab.stats import clopper_pearson, mcnemar_exact

__all__ = ["capability_change"]


def capability_change(ds: xr.Dataset, alpha_sft: float, confidence: float = 0.95,
                      tol: float = 0.1) -> xr.Dataset:
    """Each capability at theta0 and at the fine-tuned model, from a 1-D sweep along the SFT direction.

    The fine-tuned model re-scores the *same* items, so for 0/1 oracles the change is an exact
    McNemar test (:func:`basinlab.stats.mcnemar_exact`) on the discordant items: b items passed at
    theta0 and failed at theta_sft, c the other way; change is "fell" (b > c) or "rose" (c > b)
    when the two-sided p-value is below 1 - confidence, else "kept". Fractional item scores (e.g.
    next-token accuracy) are not binomial: there the change is "fell"/"rose" when the score moved
    by more than `tol`. Without item scores in `ds` (nothing to pair) the tuned score is compared
    with theta0's unpaired Clopper-Pearson interval, and `test` says so.

    Needs 0 and alpha_sft on the grid (:func:`basinlab.training.sft.sft_alphas`) and one direction.
    Returns, dims (benchmark,): base (score at theta0), lower/upper (its two-sided Clopper-Pearson
    interval over the items, for reference; base -/+ tol for fractional scores), tuned (score at
    alpha_sft), fell (b), rose (c), p_value (McNemar, NaN for fractional), kept, change, test.
    """
    if "beta" in ds.dims:
        raise ValueError("capability_change needs a 1-D sweep along the SFT direction")
    confidence = validate.confidence("confidence", confidence)
    tol = validate.nonnegative_scalar("tol", tol)
    if ds.sizes.get("direction", 1) != 1:
        raise ValueError(f"capability_change pairs the items along one direction (the SFT direction), "
                         f"got {ds.sizes['direction']} directions")
    alphas = ds["alpha"].values
    at = float(alphas[np.argmin(np.abs(alphas - alpha_sft))])
    if not math.isclose(at, alpha_sft, rel_tol=1e-3, abs_tol=0.0):
        raise ValueError(f"alpha_sft={alpha_sft:g} is not on the grid (nearest {at:g}); "
                         f"use basinlab.training.sft.sft_alphas(alpha_sft)")
    base = ds["base_score"].values.astype(float)
    n = ds["n_items"].values.astype(int)
    tuned = ds["score"].sel(alpha=at).mean("direction").values.astype(float)
    n_b = base.size
    paired = "item_score" in ds.data_vars
    if paired and not np.any(alphas == 0.0):
        raise ValueError("alpha = 0 (theta0) must be on the grid to pair the items; use sft_alphas(alpha_sft)")
    binary = np.isclose(base * n, np.round(base * n), atol=1e-6)
    fell, rose, p = np.zeros(n_b, int), np.zeros(n_b, int), np.full(n_b, np.nan)
    if paired:
        before = ds["item_score"].sel(alpha=0.0).isel(direction=0).values
        after = ds["item_score"].sel(alpha=at).isel(direction=0).values
        for i in range(n_b):
            x, y = before[i, : n[i]], after[i, : n[i]]
            both = np.concatenate([x, y])
            binary[i] = bool(np.all(np.isnan(both) | np.isin(both, (0.0, 1.0))))
            if binary[i]:
                test = mcnemar_exact(x, y)
                fell[i], rose[i], p[i] = test["b"], test["c"], test["p_value"]
    lo, hi = clopper_pearson(np.round(base * n).astype(int), np.maximum(n, 1), confidence)
    lo, hi = np.where(binary, lo, base - tol), np.where(binary, hi, base + tol)
    significant = p < 1.0 - confidence
    by_test = np.where(significant & (fell > rose), "fell", np.where(significant & (rose > fell), "rose", "kept"))
    by_interval = np.where(tuned < lo, "fell", np.where(tuned > hi, "rose", "kept"))
    change = np.where(binary & paired, by_test, by_interval)
    test = np.where(binary, "McNemar exact (paired items)" if paired else f"unpaired Clopper-Pearson {confidence:.0%}",
                    f"+/- tol {tol:g}")
    dims = ("benchmark",)
    return xr.Dataset(
        {"base": (dims, base), "lower": (dims, lo), "upper": (dims, hi), "tuned": (dims, tuned),
         "fell": (dims, fell, {"long_name": "items passed at theta0 and failed at theta_sft"}),
         "rose": (dims, rose, {"long_name": "items failed at theta0 and passed at theta_sft"}),
         "p_value": (dims, p, {"long_name": "exact McNemar two-sided p-value"}),
         "kept": (dims, change == "kept"), "change": (dims, change), "test": (dims, test)},
        coords={"benchmark": ds["benchmark"].values}, attrs={"alpha_sft": at, "confidence": confidence, "tol": tol})
