"""Basin edges found precisely: a geometric walk out from theta0, then bisection, per direction and side.

    from basinlab.analysis import basin_edges
    edges = basin_edges(model, benchmarks, directions=4, tol=0.1, precision=5e-4, store="results/edges")
    edges["width"].median("direction")          # one-sided edges by default
    edges[["low", "high"]]                      # the bracket of every edge: low inside, high outside
    edges_on_grid(dense, tol=0.1, precision=5e-4)  # the same walk on an evaluated dense grid: its cost

A dense grid of step h costs 2 * max_alpha / h evaluations per direction to place an edge within h.
Here each side of each direction walks out from alpha = 0 on a geometric ladder (start, start *
growth, ...) until a point leaves the basin, then bisects the bracket [last inside, first outside]
until it is at most `precision` wide: about log2(edge / start) + log2(edge / precision) points per
side. Every evaluation is shared by every benchmark (each has its own edge; a point one benchmark
asked for serves the others), and all of them go through :func:`basinlab.landscape.landscape` with
explicit alphas: with `store`, each call's blocks are kept in a resumable store, so a rerun (or a
killed run started again) evaluates nothing twice. The calls are deterministic (the alphas follow
from the stored scores), so a rerun asks for the same points.

A point is in the basin while its score has not dropped by more than `tol` below theta0's
(``sided="one"``, a rise never ends the basin) or while it is within
`tol` either way (``sided="two"``); NaN is outside. With a 0/1 oracle the score is the item mean and
is noisy along alpha: the edge is that of the item-mean score, and a bisection finds *a* crossing in
the first bracket; `low`/`high` say where it was found, and every evaluated point in (0, low] is
inside.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import types
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from basinlab import _validate as validate
from basinlab.landscape import BaseScores, SweepOptions, landscape
from basinlab.landscape._accessor import DEFINITION, SIDED, better_is_higher, describe, distance
from basinlab.landscape._options import as_options
from basinlab.landscape._results import provenance
from basinlab.models._model import Model
from basinlab.scoring._base import Benchmark

__all__ = ["SIDES", "basin_edges", "edges_on_grid", "next_alpha", "recipe_list", "walk_settings"]

SIDES = ("left", "right")


def next_alpha(points, tol: float, precision: float, start: float, growth: float, max_alpha: float):
    """The next |alpha| to evaluate on one side, from the points evaluated there.

    points: (|alpha|, distance) pairs (distance as in :func:`basinlab.landscape._accessor.distance`;
    theta0 itself is not listed). Walking out from 0, low is the last point inside before the first
    one outside, high that first point outside (None if none yet). Returns (next, low, high): next is
    None when the edge is found (high - low <= precision) or censored (no point up to max_alpha left
    the basin: high is None).
    """
    low, high = 0.0, None
    for a, d in sorted(points):
        if d <= tol:  # NaN compares False: outside
            low = a
        else:
            high = a
            break
    if high is None:
        if low >= max_alpha:
            return None, low, None
        return (start if low == 0.0 else min(low * growth, max_alpha)), low, None
    if high - low <= precision * (1 + 1e-9):  # float slack: 0.04 - 0.03 is 0.010000000000000002
        return None, low, high
    return 0.5 * (low + high), low, high


def recipe_list(directions: Any, options: SweepOptions) -> list[Any]:
    """The directions as a list; a count n becomes Gaussian recipes of seeds 0..n-1 (with the
    options' normalization, include and exclude)."""
    if isinstance(directions, (int, np.integer)) and not isinstance(directions, bool):
        n = validate.positive_int("directions", directions)
        return [options.recipe(i) for i in range(n)]
    if isinstance(directions, (str, bytes)) or not isinstance(directions, Sequence) or not directions:
        raise ValueError(f"directions must be a count or a non-empty list of DirectionRecipe or direction "
                         f"pytrees, got {directions!r}")
    return list(directions)


def basin_edges(model: Model, benchmarks: Benchmark | Sequence[Benchmark], directions: Any = 4, tol: float = 0.1,
                precision: float = 5e-4, *,
                sided: str = "one", variable: str = "score", start: float | None = None, growth: float = 2.0,
                max_alpha: float = 0.1, store: os.PathLike[str] | str | None = None, chunk_size: int = 2,
                options: SweepOptions | None = None) -> xr.Dataset:
    """Basin edges of every benchmark along every direction, each bracketed to `precision` in alpha.

    model, benchmarks: as for :func:`basinlab.landscape.landscape` (a Benchmark or a list).
    directions: a count n (unnormalized Gaussian recipes with seeds 0..n-1; the options'
      `normalization`, `include`, `exclude` apply) or a list of DirectionRecipe / direction pytrees.
    tol: how far (in `variable`'s units) the value may get worse than theta0's (>= 0).
    precision: the bracket width at which an edge is found (> 0, alpha units).
    sided: "one" (default: a drop of more than tol ends the basin) or "two" (a change either way).
    variable: "score" or "nll" (lower is better).
    start: the first |alpha| of the walk (default 4 * precision, at most max_alpha); growth: the ladder's ratio (> 1);
      max_alpha: the walk's end: an edge beyond it is censored at max_alpha.
    store: a folder; every landscape call keeps its blocks in a subfolder, and a rerun reuses them.
    chunk_size: grid points per compiled call of the engine (fixed, so it compiles once).
    options: a :class:`basinlab.landscape.SweepOptions` for every landscape call (compute_dtype,
      devices, mesh, ...); its store and chunk_size are basin_edges' own arguments (ValueError if set
      there), and the calls run without a progress bar.

    Returns an xarray Dataset:
      <variable> [direction, alpha, benchmark]: the evaluated points (alpha: every |alpha| any side
        asked for, signed; NaN where that direction was not evaluated), evaluated [direction, alpha],
        base_<variable> [benchmark];
      low, high [direction, side, benchmark]: the bracket in |alpha| (low inside, high outside; high
        NaN when censored), edge: the signed alpha of low, crossing: where the distance reaches tol,
        interpolated linearly inside the bracket (edge when censored), censored;
      left, right, width [direction, benchmark]: the edges as ``ds.basin.width`` gives them;
      n_evaluations [direction]: perturbed points evaluated; attrs n_evaluations (total), n_calls
        (landscape calls; theta0 is evaluated by the first only), tol, precision, sided, definition, ...
    """
    tol, precision, start, growth, max_alpha = walk_settings(tol, precision, sided, variable, start, growth,
                                                             max_alpha)
    chunk_size = validate.positive_int("chunk_size", chunk_size)
    options = as_options(options, "basin_edges").reserve("basin_edges", ("store", "chunk_size"))
    recipes = recipe_list(directions, options)  # a count takes normalization/include/exclude
    per_call = options.replace(chunk_size=chunk_size, progress=False)
    base_cache = BaseScores()  # theta0 is evaluated once, not once per landscape call

    def evaluate(i: int, alphas: list[float]) -> xr.Dataset:
        sub = None
        if store is not None:
            tag = hashlib.sha1(json.dumps([repr(a) for a in alphas]).encode()).hexdigest()[:12]
            sub = os.path.join(os.fspath(store), f"direction-{i:03d}", f"points-{tag}")
        return landscape(model, benchmarks, directions=[recipes[i]], alphas=alphas, base_cache=base_cache,
                         options=per_call.replace(store=sub))

    out = _walk(evaluate, recipes, tol, precision, sided, variable, start, growth, max_alpha)
    return out.assign_attrs(provenance("basin_edges", dict(out.attrs), model=model,
                                       seeds=[int(s) for s in out["seed"].values if s >= 0]))


def edges_on_grid(ds: xr.Dataset, tol: float = 0.1, precision: float = 5e-4, *, sided: str = "one",
                  variable: str = "score", start: float | None = None, growth: float = 2.0,
                  max_alpha: float | None = None) -> xr.Dataset:
    """The walk and bisection of :func:`basin_edges`, read off a landscape that is already evaluated.

    ds: a landscape Dataset with a 1-D alpha grid reaching both sides of 0 (``variable``
    [direction, alpha, benchmark] and base_<variable> [benchmark]), e.g. a dense grid of step
    `precision`. Every point the walk asks for is taken from ds instead of the model, so the result
    (the same Dataset as basin_edges returns) tells what basin_edges would find and how many points
    it would evaluate, for any subset of ds's benchmarks (``ds.sel(benchmark=[...])``) and any tol,
    without evaluating anything.
    max_alpha: default the largest |alpha| the grid has on both sides (a value within 1e-9 of a grid
    point is that point).
    Which grids hold the walk: a grid of step h holds every rung (start * growth^k, with the default
    start 4 * precision and growth 2) and every bisection point of a bracket h * 2^j wide. That is
    every bracket below the last rung; the last one, [last rung, max_alpha], holds when
    max_alpha - last rung is h * 2^j too (notebook 01: h = 5e-4, rungs 0.002, 0.004, 0.008, then
    max_alpha 0.01). A point the walk needs that is not on the grid (within 1e-9) raises a
    ValueError naming it and what to change.
    """
    if not {"direction", "alpha", "benchmark"} <= set(ds.dims) or "beta" in ds.dims or variable not in ds \
            or f"base_{variable}" not in ds:
        raise ValueError(f"ds must be a 1-D landscape (dims direction, alpha, benchmark) holding {variable!r} and "
                         f"'base_{variable}'; got dims {dict(ds.sizes)} and variables {list(ds.data_vars)}")
    grid = np.asarray(ds["alpha"].values, np.float64)
    if not grid.min() < 0 < grid.max():
        raise ValueError(f"ds's alpha grid must reach both sides of 0 (the walk goes both ways), got "
                         f"[{grid.min():g}, {grid.max():g}]")

    def on_grid(a: float) -> int | None:
        j = int(np.argmin(np.abs(grid - a)))
        return j if abs(grid[j] - a) <= 1e-9 else None

    if max_alpha is None:  # as far as the grid reaches on both sides
        max_alpha = float(min(-grid.min(), grid.max()))
    elif on_grid(max_alpha) is not None:  # the grid's own value: its next rung is then a point it has
        max_alpha = float(grid[on_grid(max_alpha)])
    tol, precision, start, growth, max_alpha = walk_settings(tol, precision, sided, variable, start, growth,
                                                             max_alpha)
    values = ds[variable].transpose("direction", "alpha", "benchmark")

    def evaluate(i: int, alphas: list) -> xr.Dataset:
        idx = [on_grid(a) for a in alphas]
        for a, j in zip(alphas, idx, strict=True):
            if j is None:
                raise ValueError(
                    f"the walk needs alpha={a:g}, which is not on ds's alpha grid ({grid.min():g}..{grid.max():g}, "
                    f"{grid.size} points): with start={start:g}, growth={growth:g}, max_alpha={max_alpha:g}, a "
                    f"bracket is bisected that is not the grid step times a power of 2; evaluate a finer grid, "
                    f"or pass a max_alpha that is the last rung plus such a width")
        out = values.isel(direction=[i], alpha=idx).to_dataset(name=variable)
        return out.assign({f"base_{variable}": ds[f"base_{variable}"]})

    seeds = np.atleast_1d(ds["seed"].values) if "seed" in ds.coords else np.full(ds.sizes["direction"], -1)
    directions = [types.SimpleNamespace(seed=int(x) if np.isfinite(x) else -1) for x in seeds]  # only seeds are read
    out = _walk(evaluate, directions, tol, precision, sided, variable, start, growth, max_alpha)
    return out.assign_attrs(provenance("edges_on_grid", dict(out.attrs), sources=[ds]))


def walk_settings(tol, precision, sided, variable, start, growth, max_alpha):
    """Validated (tol, precision, start, growth, max_alpha) of a walk."""
    tol = validate.nonnegative_scalar("tol", tol)
    precision = validate.nonnegative_scalar("precision", precision)
    if precision <= 0:
        raise ValueError(f"precision must be > 0, got {precision!r}")
    validate.choice("sided", sided, SIDED)
    validate.choice("variable", variable, ("score", "nll"))
    max_alpha = validate.nonnegative_scalar("max_alpha", max_alpha)
    start = min(4 * precision, max_alpha) if start is None else validate.nonnegative_scalar("start", start)
    growth = validate.finite("growth", growth)
    if not start > 0 or not max_alpha >= start:
        raise ValueError(f"need 0 < start <= max_alpha, got start={start!r}, max_alpha={max_alpha!r}")
    if not growth > 1:
        raise ValueError(f"growth must be > 1, got {growth!r}")
    return tol, precision, start, growth, max_alpha


def _walk(evaluate, recipes, tol, precision, sided, variable, start, growth, max_alpha) -> xr.Dataset:
    """Round after round, evaluate(i, alphas) -> a one-direction landscape Dataset at the signed alphas
    that some benchmark's walk or bisection along direction i needs next, until none needs any."""
    values: list[dict] = [{} for _ in recipes]  # per direction: signed alpha -> [benchmark] values
    base = higher = names = None
    n_calls = 0
    while True:
        pending = False
        for i in range(len(recipes)):
            wanted = _wanted(values[i], base, higher, tol, precision, start, growth, max_alpha, sided)
            if not wanted:
                continue
            pending = True
            ds = evaluate(i, sorted(wanted))
            n_calls += 1
            if all(float(a) in values[i] for a in ds["alpha"].values):  # would ask for the same points forever
                raise RuntimeError(f"the walk along direction {i} asked for {sorted(wanted)}, which gave no new "
                                   f"point (max_alpha={max_alpha!r} or a bisection point is one already evaluated)")
            if base is None:
                base = ds[f"base_{variable}"].values.astype(np.float64)
                higher = better_is_higher(ds, variable)
                names = [str(b) for b in ds["benchmark"].values]
            vals = ds[variable].isel(direction=0).transpose("alpha", "benchmark").values
            for a, v in zip(ds["alpha"].values, vals, strict=True):
                values[i][float(a)] = v.astype(np.float64)
        if not pending:
            break
    return _dataset(values, base, higher, names, recipes, tol, precision, sided, variable, start, growth,
                    max_alpha, n_calls)


def _side_points(vals: dict, sign: float, b: int, base, higher, sided):
    return [(abs(a), float(distance(v[b], base[b], higher[b], sided))) for a, v in vals.items() if a * sign > 0]


def _wanted(vals, base, higher, tol, precision, start, growth, max_alpha, sided) -> set:
    """Signed alphas that some benchmark's walk or bisection needs next along one direction."""
    if base is None:  # nothing evaluated yet: the first rung on both sides
        return {-start, start}
    out = set()
    for sign in (-1.0, 1.0):
        for b in range(len(base)):
            nxt, _, _ = next_alpha(_side_points(vals, sign, b, base, higher, sided), tol, precision, start,
                                   growth, max_alpha)
            if nxt is not None:
                out.add(sign * nxt)
    return out


def _dataset(values, base, higher, names, recipes, tol, precision, sided, variable, start, growth, max_alpha,
             n_calls) -> xr.Dataset:
    n_dir, n_b = len(values), len(names)
    grid = np.asarray(sorted({a for vals in values for a in vals}), np.float64)
    pts = np.full((n_dir, grid.size, n_b), np.nan)
    evaluated = np.zeros((n_dir, grid.size), bool)
    low, high, edge, crossing = (np.full((n_dir, 2, n_b), np.nan) for _ in range(4))
    censored = np.zeros((n_dir, 2, n_b), bool)
    for i, vals in enumerate(values):
        for a, v in vals.items():
            j = int(np.searchsorted(grid, a))
            pts[i, j], evaluated[i, j] = v, True
        for s, sign in enumerate((-1.0, 1.0)):
            for b in range(n_b):
                side = _side_points(vals, sign, b, base, higher, sided)
                _, lo, hi = next_alpha(side, tol, precision, start, growth, max_alpha)
                low[i, s, b], edge[i, s, b] = lo, sign * lo
                if hi is None:
                    censored[i, s, b], crossing[i, s, b] = True, sign * lo
                    continue
                high[i, s, b] = hi
                dist = dict(side)
                d_lo, d_hi = (0.0 if lo == 0.0 else dist[lo]), dist[hi]
                frac = (tol - d_lo) / (d_hi - d_lo) if math.isfinite(d_hi) and d_hi != d_lo else 1.0
                crossing[i, s, b] = sign * (lo + frac * (hi - lo))
    label = describe(sided, tol)
    three, two = ("direction", "side", "benchmark"), ("direction", "benchmark")
    n_eval = evaluated.sum(axis=1)
    return xr.Dataset(
        {variable: (("direction", "alpha", "benchmark"), pts, {"long_name": f"{variable} at the evaluated points"}),
         "evaluated": (("direction", "alpha"), evaluated),
         f"base_{variable}": ("benchmark", base, {"long_name": f"{variable} at theta0"}),
         "low": (three, low, {"long_name": "|alpha| of the last point inside the basin", "units": "1"}),
         "high": (three, high, {"long_name": "|alpha| of the first point outside (NaN: censored)", "units": "1"}),
         "edge": (three, edge, {"long_name": f"basin edge ({label}): signed alpha of low", "units": "1"}),
         "crossing": (three, crossing, {"long_name": "alpha where the distance reaches tol, interpolated "
                                                     "inside the bracket", "units": "1"}),
         "censored": (three, censored, {"long_name": f"no point up to max_alpha = {max_alpha:g} left the basin"}),
         "left": (two, edge[:, 0], {"long_name": f"left basin edge ({label})", "units": "1"}),
         "right": (two, edge[:, 1], {"long_name": f"right basin edge ({label})", "units": "1"}),
         "width": (two, edge[:, 1] - edge[:, 0], {"long_name": f"basin width ({label})", "units": "1"}),
         "n_evaluations": ("direction", n_eval, {"long_name": "perturbed points evaluated"})},
        coords={"direction": np.arange(n_dir), "alpha": grid, "side": list(SIDES), "benchmark": names,
                "higher_is_better": ("benchmark", higher),
                "seed": ("direction", [getattr(r, "seed", -1) for r in recipes])},
        attrs={"tol": tol, "precision": precision, "sided": sided, "definition": DEFINITION[sided],
               "variable": variable, "start": start, "growth": growth, "max_alpha": max_alpha,
               "n_evaluations": int(n_eval.sum()), "n_calls": n_calls,
               "note": "theta0 is evaluated once more (by the first landscape call), not per call"},
    )
