"""The fused perturbation: theta0 + sum_i c_i * delta_i formed one layer at a time inside the forward.

:class:`PerturbedParams` is a ``basinlab.models.LayerwiseParams``: the forward pass asks it for each
layer's weights inside its ``lax.scan``, and it forms them right there from theta0's layer slice and
the same slice of each direction, regenerated from the recipe's key (``directions.SCHEME``: layer l
of a stacked leaf is drawn from its own ``fold_in``) or read from an explicit direction pytree.
Embeddings, final norm and head are formed the same way, whole, before they are used. Nothing of the
size of the model exists besides theta0 (and explicit directions the caller holds), so a sweep needs
about one copy of the weights plus activations instead of four.

The arithmetic is ``treemath.perturb_leaf``, the same function the materialized path maps over the
whole tree, and the draws are the same threefry bits, so on CPU in float32 the two paths give
bit-identical scores for unnormalized recipes (tested). Layer/filter normalization reduces norms
inside each slice in either path; XLA may fuse those reductions differently, so normalized recipes
agree to a few ulps.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from basinlab.directions import _recipes as D
from basinlab.directions._treemath import leaves_with_paths, perturb_leaf
from basinlab.models._layerwise import LayerwiseParams

__all__ = ["PerturbedParams", "gram", "plane_coefficients"]

_LAYERS = "layers"
_F32 = jnp.float32
_HALF = (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))


@dataclasses.dataclass(frozen=True)
class PerturbedParams(LayerwiseParams):
    """theta0 + sum_i coeffs[i] * sources[i], produced layer by layer (see the module docstring).

    theta0: the params dict (never modified). sources: DirectionRecipes (seed may be traced) or
    float32 pytrees shaped like theta0. coeffs: one scalar per source (may be traced). out_dtype:
    dtype the perturbed weights are cast to (None: each leaf's own), as ``treemath.perturb``.
    """

    theta0: Any
    sources: tuple
    coeffs: tuple
    out_dtype: Any = None

    # --- LayerwiseParams
    def outer(self) -> dict:
        return {top: self._map(sub, top, self.explicit_parts(top), None)
                for top, sub in self.theta0.items() if top != _LAYERS}

    def layer_inputs(self):
        first = jax.tree_util.tree_leaves(self.theta0[_LAYERS])[0]
        explicit = tuple(None if _is_recipe(s) else s[_LAYERS] for s in self.sources)
        # 16-bit float weights enter the scan as their bits (uint16): XLA's CPU backend otherwise
        # keeps a float32 copy of every bf16 array in a loop's state (2x the weights in memory).
        return {"theta": jax.tree.map(_as_bits, self.theta0[_LAYERS]), "explicit": explicit,
                "layer": jnp.arange(first.shape[0], dtype=jnp.uint32)}

    def layer(self, inputs) -> dict:
        theta = jax.tree.map(_from_bits, inputs["theta"], self.theta0[_LAYERS])
        return self._map(theta, _LAYERS, inputs["explicit"], inputs["layer"])

    @property
    def dtype(self):
        return self.theta0["embed"]["embedding"].dtype

    # --- the parts
    def deltas(self, path: str, theta, explicit_parts, layer) -> list:
        """Each source's part at ``path`` (a whole leaf, or layer ``layer`` of a stacked one),
        float32; None where a recipe's include/exclude leaves the leaf alone (theta0's value is then
        used as it is, which equals the materialized path's theta0 + alpha * 0 bit for bit)."""
        index, masks = _static(self.theta0, self.sources)
        out = []
        for src, mask, given in zip(self.sources, masks, explicit_parts, strict=True):
            if not _is_recipe(src):
                out.append(given)
            elif mask[path]:
                out.append(D.leaf_direction(src.key(), index[path], path, theta, src.normalization, layer=layer))
            else:
                out.append(None)
        return out

    def explicit_parts(self, top: str) -> tuple:
        """Each explicit source's subtree ``top`` (None for recipes)."""
        return tuple(None if _is_recipe(s) else s[top] for s in self.sources)

    def _map(self, sub, prefix: str, explicit_subs, layer):
        """Perturb every leaf of theta0's subtree ``sub`` (under ``prefix``)."""
        items, treedef = leaves_with_paths(sub)
        given = [None if e is None else jax.tree_util.tree_leaves(e) for e in explicit_subs]
        leaves = []
        for j, (rel, t) in enumerate(items):
            path = f"{prefix}/{rel}" if rel else prefix
            parts = self.deltas(path, t, [None if g is None else g[j] for g in given], layer)
            used = [(c, d) for c, d in zip(self.coeffs, parts, strict=True) if d is not None]
            leaves.append(perturb_leaf(t, [d for _, d in used], [c for c, _ in used], self.out_dtype))
        return jax.tree_util.tree_unflatten(treedef, leaves)


jax.tree_util.register_dataclass(
    PerturbedParams, data_fields=["theta0", "sources", "coeffs"], meta_fields=["out_dtype"])


def _as_bits(x):
    return jax.lax.bitcast_convert_type(x, jnp.uint16) if jnp.dtype(x.dtype) in _HALF else x


def _from_bits(bits, like):
    return jax.lax.bitcast_convert_type(bits, like.dtype) if jnp.dtype(like.dtype) in _HALF else bits


def _is_recipe(source) -> bool:
    return isinstance(source, D.DirectionRecipe)


def _static(theta0, sources):
    """(leaf index by path in jax.tree flatten order, per source a mask by path or None)."""
    items, _ = leaves_with_paths(theta0)
    paths = [p for p, _ in items]
    masks = []
    for s in sources:
        if _is_recipe(s):
            keep = jax.tree_util.tree_leaves(D.perturbed_mask(theta0, s.include, s.exclude))
            masks.append(dict(zip(paths, keep, strict=True)))
        else:
            masks.append(None)
    return {p: i for i, p in enumerate(paths)}, masks


def gram(theta0, sources) -> jax.Array:
    """[m, m] float32 Gram matrix <source_i, source_j> of m directions, accumulated leaf by leaf
    and, for stacked leaves, layer by layer (a lax.scan), so no direction is ever materialized."""
    m = len(sources)
    view = PerturbedParams(theta0, tuple(sources), (0.0,) * m)

    def block(parts):
        zero = jnp.zeros((), _F32)
        vs = [None if p is None else p.astype(_F32).reshape(-1) for p in parts]
        return jnp.stack([jnp.stack([zero if a is None or b is None else jnp.sum(a * b) for b in vs]) for a in vs])

    total = jnp.zeros((m, m), _F32)
    for top, sub in theta0.items():
        if top == _LAYERS:
            continue
        sub_items, _ = leaves_with_paths(sub)
        explicit = [None if e is None else jax.tree_util.tree_leaves(e) for e in view.explicit_parts(top)]
        for j, (rel, t) in enumerate(sub_items):
            path = f"{top}/{rel}" if rel else top
            total = total + block(view.deltas(path, t, [None if g is None else g[j] for g in explicit], None))

    def step(acc, xs):
        sub_items, _ = leaves_with_paths(xs["theta"])
        explicit = [None if e is None else jax.tree_util.tree_leaves(e) for e in xs["explicit"]]
        for j, (rel, t) in enumerate(sub_items):
            parts = view.deltas(f"{_LAYERS}/{rel}", t, [None if g is None else g[j] for g in explicit], xs["layer"])
            acc = acc + block(parts)
        return acc, None

    total, _ = jax.lax.scan(step, total, view.layer_inputs())
    return total


def plane_coefficients(theta0, d1, d2) -> tuple[jax.Array, jax.Array]:
    """(k, s) with ``treemath.plane(d1, d2)[1] == s * (d2 - k * d1)``: d2 made orthogonal to d1 and
    rescaled to d2's norm, from one Gram pass (no direction materialized). Agrees with ``plane``
    to float32 round-off unless d1 and d2 are nearly parallel (plane reorthogonalizes; this does not)."""
    g = gram(theta0, (d1, d2))
    k = g[0, 1] / g[0, 0]
    residual = jnp.maximum(g[1, 1] - k * g[0, 1], jnp.finfo(_F32).tiny)
    return k, jnp.sqrt(g[1, 1] / residual)
