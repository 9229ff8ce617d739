"""Monte Carlo smoothed scores: E_eps S(theta + eps), eps ~ N(0, sigma^2 I), with a confidence interval.

- :func:`smoothed_score_mc`: estimate for a JAX pytree ``theta`` and a traceable ``score_fn``,
  noise drawn as the landscape engine draws it (``directions.gaussian``, added by
  ``treemath.perturb``). Use its ``lower`` (not ``mean``) as ``p_a`` in the bounds of
  ``theory.bounds``, as randomized-smoothing practice does.
- :func:`smoothed_interval`: the interval from per-draw scores (Clopper-Pearson for 0/1 scores,
  Hoeffding otherwise), shared with ``theory.certify``.
- :class:`SmoothedScore`: the result (mean, lower, upper, n, k, confidence).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt

from basinlab import _validate as validate
from basinlab.directions._recipes import gaussian
from basinlab.directions._treemath import perturb
from basinlab.stats import clopper_pearson

__all__ = ["SmoothedScore", "smoothed_interval", "smoothed_score_mc"]


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


def _noisy(theta, key, i, sigma):
    """theta + sigma * eps_i, eps_i = directions.gaussian(fold_in(key, i), theta) (treemath.perturb).

    The same noise scheme as the landscape engine: with ``key = jax.random.key(0)``, draw ``i``
    is the unnormalized Gaussian direction of seed ``i`` scaled by sigma, so a Monte Carlo
    estimate here and a landscape sweep at alpha = sigma see the same noise.
    """
    return perturb(theta, [gaussian(jax.random.fold_in(key, i), theta)], [sigma])


@partial(jax.jit, static_argnums=(0, 1, 2))
def _mc_draws(score_fn, n, batch, theta, key, sigma):
    """Scores of ``n`` noisy copies of ``theta``, ``[n]`` float32, ``batch`` draws per vmap.

    Module-level and jitted with ``score_fn``/``n``/``batch`` static so repeated calls
    (e.g. a sweep over sigma, which is traced) reuse the compiled program. ``theta``
    is an argument, not a closure constant, so a large model is not baked into it.
    """

    def one_draw(i):
        value = jnp.asarray(score_fn(_noisy(theta, key, i, sigma)))
        if value.shape != ():
            raise ValueError(f"score_fn must return a scalar, got shape {value.shape}")
        return value.astype(jnp.float32)

    return jax.lax.map(one_draw, jnp.arange(n, dtype=jnp.uint32), batch_size=batch)


def smoothed_score_mc(
    score_fn: Callable[[Any], Any],
    theta: Any,
    sigma: float,
    n: int,
    key: jax.Array,
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
    s = float(validate.positive("sigma", sigma))
    n = validate.positive_int("n", n)
    batch = validate.positive_int("batch", batch)
    c = validate.confidence("confidence", confidence)

    draws = _mc_draws(score_fn, n, min(batch, n), theta, key, jnp.asarray(s))  # float32, or float64 under x64
    return smoothed_interval(np.asarray(draws, dtype=np.float64), c)


def smoothed_interval(scores: npt.ArrayLike, confidence: float = 0.95) -> SmoothedScore:
    """Mean of per-draw scores in [0, 1] with a two-sided interval: Clopper-Pearson when every
    draw is 0 or 1, else Hoeffding's mean +- sqrt(ln(2/alpha) / (2n)) (valid for any bounded score)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = validate.positive_int("n", scores.size)
    c = validate.confidence("confidence", confidence)
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
