"""Worst-case collapse against the random basin edge, per benchmark (PAPER.md section 2).

    ds = landscape(model, benchmarks, directions=[wc.direction], alphas=worstcase.ONE_SIDED)
    collapse.collapse(ds, random_ds, tol=0.1)     # worst_alpha, random_edge, ratio per benchmark
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from basinlab import _validate as validate
from basinlab.landscape._accessor import DEFINITION, SIDED, better_is_higher, distance
from basinlab.landscape._results import provenance

__all__ = ["collapse"]


def _first_outside(alphas: np.ndarray, dist: np.ndarray, tol: float) -> float:
    """Smallest alpha > 0 whose distance from the base is more than tol (NaN counts as outside), else inf."""
    for a, v in sorted(zip(alphas, dist, strict=True)):
        if a > 0 and not v <= tol:
            return float(a)
    return math.inf


def collapse(worst: xr.Dataset, random: xr.Dataset, tol: float = 0.1, *, sided: str = "one") -> xr.Dataset:
    """Compare the worst-case collapse with the random-direction basin edge, per benchmark.

    worst: a one-sided sweep (alpha >= 0) along worst-case direction(s); random: a sweep along random
    directions. worst_alpha: the smallest grid alpha > 0 where the worst-case score is more than
    `tol` below the base score (``sided="one"``, a rise never leaves
    the basin; ``sided="two"``: more than `tol` from it either way) (min over worst-case
    directions; inf if it never leaves); random_edge: the median over random directions and both
    sides of the last grid alpha inside (ds.basin.width, same `sided`). ratio = random_edge /
    worst_alpha is conservative on both counts: the random edge is rounded down to the grid, the
    worst-case collapse up.
    """
    tol = float(validate.nonnegative("tol", tol))
    validate.choice("sided", sided, SIDED)
    missing = sorted(set(map(str, worst["benchmark"].values)) - set(map(str, random["benchmark"].values)))
    if missing:
        raise ValueError(f"benchmarks {missing} are in the worst-case sweep but not in the random one")
    w = random.basin.width(tol, sided=sided)
    names = [str(b) for b in worst["benchmark"].values]
    higher = dict(zip(names, better_is_higher(worst, "score"), strict=True))
    worst_alpha, edge, censored = [], [], []
    for b in names:
        alphas = worst["alpha"].values
        base = float(worst["base_score"].sel(benchmark=b))
        per_dir = [_first_outside(alphas, distance(worst["score"].sel(benchmark=b, direction=k).values, base,
                                                   higher[b], sided), tol)
                   for k in worst["direction"].values]
        worst_alpha.append(min(per_dir))
        sides = np.concatenate([-w["left"].sel(benchmark=b).values, w["right"].sel(benchmark=b).values])
        edge.append(float(np.median(sides)))
        censored.append(bool(w["censored"].sel(benchmark=b).any()))
    worst_alpha, edge = np.asarray(worst_alpha), np.asarray(edge)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.isfinite(worst_alpha), edge / worst_alpha, np.nan)
    dims = ("benchmark",)
    return xr.Dataset(
        {"worst_alpha": (dims, worst_alpha, {"long_name": "worst-case collapse alpha"}),
         "random_edge": (dims, edge, {"long_name": "median random-direction basin edge"}),
         "random_censored": (dims, censored, {"long_name": "a random edge reached the end of its grid"}),
         "ratio": (dims, ratio, {"long_name": "random edge / worst-case collapse"})},
        coords={"benchmark": names},
        attrs={**provenance("collapse", {"tol": tol, "sided": sided}, sources=[worst, random]),
               "tol": tol, "sided": sided, "definition": DEFINITION[sided]})
