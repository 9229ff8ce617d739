"""The first step of a sweep: validated inputs as a frozen :class:`Plan` (nothing is evaluated).

A plan holds the benchmarks, the direction entries, the grid, the blocks the grid is cut into (one
compiled call each), where theta0's scores come from, the mesh, the perturbation mode and the
:class:`Sweep` record (its JSON is the store's resume key and the Dataset's provenance; its format
is that of basinlab 0.1, so old stores resume). :func:`plan_blocks` is the pure part: a grid and a
chunk size -> blocks.

    grid = Grid(alphas=(-0.01, 0.0, 0.01))
    plan_blocks(2, grid, chunk=2)  # block-00000-000000 [0, 2), block-00000-000001 [2, 3), then direction 1
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from jax.sharding import Mesh

from basinlab import _validate as validate
from basinlab.directions import _recipes as D
from basinlab.landscape import _mesh as M
from basinlab.landscape._basecache import BenchmarkSetKey
from basinlab.landscape._fingerprint import fingerprint
from basinlab.landscape._options import SweepOptions
from basinlab.landscape._program import choose_perturbation
from basinlab.models._model import count_params
from basinlab.scoring._base import Benchmark

__all__ = ["BASE", "BasePlan", "Block", "Grid", "Plan", "Sweep", "check_grid", "chunk_for", "make_plan",
           "parse_grid", "plan_blocks"]

BASE = "base"  # the store's name of theta0's block

Source = Any  # a DirectionRecipe, or a float32 pytree shaped like the params
Entry = tuple[Source, ...]  # one direction (1-D sweep) or a pair (2-D sweep)


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


def check_grid(name: str, values: Any) -> np.ndarray:
    """A 1-D float64 grid, non-empty and finite; ValueError names the grid and the bad values."""
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
    benchmarks: tuple[str, ...]  # JSON of each benchmark's attrs
    directions: tuple[str, ...]  # JSON of recipe dicts, or of {"explicit": index} for given pytrees
    alphas: tuple[float, ...]
    betas: tuple[float, ...] | None
    chunk_size: int
    compute_dtype: str
    params: str = ""     # fingerprint of theta0's values (landscape.fingerprint): same name, other weights
    data: tuple[str, ...] = ()  # fingerprint of each benchmark's data

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @property
    def key(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    @property
    def base_key(self) -> BenchmarkSetKey:
        """What theta0's scores depend on (``BaseScores``' key)."""
        return BenchmarkSetKey(model=self.model, d=self.d, benchmarks=tuple(self.benchmarks),
                               compute_dtype=self.compute_dtype, params=self.params, data=tuple(self.data))


@dataclasses.dataclass(frozen=True)
class Grid:
    """The sweep's grid: alphas (1-D) or the (alpha, beta) product, beta fastest."""

    alphas: tuple[float, ...]
    betas: tuple[float, ...] | None = None

    @property
    def m(self) -> int:
        """Coefficients per point: 1 (alpha) or 2 (alpha, beta)."""
        return 1 if self.betas is None else 2

    @property
    def points(self) -> np.ndarray:
        """[P, m] float64 coefficients, P = len(alphas) (* len(betas))."""
        alphas = np.asarray(self.alphas, np.float64)
        if self.betas is None:
            return alphas[:, None]
        return np.stack(np.meshgrid(alphas, np.asarray(self.betas, np.float64), indexing="ij"), -1).reshape(-1, 2)

    @property
    def zero(self) -> int | None:
        """The index of the first point with every coefficient 0 (theta0 itself), or None."""
        hits = np.flatnonzero(np.all(self.points == 0, axis=1))
        return int(hits[0]) if hits.size else None

    def __len__(self) -> int:
        return len(self.alphas) * (1 if self.betas is None else len(self.betas))


@dataclasses.dataclass(frozen=True)
class Block:
    """One compiled call: direction entry `direction` at `coeffs` [n, m]; `start` is the first grid
    point's index (the base block's coefficients are zeros, not grid points)."""

    name: str
    direction: int
    start: int
    coeffs: tuple[tuple[float, ...], ...]

    def coefficients(self) -> np.ndarray:
        """[n, m] float64."""
        return np.asarray(self.coeffs, np.float64).reshape(len(self.coeffs), -1)


@dataclasses.dataclass(frozen=True)
class BasePlan:
    """Where theta0's scores come from when neither the store nor a ``BaseScores`` holds them: the
    grid's zero point of direction 0 (coefficients 0 give theta0 exactly: x + 0 * delta == x in
    float32), i.e. point `point` of block `block` (an index into ``Plan.blocks``), or, without a
    zero point, `own`, a block of its own."""

    own: Block
    block: int | None = None
    point: int = 0


@dataclasses.dataclass(frozen=True, eq=False)  # eq=False: entries may hold arrays
class Plan:
    """A validated sweep (module docstring)."""

    benchmarks: tuple[Benchmark, ...]
    entries: tuple[Entry, ...]
    described: tuple[tuple[dict[str, Any], ...], ...]  # JSON-ready description of each entry
    recipes: tuple[D.DirectionRecipe | None, ...]      # the static part of every entry (seed 0; None: a pytree)
    grid: Grid
    chunk: int
    blocks: tuple[Block, ...]
    base: BasePlan
    mesh: Mesh
    perturbation: str  # "fused" or "materialized" (resolved)
    compute_dtype: np.dtype
    sweep: Sweep

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.benchmarks)


def chunk_for(n_points: int, chunk_size: int | None, points_axis: int) -> int:
    """Grid points per compiled call: chunk_size (default min(8, n_points): regenerating the direction
    is amortized, and memory does not grow with it since lax.map runs points one after another),
    rounded up to a multiple of the mesh's points axis."""
    chunk = min(n_points, 8) if chunk_size is None else validate.positive_int("chunk_size", chunk_size)
    return -(-chunk // points_axis) * points_axis


def plan_blocks(n_directions: int, grid: Grid, chunk: int) -> tuple[Block, ...]:
    """Every (direction, chunk of grid points) block, direction-major, named as in the store
    (``block-<direction:05d>-<chunk:06d>``). Pure."""
    points = [tuple(float(c) for c in p) for p in grid.points]
    return tuple(Block(name=f"block-{i:05d}-{j // chunk:06d}", direction=i, start=j,
                       coeffs=tuple(points[j: j + chunk]))
                 for i in range(n_directions) for j in range(0, len(points), chunk))


def plan_base(grid: Grid, blocks: Sequence[Block]) -> BasePlan:
    """theta0's scores: the zero point of direction 0's block holding it, else a block of its own."""
    own = Block(name=BASE, direction=0, start=0, coeffs=((0.0,) * grid.m,))
    zero = grid.zero
    if zero is None:
        return BasePlan(own=own)
    k = next(k for k, b in enumerate(blocks) if b.direction == 0 and b.start <= zero < b.start + len(b.coeffs))
    return BasePlan(own=own, block=k, point=zero - blocks[k].start)


def normalize_directions(directions: Any, params: Any, options: SweepOptions
                         ) -> tuple[tuple[Entry, ...], tuple[tuple[dict[str, Any], ...], ...]]:
    """-> (entries, their JSON descriptions). An entry is a tuple of one (1-D) or two (2-D) items,
    each a DirectionRecipe or a float32 pytree shaped like the params. A count n becomes Gaussian
    recipes of seeds 0..n-1 with the options' normalization, include and exclude."""
    if directions is None or isinstance(directions, (str, bytes, bool, float)):
        raise TypeError(f"directions must be a count, DirectionRecipes or direction pytrees, got {directions!r}")
    if isinstance(directions, (int, np.integer)):
        if directions < 1:
            raise ValueError(f"directions must be >= 1, got {directions}")
        directions = [options.recipe(i) for i in range(int(directions))]
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
        described.append(tuple(it.to_dict() if isinstance(it, D.DirectionRecipe)
                               else {"explicit": i, "fingerprint": fingerprint(it)} for it in items))
    return tuple(entries), tuple(described)


def _benchmarks(benchmarks: Any) -> tuple[Benchmark, ...]:
    out = [benchmarks] if isinstance(benchmarks, Benchmark) else list(benchmarks) \
        if isinstance(benchmarks, (list, tuple)) else [benchmarks]
    for b in out:
        if not isinstance(b, Benchmark):
            raise TypeError(f"benchmarks must be Benchmarks (basinlab.benchmarks._registry.build), got {b!r}")
    if not out:
        raise ValueError("no benchmarks given")
    names = [b.name for b in out]
    if len(set(names)) != len(names):
        raise ValueError(f"benchmark names must be unique, got {names}")
    return tuple(out)


def _static_part(entry: Entry) -> tuple[D.DirectionRecipe | None, ...]:
    """An entry's recipes with the seed left to trace (None for an explicit pytree)."""
    return tuple(dataclasses.replace(r, seed=0) if isinstance(r, D.DirectionRecipe) else None for r in entry)


def make_plan(theta0: Any, benchmarks: Any, directions: Any, alphas: Any, betas: Any, options: SweepOptions, *,
              model_name: str, compute_dtype: np.dtype) -> Plan:
    """Validate a sweep's inputs (ValueError/TypeError name the bad value) and plan it. theta0: the
    params pytree (read for shapes, size and fingerprint; nothing is evaluated)."""
    benches = _benchmarks(benchmarks)
    alpha_grid = check_grid("alpha", alphas)
    beta_grid = None if betas is None else check_grid("beta", betas)
    entries, described = normalize_directions(directions, theta0, options)
    grid = Grid(alphas=tuple(alpha_grid.tolist()), betas=None if beta_grid is None else tuple(beta_grid.tolist()))
    for e in entries:
        if len(e) != grid.m:
            raise ValueError(f"a {'2-D' if grid.m == 2 else '1-D'} sweep needs {'pairs of ' if grid.m == 2 else ''}"
                             f"directions, got an entry with {len(e)}")
    recipes = _static_part(entries[0])
    if any(_static_part(e) != recipes for e in entries):
        raise ValueError("all directions of one sweep must be of one kind (same recipe settings, "
                         "or all explicit pytrees); run separate sweeps and concatenate the Datasets")
    mesh = M.build_mesh(options.mesh, options.devices)
    chunk = chunk_for(len(grid), options.chunk_size, mesh.shape["points"])
    blocks = plan_blocks(len(entries), grid, chunk)
    sweep = Sweep(
        model=model_name, d=count_params(theta0),
        benchmarks=tuple(json.dumps(b.attrs(), sort_keys=True) for b in benches),
        directions=tuple(json.dumps(list(x), sort_keys=True) for x in described),
        alphas=grid.alphas, betas=grid.betas, chunk_size=chunk, compute_dtype=np.dtype(compute_dtype).name,
        params=fingerprint(theta0), data=tuple(fingerprint(b.data) for b in benches),
    )
    platform = np.asarray(mesh.devices).flat[0].platform
    return Plan(
        benchmarks=benches, entries=entries, described=described, recipes=recipes, grid=grid, chunk=chunk,
        blocks=blocks, base=plan_base(grid, blocks), mesh=mesh,
        perturbation=choose_perturbation(options.perturbation, benches, platform),
        compute_dtype=np.dtype(compute_dtype), sweep=sweep,
    )

