"""Randomized-smoothing bounds for basins (PAPER.md section 4).

Chen et al., "Unveiling the Basin-Like Loss Landscape in Large Language Models"
(ICLR 2026), Theorems 4.2-4.5. Notation: ``sigma`` is the basin size (std of the
Gaussian weight noise), ``p_a = E_eps S(theta0 + eps)`` the smoothed score of the
base model, ``r = ||theta_sft - theta0||_2`` the length of a fine-tuning update.

Bounds
  - :func:`weak_bound` (Thm 4.2): ``p_a - r / (sqrt(2 pi) sigma)``, clipped at 0.
  - :func:`strong_bound` (Thm 4.3): ``Phi(Phi^-1(p_a) - r / sigma)``;
    :func:`log_strong_bound` gives its logarithm when the value underflows.
  - :func:`certified_radius`, :func:`local_slope` (Thm 4.3 corollaries).
  - :func:`lipschitz_deviation`, :func:`concentration_lower_bound` (Thm 4.4).
  - :func:`input_bound` (Thm 4.5, token substitutions; needs an extra
    assumption, see its docstring), :func:`embedding_distances`,
    :func:`token_substitutions_certified`.
Estimation
  - :func:`smoothed_score_mc`: Monte Carlo estimate of ``E_eps S(theta + eps)``
    for a JAX pytree ``theta``, with a confidence interval. Use its ``lower``
    (not ``mean``) as ``p_a`` in certificates, as randomized-smoothing practice does.

Precision: the closed-form bounds use numpy/scipy in float64, not JAX. They are
cheap scalar formulas whose arguments sit in the tails (``p_a`` near 1, ``r/sigma``
large) where float32 loses everything; jit buys nothing here. ``scipy.special.ndtr``
evaluates the lower tail through ``erfc``, so ``strong_bound`` returns the accurate
tiny value rather than 0 from ``1 - Phi(.)`` cancellation; below ~1e-308 it
underflows and :func:`log_strong_bound` (``log_ndtr``) should be used.
All bound functions broadcast their arguments with numpy rules and return float64
(numpy scalars for scalar input). Invalid arguments raise ``ValueError`` naming
the argument and the offending value.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from basinlab.stats import clopper_pearson

__all__ = [
    "weak_bound",
    "strong_bound",
    "log_strong_bound",
    "certified_radius",
    "local_slope",
    "lipschitz_deviation",
    "concentration_lower_bound",
    "input_bound",
    "INPUT_BOUND_ASSUMPTION",
    "EmbeddingDistances",
    "embedding_distances",
    "TokenCertificate",
    "token_substitutions_certified",
    "SmoothedScore",
    "smoothed_score_mc",
]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)  # max of the standard normal pdf


# --------------------------------------------------------------------------- validation


def _first(x: np.ndarray, bad: np.ndarray):
    """First offending value, for the error message."""
    # .item(): a plain Python scalar prints as 0, not np.int64(0).
    return (x[bad].flat[0] if x.ndim else x[()]).item()


def _as_float(name: str, x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if np.any(np.isnan(a)):
        raise ValueError(f"{name} must not be NaN, got {_first(a, np.isnan(a))!r}")
    return a


def _prob(name: str, x) -> np.ndarray:
    a = _as_float(name, x)
    bad = (a < 0) | (a > 1)
    if np.any(bad):
        raise ValueError(f"{name} must lie in [0, 1], got {_first(a, bad)!r}")
    return a


def _open_unit(name: str, x) -> np.ndarray:
    a = _as_float(name, x)
    bad = (a <= 0) | (a >= 1)
    if np.any(bad):
        raise ValueError(f"{name} must lie in (0, 1), got {_first(a, bad)!r}")
    return a


def _positive(name: str, x) -> np.ndarray:
    a = _as_float(name, x)
    bad = ~np.isfinite(a) | (a <= 0)
    if np.any(bad):
        raise ValueError(f"{name} must be positive and finite, got {_first(a, bad)!r}")
    return a


def _nonneg(name: str, x) -> np.ndarray:
    """>= 0; +inf allowed (an infinitely long step)."""
    a = _as_float(name, x)
    bad = a < 0
    if np.any(bad):
        raise ValueError(f"{name} must be >= 0, got {_first(a, bad)!r}")
    return a


def _positive_int(name: str, x) -> int:
    if isinstance(x, bool) or not float(x).is_integer() or x <= 0:
        raise ValueError(f"{name} must be a positive integer, got {x!r}")
    return int(x)


# --------------------------------------------------------------------------- Thm 4.2, 4.3


def weak_bound(p_a, r, sigma):
    """Theorem 4.2: lower bound ``p_a - r / (sqrt(2 pi) sigma)`` on the smoothed score.

    The smoothed score is ``1/(sqrt(2 pi) sigma)``-Lipschitz, so a step of length
    ``r`` lowers it by at most ``r / (sqrt(2 pi) sigma)``.

    Clipping: the result is clipped to [0, 1]. Only the lower clip can act (``p_a <= 1``
    and ``r >= 0``); a negative value would be a vacuous bound on a score in [0, 1].

    Args:
      p_a: smoothed score of the base model, in [0, 1].
      r: L2 length of the parameter step, >= 0 (same units as ``sigma``).
      sigma: basin size (noise std), > 0.
    Returns: float64, broadcast shape of the inputs.
    """
    p, r, s = _prob("p_a", p_a), _nonneg("r", r), _positive("sigma", sigma)
    return np.clip(p - r * _INV_SQRT_2PI / s, 0.0, 1.0)[()]


def _strong_z(p, r, s):
    with np.errstate(invalid="ignore"):  # inf - inf at p_a = 1, r = inf; fixed by callers
        return ndtri(p) - r / s


def strong_bound(p_a, r, sigma):
    """Theorem 4.3: lower bound ``Phi(Phi^-1(p_a) - r / sigma)`` on the smoothed score.

    Exact at the ends: ``p_a = 1`` gives 1 (the score is 1 almost everywhere, so the
    smoothed score is 1 at every point, even for ``r = inf``); ``p_a = 0`` gives 0.
    Far in the tail the accurate tiny value is returned (``ndtr`` uses ``erfc``); it
    underflows to 0 only below ~1e-308 -- use :func:`log_strong_bound` there.

    Args:
      p_a: smoothed score of the base model, in [0, 1].
      r: L2 length of the parameter step, >= 0.
      sigma: basin size, > 0.
    Returns: float64 in [0, 1], broadcast shape of the inputs.
    """
    p, r, s = _prob("p_a", p_a), _nonneg("r", r), _positive("sigma", sigma)
    out = ndtr(_strong_z(p, r, s))
    out = np.where(p == 1.0, 1.0, np.where(p == 0.0, 0.0, out))
    return out[()]


def log_strong_bound(p_a, r, sigma):
    """Natural log of :func:`strong_bound`, finite where the bound itself underflows.

    E.g. ``p_a = 0.9, r / sigma = 40``: the bound is ~1e-328 (0 in float64) while
    this returns -754.135. ``p_a = 0`` gives ``-inf``, ``p_a = 1`` gives 0.
    """
    p, r, s = _prob("p_a", p_a), _nonneg("r", r), _positive("sigma", sigma)
    out = log_ndtr(_strong_z(p, r, s))
    out = np.where(p == 1.0, 0.0, np.where(p == 0.0, -np.inf, out))
    return out[()]


def certified_radius(p_a, sigma, q=0.5):
    """Largest step length ``r`` for which Theorem 4.3 keeps the smoothed score >= q.

    ``r = sigma * (Phi^-1(p_a) - Phi^-1(q))``, returned as ``max(0, r)``: when
    ``p_a < q`` nothing is certified and the radius is 0 (not negative).
    ``p_a = 1`` gives ``inf``.

    Args:
      p_a: smoothed score, in [0, 1] (use a Monte Carlo lower confidence bound).
      sigma: basin size, > 0.
      q: score level to keep, in (0, 1).
    Returns: float64 >= 0 in the units of ``sigma``, broadcast shape.
    """
    p, s, qq = _prob("p_a", p_a), _positive("sigma", sigma), _open_unit("q", q)
    return np.maximum(s * (ndtri(p) - ndtri(qq)), 0.0)[()]


def local_slope(p_a, sigma):
    """Upper bound ``phi(Phi^-1(p_a)) / sigma`` on the smoothed score's local slope.

    The gradient norm of ``E_eps S(theta + eps)`` at a point where it equals ``p_a``
    is at most this (per unit of parameter-space L2 distance). 0 at ``p_a`` in {0, 1};
    at most ``1 / (sqrt(2 pi) sigma)`` (the global Lipschitz constant of Thm 4.2).
    """
    p, s = _prob("p_a", p_a), _positive("sigma", sigma)
    z = ndtri(p)
    return (np.exp(-0.5 * z * z) * _INV_SQRT_2PI / s)[()]  # exp(-inf) = 0 at p_a in {0, 1}


# --------------------------------------------------------------------------- Thm 4.4


def lipschitz_deviation(L, sigma, delta):
    """Theorem 4.4 deviation term ``L * sigma * sqrt(2 ln(1/delta))``.

    For an ``L``-Lipschitz score (Gaussian concentration), with probability
    ``>= 1 - delta`` over ``eps ~ N(0, sigma^2 I)`` a single noisy draw satisfies
    ``S(theta + eps) >= E S(theta + eps) - lipschitz_deviation(L, sigma, delta)``.

    Args:
      L: Lipschitz constant of S (score units per unit of parameter L2 distance), >= 0.
      sigma: noise std, > 0.
      delta: failure probability, in (0, 1).
    """
    L_, s, d = _nonneg("L", L), _positive("sigma", sigma), _open_unit("delta", delta)
    return (L_ * s * np.sqrt(2.0 * np.log(1.0 / d)))[()]


def concentration_lower_bound(smoothed, L, sigma, delta):
    """``smoothed - lipschitz_deviation(L, sigma, delta)`` (Theorem 4.4), not clipped.

    Not clipped because Thm 4.4 holds for any L-Lipschitz S, not only scores in [0, 1].

    Args:
      smoothed: ``E_eps S(theta + eps)`` (or a lower confidence bound of it).
      L, sigma, delta: as in :func:`lipschitz_deviation`.
    """
    return (_as_float("smoothed", smoothed) - lipschitz_deviation(L, sigma, delta))[()]


# --------------------------------------------------------------------------- Thm 4.5

INPUT_BOUND_ASSUMPTION = (
    "Assumes Thm 4.5's equal-in-distribution condition (the paper calls the bound "
    "heuristic): the noisy substituted input (W+E) e_i' must be distributed like the "
    "shifted noisy original (W+E) e_i + W(e_i' - e_i), jointly over positions and with the "
    "rest of the noisy model. It holds when positions share a token in the substituted "
    "input exactly when they did in the original, and W's noise reaches the model only "
    "through the input lookup (untied embeddings); otherwise it can fail (counterexample: "
    "vocabulary {A, B}, W = (0, a), 'A B' -> 'B B')."
)


def input_bound(p_a, embedding_shift, sigma):
    """Theorem 4.5: smoothed score after token substitutions, ``Phi(Phi^-1(p_a) - ||shift|| / sigma)``.

    Replacing tokens ``e_i`` by ``e_i'`` (rows of the embedding matrix ``W``) moves the
    embedded input by ``W e_i' - W e_i`` at each position; the bound treats this as a
    parameter shift of norm ``sqrt(sum_i ||W e_i - W e_i'||^2)`` and applies Thm 4.3.

    Extra equal-in-distribution assumption (the paper calls the result heuristic):
    the noisy embedded substituted input must be equal in distribution to the noisy
    original input shifted by ``W(e_i' - e_i)``. Under weight noise ``E`` the embedding
    of token ``t`` is ``(W + E) e_t``, and every occurrence of ``t`` shares the same
    noise row ``E e_t``, so this can fail. Counterexample (vocabulary {A, B}, 1-D embeddings ``W = (0, a)``):
    input D = "A B", substituted D' = "B B", score ``S(x1, x2) = 1[|x1 - x2| >= c]``.
    Under D the two positions get independent noise, ``x1 - x2 ~ N(-a, 2 sigma^2)``,
    so ``p_a = P(|N(-a, 2 sigma^2)| >= c)`` is close to 1 for small ``c``; under D' both
    positions are ``a + E e_B``, identical, so the smoothed score is exactly 0 -- far
    below ``Phi(Phi^-1(p_a) - |a| / sigma)`` when ``|a| << sigma``. The assumption holds
    when positions share a token after the substitution exactly when they shared one
    before, and the noise on ``W`` reaches the model only through the input lookup
    (untied embeddings; a tied output head also sees the rows). Summing over positions
    counts a repeated token once per occurrence, which is conservative. Reports should
    print ``INPUT_BOUND_ASSUMPTION`` next to the number.

    Args:
      p_a: smoothed score on the original input, in [0, 1].
      embedding_shift: either the scalar ``sqrt(sum_i ||W e_i - W e_i'||^2)`` (>= 0,
        same units as ``sigma``), or the shift vectors ``W e_i' - W e_i`` as an array
        ``[..., n_tokens, d_model]`` (numpy or JAX), reduced by the Frobenius norm over
        the last two axes. A 1-D array is rejected as ambiguous: pass
        ``shift[None, :]`` for a single token, or call :func:`strong_bound` for a batch
        of norms.
      sigma: basin size, > 0.
    Returns: float64 in [0, 1].
    """
    shift = np.asarray(embedding_shift, dtype=np.float64)
    if shift.ndim == 1:
        raise ValueError(
            "embedding_shift must be a scalar norm or per-token shifts [n_tokens, d_model], "
            f"got a 1-D array of shape {shift.shape} (use shift[None, :] for one token)"
        )
    if shift.ndim >= 2:
        if np.any(~np.isfinite(shift)):
            raise ValueError("embedding_shift must be finite")
        shift = np.sqrt(np.sum(shift * shift, axis=(-2, -1)))
    else:
        shift = _nonneg("embedding_shift", shift)
    p, s = _prob("p_a", p_a), _positive("sigma", sigma)
    return strong_bound(p, shift, s)


class EmbeddingDistances(NamedTuple):
    """Output of :func:`embedding_distances` (float64 distances in embedding units)."""

    pairwise: np.ndarray  # [n_pairs] distances ||W_i - W_j|| for random pairs i != j
    nearest: np.ndarray | None  # [n_queries] smallest nonzero distance to another token
    query_ids: np.ndarray | None  # [n_queries] token ids the nearest distances belong to


def _embedding_matrix(W) -> np.ndarray:
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
    W,
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
    chunk = _positive_int("chunk", chunk)
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
        _positive_int("n_queries", n_queries)
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
    embeddings,
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
        d = float(np.quantile(nn, qt))
    else:
        d = float(_positive("distance", distance))
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


# --------------------------------------------------------------------------- Monte Carlo


class SmoothedScore(NamedTuple):
    """Monte Carlo estimate of ``E_eps S(theta + eps)`` with a confidence interval.

    ``k`` is the number of successes when every draw scored 0 or 1 (interval:
    Clopper-Pearson); it is None for fractional scores (interval: Hoeffding).
    """

    mean: float
    lower: float
    upper: float
    n: int
    k: int | None
    confidence: float


def _perturb(theta, key, i, sigma):
    """theta + eps for draw ``i``: eps = sigma * directions.gaussian(fold_in(key, i), theta).

    The same noise scheme as the landscape engine: with ``key = jax.random.key(0)``, draw ``i``
    is the unnormalized Gaussian direction of seed ``i`` scaled by sigma, so a Monte Carlo
    estimate here and a landscape sweep at alpha = sigma see the same noise.
    """
    from basinlab.landscape.directions import gaussian

    eps = gaussian(jax.random.fold_in(key, i), theta)

    def add(leaf, e):
        leaf = jnp.asarray(leaf)
        # Add in at least float32 and round once to the leaf dtype (bf16 would round twice).
        dt = jnp.promote_types(leaf.dtype, jnp.float32)
        return (leaf.astype(dt) + sigma.astype(dt) * e.astype(dt)).astype(leaf.dtype)

    return jax.tree.map(add, theta, eps)


@partial(jax.jit, static_argnums=(0, 1, 2))
def _mc_draws(score_fn, n, batch, theta, key, sigma):
    """Scores of ``n`` noisy copies of ``theta``, ``[n]`` float32, ``batch`` draws per vmap.

    Module-level and jitted with ``score_fn``/``n``/``batch`` static so repeated calls
    (e.g. a sweep over sigma, which is traced) reuse the compiled program. ``theta``
    is an argument, not a closure constant, so a large model is not baked into it.
    """

    def one_draw(i):
        value = jnp.asarray(score_fn(_perturb(theta, key, i, sigma)))
        if value.shape != ():
            raise ValueError(f"score_fn must return a scalar, got shape {value.shape}")
        return value.astype(jnp.float32)

    return jax.lax.map(one_draw, jnp.arange(n, dtype=jnp.uint32), batch_size=batch)


def smoothed_score_mc(
    score_fn: Callable[[Any], Any],
    theta,
    sigma: float,
    n: int,
    key,
    confidence: float = 0.95,
    batch: int = 64,
) -> SmoothedScore:
    """Estimate ``E_eps S(theta + eps)``, ``eps ~ N(0, sigma^2 I)``, from ``n`` draws.

    Args:
      score_fn: ``params -> scalar`` in [0, 1] (bool or 0/1 for a per-draw success).
        Must be traceable by JAX (it is jit-compiled and vmapped over draws).
      theta: parameters, any JAX pytree; every floating leaf gets i.i.d. noise.
      sigma: noise std (basin size), > 0.
      n: number of noise draws, positive integer.
      key: ``jax.random`` key.
      confidence: two-sided coverage of the interval, in (0, 1).
      batch: draws evaluated at once with ``vmap`` (``lax.map`` batch size); trades
        memory for speed, does not change the result.
    Returns:
      :class:`SmoothedScore`. If every draw scored exactly 0 or 1 the interval is
      Clopper-Pearson on ``k`` successes out of ``n``. Otherwise (fractional scores in
      [0, 1]) it is Hoeffding's ``mean +- sqrt(ln(2/alpha) / (2n))`` clipped to [0, 1],
      valid for any bounded score but wider.
    """
    s = float(_positive("sigma", sigma))
    n = _positive_int("n", n)
    batch = _positive_int("batch", batch)
    c = float(_open_unit("confidence", confidence))

    draws = _mc_draws(score_fn, n, min(batch, n), theta, key, jnp.asarray(s))  # float32, or float64 under x64
    return smoothed_interval(np.asarray(draws, dtype=np.float64), c)


def smoothed_interval(scores, confidence: float = 0.95) -> SmoothedScore:
    """Mean of per-draw scores in [0, 1] with a two-sided interval: Clopper-Pearson when every
    draw is 0 or 1, else Hoeffding's mean +- sqrt(ln(2/alpha) / (2n)) (valid for any bounded score)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = _positive_int("n", scores.size)
    c = float(_open_unit("confidence", confidence))
    if np.any(np.isnan(scores)):
        raise ValueError("scores contain NaN")
    outside = (scores < 0) | (scores > 1)
    if np.any(outside):
        raise ValueError(f"score_fn must return values in [0, 1] (scores per draw), got {scores[outside][0].item()!r}")
    mean = float(scores.mean())
    if np.all((scores == 0) | (scores == 1)):
        k = int(scores.sum())
        lo, hi = clopper_pearson(k, n, c)
        return SmoothedScore(mean, float(lo), float(hi), n, k, c)
    half = math.sqrt(math.log(2.0 / (1.0 - c)) / (2.0 * n))
    return SmoothedScore(mean, max(0.0, mean - half), min(1.0, mean + half), n, None, c)
