"""The compiled program of a sweep: one direction (or plane) at one block of grid points.

``chunk_program(...)`` returns ``jit(shard_map(...))`` with signature
``(theta0, direction inputs, coeffs [C, m], valid [C], data) -> {benchmark: Scores [C, ...]}``.
The block's C points are split over the mesh's ``points`` axis; each device walks its points with
``lax.map`` (memory does not grow with C). Weights may also be sharded over the ``model`` axis
(shard_map is manual over points only; XLA partitions the model axis).

Two ways to form theta0 + alpha * delta at a point (``PERTURBATIONS``):

- ``"materialized"``: the direction is regenerated once per block as a whole float32 pytree, and
  each point forms the whole perturbed model before its benchmarks run. Fastest where drawing the
  direction is slow (CPU) and where a benchmark runs the model many times per point (generation):
  peak memory is theta0 + direction + one perturbed copy (about 4x bf16 weights).
- ``"fused"``: nothing is formed ahead; the forward pass forms each layer's perturbed weights from
  theta0's layer and a freshly drawn slice of the direction just before the layer runs
  (``landscape.fused``). Peak memory is theta0 plus one layer and the activations; the direction
  is drawn again at every forward pass.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from basinlab.directions import _recipes as D
from basinlab.directions import _treemath as treemath
from basinlab.landscape import _fused as fused
from basinlab.scoring._base import Scores

__all__ = ["PERTURBATIONS", "chunk_program", "choose_perturbation"]

PERTURBATIONS = ("auto", "fused", "materialized")


def choose_perturbation(perturbation: str, benchmarks, platform: str) -> str:
    """The perturbation a sweep uses. "auto" -> "fused" on accelerators when every benchmark reads
    the weights only through the forward pass (``Benchmark.param_access == "forward"``), else
    "materialized": on CPU drawing the direction costs about two forward passes and memory is
    plentiful; a generating benchmark would redraw it at every decode step. "fused" asked for with
    a benchmark that reads the params as a pytree raises ValueError naming it."""
    if perturbation == "auto":
        fusable = all(b.param_access == "forward" for b in benchmarks)
        return "fused" if fusable and platform != "cpu" else "materialized"
    if perturbation == "fused":
        tree = [b.name for b in benchmarks if b.param_access == "tree"]
        if tree:
            raise ValueError(f"perturbation='fused' hands score functions a LayerwiseParams, but benchmarks "
                             f"{tree} read the params as a pytree (param_access='tree'); use "
                             f"perturbation='materialized' or 'auto', or set their param_access")
    return perturbation


def _sources(entry_input, recipes) -> tuple:
    return tuple(given if recipe is None else dataclasses.replace(recipe, seed=given)
                 for recipe, given in zip(recipes, entry_input, strict=True))


def _materialize(sources, theta0) -> list:
    """Direction pytree(s) of one entry (a plane is orthogonalized), inside the compiled program."""
    out = [D.regenerate(s, theta0) if isinstance(s, D.DirectionRecipe) else s for s in sources]
    if len(out) == 2:
        out = list(treemath.plane(out[0], out[1]))
    return out


@functools.lru_cache(maxsize=16)
def chunk_program(spec, benchmarks: tuple, recipes: tuple, compute_dtype, mesh: Mesh, perturbation: str):
    """The jitted program for one sweep (cached: repeated sweeps of one model, benchmark set and
    mesh reuse the compilation). recipes: per direction of an entry, its recipe with the seed left
    to trace, or None for an explicit pytree."""

    def landscape_sweep(theta0, entry_input, coeffs, valid, data):
        sources = _sources(entry_input, recipes)
        if perturbation == "materialized":
            deltas = _materialize(sources, theta0)
        elif len(sources) == 2:
            k, s = fused.plane_coefficients(theta0, *sources)

        def point(c):
            if perturbation == "materialized":
                theta = treemath.perturb(theta0, deltas, c, compute_dtype)
            elif len(sources) == 1:
                theta = fused.PerturbedParams(theta0, sources, (c[0],), compute_dtype)
            else:  # theta0 + alpha d1 + beta s (d2 - k d1), the plane of treemath.plane
                theta = fused.PerturbedParams(theta0, sources, (c[0] - c[1] * s * k, c[1] * s), compute_dtype)
            return {b.name: Scores.of(b.score_fn(spec, theta, data[b.name], compute_dtype)) for b in benchmarks}

        def one(args):
            c, ok = args
            skip = lambda c: jax.tree.map(jnp.zeros_like, jax.eval_shape(point, c))  # noqa: E731
            # Padding points (a block's unused tail) are skipped: cond under lax.map branches for real.
            return jax.lax.cond(ok, point, skip, c)

        return jax.lax.map(one, (coeffs, valid))

    sharded = jax.shard_map(
        landscape_sweep, mesh=mesh, in_specs=(P(), P(), P("points"), P("points"), P()), out_specs=P("points"),
        axis_names=frozenset({"points"}), check_vma=False,
    )
    return jax.jit(sharded)
