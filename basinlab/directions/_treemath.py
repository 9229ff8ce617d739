"""Tree maths on parameter pytrees: paths, structure checks, norms, inner products, theta0 + alpha*delta.

A pytree here is params-shaped (a nested dict of arrays, or anything jax.tree flattens); a leaf's
path is its keys joined by "/" (``"layers/attn/q/kernel"``). Every reduction accumulates in float32
whatever the leaves' dtype (bf16 params give float32 norms), and every function returns new trees.

- structure: :func:`leaves_with_paths`, :func:`check_same` (ValueError naming the first bad path).
- algebra: :func:`global_norm`, :func:`dot`, :func:`cosine`, :func:`scale`, :func:`scale_to_norm`.
- moves: :func:`perturb` (theta0 + sum_i c_i delta_i, formed from theta0 every time),
  :func:`difference` (theta1 - theta0), :func:`distance` (||theta1 - theta0||), :func:`between`
  (the SFT direction) and :func:`alpha_between` (where theta1 sits along it), :func:`plane`
  (orthogonalize a second direction).

Checks that need a concrete value (a zero norm, parallel directions) are skipped under jit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeAlias

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from basinlab.models._model import count_params

__all__ = [
    "alpha_between", "between", "check_same", "cosine", "difference", "distance", "dot", "global_norm",
    "leaf_dtype", "leaf_shape", "leaves_with_paths", "perturb", "perturb_leaf", "plane", "scale", "scale_to_norm",
]

# Any tree jax.tree flattens (params: a nested dict of arrays); leaves are arrays, ShapeDtypeStructs or
# scalars. Any, because jax has no pytree type.
PyTree: TypeAlias = Any

_F32 = jnp.float32
# plane(): d2 counts as parallel to d1 when its orthogonal part is below this fraction of its norm
# (|cos| > 1 - 5e-9), i.e. within float32 round-off of parallel.
_PARALLEL_RTOL = 1e-4


# ----------------------------------------------------------------------------- structure


def _key_str(k: Any) -> str:
    for attr in ("key", "name", "idx"):  # DictKey / FlattenedIndexKey, GetAttrKey, SequenceKey
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def leaves_with_paths(tree: PyTree) -> tuple[list[tuple[str, Any]], Any]:
    """``([(path, leaf), ...], treedef)`` in jax.tree flatten order; path = keys joined by "/"."""
    items, treedef = jax.tree_util.tree_flatten_with_path(tree)
    return [("/".join(_key_str(k) for k in p), x) for p, x in items], treedef


def leaf_shape(x: Any) -> tuple[int, ...]:
    """Shape of an array, ShapeDtypeStruct or Python scalar (``()``)."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def leaf_dtype(x: Any) -> np.dtype:
    """dtype of an array, ShapeDtypeStruct or Python scalar (numpy's for the latter)."""
    return x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype


def _dtype_kind(dtype: DTypeLike) -> str:
    for kind, base in (("float", jnp.floating), ("complex", jnp.complexfloating),
                       ("integer", jnp.integer), ("bool", jnp.bool_)):
        if jnp.issubdtype(dtype, base):
            return kind
    return str(dtype)


def _first_mismatch(a: PyTree, b: PyTree, a_name: str, b_name: str, kinds: bool) -> str | None:
    a_items, a_def = leaves_with_paths(a)
    b_items, b_def = leaves_with_paths(b)
    b_map = dict(b_items)
    for path, x in a_items:
        if path not in b_map:
            return f"{b_name} has no leaf {path!r} (present in {a_name})"
        y = b_map[path]
        if leaf_shape(x) != leaf_shape(y):
            return f"shape mismatch at {path!r}: {a_name} {leaf_shape(x)} vs {b_name} {leaf_shape(y)}"
        kx, ky = _dtype_kind(leaf_dtype(x)), _dtype_kind(leaf_dtype(y))
        if kinds and kx != ky:
            return f"dtype mismatch at {path!r}: {a_name} {leaf_dtype(x)} ({kx}) vs {b_name} {leaf_dtype(y)} ({ky})"
    a_paths = {p for p, _ in a_items}
    for path, _ in b_items:
        if path not in a_paths:
            return f"{b_name} has an extra leaf {path!r} not in {a_name}"
    if a_def != b_def:
        return f"same leaf paths but different containers: {a_name} {a_def} vs {b_name} {b_def}"
    return None


def check_same(a: PyTree, b: PyTree, a_name: str = "a", b_name: str = "b", *, kinds: bool = False) -> None:
    """ValueError naming the first path where ``a`` and ``b`` differ: a missing or extra leaf, a
    shape, the container, and with ``kinds`` the dtype kind (float / integer / bool / complex)."""
    msg = _first_mismatch(a, b, a_name, b_name, kinds)
    if msg is not None:
        raise ValueError(msg)


def _concrete_zero(x: ArrayLike) -> bool:
    """True when ``x`` is a concrete 0 (checks are skipped under jit, where x is a tracer)."""
    return not isinstance(x, jax.core.Tracer) and bool(x == 0)


# ----------------------------------------------------------------------------- algebra


def global_norm(tree: PyTree) -> jax.Array:
    """Euclidean norm over all leaves, accumulated in float32 (0-d float32 array)."""
    sq = [jnp.sum(jnp.square(jnp.asarray(x, _F32))) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.sqrt(sum(sq, jnp.zeros((), _F32)))


def dot(a: PyTree, b: PyTree) -> jax.Array:
    """Inner product of two pytrees of the same structure and shapes (float32, 0-d)."""
    check_same(a, b, "a", "b")
    prods = [jnp.sum(jnp.asarray(x, _F32) * jnp.asarray(y, _F32))
             for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=False)]
    return sum(prods, jnp.zeros((), _F32))


def cosine(a: PyTree, b: PyTree) -> jax.Array:
    """Cosine similarity <a, b> / (||a|| ||b||), float32; ValueError on a (concrete) zero input."""
    denom = global_norm(a) * global_norm(b)
    if _concrete_zero(denom):
        raise ValueError("cosine of a zero vector is undefined")
    return dot(a, b) / denom


def scale(tree: PyTree, factor: ArrayLike) -> PyTree:
    """``factor * tree`` as a float32 tree (``scale(tree, 1.0)`` casts a direction to float32)."""
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, _F32) * factor, tree)


def scale_to_norm(tree: PyTree, norm: ArrayLike) -> PyTree:
    """``tree`` rescaled (float32) so that its global norm equals ``norm``; ValueError if zero."""
    n = global_norm(tree)
    if _concrete_zero(n):
        raise ValueError("cannot rescale a zero direction to a norm")
    return scale(tree, jnp.asarray(norm, _F32) / n)


# ----------------------------------------------------------------------------- moves


def perturb(theta0: PyTree, deltas: Sequence[PyTree], coeffs: Sequence[ArrayLike] | jax.Array,
            dtype: DTypeLike | None = None) -> PyTree:
    """theta0 + sum_i coeffs[i] * deltas[i], cast to ``dtype`` (default: each leaf's own dtype).

    Formed from theta0 every time (never accumulated, so no round-off drifts across a sweep), in
    float32, or in the leaf's dtype when that is wider (float64 under x64), and rounded once at the
    end (bf16 would otherwise round twice). deltas: a sequence of direction pytrees; coeffs: matching
    scalars (may be traced). Non-float leaves pass through unchanged; theta0 is never modified.
    """

    return jax.tree.map(lambda t, *ds: perturb_leaf(t, ds, coeffs, dtype), theta0, *deltas)


def perturb_leaf(t: ArrayLike, deltas: Sequence[ArrayLike], coeffs: Sequence[ArrayLike] | jax.Array,
                 dtype: DTypeLike | None = None) -> jax.Array:
    """One leaf (or one layer slice) of :func:`perturb`: t + sum_i coeffs[i] * deltas[i], formed in
    float32 (or t's wider dtype) and cast once to ``dtype`` (default t's). The engine's fused path
    calls it on layer slices, so both paths round identically."""
    t = jnp.asarray(t)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        return t
    dt = jnp.promote_types(t.dtype, _F32)
    x = t.astype(dt)
    for c, d in zip(coeffs, deltas, strict=False):
        x = x + jnp.asarray(c, dt) * jnp.asarray(d, dt)
    return x.astype(dtype or t.dtype)


def difference(theta0: PyTree, theta1: PyTree) -> PyTree:
    """theta1 - theta0, a float32 pytree (e.g. a fine-tuning update), after checking both trees have
    the same paths and shapes (ValueError naming the first mismatching path)."""
    check_same(theta0, theta1, "theta0", "theta1")
    return jax.tree_util.tree_map(lambda a, b: jnp.asarray(b, _F32) - jnp.asarray(a, _F32), theta0, theta1)


def distance(theta0: PyTree, theta1: PyTree) -> jax.Array:
    """||theta1 - theta0||_2 over all leaves, the difference taken in float32 (0-d float32 array).

    ValueError naming the first mismatching path if the trees differ.
    """
    return global_norm(difference(theta0, theta1))


def between(theta0: PyTree, theta1: PyTree) -> PyTree:
    """SFT-case direction (theta1 - theta0) / ||theta1 - theta0|| * sqrt(d), float32.

    The endpoint theta1 sits at alpha = ||theta1 - theta0|| / sqrt(d) (PAPER.md section 2).
    ValueError naming the first mismatching path if the trees differ, or if theta1 == theta0.
    """
    diff = difference(theta0, theta1)
    n = global_norm(diff)
    if _concrete_zero(n):
        raise ValueError("theta1 == theta0: the direction between them is undefined")
    return scale(diff, jnp.float32(math.sqrt(count_params(theta0))) / n)


def alpha_between(theta0: PyTree, theta1: PyTree) -> float:
    """Where theta1 sits along :func:`between`: ||theta1 - theta0|| / sqrt(d) (PAPER.md alpha_sft)."""
    return float(distance(theta0, theta1)) / math.sqrt(count_params(theta0))


def plane(d1: PyTree, d2: PyTree) -> tuple[PyTree, PyTree]:
    """Two orthogonal directions spanning the plane of (d1, d2): ``(d1, d2_orth)``.

    ``d1`` is returned unchanged. ``d2_orth`` (float32) is d2 minus its projection on d1,
    rescaled to d2's original norm, so a 2-D landscape keeps d2's alpha units. The projection is
    removed twice (Gram-Schmidt with reorthogonalization), which makes the pair orthogonal to
    float32 round-off even when d2 is close to d1. ValueError if d1 is zero or d2 is parallel to it.
    """
    check_same(d1, d2, "d1", "d2")
    n1sq = dot(d1, d1)
    if _concrete_zero(n1sq):
        raise ValueError("d1 is a zero direction")
    n2 = global_norm(d2)
    if _concrete_zero(n2):
        raise ValueError("d2 is a zero direction")
    r = scale(d2, 1.0)
    for _ in range(2):
        c = dot(d1, r) / n1sq
        r = jax.tree_util.tree_map(lambda x, y, c=c: x - c * jnp.asarray(y, _F32), r, d1)
    nr = global_norm(r)
    if not isinstance(nr, jax.core.Tracer) and bool(nr <= _PARALLEL_RTOL * n2):
        raise ValueError(f"d2 is parallel to d1 (orthogonal part {float(nr):.3g} of norm "
                         f"{float(n2):.3g}); no plane is defined")
    return d1, scale(r, n2 / nr)
