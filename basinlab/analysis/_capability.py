"""Capability change of a fine-tuned model: the same items at theta0 and at theta_sft, a paired test.

    ds = landscape(model, benchmarks, directions=[treemath.between(theta0, theta_sft)], alphas=sft_alphas(alpha))
    capability.capability_change(ds, alpha)    # kept / fell / rose per benchmark (PAPER.md section 6)

    # or score the weights directly, without a sweep (each model once, however many runs share theta0):
    capability.capability_scores(model, {"theta0": model.params, "adversarial": run.params}, benchmarks,
                                 store="results/scores")
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from basinlab import _validate as validate
from basinlab.landscape._results import provenance
from basinlab.landscape._store import BlockStore, CorruptBlockWarning
from basinlab.stats import clopper_pearson, mcnemar_exact

__all__ = ["capability_change", "capability_scores"]


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

    Needs 0 and alpha_sft on the grid (:func:`basinlab.training._sft.sft_alphas`) and one direction.
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
                         f"use basinlab.training._sft.sft_alphas(alpha_sft)")
    base = ds["base_score"].values.astype(float)
    n = ds["n_items"].values.astype(int)
    tuned = ds["score"].sel(alpha=at).mean("direction").values.astype(float)
    paired = "item_score" in ds.data_vars
    if paired and not np.any(alphas == 0.0):
        raise ValueError("alpha = 0 (theta0) must be on the grid to pair the items; use sft_alphas(alpha_sft)")
    before = ds["item_score"].sel(alpha=0.0).isel(direction=0).values if paired else None
    after = ds["item_score"].sel(alpha=at).isel(direction=0).values if paired else None
    v = _change(base, tuned, n, before, after, confidence, tol)
    lo, hi, fell, rose = v["lower"], v["upper"], v["fell"], v["rose"]
    p, change, test = v["p_value"], v["change"], v["test"]
    dims = ("benchmark",)
    return xr.Dataset(
        {"base": (dims, base), "lower": (dims, lo), "upper": (dims, hi), "tuned": (dims, tuned),
         "fell": (dims, fell, {"long_name": "items passed at theta0 and failed at theta_sft"}),
         "rose": (dims, rose, {"long_name": "items failed at theta0 and passed at theta_sft"}),
         "p_value": (dims, p, {"long_name": "exact McNemar two-sided p-value"}),
         "kept": (dims, change == "kept"), "change": (dims, change), "test": (dims, test)},
        coords={"benchmark": ds["benchmark"].values},
        attrs={**provenance("capability_change", {"alpha_sft": at, "confidence": confidence, "tol": tol},
                            sources=[ds]),
               "alpha_sft": at, "confidence": confidence, "tol": tol})


def _change(base, tuned, n, before, after, confidence: float, tol: float) -> dict:
    """The paired rule of :func:`capability_change` for B benchmarks: base, tuned, n [B]; before,
    after [B, N] item scores (NaN past each n), or None (unpaired: theta0's interval)."""
    n_b = base.size
    paired = before is not None
    binary = np.isclose(base * n, np.round(base * n), atol=1e-6)
    fell, rose, p = np.zeros(n_b, int), np.zeros(n_b, int), np.full(n_b, np.nan)
    if paired:
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
    return {"lower": lo, "upper": hi, "fell": fell, "rose": rose, "p_value": p, "change": change, "test": test}


def capability_scores(model: Any, thetas: Mapping[str, dict[str, Any]], benchmarks: Sequence[Any], *,
                      confidence: float = 0.95, tol: float = 0.1, store: os.PathLike[str] | str | None = None,
                      log: Callable[[str], None] | None = None) -> xr.Dataset:
    """Each benchmark scored at each set of weights, on the same items, and each model's change
    against the first (the reference, e.g. theta0), with :func:`capability_change`'s paired rule.

    thetas: label -> params pytree shaped like model.params, the reference first, e.g.
    {"theta0": model.params, "adversarial": run.params}; benchmarks: built Benchmarks.
    store: a folder; each (model, benchmark) result is written there as soon as it is measured and
    read back on the next call when the weights' and the benchmark data's fingerprints
    (`landscape.fingerprint`) match, so a stopped run loses at most the measurement in progress; a
    file whose fingerprints differ raises (it belongs to other weights or items). The folder is a
    `landscape._store.BlockStore`: locked while in use (a second process raises StoreLocked), and an
    unreadable result is reported (CorruptBlockWarning), moved aside and measured again.
    log: called with a line per measurement.

    Returns a Dataset with dims (model, benchmark[, item]): score, lower/upper (the model's own
    Clopper-Pearson interval when items are 0/1, else NaN), budget_hits (-1 where the benchmark
    does not generate), item_score (NaN past each benchmark's n_items); and, against the
    reference, base, tuned, fell, rose, p_value, change ("kept" / "fell" / "rose") and test (the
    reference's own row: nothing fell or rose).
    """
    from basinlab.benchmarks._measure import measure
    from basinlab.landscape._fingerprint import fingerprint

    confidence = validate.confidence("confidence", confidence)
    tol = validate.nonnegative_scalar("tol", tol)
    if not isinstance(thetas, Mapping) or not thetas:
        raise ValueError(f"thetas must be a non-empty mapping label -> params, got {type(thetas).__name__}")
    labels, benchmarks = [str(k) for k in thetas], list(benchmarks)
    names = [b.name for b in benchmarks]
    if not benchmarks or len(set(names)) != len(names):
        raise ValueError(f"benchmarks must be non-empty with distinct names, got {names}")
    folder = None if store is None else pathlib.Path(store)
    prints = {label: fingerprint(params) for label, params in thetas.items()} if folder else {}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    with BlockStore(folder, _StoreKey()) as blocks:
        for b in benchmarks:
            data_print = fingerprint(b.data) if folder else ""
            for label, params in thetas.items():
                name = f"{_safe(label)}--{_safe(b.name)}"
                row = None if folder is None else _read(blocks, name, prints[label], data_print)
                if row is None:
                    m = measure(model, b, params=params, confidence=confidence)
                    row = {"params": prints.get(label, ""), "data": data_print, "item_scores": m.item_scores.tolist(),
                           "budget_hits": m.budget_hits, "examples": (m.examples or [])[:3]}
                    blocks.put(name, _arrays(row))
                rows[str(label), b.name] = row
                if log is not None:
                    k = np.asarray(row["item_scores"], float)
                    log(f"{b.name:<24} {str(label):<14} {k.mean():.3f} (n = {k.size}, budget hits "
                        f"{row['budget_hits']})")
    n = np.array([len(rows[labels[0], name]["item_scores"]) for name in names])
    items = np.full((len(labels), len(names), int(n.max())), np.nan)
    for i, label in enumerate(labels):
        for j, name in enumerate(names):
            x = np.asarray(rows[label, name]["item_scores"], float)
            if x.size != n[j]:
                raise ValueError(f"{name}: {label} has {x.size} item scores, the reference {n[j]}")
            items[i, j, : x.size] = x
    score = np.nanmean(items, axis=-1)
    binary = np.all(np.isnan(items) | np.isin(items, (0.0, 1.0)), axis=-1)
    lo, hi = clopper_pearson(np.round(np.nansum(items, -1)).astype(int), np.broadcast_to(n, score.shape), confidence)
    lo, hi = np.where(binary, lo, np.nan), np.where(binary, hi, np.nan)
    change = [_change(score[0], score[i], n, items[0], items[i], confidence, tol) for i in range(len(labels))]
    dims = ("model", "benchmark")
    per = {k: (dims, np.stack([c[k] for c in change])) for k in ("fell", "rose", "p_value", "change", "test")}
    hits = np.array([[-1 if rows[lb, nm]["budget_hits"] is None else rows[lb, nm]["budget_hits"] for nm in names]
                     for lb in labels])
    return xr.Dataset(
        {"score": (dims, score), "lower": (dims, lo), "upper": (dims, hi), "budget_hits": (dims, hits),
         "item_score": (dims + ("item",), items), "base": (("benchmark",), score[0]), "tuned": (dims, score), **per},
        coords={"model": labels, "benchmark": names, "n_items": ("benchmark", n)},
        attrs={**provenance("capability_scores", {"models": labels, "benchmarks": [bm.attrs() for bm in benchmarks],
                                                  "confidence": confidence, "tol": tol, "store": store}, model=model),
               "reference": labels[0], "confidence": confidence, "tol": tol})


def _safe(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name)


class _StoreKey:
    """What a capability-scores store holds (its sweep.json): each block's own fingerprints say for
    which weights and items it was measured."""

    def to_json(self) -> str:
        return json.dumps({"kind": "capability_scores", "format": 1})


def _arrays(row: dict[str, Any]) -> dict[str, np.ndarray]:
    """A measured row as a store block (plain arrays; budget_hits -1 for None)."""
    hits = row["budget_hits"]
    return {"params": np.asarray(row["params"]), "data": np.asarray(row["data"]),
            "item_scores": np.asarray(row["item_scores"], np.float64),
            "budget_hits": np.asarray(-1 if hits is None else int(hits)),
            "examples": np.asarray([str(e) for e in row["examples"]], dtype=str)}


def _read(blocks: BlockStore, name: str, params_print: str, data_print: str) -> dict[str, Any] | None:
    """A stored row, None when there is none (or its block was unreadable: BlockStore warns and
    moves it aside); ValueError when it belongs to other weights or items. A JSON row of
    basinlab < 0.3 (`<name>.json`) is read too and kept as a block."""
    arrays = blocks.get(name)
    legacy = None if blocks.root is None else blocks.root / f"{name}.json"
    if arrays is None and legacy is not None and legacy.exists():
        try:
            arrays = _arrays(json.loads(legacy.read_text()))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            warnings.warn(f"store row {legacy} is unreadable ({type(e).__name__}: {e}); recomputing it",
                          CorruptBlockWarning, stacklevel=3)
        else:
            blocks.put(name, arrays)
    if arrays is None:
        return None
    row = {"params": str(arrays["params"]), "data": str(arrays["data"]),
           "item_scores": np.asarray(arrays["item_scores"], np.float64).tolist(),
           "budget_hits": None if int(arrays["budget_hits"]) < 0 else int(arrays["budget_hits"]),
           "examples": [str(e) for e in np.atleast_1d(arrays["examples"])]}
    if row["params"] != params_print or row["data"] != data_print:
        where = name if blocks.root is None else blocks.root / f"{name}.npz"
        raise ValueError(f"{where} holds a result for other weights or items (fingerprints {row['params']}, "
                         f"{row['data']}; now {params_print}, {data_print}): use another store or delete it")
    return row
