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

Three named steps: :func:`basinlab.landscape._plan.make_plan` (validate the inputs and plan the
blocks; nothing is evaluated), :func:`run_blocks` (compile once, read back what the store holds,
evaluate the rest; theta0's block is one of them) and :func:`assemble` (the Dataset).
:func:`landscape` runs the three.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from basinlab.directions._recipes import DirectionRecipe
from basinlab.landscape import _mesh as M
from basinlab.landscape import _results as results
from basinlab.landscape._basecache import BaseScores
from basinlab.landscape._options import SweepOptions, as_options
from basinlab.landscape._plan import BASE, Block, Plan, Sweep, make_plan, parse_grid
from basinlab.landscape._program import chunk_program
from basinlab.landscape._store import BlockStore
from basinlab.models._model import Model
from basinlab.scoring._base import Benchmark, Judged, Scores

__all__ = ["DEFAULT_ALPHAS", "BlockRunner", "Sweep", "assemble", "landscape", "parse_grid", "plan_sweep",
           "run_blocks"]

DEFAULT_ALPHAS = np.arange(-0.01, 0.01, 5e-4)  # landscape()'s grid: 40 points, -0.01 to 0.0095

Scored = Mapping[str, results.BlockScores]  # one block's scores, per benchmark name


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
    store: os.PathLike[str] | str | None = None,
    compute_dtype: Any = None,
    progress: bool = True,
    devices: Sequence[Any] | None = None,
    mesh: Any = None,
    perturbation: str = "auto",
    base_cache: BaseScores | None = None,
    options: SweepOptions | None = None,
) -> xr.Dataset:
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
    options: the keyword options above as one :class:`SweepOptions` (then leave those keywords at
    their defaults: ValueError names any set both ways).
    base_cache: a :class:`BaseScores` kept by the caller across many small sweeps of one model and
    benchmark set (``basin_edges``): theta0's scores are evaluated by the first call, kept in it,
    and read by every later call whose model params, benchmarks, data and compute dtype are the same
    (fingerprints), instead of evaluating theta0 again; a call with others evaluates and replaces them.
    Returns an xarray.Dataset (see basinlab.landscape._results); with several processes, every
    process returns it and process 0 writes the store.
    """
    keywords = SweepOptions(normalization=normalization, include=include, exclude=exclude, chunk_size=chunk_size,
                            store=store, compute_dtype=compute_dtype, progress=progress, devices=devices,
                            mesh=mesh, perturbation=perturbation)
    if options is None:
        options = keywords
    elif keywords.changed():
        raise ValueError(f"landscape got options= and the keyword option(s) {list(keywords.changed())}; put "
                         f"them in the SweepOptions (options.replace(...)) or leave options out")
    options = as_options(options, "landscape")
    if base_cache is not None and not isinstance(base_cache, BaseScores):
        raise TypeError(f"base_cache must be a basinlab.landscape.BaseScores (or None), got "
                        f"{type(base_cache).__name__}")
    plan = plan_sweep(model, benchmarks, directions, alphas, betas, options)
    primary = jax.process_index() == 0
    st = BlockStore(None if options.store is None else pathlib.Path(options.store), plan.sweep, writer=primary)
    # Closed on every exit, a KeyboardInterrupt (Jupyter's stop button) included: the traceback a
    # notebook keeps holds this frame, so waiting for garbage collection would keep the lock, and
    # another process's run of the same store would raise StoreLocked until the next error.
    with st:
        blocks, base = run_blocks(plan, BlockRunner(plan, model), st, base_cache=base_cache,
                                  progress=options.progress and primary)
        return assemble(plan, model, blocks, base)


def plan_sweep(model: Model, benchmarks: Benchmark | Sequence[Benchmark], directions: Any, alphas: Any, betas: Any,
               options: SweepOptions) -> Plan:
    """``make_plan`` for `model`: its params, its name (source, else the spec's) and its compute dtype
    unless `options` sets one."""
    dtype = jnp.dtype(options.compute_dtype or model.compute_dtype or model.dtype)
    return make_plan(model.params, benchmarks, directions, alphas, betas, options,
                     model_name=model.source or model.spec.name, compute_dtype=dtype)


class BlockRunner:
    """The plan's one compiled program, with theta0 and the benchmark data placed on its mesh:
    ``runner(block)`` -> {benchmark name: BlockScores over the block's points} (host numpy)."""

    def __init__(self, plan: Plan, model: Model) -> None:
        self.plan = plan
        self.program = chunk_program(model.spec, plan.benchmarks, plan.recipes, plan.compute_dtype, plan.mesh,
                                     plan.perturbation)
        self.theta0 = M.place_params(model.params, plan.mesh)
        self.data = M.replicated({b.name: b.data for b in plan.benchmarks}, plan.mesh)
        self.checked = M.device_memory(plan.mesh) is None  # nothing to check where memory is not reported

    def _entry_input(self, entry: tuple[Any, ...]) -> tuple[Any, ...]:
        # a recipe's seed is traced (one program for every seed); a pytree direction is placed as theta0
        return tuple(M.replicated(jnp.int32(it.seed), self.plan.mesh) if isinstance(it, DirectionRecipe)
                     else M.place_params(it, self.plan.mesh) for it in entry)

    def __call__(self, block: Block) -> dict[str, results.BlockScores]:
        plan, coeffs = self.plan, block.coefficients()
        n, chunk = len(coeffs), plan.chunk
        padded = np.concatenate([coeffs, np.zeros((chunk - n, plan.grid.m))]) if n < chunk else coeffs
        valid = np.arange(chunk) < n
        args = (self.theta0, self._entry_input(plan.entries[block.direction]),
                M.points_sharded(np.asarray(padded, np.float32), plan.mesh), M.points_sharded(valid, plan.mesh),
                self.data)
        if not self.checked:  # before the first compiled call: does the program fit the devices' memory?
            M.check_fits(self.program.lower(*args).compile(), plan.mesh, plan.perturbation)
            self.checked = True
        out = jax.tree.map(lambda x: x[:n], M.to_host(self.program(*args)))
        return {b.name: _block_scores(b, out[b.name], n) for b in plan.benchmarks}


def run_blocks(plan: Plan, run: Callable[[Block], Scored], st: BlockStore, *, base_cache: BaseScores | None = None,
               progress: bool = False) -> tuple[dict[tuple[int, int], Scored], Scored]:
    """Every block of the plan, read back from the store or evaluated (``run``) and stored, and
    theta0's scores: from the store, else `base_cache`, else the grid's zero point (stored before
    its block, so a stored block never lacks the base it holds), else a block of their own.
    run: a :class:`BlockRunner` (or anything that scores a block the same way, e.g. one that counts
    its calls). Returns ({(direction, first grid point): scores}, base scores)."""
    done = _done_blocks(st, [BASE, *(b.name for b in plan.blocks)])

    def stored(name: str) -> dict[str, results.BlockScores] | None:
        arrays = st.get(name) if name in done else None
        if name in done and arrays is None:
            raise FileNotFoundError(f"process {jax.process_index()} cannot read block {name!r} of store "
                                    f"{st.root}, which process 0 has; a multi-process run needs a store "
                                    f"folder that every process sees (a shared file system)")
        return None if arrays is None else results.block_from_arrays(arrays, plan.names)

    key = plan.sweep.base_key
    base: Scored | None = stored(BASE)
    if base is None and base_cache is not None:
        base = base_cache.get(key)
        if base is not None:
            st.put(BASE, results.block_arrays(base))
    if base is None and plan.base.block is None:
        base = run(plan.base.own)
        st.put(BASE, results.block_arrays(base))

    # A resumed sweep's bar starts at the blocks read back from the store.
    from_store = len(done - {BASE})
    bar = _progress(len(plan.blocks), progress, f"landscape ({len(plan.entries)} dirs x {len(plan.grid)} points"
                    + (f", {from_store} blocks from the store)" if from_store else ")"), initial=from_store)
    collected: dict[tuple[int, int], Scored] = {}
    try:
        for k, block in enumerate(plan.blocks):
            res = stored(block.name)
            fresh = res is None
            if res is None:
                res = run(block)
            if base is None and k == plan.base.block:
                base = {b: results.point_of(scores, plan.base.point) for b, scores in res.items()}
                st.put(BASE, results.block_arrays(base))
            if fresh:
                st.put(block.name, results.block_arrays(res))
                bar.update(1)
            collected[(block.direction, block.start)] = res
    finally:
        bar.close()  # an interrupted bar stays at the blocks stored so far
    if base is None:  # unreachable: the plan's base is its own block or a point of one of its blocks
        raise RuntimeError("the plan gave no base block")
    if base_cache is not None:
        base_cache.put(key, base)
    return collected, base


def assemble(plan: Plan, model: Model, blocks: Mapping[tuple[int, int], Scored], base: Scored) -> xr.Dataset:
    """The sweep's Dataset (``results.from_block_scores``) with the perturbation and mesh in its attrs."""
    grid = plan.grid
    ds = results.from_block_scores(
        sweep=plan.sweep, benchmarks=list(plan.benchmarks), model=model, alphas=np.asarray(grid.alphas, np.float64),
        betas=None if grid.betas is None else np.asarray(grid.betas, np.float64), n_directions=len(plan.entries),
        blocks=blocks, base=base, described=[list(e) for e in plan.described],
    )
    ds.attrs["perturbation"] = plan.perturbation
    ds.attrs["mesh"] = json.dumps(dict(plan.mesh.shape))
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


def _float32(x: Any) -> np.ndarray | None:
    return None if x is None else np.asarray(x, np.float32)


def _block_scores(bench: Benchmark, out: Scores, n: int) -> results.BlockScores:
    """A benchmark's BlockScores from its Scores over n points (numpy, leading axis n), running its
    host judge one grid point at a time; the judge's fields replace the score function's."""
    judged = Judged()
    if bench.judge is not None:
        judge = bench.judge
        per_point = [Judged.of(judge(jax.tree.map(lambda x, p=p: x[p], out))) for p in range(n)]
        judged = jax.tree.map(lambda *xs: np.stack(xs), *per_point)
    return results.BlockScores(
        score=_float32(out.score if judged.score is None else judged.score), nll=_float32(out.nll),
        reason=judged.reason, example=judged.example,
    )


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool, desc: str, initial: int = 0) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="block", initial=initial)
