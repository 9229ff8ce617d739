"""Capability change of a fine-tuned model (basinlab.analysis._capability): kept / fell / rose, paired."""

import numpy as np
import pytest
import xarray as xr
from scipy.stats import binomtest

from basinlab.analysis import _capability as capability
from basinlab.training._sft import sft_alphas


def sft_sweep(before, after, alpha_sft=1e-4):
    """One direction through theta0 (alpha 0) and theta_sft (alpha_sft): item scores [benchmark, item]
    at theta0 everywhere except alpha_sft, where they are `after`."""
    alphas = sft_alphas(alpha_sft, n=4)
    before, after = np.asarray(before, float), np.asarray(after, float)
    items = np.tile(before[None, None], (1, alphas.size, 1, 1))
    items[0, int(np.argmin(np.abs(alphas - alpha_sft)))] = after
    score = items.mean(-1)
    return xr.Dataset({"score": (("direction", "alpha", "benchmark"), score),
                       "base_score": (("benchmark",), before.mean(-1)),
                       "item_score": (("direction", "alpha", "benchmark", "item"), items)},
                      coords={"alpha": alphas, "benchmark": ["six-one", "eight-zero", "text"],
                              "n_items": ("benchmark", [20, 20, 20])})


def test_capability_change_is_a_paired_mcnemar_test():
    # six-one: 10 of 20 pass at theta0; after fine-tuning 6 of them fail and 1 failing item passes:
    # 5/20 is below theta0's unpaired 95% interval [0.27, 0.73], but the paired test sees 6 vs 1
    # discordant items, p = 0.125: kept. eight-zero: 8 items fell, none rose, p = 0.0078: fell.
    six_one_before = [1] * 10 + [0] * 10
    six_one_after = [0] * 6 + [1] * 4 + [1] + [0] * 9
    eight_before = [1] * 12 + [0] * 8
    eight_after = [0] * 8 + [1] * 4 + [0] * 8
    text_before, text_after = np.full(20, 0.45), np.full(20, 0.44)  # fractional: +/- tol
    ds = sft_sweep([six_one_before, eight_before, text_before], [six_one_after, eight_after, text_after])
    out = capability.capability_change(ds, 1e-4, confidence=0.95, tol=0.05)
    row = out.sel(benchmark="six-one")
    assert (int(row["fell"]), int(row["rose"])) == (6, 1)
    assert float(row["p_value"]) == pytest.approx(binomtest(6, 7, 0.5).pvalue)
    assert float(row["tuned"]) == 0.25 < float(row["lower"])  # the unpaired view would call it fell
    assert str(row["change"].item()) == "kept" and "McNemar" in str(row["test"].item())
    row = out.sel(benchmark="eight-zero")
    assert (int(row["fell"]), int(row["rose"])) == (8, 0) and float(row["p_value"]) == pytest.approx(2 / 2**8)
    assert str(row["change"].item()) == "fell"
    text = out.sel(benchmark="text")
    assert str(text["test"].item()) == "+/- tol 0.05" and np.isnan(text["p_value"])
    assert list(out["change"].values) == ["kept", "fell", "kept"]
    # rose: the mirror image
    mirrored = capability.capability_change(sft_sweep([eight_after, eight_after, text_before],
                                                      [eight_before, eight_before, text_before]), 1e-4)
    assert list(mirrored["change"].values) == ["rose", "rose", "kept"]


def test_capability_change_without_item_scores_is_unpaired_and_bad_input_raises():
    ds = sft_sweep([[1] * 10 + [0] * 10] * 3, [[0] * 20] * 3)
    unpaired = capability.capability_change(ds.drop_vars("item_score"), 1e-4)
    assert list(unpaired["change"].values) == ["fell"] * 3
    assert str(unpaired["test"].values[0]).startswith("unpaired Clopper-Pearson")
    with pytest.raises(ValueError, match="is not on the grid"):
        capability.capability_change(ds, 3.3e-4)
    with pytest.raises(ValueError, match="one direction"):
        capability.capability_change(xr.concat([ds, ds], "direction", data_vars="all"), 1e-4)
