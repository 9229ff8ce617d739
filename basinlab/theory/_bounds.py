"""Randomized-smoothing bounds for basins (PAPER.md section 4): Theorems 4.2-4.5 in numpy float64.

Chen et al., "Unveiling the Basin-Like Loss Landscape in Large Language Models"
(ICLR 2026), Theorems 4.2-4.5. Notation: ``sigma`` is the basin size (std of the
Gaussian weight noise), ``p_a = E_eps S(theta0 + eps)`` the smoothed score of the
base model, ``r = ||theta_sft - theta0||_2`` the length of a fine-tuning update.

  - :func:`weak_bound` (Thm 4.2): ``p_a - r / (sqrt(2 pi) sigma)``, clipped at 0.
  - :func:`strong_bound` (Thm 4.3): ``Phi(Phi^-1(p_a) - r / sigma)``;
    :func:`log_strong_bound` gives its logarithm when the value underflows.
  - :func:`certified_radius`, :func:`local_slope` (Thm 4.3 corollaries).
  - :func:`lipschitz_deviation`, :func:`concentration_lower_bound` (Thm 4.4).
  - :func:`input_bound` (Thm 4.5, token substitutions; needs an extra
    assumption, ``INPUT_BOUND_ASSUMPTION``, see its docstring).

Embedding distances and token-substitution certificates are in ``theory.embeddings``; the Monte
Carlo estimate of ``p_a`` is in ``theory.smoothing``.

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

import numpy as np
import numpy.typing as npt
from scipy.special import log_ndtr, ndtr, ndtri

from basinlab._validate import nonnegative, open_unit, positive, probability, real

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
]

# Every bound takes scalars or arrays (numpy broadcasting) and returns a numpy float64 scalar or array.
Float64 = np.float64 | npt.NDArray[np.float64]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)  # max of the standard normal pdf


# --------------------------------------------------------------------------- Thm 4.2, 4.3


def weak_bound(p_a: npt.ArrayLike, r: npt.ArrayLike, sigma: npt.ArrayLike) -> Float64:
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
    p, r, s = probability("p_a", p_a), nonnegative("r", r), positive("sigma", sigma)
    return np.clip(p - r * _INV_SQRT_2PI / s, 0.0, 1.0)[()]


def _strong_z(p: np.ndarray, r: np.ndarray, s: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # inf - inf at p_a = 1, r = inf; fixed by callers
        return ndtri(p) - r / s


def strong_bound(p_a: npt.ArrayLike, r: npt.ArrayLike, sigma: npt.ArrayLike) -> Float64:
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
    p, r, s = probability("p_a", p_a), nonnegative("r", r), positive("sigma", sigma)
    out = ndtr(_strong_z(p, r, s))
    out = np.where(p == 1.0, 1.0, np.where(p == 0.0, 0.0, out))
    return out[()]


def log_strong_bound(p_a: npt.ArrayLike, r: npt.ArrayLike, sigma: npt.ArrayLike) -> Float64:
    """Natural log of :func:`strong_bound`, finite where the bound itself underflows.

    E.g. ``p_a = 0.9, r / sigma = 40``: the bound is ~1e-328 (0 in float64) while
    this returns -754.135. ``p_a = 0`` gives ``-inf``, ``p_a = 1`` gives 0.
    """
    p, r, s = probability("p_a", p_a), nonnegative("r", r), positive("sigma", sigma)
    out = log_ndtr(_strong_z(p, r, s))
    out = np.where(p == 1.0, 0.0, np.where(p == 0.0, -np.inf, out))
    return out[()]


def certified_radius(p_a: npt.ArrayLike, sigma: npt.ArrayLike, q: npt.ArrayLike = 0.5) -> Float64:
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
    p, s, qq = probability("p_a", p_a), positive("sigma", sigma), open_unit("q", q)
    return np.maximum(s * (ndtri(p) - ndtri(qq)), 0.0)[()]


def local_slope(p_a: npt.ArrayLike, sigma: npt.ArrayLike) -> Float64:
    """Upper bound ``phi(Phi^-1(p_a)) / sigma`` on the smoothed score's local slope.

    The gradient norm of ``E_eps S(theta + eps)`` at a point where it equals ``p_a``
    is at most this (per unit of parameter-space L2 distance). 0 at ``p_a`` in {0, 1};
    at most ``1 / (sqrt(2 pi) sigma)`` (the global Lipschitz constant of Thm 4.2).
    """
    p, s = probability("p_a", p_a), positive("sigma", sigma)
    z = ndtri(p)
    return (np.exp(-0.5 * z * z) * _INV_SQRT_2PI / s)[()]  # exp(-inf) = 0 at p_a in {0, 1}


# --------------------------------------------------------------------------- Thm 4.4


def lipschitz_deviation(L: npt.ArrayLike, sigma: npt.ArrayLike, delta: npt.ArrayLike) -> Float64:
    """Theorem 4.4 deviation term ``L * sigma * sqrt(2 ln(1/delta))``.

    For an ``L``-Lipschitz score (Gaussian concentration), with probability
    ``>= 1 - delta`` over ``eps ~ N(0, sigma^2 I)`` a single noisy draw satisfies
    ``S(theta + eps) >= E S(theta + eps) - lipschitz_deviation(L, sigma, delta)``.

    Args:
      L: Lipschitz constant of S (score units per unit of parameter L2 distance), >= 0.
      sigma: noise std, > 0.
      delta: failure probability, in (0, 1).
    """
    L_, s, d = nonnegative("L", L), positive("sigma", sigma), open_unit("delta", delta)
    return (L_ * s * np.sqrt(2.0 * np.log(1.0 / d)))[()]


def concentration_lower_bound(
    smoothed: npt.ArrayLike, L: npt.ArrayLike, sigma: npt.ArrayLike, delta: npt.ArrayLike
) -> Float64:
    """``smoothed - lipschitz_deviation(L, sigma, delta)`` (Theorem 4.4), not clipped.

    Not clipped because Thm 4.4 holds for any L-Lipschitz S, not only scores in [0, 1].

    Args:
      smoothed: ``E_eps S(theta + eps)`` (or a lower confidence bound of it).
      L, sigma, delta: as in :func:`lipschitz_deviation`.
    """
    return (real("smoothed", smoothed) - lipschitz_deviation(L, sigma, delta))[()]


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


def input_bound(p_a: npt.ArrayLike, embedding_shift: npt.ArrayLike, sigma: npt.ArrayLike) -> Float64:
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
        shift = nonnegative("embedding_shift", shift)
    p, s = probability("p_a", p_a), positive("sigma", sigma)
    return strong_bound(p, shift, s)
