"""Monte Carlo smoothed scores: E_eps S(theta + eps), eps ~ N(0, sigma^2 I), with a confidence interval.

- :func:`smoothed_score_mc`: estimate for a JAX pytree ``theta`` and a traceable ``score_fn``,
  noise drawn as the landscape engine draws it (``directions.gaussian``, added by
  ``treemath.perturb``). Use its ``lower`` (not ``mean``) as ``p_a`` in the bounds of
  ``theory.bounds``, as randomized-smoothing practice does.
- :func:`smoothed_interval`: the interval from per-draw scores: two-sided (Clopper-Pearson for 0/1
  scores, Hoeffding otherwise; the default), or with ``sided="one"`` a one-sided lower confidence
  bound of :func:`basinlab.stats.mean_lower_bound` (exact Clopper-Pearson for 0/1 draws, a betting
  bound for draws in [0, 1] such as item means) and the one-sided upper bound of the same method:
  what ``theory.certify`` uses for p_A.
- :class:`SmoothedScore`: the result (mean, lower, upper, n, k, confidence, method).
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
from basinlab.stats import MEAN_BOUNDS, clopper_pearson, mean_lower_bound

__all__ = ["SmoothedScore", "smoothed_interval", "smoothed_score_mc"]


class SmoothedScore(NamedTuple):
    """Monte Carlo estimate of ``E_eps S(theta + eps)`` with confidence bounds.

    ``k`` is the number of successes when every draw scored 0 or 1; None for fractional scores.
    ``method`` says how ``lower`` and ``upper`` were found:

    * a key of :data:`basinlab.stats.MEAN_BOUNDS` ("clopper-pearson", "betting", "hoeffding",
      "bernstein"): one-sided bounds. ``lower`` is a one-sided lower confidence bound at
      ``confidence`` (P(true mean < lower) <= 1 - confidence: the p_A of a certificate) and
      ``upper`` the one-sided upper bound of the same method at the same confidence (so
      [lower, upper] together cover at 2 * confidence - 1);
    * "two-sided clopper-pearson" or "two-sided hoeffding": [lower, upper] is a two-sided
      interval at ``confidence`` (each end one-sided at (1 + confidence) / 2);
    * "unstated" (the default, for a SmoothedScore built by hand from 6 values).
    """

    mean: float
    lower: float
    upper: float
    n: int
    k: int | None
    confidence: float
    method: str = "unstated"

    @property
    def sided(self) -> str:
        """ "one" (lower and upper are one-sided bounds at `confidence`), "two" or "unstated"."""
        return "one" if self.method in MEAN_BOUNDS else "two" if self.method.startswith("two-sided") else "unstated"

    @property
    def description(self) -> str:
        """The method in words, e.g. "one-sided exact Clopper-Pearson on 0/1 draws"."""
        return MEAN_BOUNDS.get(self.method, self.method)


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


def smoothed_interval(scores: npt.ArrayLike, confidence: float = 0.95, sided: str = "two",
                      method: str | None = None) -> SmoothedScore:
    """Mean of per-draw scores in [0, 1] with confidence bounds (:class:`SmoothedScore`).

    sided="two" (default): a two-sided interval at `confidence`: Clopper-Pearson when every draw is
      0 or 1, else Hoeffding's mean +- sqrt(ln(2/alpha) / (2n)) (valid for any bounded score).
      method must be None.
    sided="one": ``lower`` is :func:`basinlab.stats.mean_lower_bound` at `confidence` (one-sided:
      P(true mean < lower) <= 1 - confidence) and ``upper`` is 1 - the same bound of 1 - scores
      (one-sided upper). method: a key of :data:`basinlab.stats.MEAN_BOUNDS`; None picks the exact
      "clopper-pearson" when every draw is 0 or 1 and "betting" otherwise (draws that are item
      means in [0, 1] are not Bernoulli: a bound for bounded i.i.d. draws is needed). E.g. 16 of
      16 draws passing at 99% gives lower = 0.01 ** (1/16) = 0.750 (the two-sided 0.718 is the
      lower end at 99.5%).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = validate.positive_int("n", scores.size)
    c = validate.confidence("confidence", confidence)
    validate.choice("sided", sided, ("one", "two"))
    if method is not None:
        if sided == "two":
            raise ValueError(f"method={method!r} picks a one-sided bound: give sided='one' with it (the "
                             f"two-sided interval is Clopper-Pearson for 0/1 draws, else Hoeffding)")
        validate.choice("method", method, tuple(MEAN_BOUNDS))
    if np.any(np.isnan(scores)):
        raise ValueError("scores contain NaN")
    outside = (scores < 0) | (scores > 1)
    if np.any(outside):
        raise ValueError(f"score_fn must return values in [0, 1] (scores per draw), got {scores[outside][0].item()!r}")
    mean = float(scores.mean())
    binary = bool(np.all((scores == 0) | (scores == 1)))
    k = int(scores.sum()) if binary else None
    if sided == "one":
        m = method if method is not None else "clopper-pearson" if binary else "betting"
        lower = mean_lower_bound(scores, c, m)
        upper = 1.0 - mean_lower_bound(1.0 - scores, c, m)
        return SmoothedScore(mean, float(lower), float(upper), n, k, c, m)
    if binary:
        lo, hi = clopper_pearson(int(scores.sum()), n, c)
        return SmoothedScore(mean, float(lo), float(hi), n, k, c, "two-sided clopper-pearson")
    half = math.sqrt(math.log(2.0 / (1.0 - c)) / (2.0 * n))
    return SmoothedScore(mean, max(0.0, mean - half), min(1.0, mean + half), n, None, c, "two-sided hoeffding")
