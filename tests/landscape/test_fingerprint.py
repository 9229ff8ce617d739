"""landscape.fingerprint: a digest of a pytree's values that tells same-named weights apart."""

import jax.numpy as jnp
import numpy as np

from basinlab.landscape._fingerprint import SAMPLES, fingerprint


def tree(seed=0, n=5000):
    rs = np.random.RandomState(seed)
    return {"w": rs.randn(n).astype(np.float32), "b": {"x": rs.randn(3, 4).astype(np.float32)}}


def test_equal_values_give_one_digest_on_any_array_type():
    a = tree()
    assert fingerprint(a) == fingerprint(tree()) == fingerprint({k: jnp.asarray(v) if k == "w" else v
                                                                 for k, v in a.items()})
    assert len(fingerprint(a)) == 16 and int(fingerprint(a), 16) >= 0


def test_other_values_shapes_dtypes_or_paths_give_another_digest():
    a = fingerprint(tree())
    assert fingerprint(tree(seed=1)) != a
    moved = tree()
    moved["w"][0] += 1e-7  # the first value is always sampled
    assert fingerprint(moved) != a
    assert fingerprint({**tree(), "w": tree()["w"].astype(jnp.bfloat16)}) != a
    assert fingerprint({**tree(), "w": tree()["w"].reshape(50, 100)}) != a
    assert fingerprint({"v": tree()["w"], "b": tree()["b"]}) != a


def test_a_leaf_is_sampled_not_read_whole():
    big = tree(n=10 * SAMPLES)
    unseen = tree(n=10 * SAMPLES)
    unseen["w"][1] += 1.0  # between two samples (every 10th value)
    assert fingerprint(unseen) == fingerprint(big)
    unseen["w"][10] += 1.0
    assert fingerprint(unseen) != fingerprint(big)
