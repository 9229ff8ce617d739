"""Landscape results as a self-describing xarray Dataset, NetCDF I/O and the `ds.basin` accessor.

Dims: direction, alpha[, beta], benchmark, item. Variables:
    score       (direction, alpha[, beta], benchmark)        mean per-item score, in [0, 1]
    item_score  (direction, alpha[, beta], benchmark, item)  per-item score (NaN beyond n_items)
    nll         (direction, alpha[, beta], benchmark)        mean per-item NLL where the benchmark has one
    loss        (direction, alpha[, beta], benchmark)        T(s) of PAPER.md, 0 best, 1 worst
    base_score, base_nll (benchmark)                          at theta0
Attrs carry provenance: created_at, versions, model, d, seeds, direction recipes, the sweep as JSON.
"""

from __future__ import annotations

import datetime
import json
import os
from typing import Optional

import numpy as np
import xarray as xr

from .stats import bootstrap_band, clopper_pearson

__all__ = ["from_blocks", "save", "open_dataset", "loss_T", "BasinAccessor"]


def _versions() -> dict:
    import jax

    from ._version import __version__

    return {"basinlab_version": __version__, "jax_version": jax.__version__}


def from_blocks(*, sweep, benchmarks, model, alphas, betas, n_directions, chunk, blocks, base, described):
    """Assemble per-block arrays (see landscape.py) into the Dataset."""
    grid_shape = (len(alphas),) if betas is None else (len(alphas), len(betas))
    n_points = int(np.prod(grid_shape))
    n_items = max(b.n_items for b in benchmarks)
    shape = (n_directions, *grid_shape, len(benchmarks), n_items)
    item = {"score": np.full(shape, np.nan, np.float32), "nll": np.full(shape, np.nan, np.float32)}
    base_item = {k: np.full((len(benchmarks), n_items), np.nan, np.float32) for k in item}
    nonfinite = 0  # NaN/inf scores at large alphas are kept as NaN and counted, never an error
    for bi, b in enumerate(benchmarks):
        for key in item:
            name = f"{b.name}|{key}"
            if name not in base:
                continue
            per_dir = np.full((n_directions, n_points, b.n_items), np.nan, np.float32)
            for (i, j), res in blocks.items():
                per_dir[i, j: j + len(res[name])] = res[name].reshape(len(res[name]), -1)
            nonfinite += int((~np.isfinite(per_dir)).sum())
            item[key][..., bi, : b.n_items] = per_dir.reshape(n_directions, *grid_shape, b.n_items)
            base_item[key][bi, : b.n_items] = base[name].reshape(-1)
    for v in (*item.values(), *base_item.values()):
        v[~np.isfinite(v)] = np.nan

    grid_dims = ("alpha",) if betas is None else ("alpha", "beta")
    dims = ("direction", *grid_dims, "benchmark")
    coords = {
        "direction": np.arange(n_directions),
        "alpha": np.asarray(alphas, np.float64),
        "benchmark": [b.name for b in benchmarks],
        "item": np.arange(n_items),
        "n_items": ("benchmark", np.asarray([b.n_items for b in benchmarks], np.int32)),
        "higher_is_better": ("benchmark", np.asarray([b.higher_is_better for b in benchmarks])),
        "chance": ("benchmark", np.asarray([np.nan if b.chance is None else b.chance for b in benchmarks])),
        "metric": ("benchmark", [b.metric for b in benchmarks]),
        "units": ("benchmark", [b.units for b in benchmarks]),
        # the first recipe's seed of each direction (-1 for an explicit direction pytree)
        "seed": ("direction", np.asarray([entry[0].get("seed", -1) for entry in described], np.int64)),
    }
    if betas is not None:
        coords["beta"] = np.asarray(betas, np.float64)
    with np.errstate(invalid="ignore"), _quiet():
        score = np.nanmean(item["score"], axis=-1)
        nll = np.nanmean(item["nll"], axis=-1)
        base_score = np.nanmean(base_item["score"], axis=-1)
        base_nll = np.nanmean(base_item["nll"], axis=-1)
    seeds = [r.get("seed") for entry in described for r in entry if "seed" in r]
    ds = xr.Dataset(
        {
            "score": (dims, score, {"long_name": "benchmark score", "units": "fraction"}),
            "item_score": ((*dims, "item"), item["score"], {"long_name": "per-item score", "units": "fraction"}),
            "nll": (dims, nll, {"long_name": "mean negative log-likelihood", "units": "nats/token"}),
            "base_score": (("benchmark",), base_score, {"long_name": "score at theta0", "units": "fraction"}),
            "base_nll": (("benchmark",), base_nll, {"long_name": "NLL at theta0", "units": "nats/token"}),
        },
        coords=coords,
    )
    ds["alpha"].attrs.update(
        long_name="alpha", units="1",
        description="scale of the direction: theta0 + alpha * delta (for unnormalized Gaussian directions, "
                    "the per-coordinate noise std)",
    )
    if betas is not None:
        ds["beta"].attrs.update(long_name="second-direction scale beta", units="1")
    _add_text(ds, benchmarks, blocks, base, n_directions, grid_shape, n_items)
    ds["loss"] = loss_T(ds)
    ds["base_loss"] = loss_T(ds, ds["base_score"])
    ds.attrs.update(
        title=f"basinlab landscape of {sweep.model}",
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **_versions(),
        model=sweep.model,
        model_label=getattr(model.spec, "name", "") or str(sweep.model),
        d=int(sweep.d),
        seeds=json.dumps(seeds),
        directions=json.dumps(described),
        compute_dtype=sweep.compute_dtype,
        benchmarks=json.dumps([b.attrs() for b in benchmarks]),
        sweep=sweep.to_json(),
        sweep_key=sweep.key,
        nonfinite_points=nonfinite,
    )
    return ds


def _add_text(ds, benchmarks, blocks, base, n_directions, grid_shape, n_items) -> None:
    """Judge reasons per item and example outputs of generating benchmarks, as string variables."""
    grid_dims = ("alpha",) if len(grid_shape) == 1 else ("alpha", "beta")
    n_points = int(np.prod(grid_shape))
    for key, var, width_of in (("reason", "item_reason", lambda b: n_items), ("example", "example_output", None)):
        names = [f"{b.name}|{key}" for b in benchmarks]
        if not any(nm in base for nm in names):
            continue
        width = n_items if width_of else max(base[nm].size for nm in names if nm in base)
        arr = np.full((n_directions, n_points, len(benchmarks), width), "", dtype=object)
        base_arr = np.full((len(benchmarks), width), "", dtype=object)
        for bi, nm in enumerate(names):
            if nm not in base:
                continue
            base_arr[bi, : base[nm].size] = base[nm].reshape(-1)
            for (i, j), res in blocks.items():
                v = res[nm]
                arr[i, j: j + len(v), bi, : v.shape[1]] = v
        dim = "item" if width_of else "example"
        ds[var] = (("direction", *grid_dims, "benchmark", dim),
                   arr.reshape(n_directions, *grid_shape, len(benchmarks), width).astype(str))
        ds[f"base_{var}"] = (("benchmark", dim), base_arr.astype(str))


class _quiet:
    """Silence numpy's 'mean of empty slice' for benchmarks without an NLL."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def loss_T(ds: xr.Dataset, values: Optional[xr.DataArray] = None) -> xr.DataArray:
    """T(s) = 1 - (s - min)/(max - min) per benchmark, min/max over all its scores in the Dataset
    (theta0 included); scores where lower is better are flipped first. 0 is best.
    values: score-space values to map (default ds.score; e.g. ds.base_score or ds.chance).
    Recomputed from `score`, so it is right after subsetting."""
    sign = xr.where(ds["higher_is_better"], 1.0, -1.0)
    s, b = ds["score"] * sign, ds["base_score"] * sign
    target = ds["score"] if values is None else values
    other = [d for d in s.dims if d != "benchmark"]
    lo = np.fmin(s.min(other), b)
    hi = np.fmax(s.max(other), b)
    t = 1 - (target * sign - lo) / (hi - lo).where(hi > lo)
    t = t.fillna(0.0).where(target.notnull())
    t.attrs.update(long_name="normalized loss T (0 = best score in the plot, 1 = worst)", units="1")
    return t


def save(ds: xr.Dataset, path: os.PathLike) -> None:
    """Write NetCDF (h5netcdf engine). Parents are created."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    ds.to_netcdf(path, engine="h5netcdf")


def open_dataset(path: os.PathLike) -> xr.Dataset:
    """Read a Dataset written by `save` fully into memory."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no landscape file at {path}")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def _edge(alphas, vals, base, tol, i0, step, interpolate):
    """(edge alpha, censored) walking from index i0 by step (+1/-1) while |vals - base| <= tol (NaN
    is outside): the last alpha inside, or with `interpolate` the alpha where the distance reaches
    tol between the last point inside and the first outside (that point when the distance there is
    not finite). censored: the walk reached the end of the grid."""
    i = i0
    while 0 <= i + step < len(alphas):
        j = i + step
        dj = abs(vals[j] - base)
        if not dj <= tol:
            if not interpolate:
                return alphas[i], False
            di = abs(vals[i] - base)
            if not np.isfinite(dj) or dj == di:
                return alphas[j], False
            return alphas[i] + (tol - di) / (dj - di) * (alphas[j] - alphas[i]), False
        i = j
    return alphas[i], True


@xr.register_dataset_accessor("basin")
class BasinAccessor:
    """Basin statistics of a landscape Dataset: `ds.basin.width(tol)`, `.strict_fraction(alpha)`, `.band()`."""

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    def loss(self) -> xr.DataArray:
        """T recomputed on this (possibly subset) Dataset."""
        return loss_T(self._ds)

    def width(self, tol: float = 0.05, variable: str = "score", interpolate: bool = False) -> xr.Dataset:
        """Basin edges per direction and benchmark: walking out from alpha = 0, the last grid alpha
        on each side whose score is within `tol` (absolute) of the base score; with interpolate=True,
        the alpha where |score - base| reaches `tol`, linearly interpolated between that point and
        the first one outside (widths then do not snap to the grid step). Edges that reach the end
        of the grid are flagged `censored` (the basin is at least that wide). 1-D sweeps only."""
        ds = self._ds
        if "beta" in ds.dims:
            raise ValueError("basin width is defined along one direction: select a beta first, e.g. ds.sel(beta=0)")
        if tol < 0:
            raise ValueError(f"tol must be >= 0, got {tol}")
        alphas = ds["alpha"].values
        order = np.argsort(alphas)
        alphas = alphas[order]
        vals = ds[variable].transpose("direction", "alpha", "benchmark").values[:, order]
        base = ds[f"base_{variable}"].values
        i0 = int(np.argmin(np.abs(alphas)))
        n_dir, n_a, n_b = vals.shape
        left = np.empty((n_dir, n_b))
        right = np.empty((n_dir, n_b))
        censored = np.zeros((n_dir, n_b), bool)
        for i in range(n_dir):
            for b in range(n_b):
                right[i, b], cr = _edge(alphas, vals[i, :, b], base[b], tol, i0, +1, interpolate)
                left[i, b], cl = _edge(alphas, vals[i, :, b], base[b], tol, i0, -1, interpolate)
                censored[i, b] = cr or cl
        dims = ("direction", "benchmark")
        out = xr.Dataset(
            {
                "left": (dims, left, {"long_name": "left basin edge", "units": "1"}),
                "right": (dims, right, {"long_name": "right basin edge", "units": "1"}),
                "width": (dims, right - left, {"long_name": f"basin width at tol={tol}", "units": "1"}),
                "censored": (dims, censored, {"long_name": "edge at the end of the grid"}),
            },
            coords={"direction": ds["direction"], "benchmark": ds["benchmark"]},
            attrs={"tol": tol, "variable": variable, "interpolated": int(interpolate)},
        )
        return out

    def strict_fraction(self, alpha: float, tol: float = 0.0, confidence: float = 0.99) -> xr.Dataset:
        """Fraction of directions that are strict basins at `alpha` (score >= base score - tol; tol = 0
        is PAPER.md's T = 0), with a two-sided Clopper-Pearson interval over directions."""
        ds = self._ds
        near = ds.sel(alpha=alpha, method="nearest")
        # "still at the unperturbed score", in the benchmark's better direction
        gap = (near["score"] - ds["base_score"]).where(ds["higher_is_better"], ds["base_score"] - near["score"])
        ok = (gap >= -tol - 1e-7) & near["score"].notnull()
        k = ok.sum("direction").values.astype(int)
        n = int(ds.sizes["direction"])
        lo, hi = clopper_pearson(k, n, confidence)
        coords = {"benchmark": ds["benchmark"]}
        return xr.Dataset(
            {"fraction": ("benchmark", k / n), "lower": ("benchmark", np.asarray(lo)),
             "upper": ("benchmark", np.asarray(hi)), "k": ("benchmark", k)},
            coords=coords,
            attrs={"alpha": float(near["alpha"]), "n": n, "confidence": confidence, "tol": tol},
        )

    def band(self, variable: str = "score", confidence: float = 0.95, n_boot: int = 1000, seed: int = 0) -> xr.Dataset:
        """Mean across directions with a percentile-bootstrap band of that mean."""
        da = self._ds[variable]
        axis = da.dims.index("direction")
        lo, hi = bootstrap_band(da.values, axis=axis, confidence=confidence, n_boot=n_boot, seed=seed)
        dims = [d for d in da.dims if d != "direction"]
        coords = {d: da[d] for d in dims}
        with _quiet():
            mean = np.nanmean(da.values, axis=axis)
        return xr.Dataset(
            {"mean": (dims, mean), "lower": (dims, lo), "upper": (dims, hi)},
            coords=coords, attrs={"confidence": confidence, "n_boot": n_boot, "variable": variable},
        )
