"""The landscape engine: benchmark scores at theta0 + alpha * delta (+ beta * delta2) over a grid.

One compiled program per sweep (``landscape.program``). Each call evaluates one direction (or
plane) at a block of grid points: the direction is regenerated from its random seed inside the
program (never stored), the block's points are split over the mesh's ``points`` axis, weights may
be sharded over its ``model`` axis (``landscape.mesh``), and each device walks its points with
lax.map, forming theta0 + alpha * delta afresh in float32 for every point, either whole or one layer
at a time inside the forward pass (``perturbation``). theta0 is never modified and no perturbation
is ever accumulated. Seeds and coefficients are traced arrays, so no grid value or direction
triggers a recompilation. Every score function returns `benchmarks.Scores`; judges run on the host
after each block. Each block's results are kept per benchmark as `results.BlockScores`, appended
to an on-disk store as they finish (so a killed sweep resumes where it stopped), and assembled into
the Dataset by `results.from_block_scores`. With several processes (``jax.distributed``), every
process runs every block on its share of the devices and process 0 alone writes the store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from basinlab import _validate as validate
from basinlab.directions import _recipes as D
from basinlab.landscape import _mesh as M
from basinlab.landscape import _results as results
from basinlab.landscape._fingerprint import fingerprint
from basinlab.landscape._program import PERTURBATIONS, choose_perturbation, chunk_program
from basinlab.landscape._store import BlockStore
from basinlab.models._model import Model, count_params
from basinlab.scoring._base import Benchmark, Judged, Scores

__all__ = ["DEFAULT_ALPHAS", "landscape", "Sweep", "parse_grid"]

DEFAULT_ALPHAS = np.arange(-0.01, 0.01, 5e-4)  # landscape()'s grid: 40 points, -0.01 to 0.0095


def parse_grid(text: str) -> np.ndarray:
    """"start:stop:step" (numpy arange, stop excluded, as the paper's scripts) or "a,b,c"."""
    try:
        if ":" not in text:
            return np.asarray([float(x) for x in text.split(",")])
        start, stop, step = (float(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"grid {text!r} is not 'start:stop:step' or a comma-separated list of numbers") from None
    validate.arange(f"grid {text!r}", start, stop, step)  # a zero, wrong-signed or tiny step
    # rounding removes arange's float residue (3.5e-18 where the user meant 0)
    return np.round(np.arange(start, stop, step), 12)


def _check_grid(name: str, values) -> np.ndarray:
    try:
        grid = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} grid must be a 1-D sequence of numbers, got {values!r}") from None
    if grid.size == 0:
        raise ValueError(f"{name} grid is empty; give at least one value")
    if not np.all(np.isfinite(grid)):
        raise ValueError(f"{name} grid has non-finite values: {grid[~np.isfinite(grid)].tolist()}")
    return grid


@dataclasses.dataclass(frozen=True)
class Sweep:
    """Everything that defines a sweep's numbers; its JSON is the resume key and provenance."""

    model: str
    d: int
    benchmarks: tuple
    directions: tuple  # recipe dicts, or {"explicit": index} for given pytrees
    alphas: tuple
    betas: tuple | None
    chunk_size: int
    compute_dtype: str
    params: str = ""     # fingerprint of theta0's values (landscape.fingerprint): same name, other weights
    data: tuple = ()     # fingerprint of each benchmark's data

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @property
    def key(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def _normalize_directions(directions, params, recipe_kwargs) -> tuple[list, list]:
    """-> (list of direction entries, list of JSON descriptions). An entry is a tuple of one (1-D) or
    two (2-D) items, each a DirectionRecipe or a float32 pytree shaped like the params."""
    if directions is None or isinstance(directions, (str, bytes, bool, float)):
        raise TypeError(f"directions must be a count, DirectionRecipes or direction pytrees, got {directions!r}")
    if isinstance(directions, (int, np.integer)):
        if directions < 1:
            raise ValueError(f"directions must be >= 1, got {directions}")
        directions = [D.DirectionRecipe(seed=i, **recipe_kwargs) for i in range(int(directions))]
    elif isinstance(directions, D.DirectionRecipe) or isinstance(directions, dict):
        directions = [directions]
    directions = list(directions)
    if not directions:
        raise ValueError("no directions given: pass a count, DirectionRecipes or direction pytrees")
    entries, described = [], []
    for i, entry in enumerate(directions):
        items = entry if isinstance(entry, tuple) else (entry,)
        for item in items:
            if not isinstance(item, D.DirectionRecipe):
                D.check_compatible(params, item)
        entries.append(items)
        described.append([it.to_dict() if isinstance(it, D.DirectionRecipe)
                          else {"explicit": i, "fingerprint": fingerprint(it)} for it in items])
    return entries, described


def landscape(
    model: Model,
    benchmarks: Benchmark | Sequence[Benchmark],
    directions: Any = 8,
    alphas: Any = DEFAULT_ALPHAS,
    betas: Any = None,
    *,
    normalization: str = "none",
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    chunk_size: int | None = None,
    store: os.PathLike | None = None,
    compute_dtype: Any = None,
    progress: bool = True,
    devices: Sequence[Any] | None = None,
    mesh: Any = None,
    perturbation: str = "auto",
    base_cache: dict | None = None,
):
    """Scores of every benchmark at theta0 + alpha * delta (1-D) or theta0 + alpha*d1 + beta*d2 (2-D).

    directions: a count n (Gaussian recipes with seeds 0..n-1, `normalization`/`include`/`exclude`
    applied), a list of `directions.DirectionRecipe`, a list of direction pytrees shaped like the
    params, or for a 2-D sweep a list of pairs. alphas, betas: 1-D grids (betas given -> 2-D).
    chunk_size: grid points per compiled call, rounded up to a multiple of the mesh's points axis
    (default min(8, grid size)); more points per call amortize regenerating the direction; memory
    does not grow with it because each device runs its points one after another (lax.map).
    store: folder for per-block results; rerunning with the same arguments resumes.
    devices: the devices to use (default: all devices of all processes, ``jax.devices()``).
    mesh: how they are arranged (``landscape.mesh``): None (all on the points axis), a string
    "points=2,model=4", a dict, or a jax Mesh with axes ("points", "model"); the model axis shards
    the weights. Every mesh gives the same Dataset (to float32 round-off when the model axis splits
    sums across devices).
    perturbation: "fused" (each layer's perturbed weights formed inside the forward pass: about one
    copy of the weights in memory), "materialized" (the whole direction and perturbed model formed
    per block/point: faster on CPU and for generation) or "auto" (``program.choose_perturbation``).
    Both give the same scores (bitwise on CPU float32 for unnormalized directions).
    base_cache: a dict kept by the caller across many small sweeps of one model and benchmark set
    (``basin_edges``): theta0's scores are evaluated by the first call, kept in it, and read by every
    later call whose model params, benchmarks, data and compute dtype are the same (fingerprints),
    instead of evaluating theta0 again; a call with others evaluates and replaces them.
    Returns an xarray.Dataset (see basinlab.landscape._results); with several processes, every
    process returns it and process 0 writes the store.
    """
    benchmarks = [benchmarks] if isinstance(benchmarks, Benchmark) else list(benchmarks) \
        if isinstance(benchmarks, (list, tuple)) else [benchmarks]
    for b in benchmarks:
        if not isinstance(b, Benchmark):
            raise TypeError(f"benchmarks must be Benchmarks (basinlab.benchmarks._registry.build), got {b!r}")
    if not benchmarks:
        raise ValueError("no benchmarks given")
    names = [b.name for b in benchmarks]
    if len(set(names)) != len(names):
        raise ValueError(f"benchmark names must be unique, got {names}")
    alphas = _check_grid("alpha", alphas)
    betas = None if betas is None else _check_grid("beta", betas)
    theta0 = model.params
    compute_dtype = jnp.dtype(compute_dtype or model.compute_dtype or model.dtype)
    recipe_kwargs = dict(normalization=normalization, include=_tuple(include), exclude=_tuple(exclude))
    entries, described = _normalize_directions(directions, theta0, recipe_kwargs)
    m = 1 if betas is None else 2
    for e in entries:
        if len(e) != m:
            raise ValueError(f"a {'2-D' if m == 2 else '1-D'} sweep needs {'pairs of ' if m == 2 else ''}"
                             f"directions, got an entry with {len(e)}")

    validate.choice("perturbation", perturbation, PERTURBATIONS)
    mesh = M.build_mesh(mesh, devices)
    n_dev = mesh.shape["points"]
    grid = alphas[:, None] if m == 1 else np.stack(np.meshgrid(alphas, betas, indexing="ij"), -1).reshape(-1, 2)
    # Default: up to 8 grid points per call, so regenerating the direction (d normal draws) is
    # amortized; memory does not grow with it because lax.map runs the points one after another.
    chunk = min(len(grid), 8) if chunk_size is None else validate.positive_int("chunk_size", chunk_size)
    chunk = -(-chunk // n_dev) * n_dev  # a multiple of the points axis
    sweep = Sweep(
        model=model.source or model.spec.name, d=count_params(theta0),
        benchmarks=tuple(json.dumps(b.attrs(), sort_keys=True) for b in benchmarks),
        directions=tuple(json.dumps(x, sort_keys=True) for x in described),
        alphas=tuple(alphas.tolist()), betas=None if betas is None else tuple(betas.tolist()),
        chunk_size=chunk, compute_dtype=compute_dtype.name,
        params=fingerprint(theta0), data=tuple(fingerprint(b.data) for b in benchmarks),
    )
    primary = jax.process_index() == 0
    st = BlockStore(store, sweep, writer=primary)

    # Closed on every exit, a KeyboardInterrupt (Jupyter's stop button) included: the traceback a
    # notebook keeps holds this frame, so waiting for garbage collection would keep the lock, and
    # another process's run of the same store would raise StoreLocked until the next error.
    with st:
        # The static part of each direction: its recipe with the seed left to trace (None = explicit).
        def static_part(entry):
            return tuple(dataclasses.replace(r, seed=0) if isinstance(r, D.DirectionRecipe) else None for r in entry)

        recipes = static_part(entries[0])
        for e in entries:
            if static_part(e) != recipes:
                raise ValueError("all directions of one sweep must be of one kind (same recipe settings, "
                                 "or all explicit pytrees); run separate sweeps and concatenate the Datasets")
        mode = choose_perturbation(perturbation, benchmarks, mesh.devices.flat[0].platform)
        program = chunk_program(model.spec, tuple(benchmarks), recipes, compute_dtype, mesh, mode)
        theta0_placed = M.place_params(theta0, mesh)
        data = M.replicated({b.name: b.data for b in benchmarks}, mesh)

        def entry_input(e):
            return tuple(M.replicated(jnp.int32(it.seed), mesh) if isinstance(it, D.DirectionRecipe)
                         else M.place_params(it, mesh) for it in e)

        checked = [] if M.device_memory(mesh) is not None else [True]

        def run_block(e, coeffs) -> dict[str, results.BlockScores]:
            n = len(coeffs)
            padded = np.concatenate([coeffs, np.zeros((chunk - n, m))]) if n < chunk else coeffs
            valid = np.arange(chunk) < n
            args = (theta0_placed, entry_input(e), M.points_sharded(np.asarray(padded, np.float32), mesh),
                    M.points_sharded(valid, mesh), data)
            if not checked:  # before the first compiled call: does the program fit the devices' memory?
                M.check_fits(program.lower(*args).compile(), mesh, mode)
                checked.append(True)
            out = program(*args)
            out = jax.tree.map(lambda x: x[:n], M.to_host(out))
            return {b.name: _block_scores(b, out[b.name], n) for b in benchmarks}

        blocks = [(i, j) for i in range(len(entries)) for j in range(0, len(grid), chunk)]
        names_ = ["base"] + [f"block-{i:05d}-{j // chunk:06d}" for i, j in blocks]
        done = _done_blocks(st, names_)

        def stored(name):
            arrays = st.get(name) if name in done else None
            if name in done and arrays is None:
                raise FileNotFoundError(f"process {jax.process_index()} cannot read block {name!r} of store "
                                        f"{store}, which process 0 has; a multi-process run needs a store "
                                        f"folder that every process sees (a shared file system)")
            return None if arrays is None else results.block_from_arrays(arrays, names)

        # Base scores at theta0: coefficients 0 give theta0 exactly (x + 0 * delta == x in float32), so
        # when the grid holds the zero point, the base is that point of direction 0's block (no extra
        # call that would regenerate a direction for one point); otherwise a block of its own.
        zero = np.flatnonzero(np.all(grid == 0, axis=1))
        base = stored("base")
        same = (sweep.model, sweep.d, sweep.benchmarks, sweep.compute_dtype, sweep.params, sweep.data)
        if base is None and base_cache is not None and base_cache.get("sweep") == same:
            base = base_cache["base"]
            st.put("base", results.block_arrays(base))
        if base is None and not zero.size:
            base = run_block(entries[0], np.zeros((1, m)))
            st.put("base", results.block_arrays(base))

        # A resumed sweep's bar starts at the blocks read back from the store.
        from_store = len(done - {"base"})
        bar = _progress(len(blocks), progress and primary, f"landscape ({len(entries)} dirs x {len(grid)} points"
                        + (f", {from_store} blocks from the store)" if from_store else ")"), initial=from_store)
        collected = {}
        try:
            for (i, j), name in zip(blocks, names_[1:], strict=True):
                res = stored(name)
                fresh = res is None
                if fresh:
                    res = run_block(entries[i], grid[j: j + chunk])
                if base is None and i == 0 and j <= zero[0] < j + chunk:
                    # stored before its block, so a stored block never lacks the base it holds
                    base = {b: results.point_of(scores, zero[0] - j) for b, scores in res.items()}
                    st.put("base", results.block_arrays(base))
                if fresh:
                    st.put(name, results.block_arrays(res))
                    bar.update(1)
                collected[(i, j)] = res
        finally:
            bar.close()  # an interrupted bar stays at the blocks stored so far
        if base_cache is not None:
            base_cache.update(sweep=same, base=base)

        ds = results.from_block_scores(
            sweep=sweep, benchmarks=benchmarks, model=model, alphas=alphas, betas=betas,
            n_directions=len(entries), blocks=collected, base=base, described=described,
        )
        ds.attrs["perturbation"] = mode
        ds.attrs["mesh"] = json.dumps(dict(mesh.shape))
        return ds


def _done_blocks(st: BlockStore, names: list[str]) -> set[str]:
    """The blocks already in the store, as process 0 sees them (every process must run the same
    blocks, since each block is one collective program)."""
    done = np.zeros(len(names), bool)
    if jax.process_index() == 0:
        done = np.asarray([st.get(n) is not None for n in names])
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        done = np.asarray(multihost_utils.broadcast_one_to_all(done))
    return {n for n, d in zip(names, done, strict=True) if d}


def _float32(x):
    return None if x is None else np.asarray(x, np.float32)


def _block_scores(bench: Benchmark, out: Scores, n: int) -> results.BlockScores:
    """A benchmark's BlockScores from its Scores over n points (numpy, leading axis n), running its
    host judge one grid point at a time; the judge's fields replace the score function's."""
    judged = Judged()
    if bench.judge is not None:
        per_point = [Judged.of(bench.judge(jax.tree.map(lambda x, p=p: x[p], out))) for p in range(n)]
        judged = jax.tree.map(lambda *xs: np.stack(xs), *per_point)
    return results.BlockScores(
        score=_float32(out.score if judged.score is None else judged.score), nll=_float32(out.nll),
        reason=judged.reason, example=judged.example,
    )


def _tuple(x):
    return None if x is None else tuple(x)


def _progress(total, enabled, desc, initial=0):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="block", initial=initial)


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass
