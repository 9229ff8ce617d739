"""Landscape results as a self-describing xarray Dataset, NetCDF I/O (the `ds.basin` accessor is in accessor.py).

Dims: direction, alpha[, beta], benchmark, item. Variables:
    score       (direction, alpha[, beta], benchmark)        mean per-item score, in [0, 1]
    item_score  (direction, alpha[, beta], benchmark, item)  per-item score (NaN beyond n_items)
    nll         (direction, alpha[, beta], benchmark)        mean per-item NLL where the benchmark has one
    loss        (direction, alpha[, beta], benchmark)        T(s) of PAPER.md, 0 best, 1 worst
    base_score, base_nll (benchmark)                          at theta0
    item_reason, example_output (+ base_...)                  judged benchmarks' reasons and outputs
    budget_hits (direction, alpha[, beta], benchmark)        items whose generation hit the token budget
    base_budget_hits (benchmark)                              (their judge's reason starts with BUDGET_REASON)
Attrs carry provenance (`provenance`, the one function every Dataset's attrs come from: created_at,
versions, model, seeds, spec) and d, the direction recipes, the sweep as JSON.

The engine hands each benchmark's results at a block of grid points over as `BlockScores`;
`from_block_scores` assembles them into the Dataset, and `block_arrays` / `block_from_arrays` are
the plain-array form the engine's block store keeps (one array per field, named from the fields).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import flax.struct
import numpy as np
import xarray as xr

from basinlab._atomicio import atomic_path
from basinlab.scoring._base import BUDGET_REASON

__all__ = ["PROVENANCE_ATTRS", "BlockScores", "block_arrays", "block_from_arrays", "from_block_scores", "loss_T",
           "open_dataset", "point_of", "provenance", "save"]


@flax.struct.dataclass
class BlockScores:
    """One benchmark's results at a block of P grid points (numpy; None: not produced).

    score, nll: [P, n_items] float32; reason: [P, n_items] str (judged benchmarks, why each item
    passed or failed); example: [P, n_examples] str (the first generated outputs).
    """

    score: Any = None
    nll: Any = None
    reason: Any = None
    example: Any = None


def point_of(block: BlockScores, k: int) -> BlockScores:
    """The block's k-th grid point as a block of one point (every field keeps its leading axis)."""
    fields = {f.name: getattr(block, f.name) for f in dataclasses.fields(BlockScores)}
    return BlockScores(**{n: None if x is None else np.asarray(x)[k: k + 1] for n, x in fields.items()})


def _array_name(benchmark: str, field: str) -> str:
    return f"{benchmark}|{field}"  # the store's array names since basinlab 0.1, so old stores resume


def block_arrays(block: Mapping[str, BlockScores]) -> dict[str, np.ndarray]:
    """{benchmark name: BlockScores} as plain arrays, one per produced field ("<benchmark>|<field>")."""
    return {_array_name(name, f.name): getattr(scores, f.name)
            for name, scores in block.items() for f in dataclasses.fields(BlockScores)
            if getattr(scores, f.name) is not None}


def block_from_arrays(arrays: Mapping[str, np.ndarray], names: Sequence[str]) -> dict[str, BlockScores]:
    """The inverse of `block_arrays` for the benchmarks `names` (arrays of other names are ignored)."""
    return {name: BlockScores(**{f.name: arrays[_array_name(name, f.name)] for f in dataclasses.fields(BlockScores)
                                 if _array_name(name, f.name) in arrays})
            for name in names}


# The attrs `provenance` gives every Dataset basinlab returns.
PROVENANCE_ATTRS = ("created_at", "basinlab_version", "jax_version", "model", "seeds", "spec")


def json_default(x: Any) -> Any:
    """json.dumps' fallback: numpy scalars and arrays as Python values, anything else by its str."""
    return x.tolist() if isinstance(x, (np.ndarray, np.generic)) else str(x)


def provenance(function: str, spec: Mapping[str, Any] | None = None, *, model: Any = None,
               seeds: Sequence[int] | None = None, sources: Sequence[xr.Dataset] = ()) -> dict[str, str]:
    """The provenance attrs of a Dataset basinlab returns (every one goes through here, as ArviZ's
    make_attrs): created_at (UTC, ISO 8601, seconds), basinlab_version, jax_version, model (the
    model's id: `model` itself when a str, else its source or spec name), seeds (JSON list of the
    random seeds behind the numbers), spec (JSON of {"function": function, **spec}: the call that
    made it; numpy values as lists, other objects by their str). model may also be a list (several
    models: their distinct ids joined by ", ").

    sources: the Datasets it was derived from; model and seeds left None are taken from their attrs
    (seeds in order without repeats; "" and [] when there are none)."""
    import jax

    from basinlab._version import __version__

    def model_id(m: Any) -> str:
        if isinstance(m, str):
            return m
        return str(getattr(m, "source", "") or getattr(getattr(m, "spec", None), "name", "") or "")

    def stored_seeds(ds: xr.Dataset) -> list:
        try:
            found = json.loads(str(ds.attrs.get("seeds", "[]")))
        except json.JSONDecodeError:  # a Dataset not made by basinlab: no seeds to carry over
            return []
        return found if isinstance(found, list) else []

    if model is None:
        named = [str(ds.attrs["model"]) for ds in sources if ds.attrs.get("model")]
    else:
        named = [model_id(m) for m in (model if isinstance(model, (list, tuple)) else [model])]
    if seeds is None:
        seeds = list(dict.fromkeys(x for ds in sources for x in stored_seeds(ds)))
    return {
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "basinlab_version": __version__,
        "jax_version": jax.__version__,
        "model": ", ".join(dict.fromkeys(x for x in named if x)),
        "seeds": json.dumps(list(seeds), default=json_default),
        "spec": json.dumps({"function": function, **(spec or {})}, default=json_default),
    }


def from_block_scores(
    *, sweep, benchmarks: Sequence, model, alphas, betas, n_directions: int,
    blocks: Mapping[tuple[int, int], Mapping[str, BlockScores]], base: Mapping[str, BlockScores], described,
) -> xr.Dataset:
    """The Dataset of a sweep (module docstring) from the engine's typed blocks.

    blocks: (direction index, first grid-point index) -> {benchmark name: BlockScores over the
    block's points}; base: {benchmark name: BlockScores at theta0 (P = 1)}; grid points run over
    alphas (1-D) or the flattened (alpha, beta) grid, beta fastest. `sweep` (engine.Sweep),
    `model` and `described` (the directions as JSON) go into the provenance attrs."""
    grid_shape = (len(alphas),) if betas is None else (len(alphas), len(betas))
    n_points = int(np.prod(grid_shape))
    n_items = max(b.n_items for b in benchmarks)
    shape = (n_directions, *grid_shape, len(benchmarks), n_items)
    item = {"score": np.full(shape, np.nan, np.float32), "nll": np.full(shape, np.nan, np.float32)}
    base_item = {k: np.full((len(benchmarks), n_items), np.nan, np.float32) for k in item}
    nonfinite = 0  # NaN/inf scores at large alphas are kept as NaN and counted, never an error
    for bi, b in enumerate(benchmarks):
        for key in item:
            if getattr(base[b.name], key) is None:
                continue
            per_dir = np.full((n_directions, n_points, b.n_items), np.nan, np.float32)
            for (i, j), res in blocks.items():
                v = getattr(res[b.name], key)
                per_dir[i, j: j + len(v)] = v.reshape(len(v), -1)
            nonfinite += int((~np.isfinite(per_dir)).sum())
            item[key][..., bi, : b.n_items] = per_dir.reshape(n_directions, *grid_shape, b.n_items)
            base_item[key][bi, : b.n_items] = getattr(base[b.name], key).reshape(-1)
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
    with np.errstate(invalid="ignore"), quiet_nan_warnings():
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
    _add_budget_hits(ds)
    ds["loss"] = loss_T(ds)
    ds["base_loss"] = loss_T(ds, ds["base_score"])
    ds.attrs.update(
        title=f"basinlab landscape of {sweep.model}",
        **provenance("landscape", json.loads(sweep.to_json()), model=sweep.model, seeds=seeds),
        model_label=getattr(model.spec, "name", "") or str(sweep.model),
        d=int(sweep.d),
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
    for key, var, per_item in (("reason", "item_reason", True), ("example", "example_output", False)):
        at_base = [getattr(base[b.name], key) for b in benchmarks]
        if all(v is None for v in at_base):
            continue
        width = n_items if per_item else max(v.size for v in at_base if v is not None)
        arr = np.full((n_directions, n_points, len(benchmarks), width), "", dtype=object)
        base_arr = np.full((len(benchmarks), width), "", dtype=object)
        for bi, b in enumerate(benchmarks):
            if at_base[bi] is None:
                continue
            base_arr[bi, : at_base[bi].size] = at_base[bi].reshape(-1)
            for (i, j), res in blocks.items():
                v = getattr(res[b.name], key)
                arr[i, j: j + len(v), bi, : v.shape[1]] = v
        dim = "item" if per_item else "example"
        ds[var] = (("direction", *grid_dims, "benchmark", dim),
                   arr.reshape(n_directions, *grid_shape, len(benchmarks), width).astype(str))
        ds[f"base_{var}"] = (("benchmark", dim), base_arr.astype(str))


def _add_budget_hits(ds: xr.Dataset) -> None:
    """Per grid point, the number of items whose judge marked them as having hit the token budget
    (0 for benchmarks without a judge or without generation)."""
    if "item_reason" not in ds:
        return
    for var, out in (("item_reason", "budget_hits"), ("base_item_reason", "base_budget_hits")):
        hits = np.char.startswith(ds[var].values.astype(str), BUDGET_REASON).sum(-1).astype(np.int32)
        ds[out] = (ds[var].dims[:-1], hits, {
            "long_name": "items that hit the token budget (no EOS or stop string: the answer may be cut)",
            "units": "items"})


class quiet_nan_warnings:
    """Silence numpy's 'mean of empty slice' for benchmarks without an NLL."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def loss_T(ds: xr.Dataset, values: xr.DataArray | None = None) -> xr.DataArray:
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


def save(ds: xr.Dataset, path: os.PathLike[str] | str) -> None:
    """Write NetCDF (h5netcdf engine) atomically: to a temporary name in the same folder, then
    renamed, so a kill during the write leaves the previous file intact. Parents are created."""
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"save needs an xarray.Dataset, got {type(ds).__name__}")
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")


# The variables and dims every landscape Dataset has (`open_dataset(..., landscape=True)` checks them).
LANDSCAPE_VARIABLES = ("score", "base_score")
LANDSCAPE_DIMS = ("direction", "alpha", "benchmark")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def open_dataset(path: os.PathLike[str] | str, *, landscape: bool = False) -> xr.Dataset:
    """Read a Dataset written by `save` fully into memory.

    FileNotFoundError for a missing file; ValueError naming the file for a folder, a file that is
    not NetCDF/HDF5 (truncated, or another format), and with ``landscape=True`` a Dataset without
    the variables and dims of a landscape (`LANDSCAPE_VARIABLES`, `LANDSCAPE_DIMS`)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no landscape file at {path}")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder, not a NetCDF file (a store folder? pass the .nc file)")
    with open(path, "rb") as f:
        start = f.read(2056)
    head = start[:8]
    # NetCDF-4 is HDF5 (h5netcdf reads nothing else); its signature sits at byte 0, 512, 1024 or 2048.
    if not any(start[i: i + 8] == _HDF5_SIGNATURE for i in (0, 512, 1024, 2048)):
        raise ValueError(f"{path} is not a NetCDF-4/HDF5 file (first bytes {head!r}); expected a file "
                         f"written by basinlab.landscape._results.save")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds = ds.load()
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path} is not a readable NetCDF file (truncated or corrupt?): "
                         f"{type(e).__name__}: {e}") from None
    if landscape:
        missing = [v for v in LANDSCAPE_VARIABLES if v not in ds.variables]
        missing += [f"dim {d}" for d in LANDSCAPE_DIMS if d not in ds.dims]
        if missing:
            raise ValueError(f"{path} is a NetCDF file but not a basinlab landscape: it lacks "
                             f"{', '.join(missing)} (has variables {sorted(map(str, ds.data_vars))})")
    return ds
