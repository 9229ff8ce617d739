"""Pytree assertions shared by the tests (imported as `from trees import assert_same_params`)."""

import jax
import numpy as np


def assert_same_params(a, b):
    """Same structure, and every leaf of the same dtype, shape and values (bit for bit)."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b), strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape, jax.tree_util.keystr(path)
        assert np.array_equal(np.asarray(x), np.asarray(y)), f"{jax.tree_util.keystr(path)} differs"


def assert_within_ulps(a, b, ulps: int = 4, err_msg: str = ""):
    """|a - b| <= ulps units in the last place of the larger magnitude, elementwise.

    For two *different* compiled programs over the same arithmetic: XLA may fuse and reorder a
    reduction (a mean NLL over tokens) differently in each, and how it does so depends on the CPU,
    so equal maths can round 1-2 ulp apart. Where the arithmetic is the same program, assert bitwise.
    """
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    assert np.array_equal(np.isnan(a), np.isnan(b)), f"{err_msg}: NaN in one only"
    ok = ~np.isnan(a)
    gap = np.abs(a[ok] - b[ok])
    allowed = ulps * np.spacing(np.maximum(np.abs(a[ok]), np.abs(b[ok])))
    bad = gap > allowed
    assert not bad.any(), (f"{err_msg}: {int(bad.sum())} of {bad.size} differ by more than {ulps} ulp "
                           f"(largest gap {gap.max():.3g}, {(gap / np.maximum(allowed / ulps, 1e-45)).max():.1f} ulp)")
