"""Capability change of a fine-tuned model: each benchmark at theta0 against its interval, and at theta_sft.

    ds = landscape(model, benchmarks, directions=[treemath.between(theta0, theta_sft)], alphas=sft_alphas(alpha))
    capability.capability_change(ds, alpha)    # kept / fell / rose per benchmark (PAPER.md section 6)
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from basinlab import validate
from basinlab.stats import clopper_pearson

__all__ = ["capability_change"]


def capability_change(ds: xr.Dataset, alpha_sft: float, confidence: float = 0.95,
                      tol: float = 0.1) -> xr.Dataset:
    """Each capability at theta0 and at the fine-tuned model, from a 1-D sweep along the SFT direction.

    base: the score at theta0; lower/upper: its two-sided Clopper-Pearson interval over the items
    (0/1 oracles; for fractional scores such as next-token accuracy the interval is base -/+ tol);
    tuned: the score at the grid alpha nearest alpha_sft (mean over directions); kept: tuned inside
    [lower, upper]; change: "kept", "fell" (below lower) or "rose" (above upper). Dims (benchmark,)."""
    if "beta" in ds.dims:
        raise ValueError("capability_change needs a 1-D sweep along the SFT direction")
    confidence = validate.confidence("confidence", confidence)
    alphas = ds["alpha"].values
    at = float(alphas[np.argmin(np.abs(alphas - alpha_sft))])
    if not math.isclose(at, alpha_sft, rel_tol=1e-3, abs_tol=0.0):
        raise ValueError(f"alpha_sft={alpha_sft:g} is not on the grid (nearest {at:g}); "
                         f"use basinlab.training.sft.sft_alphas(alpha_sft)")
    base = ds["base_score"].values.astype(float)
    n = ds["n_items"].values.astype(int)
    k = base * n
    binary = np.isclose(k, np.round(k), atol=1e-6)
    if "item_score" in ds.data_vars:  # fractional item scores (e.g. token accuracy) are not binomial
        items = ds["item_score"].isel(direction=0, alpha=0).values
        binary &= np.all(np.isnan(items) | np.isin(items, (0.0, 1.0)), axis=tuple(range(1, items.ndim)))
    lo, hi = clopper_pearson(np.round(k).astype(int), np.maximum(n, 1), confidence)
    lo, hi = np.where(binary, lo, base - tol), np.where(binary, hi, base + tol)
    tuned = ds["score"].sel(alpha=at).mean("direction").values.astype(float)
    dims = ("benchmark",)
    return xr.Dataset(
        {"base": (dims, base), "lower": (dims, lo), "upper": (dims, hi), "tuned": (dims, tuned),
         "kept": (dims, (tuned >= lo) & (tuned <= hi)),
         "change": (dims, np.where(tuned < lo, "fell", np.where(tuned > hi, "rose", "kept"))),
         "interval": (dims, np.where(binary, f"Clopper-Pearson {confidence:.0%}", f"+/- tol {tol}"))},
        coords={"benchmark": ds["benchmark"].values}, attrs={"alpha_sft": at, "confidence": confidence})
