"""Directions in parameter space: random recipes, their draws, leaf filters and normalizations.

A direction ``delta`` is a pytree shaped like the params ``theta0``; the landscape evaluates
``theta0 + alpha * delta``. basinlab never stores a random direction: it is a *recipe*
(:class:`DirectionRecipe`: seed, kind, normalization, include/exclude) that is regenerated inside
the compiled sweep, so that many directions cost no memory and the seed in the Dataset attrs is the
whole provenance (PAPER.md section 7). For that, every leaf -- and every layer slice of a stacked
leaf -- has its own key and can be drawn alone (``SCHEME``)::

    key            = fold_in(key_base, seed)          key_base = jax.random.key(0, impl=generator)
    leaf i         = normal(fold_in(key, i))          i = leaf index in jax.tree flatten order
    stacked leaf i = layer l drawn from normal(fold_in(fold_in(key, i), l), slice shape)

Leaves whose path starts with ``"layers/"`` are stacked on a leading layer axis L. Draws are
float32 N(0, 1) per coordinate. Normalizations (Li et al. 2018, "Visualizing the loss landscape"):

- ``"none"`` (the paper's default [code]): unnormalized, so alpha is the per-coordinate noise std.
- ``"layer"``: each leaf, and each layer slice of a stacked leaf, is rescaled to the Frobenius norm
  of the same leaf/slice of theta0.
- ``"filter"``: each filter is rescaled to the norm of the same filter of theta0. A filter is one
  output unit: column ``kernel[..., :, j]`` of a kernel stored [in, out] (for any leaf of rank >= 2,
  the last axis indexes filters), and one row ``embedding[v, :]`` of an embedding [V, D] (leaves
  named ``.../embedding``). Rows are what Li et al.'s code normalizes for a PyTorch ``nn.Embedding``
  (weight [V, D]) and columns what it normalizes for ``nn.Linear`` (weight [out, in] = our kernel
  transposed), so both conventions match theirs; it also makes an embedding row and the matching
  ``lm_head`` column (one vocabulary entry) the same kind of unit. Leaves that are 1-D per layer
  (norm scales, biases) are set to zero, as Li et al. do (``ignore="biasbn"``).

All functions are pure and return new pytrees; maths is float32 whatever the params' dtype. The
tree maths that directions are used with (norms, dot, perturb, between, plane) lives in
``basinlab.directions._treemath`` and is re-exported here, so ``directions.between`` keeps working.

Reproducibility: the N(0, 1) draws are bit-identical eagerly and inside any jit (integer threefry
and an elementwise transform; tested on CPU). Layer/filter normalization adds float32 norm
reductions whose rounding depends on how XLA fuses them, so a normalized direction regenerated in
another program agrees to a few ulps (relative 1e-6), not bit for bit.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from basinlab._validate import choice
from basinlab.directions._treemath import (
    PyTree,
    alpha_between,
    between,
    check_same,
    cosine,
    dot,
    global_norm,
    leaf_dtype,
    leaf_shape,
    leaves_with_paths,
    perturb,
    plane,
    scale,
    scale_to_norm,
)
from basinlab.models._model import count_params as count

# The last line of __all__ is re-exports (tree maths from treemath, count from models), kept for
# `basinlab.directions.<name>`; new code imports them from their homes.
__all__ = [
    "GENERATORS", "KINDS", "NORMALIZATIONS", "NO_BIASES", "NO_EMBEDDINGS", "NO_NORMS", "SCHEME",
    "DirectionRecipe", "check_compatible", "gaussian", "leaf_direction", "leaf_filter", "normalize", "paths",
    "perturbed_mask", "regenerate",
    "alpha_between", "between", "cosine", "count", "dot", "global_norm", "perturb", "plane", "scale_to_norm",
]

KINDS = ("gaussian",)
# JAX PRNG implementations a recipe may draw with. threefry2x32 (JAX's default) is the default: on
# this project's 2-core CPU it draws N(0, 1) 1.5x faster than rbg/unsafe_rbg (bench/README.md).
GENERATORS = ("threefry2x32", "rbg", "unsafe_rbg")
NORMALIZATIONS = ("none", "layer", "filter")
# Presets for include/exclude (fnmatch globs on "/"-joined paths; "*" also matches "/").
NO_NORMS = ("*norm*",)
NO_BIASES = ("*/bias",)
NO_EMBEDDINGS = ("embed/*", "pos_embed/*")
# Preset patterns may match nothing (a Llama has no biases); any other pattern that matches
# nothing is a typo and raises.
_PRESET_PATTERNS = frozenset(NO_NORMS + NO_BIASES + NO_EMBEDDINGS)
_STACKED_PREFIX = "layers/"
# Bump when the drawing scheme changes: recipes stored in old Datasets would regenerate differently.
SCHEME = "basinlab.directions/v1"
_F32 = jnp.float32


# ----------------------------------------------------------------------------- paths and filters


def _is_stacked(path: str) -> bool:
    return path.startswith(_STACKED_PREFIX)


def paths(params: PyTree) -> list[str]:
    """Leaf paths ("/"-joined keys, e.g. ``"layers/attn/q/kernel"``) in jax.tree flatten order."""
    return [p for p, _ in leaves_with_paths(params)[0]]


def _patterns(value: Any, name: str) -> tuple[str, ...] | None:
    """None, one glob string, or an iterable of glob strings -> None or a tuple of strings."""
    if value is None:
        return None
    if isinstance(value, str):
        value = (value,)
    try:
        out = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be None, a glob string or a tuple of them, "
                        f"got {value!r}") from None
    bad = [v for v in out if not isinstance(v, str)]
    if bad:
        raise TypeError(f"{name} patterns must be strings, got {bad[0]!r} in {value!r}")
    if name == "include" and not out:
        raise ValueError("include=() selects no parameter; use include=None for all of them")
    return out


def leaf_filter(params: PyTree, include: str | Iterable[str] | None = None,
                exclude: str | Iterable[str] | None = None) -> PyTree:
    """Pytree of Python bools shaped like ``params``: True where the leaf is perturbed.

    A leaf is kept when its path matches some ``include`` glob (all leaves if None) and no
    ``exclude`` glob. Globs use fnmatch (case-sensitive). A pattern that is not one of the presets
    (``NO_NORMS``, ``NO_BIASES``, ``NO_EMBEDDINGS``) and matches no path raises ValueError listing
    the available paths.
    """
    inc, exc = _patterns(include, "include"), _patterns(exclude, "exclude") or ()
    items, treedef = leaves_with_paths(params)
    names = [p for p, _ in items]
    for pat in (inc or ()) + exc:
        if pat not in _PRESET_PATTERNS and not any(fnmatch.fnmatchcase(n, pat) for n in names):
            raise ValueError(f"pattern {pat!r} matches no parameter path; available paths: {names}")

    def keep(name: str) -> bool:
        if inc is not None and not any(fnmatch.fnmatchcase(name, p) for p in inc):
            return False
        return not any(fnmatch.fnmatchcase(name, p) for p in exc)

    return jax.tree_util.tree_unflatten(treedef, [keep(n) for n in names])


def perturbed_mask(params: PyTree, include: str | Iterable[str] | None = None,
                   exclude: str | Iterable[str] | None = None) -> PyTree:
    """Pytree of Python bools shaped like ``params``: True on the float leaves that
    :func:`leaf_filter` keeps, i.e. the leaves a direction, GO's noise or a worst-case search moves.

    Raises what :func:`leaf_filter` raises, and a ValueError naming ``include``/``exclude`` and the
    paths when no float leaf is left. The perturbed coordinate count d is
    ``basinlab.models.count_params`` over the leaves where the mask is True.
    """
    items, treedef = leaves_with_paths(params)
    keep = jax.tree_util.tree_leaves(leaf_filter(params, include, exclude))
    mask = [bool(k) and bool(jnp.issubdtype(leaf_dtype(x), jnp.floating))
            for k, (_, x) in zip(keep, items, strict=True)]
    if not any(mask):
        raise ValueError(f"include={include!r}, exclude={exclude!r} leave no float parameter to "
                         f"perturb; paths: {[p for p, _ in items]}")
    return jax.tree_util.tree_unflatten(treedef, mask)


# ----------------------------------------------------------------------------- random directions


def _normalize_unit(delta: jax.Array, theta: Any, path: str, normalization: str) -> jax.Array:
    """Normalize one unstacked leaf or one layer slice (float32 delta, theta of the same shape)."""
    if normalization == "none":
        return delta
    if normalization == "layer":
        axes = None
    else:  # filter
        if delta.ndim <= 1:
            return jnp.zeros_like(delta)  # norm scales and biases: Li et al. ignore="biasbn"
        is_embedding = path.rsplit("/", 1)[-1] == "embedding"
        axes = tuple(range(1, delta.ndim)) if is_embedding else tuple(range(delta.ndim - 1))
    theta_norm = jnp.sqrt(jnp.sum(jnp.square(theta.astype(_F32)), axis=axes, keepdims=True))
    delta_norm = jnp.sqrt(jnp.sum(jnp.square(delta), axis=axes, keepdims=True))
    # A zero delta filter (e.g. an explicit direction that leaves it alone) stays zero, not NaN.
    safe = jnp.where(delta_norm > 0, delta_norm, 1.0)
    return delta * jnp.where(delta_norm > 0, theta_norm / safe, 0.0)


def _draw_unit(key: jax.Array, shape: tuple[int, ...], theta: Any, path: str, normalization: str) -> jax.Array:
    if normalization == "filter" and len(shape) <= 1:
        return jnp.zeros(shape, _F32)  # zeroed anyway; skip the draw
    delta = jax.random.normal(key, shape, _F32)
    return _normalize_unit(delta, theta, path, normalization)


def leaf_direction(key: jax.Array, index: int, path: str, theta: Any, normalization: str = "none",
                   layer: int | jax.Array | None = None) -> jax.Array:
    """Regenerate one leaf of ``gaussian(key, params, normalization)`` alone (float32).

    Args:
      key: the direction key (``fold_in(key_base, seed)``), not the per-leaf key.
      index: the leaf's position in jax.tree flatten order of the full params.
      path: its path (decides stacking and filter convention).
      theta: the theta0 leaf (only its shape is used for ``"none"``, so a ShapeDtypeStruct works),
        or with ``layer`` given, the layer slice ``theta0_leaf[layer]`` of a stacked leaf.
      layer: None for the whole leaf; an int or traced int for one layer slice, e.g. inside a
        ``lax.scan`` over layers, without materializing the other layers.

    Returns:
      float32 array of ``theta``'s shape, equal to the matching part of ``gaussian``.
    """
    choice("normalization", normalization, NORMALIZATIONS)
    shape = tuple(int(n) for n in leaf_shape(theta))
    if layer is not None and not _is_stacked(path):
        raise ValueError(f"layer={layer!r} given for {path!r}, which is not stacked "
                         f"(only paths under {_STACKED_PREFIX!r} have a layer axis)")
    if layer is None and _is_stacked(path) and not shape:
        raise ValueError(f"stacked leaf {path!r} has no leading layer axis (shape ())")
    theta = None if normalization == "none" else theta  # may be abstract then
    leaf_key = jax.random.fold_in(key, index)
    if layer is not None:  # one layer slice of a stacked leaf; shape is the slice shape
        return _draw_unit(jax.random.fold_in(leaf_key, layer), shape, theta, path, normalization)
    if not _is_stacked(path):
        return _draw_unit(leaf_key, shape, theta, path, normalization)
    layers = jnp.arange(shape[0], dtype=jnp.uint32)
    if theta is None:  # vmap over layer ids only
        return jax.vmap(lambda layer: _draw_unit(jax.random.fold_in(leaf_key, layer), shape[1:], None,
                                                 path, normalization))(layers)
    return jax.vmap(lambda layer, th: _draw_unit(jax.random.fold_in(leaf_key, layer), shape[1:], th,
                                                 path, normalization))(layers, theta)


def gaussian(key: jax.Array, params: PyTree, normalization: str = "none",
             include: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None) -> PyTree:
    """Random direction, float32 pytree shaped like ``params``: N(0, 1) per coordinate.

    Each leaf is drawn from ``fold_in(key, leaf_index)`` (each layer slice of a stacked leaf from a
    further ``fold_in(., layer)``), so leaves are independent and any one can be regenerated alone
    (:func:`leaf_direction`), inside jit. Leaves excluded by ``include``/``exclude``
    (:func:`leaf_filter`) and non-float leaves are exact zeros; the indices of the others do not
    change. ``normalization`` is ``"none"`` (default; alpha = per-coordinate std), ``"layer"`` or
    ``"filter"`` (see the module docstring); the latter two read theta0's values from ``params``.
    """
    choice("normalization", normalization, NORMALIZATIONS)
    if isinstance(key, (int, np.integer)):
        raise TypeError("key must be a JAX PRNG key (jax.random.key(...)); for an integer seed use "
                        "regenerate(DirectionRecipe(seed=...), params)")
    items, treedef = leaves_with_paths(params)
    keep = jax.tree_util.tree_leaves(perturbed_mask(params, include, exclude))
    out = [leaf_direction(key, i, path, x, normalization) if k else jnp.zeros(leaf_shape(x), _F32)
           for i, ((path, x), k) in enumerate(zip(items, keep, strict=False))]
    return jax.tree_util.tree_unflatten(treedef, out)


def normalize(direction: PyTree, params: PyTree, normalization: str) -> PyTree:
    """Apply ``"none"``/``"layer"``/``"filter"`` normalization to an explicit direction.

    Same conventions as :func:`gaussian` (e.g. to filter-normalize an SFT delta); float32 out.
    """
    choice("normalization", normalization, NORMALIZATIONS)
    check_compatible(params, direction)
    if normalization == "none":  # params may then be abstract (ShapeDtypeStruct)
        return scale(direction, 1.0)
    items, treedef = leaves_with_paths(params)
    out = []
    for (path, theta), d in zip(items, jax.tree_util.tree_leaves(direction), strict=False):
        d = jnp.asarray(d, _F32)
        if _is_stacked(path) and d.ndim:
            unit = jax.vmap(lambda a, b, p=path: _normalize_unit(a, b, p, normalization))
            out.append(unit(d, theta))
        else:
            out.append(_normalize_unit(d, theta, path, normalization))
    return jax.tree_util.tree_unflatten(treedef, out)


@dataclasses.dataclass(frozen=True)
class DirectionRecipe:
    """Everything needed to regenerate a random direction; its ``to_dict()`` goes in Dataset attrs.

    ``seed`` is a non-negative int below 2**32 (or an int32/uint32 JAX scalar, possibly traced:
    the class is a pytree whose only leaf is ``seed``, so ``jax.jit(regenerate)(recipe, params)``
    compiles once for all seeds). The other fields are static and hashable; ``include``/``exclude``
    are stored as tuples of glob strings. ``generator`` is the JAX PRNG implementation that draws
    it (one of ``GENERATORS``); ``to_dict`` records it as ``"prng_impl"``.
    """

    seed: int
    kind: str = "gaussian"
    normalization: str = "none"
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] | None = None
    generator: str = "threefry2x32"

    def __post_init__(self) -> None:
        choice("kind", self.kind, KINDS)
        choice("generator", self.generator, GENERATORS)
        choice("normalization", self.normalization, NORMALIZATIONS)
        object.__setattr__(self, "include", _patterns(self.include, "include"))
        object.__setattr__(self, "exclude", _patterns(self.exclude, "exclude"))
        seed = self.seed
        # Only concrete Python/numpy scalars are checked: jax also rebuilds this pytree with
        # tracers and placeholder leaves, which must pass through untouched.
        if isinstance(seed, (bool, np.bool_, float, np.floating)):
            raise TypeError(f"seed must be an integer, got {seed!r}")
        if isinstance(seed, (int, np.integer)):
            if not 0 <= seed < 2**32:
                raise ValueError(f"seed must lie in [0, 2**32), got {seed!r}")
            object.__setattr__(self, "seed", int(seed))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready provenance (the seed must be concrete)."""
        return {"seed": int(self.seed), "kind": self.kind, "normalization": self.normalization,
                "include": None if self.include is None else list(self.include),
                "exclude": None if self.exclude is None else list(self.exclude),
                "scheme": SCHEME, "prng_impl": self.generator}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DirectionRecipe:
        """Inverse of :meth:`to_dict`; refuses a recipe drawn with another scheme. A dict without
        ``"prng_impl"`` was drawn with JAX's default, threefry2x32."""
        if d.get("scheme", SCHEME) != SCHEME:
            raise ValueError(f"recipe was drawn with scheme {d['scheme']!r}; this basinlab draws "
                             f"{SCHEME!r} and cannot regenerate it")
        return cls(seed=d["seed"], kind=d.get("kind", "gaussian"),
                   normalization=d.get("normalization", "none"),
                   include=d.get("include"), exclude=d.get("exclude"),
                   generator=d.get("prng_impl", "threefry2x32"))

    def key(self, key_base: jax.Array | None = None) -> jax.Array:
        """The direction key ``fold_in(key_base, seed)``; key_base defaults to
        ``jax.random.key(0, impl=self.generator)``."""
        base = jax.random.key(0, impl=self.generator) if key_base is None else key_base
        return jax.random.fold_in(base, self.seed)


jax.tree_util.register_dataclass(
    DirectionRecipe, data_fields=["seed"],
    meta_fields=["kind", "normalization", "include", "exclude", "generator"])


def regenerate(recipe: DirectionRecipe, params: PyTree, key_base: jax.Array | None = None) -> PyTree:
    """Materialize ``recipe`` as a float32 pytree shaped like ``params`` (jit-compatible).

    The direction key is ``fold_in(key_base, recipe.seed)`` with
    ``key_base = jax.random.key(0, impl=recipe.generator)`` by default. fold_in takes a traced
    integer (cast to uint32, so a traced int32 seed s >= 0 gives the same direction as the Python
    int s), hence the seed can vary inside one compiled program, or be vmapped. A non-default
    ``key_base`` is not part of ``recipe.to_dict()``: record it.
    """
    if not isinstance(recipe, DirectionRecipe):
        raise TypeError(f"recipe must be a DirectionRecipe, got {type(recipe).__name__}")
    key = recipe.key(key_base)
    # Only "gaussian" exists so far (checked by DirectionRecipe); new kinds dispatch here.
    return gaussian(key, params, recipe.normalization, recipe.include, recipe.exclude)


def check_compatible(params: PyTree, direction: PyTree) -> None:
    """ValueError naming the first path where ``direction`` does not fit ``params``.

    Checks the same leaf paths and containers, equal shapes, and the same dtype kind (float /
    integer / ...; float32 directions for bf16 params are fine).
    """
    check_same(params, direction, "params", "direction", kinds=True)
