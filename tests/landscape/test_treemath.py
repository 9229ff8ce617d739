"""Tests for basinlab.directions._treemath: norms and inner products against numpy, perturb, the SFT
direction and distance, planes, structure checks."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from basinlab.directions import _treemath as TM
from basinlab.directions._recipes import gaussian
from basinlab.models import count_params

L, DM, F, V = 2, 16, 24, 40
KEY = jax.random.key(42)


def tree(seed=0, dtype=jnp.float32):
    """A small params-shaped dict: embedding, stacked kernel and scale, plain kernel, bias."""
    shapes = {"embed": {"embedding": (V, DM)},
              "layers": {"mlp": {"up": {"kernel": (L, DM, F)}}, "norm": {"scale": (L, DM)}},
              "lm_head": {"kernel": (DM, V)}, "bias": (V,)}
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda s: jnp.asarray(rng.normal(size=s), dtype), shapes,
                        is_leaf=lambda x: isinstance(x, tuple))


def flat(t):
    return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(t)])


# ----------------------------------------------------------------------------- structure


def test_leaves_with_paths_shape_dtype():
    t = tree()
    items, treedef = TM.leaves_with_paths(t)
    assert [p for p, _ in items] == ["bias", "embed/embedding", "layers/mlp/up/kernel", "layers/norm/scale",
                                     "lm_head/kernel"]  # jax flatten order (sorted keys)
    assert jax.tree.unflatten(treedef, [x for _, x in items])["lm_head"]["kernel"] is t["lm_head"]["kernel"]
    assert TM.leaf_shape(t["layers"]["mlp"]["up"]["kernel"]) == (L, DM, F)
    assert TM.leaf_shape(jax.ShapeDtypeStruct((3, 4), jnp.bfloat16)) == (3, 4)
    assert TM.leaf_shape(2.5) == () and TM.leaf_dtype(2.5) == np.float64
    assert TM.leaf_dtype(jax.ShapeDtypeStruct((3,), jnp.bfloat16)) == jnp.bfloat16


def test_check_same_names_the_first_difference():
    a = tree()
    TM.check_same(a, tree(1, jnp.bfloat16))  # dtypes are only compared with kinds=True
    b = tree(1)
    b["layers"]["mlp"]["up"]["kernel"] = jnp.zeros((L, DM, F + 1))
    shape_msg = r"shape mismatch at 'layers/mlp/up/kernel': x \(2, 16, 24\) vs y \(2, 16, 25\)"
    with pytest.raises(ValueError, match=shape_msg):
        TM.check_same(a, b, "x", "y")
    b = tree(1)
    b["bias"] = jnp.zeros(V, jnp.int32)
    TM.check_same(a, b)
    with pytest.raises(ValueError, match=r"dtype mismatch at 'bias'.*\(float\).*\(integer\)"):
        TM.check_same(a, b, kinds=True)
    b = tree(1)
    b["extra"] = jnp.zeros(2)
    with pytest.raises(ValueError, match="b has an extra leaf 'extra'"):
        TM.check_same(a, b)
    with pytest.raises(ValueError, match="a has no leaf 'extra'"):
        TM.check_same(b, a, "b", "a")
    with pytest.raises(ValueError, match="different containers"):
        TM.check_same((jnp.zeros(2),), [jnp.zeros(2)])  # same path "0", tuple vs list


# ----------------------------------------------------------------------------- algebra


def test_norm_dot_cosine_scale_against_numpy():
    a, b = tree(1), tree(2)
    va, vb = flat(a), flat(b)
    np.testing.assert_allclose(TM.global_norm(a), np.linalg.norm(va), rtol=1e-5)
    np.testing.assert_allclose(TM.dot(a, b), va @ vb, rtol=1e-4)
    cos = va @ vb / np.linalg.norm(va) / np.linalg.norm(vb)
    np.testing.assert_allclose(TM.cosine(a, b), cos, atol=1e-6)
    half = TM.scale(tree(1, jnp.bfloat16), 0.5)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(half))
    np.testing.assert_allclose(flat(half), 0.5 * flat(tree(1, jnp.bfloat16)), rtol=1e-7)
    np.testing.assert_allclose(TM.global_norm(TM.scale_to_norm(a, 3.5)), 3.5, rtol=1e-5)
    with pytest.raises(ValueError, match="zero"):
        TM.scale_to_norm(jax.tree.map(jnp.zeros_like, a), 1.0)
    with pytest.raises(ValueError, match="zero vector"):
        TM.cosine(a, jax.tree.map(jnp.zeros_like, a))


# ----------------------------------------------------------------------------- perturb


def test_perturb_forms_theta0_plus_sum_in_float32_and_rounds_once():
    theta0 = {"w": jnp.asarray([1.0, 2.0, -3.0], jnp.bfloat16), "step": jnp.asarray([5, 6], jnp.int32)}
    d1 = {"w": jnp.asarray([1e-3, 1e-3, 1e-3], jnp.float32), "step": jnp.ones(2, jnp.float32)}
    d2 = {"w": jnp.asarray([4e-3, 0.0, -2e-3], jnp.float32), "step": jnp.ones(2, jnp.float32)}
    out = TM.perturb(theta0, [d1, d2], [3.0, 0.5])
    want = np.asarray(theta0["w"], np.float32) + 3.0 * np.asarray(d1["w"]) + 0.5 * np.asarray(d2["w"])
    assert out["w"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(out["w"], jnp.asarray(want, jnp.float32).astype(jnp.bfloat16))
    # Rounding once matters: adding the two terms in bf16 one after the other gives another value.
    twice = (theta0["w"] + (3.0 * d1["w"]).astype(jnp.bfloat16)) + (0.5 * d2["w"]).astype(jnp.bfloat16)
    assert not np.array_equal(np.asarray(twice, np.float32), np.asarray(out["w"], np.float32))
    np.testing.assert_array_equal(out["step"], theta0["step"])  # non-float leaves pass through
    as_f32 = TM.perturb(theta0, [d1], [jnp.float32(2.0)], dtype=jnp.float32)
    assert as_f32["w"].dtype == jnp.float32 and as_f32["step"].dtype == jnp.int32
    # Coefficients are traced: one compilation serves every alpha.
    traces = []

    @jax.jit
    def at(alpha):
        traces.append(1)
        return TM.perturb(theta0, [d1], [alpha], dtype=jnp.float32)["w"]

    for alpha in (0.0, 1.0, -2.0):
        np.testing.assert_allclose(at(alpha), np.asarray(theta0["w"], np.float32) + alpha * np.asarray(d1["w"]))
    assert len(traces) == 1
    np.testing.assert_array_equal(TM.perturb(theta0, [d1], [0.0])["w"], theta0["w"])  # alpha 0 gives theta0


# ----------------------------------------------------------------------------- SFT direction, distance


def test_between_distance_alpha_between_and_endpoint():
    theta0 = tree(0, jnp.bfloat16)
    theta1 = jax.tree.map(lambda x, y: (x + 0.01 * y).astype(jnp.bfloat16), theta0, tree(5))
    d = count_params(theta0)
    diff = flat(theta1) - flat(theta0)
    r = TM.distance(theta0, theta1)
    assert r.dtype == jnp.float32 and r.shape == ()
    np.testing.assert_allclose(r, np.linalg.norm(diff), rtol=1e-6)
    assert TM.distance(theta1, theta0) == r and TM.distance(theta0, theta0) == 0.0
    delta = TM.between(theta0, theta1)
    np.testing.assert_allclose(TM.global_norm(delta), np.sqrt(d), rtol=1e-5)
    np.testing.assert_allclose(flat(delta) @ diff / np.linalg.norm(diff) / np.sqrt(d), 1.0, rtol=1e-6)
    # theta1 sits at alpha_sft = ||theta1 - theta0|| / sqrt(d) along delta
    alpha = TM.alpha_between(theta0, theta1)
    assert isinstance(alpha, float) and alpha == pytest.approx(np.linalg.norm(diff) / math.sqrt(d), rel=1e-6)
    np.testing.assert_allclose(flat(TM.perturb(theta0, [delta], [alpha], dtype=jnp.float32)), flat(theta1),
                               atol=1e-5)


def test_difference_is_theta1_minus_theta0_in_float32():
    theta0 = tree(0, jnp.bfloat16)
    theta1 = jax.tree.map(lambda x, y: (x + 0.01 * y).astype(jnp.bfloat16), theta0, tree(5))
    diff = TM.difference(theta0, theta1)
    assert jax.tree.structure(diff) == jax.tree.structure(theta0)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(diff))
    np.testing.assert_array_equal(flat(diff), flat(theta1) - flat(theta0))  # exact: bf16 -> f32 differences
    assert TM.distance(theta0, theta1) == TM.global_norm(diff)
    assert not np.any(flat(TM.difference(theta1, theta1)))


def test_between_and_distance_errors_name_the_path():
    theta0, theta1 = tree(), tree(1)
    theta1["layers"]["mlp"]["up"]["kernel"] = jnp.zeros((L, DM, F + 1))
    for f in (TM.between, TM.distance, TM.alpha_between, TM.difference):
        with pytest.raises(ValueError, match=r"'layers/mlp/up/kernel'.*theta0 \(2, 16, 24\).*theta1 \(2, 16, 25\)"):
            f(theta0, theta1)
    theta1["layers"]["mlp"]["up"]["kernel"] = theta0["layers"]["mlp"]["up"]["kernel"]
    del theta1["lm_head"]
    with pytest.raises(ValueError, match="theta1 has no leaf 'lm_head/kernel'"):
        TM.distance(theta0, theta1)
    with pytest.raises(ValueError, match="theta1 == theta0"):
        TM.between(theta0, tree())


# ----------------------------------------------------------------------------- planes


def test_plane_orthogonal_and_d1_unchanged():
    params = tree()
    d1 = gaussian(KEY, params)
    raw = gaussian(jax.random.key(7), params)
    # Make d2 strongly correlated with d1, where one Gram-Schmidt pass loses orthogonality.
    for w in (0.0, 0.9, 0.999):
        d2 = jax.tree.map(lambda x, y, w=w: w * x + (1 - w) * y, d1, raw)
        p1, p2 = TM.plane(d1, d2)
        assert p1 is d1
        assert abs(float(TM.cosine(p1, p2))) < 1e-6, w
        np.testing.assert_allclose(TM.global_norm(p2), TM.global_norm(d2), rtol=1e-5)
        # Same plane: d2 = a d1 + b p2 exactly
        a = TM.dot(d2, d1) / TM.dot(d1, d1)
        b = TM.dot(d2, p2) / TM.dot(p2, p2)
        rebuilt = jax.tree.map(lambda x, y, a=a, b=b: a * x + b * y, d1, p2)
        resid = TM.global_norm(jax.tree.map(jnp.subtract, rebuilt, d2)) / TM.global_norm(d2)
        assert float(resid) < 1e-4
    with pytest.raises(ValueError, match="parallel"):
        TM.plane(d1, jax.tree.map(lambda x: -2.0 * x, d1))
    with pytest.raises(ValueError, match="d1 is a zero direction"):
        TM.plane(jax.tree.map(jnp.zeros_like, d1), d1)
