"""Definition 4.1's basin size found by evaluating: a geometric walk out in sigma, then bisection.

    size = basin_size(model, benchmarks, tol=0.1, directions=8, precision=2.5e-4, store="results/size")
    size["label"], size.attrs["n_evaluations"]

At each probed sigma, every one of the N directions is evaluated at alpha = -sigma and +sigma (one
:func:`basinlab.landscape.landscape` call, 2N perturbed evaluations shared by every benchmark); a
direction's two signs are averaged (an antithetic pair of draws of N(0, sigma^2 I)). Per benchmark
three curves are walked: the estimated drop D_hat(sigma) = S(theta0) - mean score and the two ends
of its band (:func:`basinlab.landscape.basin_size_on_grid`'s "t" or "bootstrap" band over
directions), each by :func:`basinlab.analysis.next_alpha` (the walk of ``basin_edges``): out on a
ladder start, start * growth, ... until the curve leaves the basin (D > tol), then bisection of the
bracket until it is at most `precision` wide. sigma*, sigma_lo and sigma_hi are the first crossings
of those curves, interpolated linearly inside their final brackets. Every probe serves every curve
and benchmark; with `store`, each probe's landscape is kept in its own subfolder, so a rerun (or a
killed run started again) evaluates nothing twice: the probes follow from the stored scores alone.
The search stops when every bracket is narrow enough, or before a probe that would exceed `budget`.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from basinlab import _validate as validate
from basinlab.analysis._edges import next_alpha, recipe_list, walk_settings
from basinlab.landscape._basecache import BaseScores
from basinlab.landscape._engine import landscape
from basinlab.landscape._options import SweepOptions, as_options
from basinlab.landscape._size import SIZE_METHODS, drop_band, size_dataset

__all__ = ["basin_size", "search_size"]

Probe = Callable[[float], tuple[np.ndarray, np.ndarray]]


def search_size(probe: Probe, higher: Sequence[bool], tol: float, *, precision: float, start: float,
                growth: float, max_sigma: float, budget: int | None = None, cost: int = 1, method: str = "t",
                confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[bool], str]:
    """The walk and bisection over any probe (no model: testable on a closed-form f).

    probe(sigma) -> (g [N, B] each direction's mean score over its two signs at sigma, base [B]
    theta0's scores); higher [B]: whether a higher score is better; cost: evaluations one probe
    uses (the budget counts them; 2N for a model). Arguments are taken as validated.
    Returns (sigmas [S] ascending, g [N, S, B], base [B], done [B]: every bracket of that benchmark
    found or at max_sigma, stopped: "converged" or why the search stopped)."""
    signs = np.where(np.asarray(higher, bool), 1.0, -1.0)
    probed: dict[float, np.ndarray] = {}
    base = np.zeros(len(signs))
    spent = 0

    def wanted() -> tuple[set[float], list[bool]]:
        if not probed:
            return {start}, [False] * len(signs)
        sig = np.asarray(sorted(probed))
        g = np.stack([probed[s] for s in sig], axis=1)  # [N, S, B]
        out: set[float] = set()
        done = []
        for b, sign in enumerate(signs):
            bands = drop_band(sign * g[..., b], sign * base[b], method, confidence, n_boot=n_boot, seed=seed)
            nexts = [next_alpha(list(zip(sig.tolist(), curve.tolist(), strict=True)), tol, precision, start,
                                growth, max_sigma)[0] for curve in bands]
            out |= {s for s in nexts if s is not None}
            done.append(all(s is None for s in nexts))
        return out, done

    while True:
        todo, done = wanted()
        if not todo:
            stopped = "converged"
            break
        if budget is not None and spent + cost > budget:
            stopped = f"budget: {spent} of {budget} evaluations spent, the next probe needs {cost}"
            break
        s = min(todo)  # nearest first: the ladder's rungs are needed in order
        if s in probed:  # would ask for the same point forever
            raise RuntimeError(f"the search asked again for sigma={s!r} (max_sigma={max_sigma!r} or a bisection "
                               f"point equal to one already evaluated)")
        g_s, base_s = probe(s)
        base = np.asarray(base_s, np.float64).reshape(-1)
        g_s = np.asarray(g_s, np.float64)
        if g_s.ndim != 2 or g_s.shape[1] != len(signs) or not np.isfinite(g_s).all() or not np.isfinite(base).all():
            raise ValueError(f"the probe at sigma={s:g} gave scores of shape {g_s.shape} (expected [directions, "
                             f"{len(signs)}]) or non-finite values: {g_s.ravel()[:8]}, base {base}")
        probed[s] = g_s
        spent += cost
    sig = np.asarray(sorted(probed))
    return sig, np.stack([probed[s] for s in sig], axis=1), base, done, stopped


def basin_size(model: Any, benchmarks: Any, tol: float = 0.1, directions: Any = 8, *, max_sigma: float = 0.1,
               precision: float = 2.5e-4, confidence: float = 0.95, method: str = "t", start: float | None = None,
               growth: float = 2.0, budget: int | None = None, store: os.PathLike[str] | str | None = None,
               chunk_size: int = 2, n_boot: int = 2000, seed: int = 0, options: SweepOptions | None = None
               ) -> xr.Dataset:
    """Definition 4.1's basin size sigma* of every benchmark, with its interval, by evaluating.

    model, benchmarks: as for :func:`basinlab.landscape.landscape` (a Benchmark or a list).
    tol: the allowed drop of the mean score below theta0's (> 0, score units).
    directions: a count N (Gaussian recipes, seeds 0..N-1; N >= 2) or a list of DirectionRecipe.
    max_sigma: the walk's end (a basin beyond it is censored there and named); precision: the
      bracket width at which sigma*, sigma_lo and sigma_hi are found (alpha units); start: the first
      sigma (default 4 * precision); growth: the ladder's ratio (> 1).
    confidence, method ("t" or "bootstrap", n_boot, seed): the interval, as for basin_size_on_grid.
    budget: the most perturbed evaluations to spend (a probe costs 2N), None for no limit.
    store: a folder; every probe's landscape keeps its blocks in a subfolder and a rerun reuses them.
    options: the landscape calls' other settings (compute_dtype, devices, normalization, ...), a
      SweepOptions; basin_size sets store and chunk_size itself.

    Returns basin_size_on_grid's Dataset over the probed sigmas (sigma_grid), with censored only
    where max_sigma was reached, unresolved [benchmark] (the budget ran out first: sigma and its
    interval are then what the probes so far give), and attrs n_evaluations (perturbed points),
    n_probes, stopped, precision, start, growth, max_sigma, budget.
    """
    tol = validate.nonnegative_scalar("tol", tol)
    if tol <= 0:
        raise ValueError(f"tol must be > 0 (the allowed drop of the mean score), got {tol!r}")
    tol, precision, start, growth, max_sigma = walk_settings(tol, precision, "one", "score", start, growth, max_sigma)
    confidence = validate.confidence("confidence", confidence)
    validate.choice("method", method, SIZE_METHODS)
    n_boot = validate.positive_int("n_boot", n_boot)
    budget = None if budget is None else validate.positive_int("budget", budget)
    options = as_options(options, "basin_size").reserve("basin_size", ("store", "chunk_size"))
    recipes = recipe_list(directions, options)
    if len(recipes) < 2:
        raise ValueError(f"the basin size's interval needs at least 2 directions, got {len(recipes)}")
    bench_list = list(benchmarks) if isinstance(benchmarks, (list, tuple)) else [benchmarks]
    higher = [bool(getattr(b, "higher_is_better", True)) for b in bench_list]
    base_cache = BaseScores()  # theta0 is evaluated once, by the first probe
    per_call = options.replace(chunk_size=chunk_size, progress=False)
    attrs: dict = {}

    def probe(s: float) -> tuple[np.ndarray, np.ndarray]:
        sub = None
        if store is not None:  # a probe's folder is named by its sigma, so a rerun finds it
            sub = pathlib.Path(store) / f"sigma-{hashlib.sha1(repr(s).encode()).hexdigest()[:12]}"
        ds = landscape(model, bench_list, directions=recipes, alphas=[-s, s], base_cache=base_cache,
                       options=per_call.replace(store=sub))
        attrs.update(ds.attrs)
        return ds["score"].mean("alpha").transpose("direction", "benchmark").values, ds["base_score"].values

    sigmas, g, base, done, stopped = search_size(
        probe, higher, tol, precision=precision, start=start, growth=growth, max_sigma=max_sigma, budget=budget,
        cost=2 * len(recipes), method=method, confidence=confidence, n_boot=n_boot, seed=seed)
    return size_from_search(sigmas, g, base, done, stopped, names=[b.name for b in bench_list], higher=higher,
                            tol=tol, confidence=confidence, method=method, n_boot=n_boot, seed=seed, attrs=attrs,
                            walk={"precision": precision, "start": start, "growth": growth, "max_sigma": max_sigma,
                                  "budget": -1 if budget is None else budget, "n_evaluations_per_probe":
                                  2 * len(recipes)})


def size_from_search(sigmas: np.ndarray, g: np.ndarray, base: np.ndarray, done: Sequence[bool], stopped: str, *,
                     names: Sequence[str], higher: Sequence[bool], tol: float, confidence: float, method: str,
                     n_boot: int, seed: int, attrs: dict, walk: dict) -> xr.Dataset:
    """The basin-size Dataset of a search (search_size's outputs; walk: its settings for the attrs)."""
    hib = np.asarray(higher, bool)
    bands = [drop_band(sgn * g[..., b], sgn * base[b], method, confidence, n_boot=n_boot, seed=seed)
             for b, sgn in enumerate(np.where(hib, 1.0, -1.0))]
    out = size_dataset(names=names, higher=hib, base=base, sigmas=sigmas, g=g, bands=bands, tol=tol,
                       confidence=confidence, method=method, interpolate=True, covers="directions",
                       end="max_sigma" if stopped == "converged" else "the last probe", attrs=attrs)
    unresolved = ~np.asarray(done, bool)
    # censored only where the walk reached max_sigma; a walk cut short by the budget is unresolved
    out["censored"] = out["censored"] & (sigmas[-1] >= walk["max_sigma"])
    out["censored_hi"] = out["censored_hi"] & (sigmas[-1] >= walk["max_sigma"])
    out["unresolved"] = ("benchmark", unresolved, {"long_name": "the budget ran out before every bracket was found"})
    labels = [f"{lab} (unresolved: {stopped})" if u else lab
              for lab, u in zip(out["label"].values.tolist(), unresolved, strict=True)]
    out["label"] = ("benchmark", labels)
    n_probes = int(sigmas.size)
    out.attrs.update(walk, n_probes=n_probes, n_evaluations=n_probes * int(walk["n_evaluations_per_probe"]),
                     stopped=stopped, note="theta0 is evaluated once more, by the first probe")
    if method == "bootstrap":
        out.attrs.update(n_boot=n_boot, seed=seed)
    return out
