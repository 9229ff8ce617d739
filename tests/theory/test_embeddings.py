"""Tests for basinlab.theory._embeddings: token-embedding distances and certified substitutions (Thm 4.5)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import ndtr, ndtri

from basinlab.theory import _embeddings as E
from basinlab.theory._bounds import input_bound


def _brute_force_nearest(W):
    d = np.sqrt(((W[:, None, :].astype(np.float64) - W[None, :, :]) ** 2).sum(-1))
    d[d == 0] = np.inf  # self and exact duplicates
    return d.min(axis=1), d


def test_embedding_distances_match_brute_force():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(300, 16)).astype(np.float32)
    W[10] = W[20]  # duplicate rows must not count as nearest neighbours
    W[30] = W[20]
    nn_true, full = _brute_force_nearest(W)
    out = E.embedding_distances(W, n_pairs=500, seed=1, n_queries=120, chunk=7)
    assert out.nearest.shape == out.query_ids.shape == (120,)
    assert len(np.unique(out.query_ids)) == 120
    np.testing.assert_allclose(out.nearest, nn_true[out.query_ids], rtol=1e-12)
    every = E.embedding_distances(W, n_pairs=0, n_queries=None)
    np.testing.assert_allclose(every.nearest, nn_true, rtol=1e-12)
    assert every.pairwise.shape == (0,)
    # Each sampled pair distance is a distance between two different tokens.
    finite = np.sort(full[np.isfinite(full)])
    idx = np.clip(np.searchsorted(finite, out.pairwise), 1, len(finite) - 1)
    nearest_entry = np.minimum(abs(finite[idx] - out.pairwise), abs(finite[idx - 1] - out.pairwise))
    assert out.pairwise.shape == (500,) and np.all(nearest_entry < 1e-9)
    # Same seed, same sample; pairwise mean near the population mean.
    again = E.embedding_distances(W, n_pairs=500, seed=1, n_queries=120)
    np.testing.assert_array_equal(again.pairwise, out.pairwise)
    assert out.pairwise.mean() == pytest.approx(finite.mean(), rel=0.05)
    assert E.embedding_distances(W, n_pairs=10, nearest=False).nearest is None


def test_embedding_distances_accepts_bf16_jax():
    W = jax.random.normal(jax.random.key(0), (64, 8), dtype=jnp.bfloat16)
    out = E.embedding_distances(W, n_pairs=20, n_queries=None)
    nn_true, _ = _brute_force_nearest(np.asarray(W, dtype=np.float32))
    np.testing.assert_allclose(out.nearest, nn_true, rtol=1e-12)


def test_token_substitutions_certified_known_geometry():
    # 1-D tokens at 0, 1, 3, 3: nearest nonzero distances 1, 1, 2, 2 (duplicate ignored).
    W = np.array([[0.0], [1.0], [3.0], [3.0]])
    p_a, sigma, q = 0.99, 3.0, 0.5
    cert = E.token_substitutions_certified(W, p_a, sigma, q, n_queries=None)
    assert cert.distance == 2.0  # conservative: the largest nearest-neighbour distance
    R = sigma * (ndtri(p_a) - ndtri(q))
    assert cert.radius == pytest.approx(R)
    assert cert.k == math.floor((R / 2.0) ** 2) == 12
    assert input_bound(p_a, math.sqrt(cert.k) * 2.0, sigma) >= q
    assert input_bound(p_a, math.sqrt(cert.k + 1) * 2.0, sigma) < q
    assert "equal-in-distribution" in cert.assumption
    typical = E.token_substitutions_certified(W, p_a, sigma, q, n_queries=None, quantile=0.25)
    assert typical.distance == 1.0 and typical.k == math.floor(R**2)


def test_token_substitutions_certified_edges():
    assert E.token_substitutions_certified(None, 1.0, 0.1, distance=0.5).k == math.inf
    assert E.token_substitutions_certified(None, 0.4, 0.1, q=0.5, distance=0.5).k == 0
    # Exactly at the boundary: r = sqrt(k) * d with k = 4 must still be certified.
    p = float(ndtr(ndtri(0.5) + 2.0))  # certified radius 2 * sigma with sigma = 1
    assert E.token_substitutions_certified(None, p, 1.0, distance=1.0).k in (3, 4)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: E.token_substitutions_certified(None, 0.9, 1.0, distance=0.0), r"distance must be positive"),
        (lambda: E.token_substitutions_certified(np.eye(3), 0.9, 1.0, quantile=0.0), r"quantile must lie"),
        (lambda: E.embedding_distances(np.ones((1, 4))), r"W must be an embedding matrix"),
        (lambda: E.embedding_distances(np.ones((5, 4)), n_pairs=-1), r"n_pairs must be a non-negative integer"),
        (lambda: E.embedding_distances(np.ones((5, 4)), chunk=0), r"chunk must be a positive integer"),
    ],
)
def test_embedding_bad_input_names_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
