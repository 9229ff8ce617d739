"""Capability change of a fine-tuned model (basinlab.analysis.capability): kept / fell / rose."""

import numpy as np
import pytest
import xarray as xr

from basinlab.analysis import capability
from basinlab.training.sft import sft_alphas


def test_capability_change_uses_the_items_interval():
    alphas = sft_alphas(1e-4, n=4)
    score = np.tile(np.array([0.5, 0.45])[None, None, :], (1, alphas.size, 1))
    at = int(np.argmin(np.abs(alphas - 1e-4)))
    score[0, at] = [0.0, 0.44]
    items = np.zeros((1, alphas.size, 2, 20))
    items[..., 0, :10] = 1.0
    items[..., 1, :] = 0.45  # a fractional score (token accuracy): not binomial
    ds = xr.Dataset({"score": (("direction", "alpha", "benchmark"), score),
                     "base_score": (("benchmark",), [0.5, 0.45]),
                     "item_score": (("direction", "alpha", "benchmark", "item"), items)},
                    coords={"alpha": alphas, "benchmark": ["oracle", "text"], "n_items": ("benchmark", [20, 20])})
    out = capability.capability_change(ds, 1e-4, confidence=0.95, tol=0.05)
    lo, hi = out["lower"].sel(benchmark="oracle"), out["upper"].sel(benchmark="oracle")
    assert 0.27 < lo < 0.28 and 0.72 < hi < 0.73  # CP 95% for 10/20
    assert not bool(out["kept"].sel(benchmark="oracle")) and bool(out["kept"].sel(benchmark="text"))
    assert str(out["interval"].sel(benchmark="text").item()) == "+/- tol 0.05"
    assert list(out["change"].values) == ["fell", "kept"]
    with pytest.raises(ValueError, match="is not on the grid"):
        capability.capability_change(ds, 3.3e-4)
