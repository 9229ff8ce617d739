"""Basin widths of models: one model on held-out tokens, and one model around several centres.

    ds, w = basins.basin_width(model, tokens, directions=8, alphas=np.linspace(-0.1, 0.1, 21), tol=0.05)
    out = basins.widths_around(model, {"theta0": model.params, "sft": run.params}, benchmarks,
                               directions=4, alphas=alphas, tol=0.1)

Width (Figure 5b, basin growth, basins and scale): next-token accuracy under weight noise falls
smoothly (PAPER.md section 2), so a basin edge is a threshold. Walking out from alpha = 0 along one
unnormalized Gaussian direction (alpha = per-coordinate noise std), the edge on each side is where
the score has dropped by ``tol`` below score(0) (``ds.basin.width``; one-sided, the paper's
one-sided, by default; ``sided="two"``: where |score(alpha) - score(0)| reaches ``tol``);
:func:`basin_width` interpolates it between grid points, so widths do not snap to the grid step.
A model's width is the median over directions. Both functions run landscapes
(:func:`basinlab.landscape.landscape`) and return the Dataset with the widths.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from basinlab import _validate as validate
from basinlab.landscape import SweepOptions, landscape
from basinlab.landscape._accessor import SIDED
from basinlab.landscape._options import as_options
from basinlab.landscape._results import provenance
from basinlab.models._model import Model
from basinlab.scoring._base import Benchmark
from basinlab.scoring._text import token_benchmark

__all__ = ["basin_width", "widths_around"]


def basin_width(model: Model, tokens: Any, directions: int = 8, alphas: Any = None, tol: float = 0.05,
                variable: str = "score", name: str = "val", progress: bool = False, *, sided: str = "one",
                store: os.PathLike[str] | str | None = None, options: SweepOptions | None = None
                ) -> tuple[xr.Dataset, float]:
    """Most-case landscape of ``model`` on next-token accuracy over ``tokens`` [n, T] and its width.

    alphas: the grid (default ``np.linspace(-0.1, 0.1, 21)``); variable: "score" (accuracy, ``tol``
    absolute) or "nll" (``tol`` in nats); sided: "one" (a drop of tol ends the basin, the default)
    or "two" (a change of tol either way). store: the landscape's block store (a stopped run resumes
    from it). options: a :class:`basinlab.landscape.SweepOptions` for the landscape (mesh,
    compute_dtype, ...; its store is basin_width's own argument, ValueError if set there, and its
    progress is replaced by basin_width's).
    Returns (ds, w): the landscape Dataset and the median over directions of the interpolated width of
    the single benchmark (float, alpha units).
    """
    validate.choice("sided", sided, SIDED)
    options = as_options(options, "basin_width").reserve("basin_width", ("store",))
    alphas = np.linspace(-0.1, 0.1, 21) if alphas is None else alphas
    bench = token_benchmark(tokens, name=name, description=f"{len(tokens)} x {np.shape(tokens)[1]} "
                                                           "held-out tokens")
    ds = landscape(model, bench, directions=directions, alphas=np.asarray(alphas, np.float64),
                   options=options.replace(progress=progress, store=store))
    width = ds.basin.width(tol, variable, interpolate=True, sided=sided)["width"]
    return ds, float(width.median("direction").values[0])


def widths_around(model: Model, centers: Mapping[str, Any], benchmarks: Benchmark | Sequence[Benchmark], *,
                  directions: Any = 4, alphas: Any, tol: float = 0.1, sided: str = "one",
                  store: os.PathLike[str] | str | None = None, options: SweepOptions | None = None) -> xr.Dataset:
    """Basin widths of each benchmark around each center (name -> params pytree), along the same
    random directions: width = the median over directions of ``ds.basin.width(tol, sided=sided)``
    (grid edges; one-sided by default: a drop of tol from the center's score ends the basin),
    censored = any direction's edge at the grid's end, base_score = the score at the center; dims
    (center, benchmark). "Specific basins inside the basic basin": compare theta0 and theta_sft.
    A ``store`` folder holds one store per center, ``<store>/center-<label>``. options: a
    :class:`basinlab.landscape.SweepOptions` for every landscape (its store is widths_around's own
    argument, ValueError if set there; the landscapes run without a progress bar)."""
    validate.choice("sided", sided, SIDED)
    options = as_options(options, "widths_around").reserve("widths_around", ("store",))
    if not centers:
        raise ValueError("centers is empty: give {name: params}, e.g. {'theta0': model.params}")
    rows, sources = [], []
    for label, params in centers.items():
        sub = None if store is None else os.path.join(os.fspath(store), f"center-{label}")
        ds = landscape(model.with_params(params), benchmarks, directions=directions, alphas=alphas,
                       options=options.replace(progress=False, store=sub))
        w = ds.basin.width(tol, sided=sided)
        sources.append(ds)
        rows.append(xr.Dataset({"width": w["width"].median("direction"), "censored": w["censored"].any("direction"),
                                "base_score": ds["base_score"]}).expand_dims(center=[label]))
    spec = {"centers": list(map(str, centers)), "directions": directions, "alphas": alphas, "tol": tol, "sided": sided}
    return xr.concat(rows, "center").assign_attrs(**provenance("widths_around", spec, model=model, sources=sources),
                                                  tol=tol, sided=sided)
