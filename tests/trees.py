"""Pytree assertions shared by the tests (imported as `from trees import assert_same_params`)."""

import jax
import numpy as np


def assert_same_params(a, b):
    """Same structure, and every leaf of the same dtype, shape and values (bit for bit)."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b), strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape, jax.tree_util.keystr(path)
        assert np.array_equal(np.asarray(x), np.asarray(y)), f"{jax.tree_util.keystr(path)} differs"
