"""Basin growth over pre-training: widths with a tolerance relative to each checkpoint's own score,
their intervals over directions, and checkpoints of two runs paired at matched validation loss.

    ds = landscape(model, [accuracy_bench, addition_bench], directions=8, alphas=alphas)
    w = growth.relative_widths(ds, rel_tol=0.1)        # tol = 10% of each benchmark's base score
    growth.width_summary(w["width"].sel(benchmark="inline-addition").values)   # median, interval
    growth.match_by_loss(tiny_val_loss, small_val_loss, max_gap=0.05)          # index pairs
    rec = growth.checkpoint_widths(model, mix, directions=8, alphas=alphas)    # one checkpoint, both oracles

A checkpoint that scores higher may lose more before it leaves an absolute-tol basin; a tol that
is a fixed fraction of the checkpoint's own score (one-sided: a rise never ends the
basin) asks the same relative question at every step of training.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import xarray as xr

from basinlab import _validate as validate
from basinlab.benchmarks import _arithmetic as arithmetic
from basinlab.benchmarks._measure import measure
from basinlab.landscape import landscape
from basinlab.landscape._accessor import SIDED
from basinlab.landscape._results import provenance
from basinlab.models._model import Model
from basinlab.scoring._text import token_benchmark
from basinlab.stats import median_interval
from basinlab.training._corpus import windows
from basinlab.training._loss import evaluate_nll
from basinlab.training._mixture import AdditionMix

__all__ = ["ORACLES", "checkpoint_widths", "match_by_loss", "relative_widths", "width_summary"]

ORACLES = ("inline-addition", "shakespeare-acc")  # the benchmark names checkpoint_widths uses


def relative_widths(ds: xr.Dataset, rel_tol: float = 0.1, *, sided: str = "one", variable: str = "score",
                    interpolate: bool = True) -> xr.Dataset:
    """``ds.basin.width`` of each benchmark of a 1-D landscape with tol = rel_tol * |base value|.

    rel_tol: >= 0 (0.1 = a drop of 10% of the checkpoint's own score ends the basin). Returns the
    widths Dataset (left, right, width, censored [direction, benchmark]) plus tol and base
    [benchmark]; a benchmark whose base is 0 gets tol 0 (with a 0/1 oracle at 0 nothing can drop:
    its width is censored, read it as "no capability", not as a wide basin).
    """
    rel_tol = validate.nonnegative_scalar("rel_tol", rel_tol)
    validate.choice("sided", sided, SIDED)
    base = np.abs(np.asarray(ds[f"base_{variable}"].values, np.float64)).reshape(-1)
    parts = [ds.isel(benchmark=[b]).basin.width(float(rel_tol * base[b]), variable, interpolate=interpolate,
                                                 sided=sided) for b in range(ds.sizes["benchmark"])]
    out = cast(xr.Dataset, xr.concat(parts, "benchmark", combine_attrs="drop_conflicts"))
    out["tol"] = ("benchmark", rel_tol * base)
    out[f"base_{variable}"] = ("benchmark", np.asarray(ds[f"base_{variable}"].values, np.float64).reshape(-1))
    out.attrs.update(provenance("relative_widths", {"rel_tol": rel_tol, "sided": sided, "variable": variable,
                                                    "interpolate": interpolate}, sources=[ds]),
                     rel_tol=rel_tol, sided=sided, variable=variable)
    return out


def width_summary(widths: npt.ArrayLike, censored: npt.ArrayLike | None = None,
                  confidence: float = 0.9) -> dict[str, float]:
    """Median of per-direction widths [n] with its order-statistic interval
    (:func:`basinlab.stats.median_interval`): keys median, lo, hi, coverage, n, n_censored."""
    widths = np.asarray(widths, np.float64).ravel()
    med, lo, hi, cov = median_interval(widths, confidence)
    n_cens = 0 if censored is None else int(np.asarray(censored, bool).sum())
    return {"median": med, "lo": lo, "hi": hi, "coverage": cov, "n": int(np.isfinite(widths).sum()),
            "n_censored": n_cens}


def match_by_loss(loss_a: npt.ArrayLike, loss_b: npt.ArrayLike, max_gap: float = 0.05) -> list[tuple[int, int, float]]:
    """Checkpoints of run b at the validation loss of run a's: for each i of loss_a [n] (nats), the j
    of loss_b [m] with the nearest loss, kept when |loss_b[j] - loss_a[i]| <= max_gap. Returns
    [(i, j, loss_b[j] - loss_a[i])], in the order of loss_a."""
    a, b = np.asarray(loss_a, np.float64).ravel(), np.asarray(loss_b, np.float64).ravel()
    max_gap = validate.nonnegative_scalar("max_gap", max_gap)
    if len(b) == 0 or not np.isfinite(b).any():
        return []
    out = []
    for i, x in enumerate(a):
        if not np.isfinite(x):
            continue
        j = int(np.nanargmin(np.abs(b - x)))
        if abs(b[j] - x) <= max_gap:
            out.append((i, j, float(b[j] - x)))
    return out


def checkpoint_widths(model: Model, mix: AdditionMix, *, directions: int = 8, alphas: npt.ArrayLike,
                      rel_tol: float = 0.1, n_windows: int = 32, seq_len: int = 64,
                      store: os.PathLike[str] | str | None = None) -> dict[str, Any]:
    """Both oracles of a checkpoint pre-trained on ``mix`` and their relative-tol basin widths.

    Oracles (:data:`ORACLES`): "inline-addition", the 0/1 greedy exact match on mix.heldout
    (:func:`basinlab.benchmarks._arithmetic.inline_addition_benchmark`), and "shakespeare-acc", next-token
    accuracy on the first n_windows x seq_len tokens of mix.plain_val_text (no additions). One landscape
    of both along ``directions`` unnormalized Gaussian directions on ``alphas`` (store: resumable).
    Returns a JSON-able dict: val_loss (nats/token on the mixed val split, 64 windows), and per oracle
    score, interval (Clopper-Pearson 95% over items for the 0/1 oracle, else None), tol, widths
    [directions] and :func:`width_summary`'s keys.
    """
    seq_len = validate.positive_int("seq_len", seq_len)
    plain = np.asarray(model.tokenizer(mix.plain_val_text, add_special_tokens=False, verbose=False)["input_ids"])
    acc = token_benchmark(windows(plain, n_windows, seq_len, seed=None), name=ORACLES[1])
    add = arithmetic.inline_addition_benchmark(model, mix.heldout, name=ORACLES[0])
    base = {b.name: measure(model, b) for b in (add, acc)}
    ds = landscape(model, [add, acc], directions=directions, alphas=np.asarray(alphas, np.float64),
                   store=None if store is None else pathlib.Path(store), progress=False)
    w = relative_widths(ds, rel_tol)
    out: dict[str, Any] = {"val_loss": evaluate_nll(model, windows(mix.corpus.val, 64, seq_len, seed=None))}
    for b in ORACLES:
        sel, m = w.sel(benchmark=b), base[b]
        interval = None if m.lower is None or m.upper is None else [float(m.lower), float(m.upper)]
        out[b] = {"score": float(m.score), "interval": interval,
                  "tol": float(sel["tol"]), "widths": [float(x) for x in sel["width"].values],
                  "censored": int(sel["censored"].sum()),
                  **width_summary(sel["width"].values, sel["censored"].values)}
    return out
