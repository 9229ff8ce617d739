"""Token-embedding geometry for Theorem 4.5: embedding distances and certified token substitutions.

- :func:`embedding_distances`: L2 distances between rows of an embedding matrix ``W [V, D]``
  (random pairs, and each query token's nearest other token), numpy float64 (Figure 4c).
- :func:`token_substitutions_certified`: how many nearest-neighbour token swaps
  ``theory.bounds.input_bound`` certifies to keep the smoothed score >= q (under
  ``INPUT_BOUND_ASSUMPTION``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from basinlab._validate import positive, positive_int
from basinlab.theory._bounds import INPUT_BOUND_ASSUMPTION, certified_radius, strong_bound

__all__ = ["EmbeddingDistances", "TokenCertificate", "embedding_distances", "token_substitutions_certified"]


class EmbeddingDistances(NamedTuple):
    """Output of :func:`embedding_distances` (float64 distances in embedding units)."""

    pairwise: np.ndarray  # [n_pairs] distances ||W_i - W_j|| for random pairs i != j
    nearest: np.ndarray | None  # [n_queries] smallest nonzero distance to another token
    query_ids: np.ndarray | None  # [n_queries] token ids the nearest distances belong to


def _embedding_matrix(W: npt.ArrayLike) -> np.ndarray:
    # float32 is enough to rank candidates; exact distances are recomputed in float64.
    # Converting handles bf16 JAX/ml_dtypes arrays, which numpy BLAS cannot multiply.
    W = np.asarray(W)
    if W.dtype not in (np.float32, np.float64):
        W = W.astype(np.float32)
    if W.ndim != 2 or W.shape[0] < 2:
        raise ValueError(f"W must be an embedding matrix [V, D] with V >= 2, got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("W must be finite")
    return W


def embedding_distances(
    W: npt.ArrayLike,
    n_pairs: int = 10_000,
    seed: int = 0,
    nearest: bool = True,
    n_queries: int | None = 1024,
    chunk: int = 256,
    n_candidates: int = 8,
) -> EmbeddingDistances:
    """L2 distances between token embeddings (rows of ``W``), for Figure 4c and Thm 4.5.

    Pairwise: ``n_pairs`` pairs ``(i, j)``, ``i != j``, uniform over token ids.
    Nearest: for ``n_queries`` query tokens (uniform without replacement; ``None`` = all
    tokens), the smallest nonzero distance to any other token. Exact duplicate rows
    (e.g. untrained reserved tokens) are merged first, so a duplicate never counts as
    the nearest neighbour. Candidates are ranked with a float32
    ``|a|^2 + |b|^2 - 2 a.b`` matmul in chunks of ``chunk`` queries (memory
    ``chunk * V`` floats), and the best ``n_candidates`` are re-measured exactly in
    float64. V = 49152, D = 576 with 1024 queries takes 1-3 s on a 2-core CPU.

    Args:
      W: embedding matrix ``[V, D]``, numpy or JAX, any float dtype.
      n_pairs: number of random pairs (0 for none).
      seed: seed for ``numpy.random.default_rng``.
      nearest: compute nearest-neighbour distances.
      n_queries: number of query tokens for nearest neighbours, or None for all V.
      chunk: query tokens per matmul block (memory ``chunk * V`` float32).
      n_candidates: float32-ranked candidates re-measured in float64 per query.
    Returns: :class:`EmbeddingDistances`.
    """
    W = _embedding_matrix(W)
    V = W.shape[0]
    rng = np.random.default_rng(seed)
    if int(n_pairs) != n_pairs or n_pairs < 0:
        raise ValueError(f"n_pairs must be a non-negative integer, got {n_pairs!r}")
    chunk = positive_int("chunk", chunk)
    i = rng.integers(0, V, size=int(n_pairs))
    j = rng.integers(0, V - 1, size=int(n_pairs))
    j = j + (j >= i)  # uniform over j != i
    pairwise = np.empty(int(n_pairs))
    for s in range(0, int(n_pairs), 4096):
        d = W[i[s : s + 4096]].astype(np.float64) - W[j[s : s + 4096]]
        pairwise[s : s + 4096] = np.sqrt(np.einsum("nd,nd->n", d, d))
    if not nearest:
        return EmbeddingDistances(pairwise, None, None)

    if n_queries is None or n_queries >= V:
        query_ids = np.arange(V)
    else:
        positive_int("n_queries", n_queries)
        query_ids = np.sort(rng.choice(V, size=int(n_queries), replace=False))
    U, inverse = np.unique(W, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if U.shape[0] < 2:
        raise ValueError("W has a single distinct row; there is no nonzero distance")
    U32 = U.astype(np.float32)
    sq = np.einsum("vd,vd->v", U32, U32)
    kc = min(int(n_candidates), U.shape[0] - 1)
    nn = np.empty(len(query_ids))
    for s in range(0, len(query_ids), chunk):
        u = inverse[query_ids[s : s + chunk]]  # rows of U being queried
        d2 = sq[u, None] + sq[None, :] - 2.0 * (U32[u] @ U32.T)
        d2[np.arange(len(u)), u] = np.inf  # exclude the token itself (and its duplicates)
        cand = np.argpartition(d2, kc - 1, axis=1)[:, :kc]
        diff = U[cand].astype(np.float64) - U[u][:, None, :].astype(np.float64)
        dist = np.sqrt(np.einsum("qkd,qkd->qk", diff, diff))
        dist[dist == 0] = np.inf  # e.g. rows differing only by -0.0 vs 0.0
        nn[s : s + chunk] = dist.min(axis=1)
        for qi in np.flatnonzero(~np.isfinite(nn[s : s + chunk])):  # rare: full exact scan
            full = np.sqrt(np.sum((U.astype(np.float64) - U[u[qi]].astype(np.float64)) ** 2, axis=1))
            nn[s + qi] = np.min(full[full > 0])
    return EmbeddingDistances(pairwise, nn, query_ids)


class TokenCertificate(NamedTuple):
    """Output of :func:`token_substitutions_certified`."""

    k: int | float  # certified number of substitutions (math.inf when p_a = 1)
    radius: float  # certified_radius(p_a, sigma, q), embedding units
    distance: float  # per-substitution embedding distance used
    p_a: float
    sigma: float
    q: float
    assumption: str  # the Thm 4.5 assumption; print it next to k


def token_substitutions_certified(
    embeddings: npt.ArrayLike | None,
    p_a: float,
    sigma: float,
    q: float = 0.5,
    *,
    quantile: float = 1.0,
    n_queries: int | None = 1024,
    seed: int = 0,
    distance: float | None = None,
) -> TokenCertificate:
    """Number of token substitutions that Theorem 4.5 certifies to keep the score >= q.

    Each substitution replaces a token by its nearest neighbour in embedding space,
    moving the input by at most ``d`` = the ``quantile`` of the nearest-neighbour
    distances (smallest nonzero distance to another token) over the query tokens.
    Conservative choice: the default ``quantile = 1.0`` takes the largest
    nearest-neighbour distance, so any k tokens can each be swapped for their nearest
    neighbour, and the shift norm is at most ``sqrt(k) * d``. With a subsample of query
    tokens that maximum is an estimate; pass ``n_queries=None`` to scan the whole
    vocabulary. Lower quantiles describe typical, not worst-case, tokens. The result
    is the largest k with ``input_bound(p_a, sqrt(k) * d, sigma) >= q``, i.e.
    ``floor((certified_radius / d)^2)``; it relies on ``INPUT_BOUND_ASSUMPTION``.

    Args:
      embeddings: embedding matrix ``W [V, D]`` (numpy or JAX); may be None if
        ``distance`` is given.
      p_a: smoothed score of the unmodified input, in [0, 1] (use a lower confidence
        bound). Scalar.
      sigma: basin size, > 0, scalar (noise std on the embedding entries).
      q: score level to keep, in (0, 1).
      quantile: which nearest-neighbour distance to use, in (0, 1].
      n_queries, seed: passed to :func:`embedding_distances`.
      distance: a precomputed per-substitution distance (> 0); skips the scan.
    Returns: :class:`TokenCertificate` (``k`` is an int, or ``math.inf`` at p_a = 1).
    """
    if np.ndim(p_a) or np.ndim(sigma) or np.ndim(q):
        raise ValueError("p_a, sigma and q must be scalars")
    radius = float(certified_radius(p_a, sigma, q))
    if distance is None:
        qt = float(quantile)
        if not 0.0 < qt <= 1.0:
            raise ValueError(f"quantile must lie in (0, 1], got {quantile!r}")
        if embeddings is None:
            raise ValueError("embeddings must be given when distance is None")
        nn = embedding_distances(embeddings, n_pairs=0, seed=seed, n_queries=n_queries).nearest
        assert nn is not None  # nearest=True (the default) always fills it
        d = float(np.quantile(nn, qt))
    else:
        d = float(positive("distance", distance))
    if math.isinf(radius):
        k: int | float = math.inf
    else:
        k = int(math.floor((radius / d) ** 2))
        # Guard against rounding at the boundary: make k agree with the bound itself.
        for _ in range(3):
            if k > 0 and strong_bound(p_a, math.sqrt(k) * d, sigma) < q:
                k -= 1
        for _ in range(3):
            if strong_bound(p_a, math.sqrt(k + 1) * d, sigma) >= q:
                k += 1
    return TokenCertificate(k, radius, d, float(p_a), float(sigma), float(q), INPUT_BOUND_ASSUMPTION)
