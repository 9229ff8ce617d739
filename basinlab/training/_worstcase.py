"""Worst-case directions: projected gradient ascent on a capability surrogate (PAPER.md section 2).

    wc = worstcase.worst_case(model, ["synthetic-addition", "synthetic-capitals", "pydoc"])
    ds = landscape(model, benchmarks, directions=[wc.direction], alphas=worstcase.ONE_SIDED)

The worst-case direction is ``delta* = argmax_{||delta|| = sqrt(d)} L(theta0 + alpha * delta)``. The
oracle score L has no gradient, so the search ascends a differentiable surrogate J: the mean, over
the given capabilities, of the per-item mean NLL of their reference answers
(:mod:`basinlab.benchmarks._references`). Search (the paper leaves steps and step size open; these
are basinlab's documented defaults):

    delta_0     = sqrt(d) * g0 / ||g0||,  g0 = grad J(theta0)       (init="gradient": first order)
                  or a random Gaussian direction rescaled to sqrt(d)  (init="random")
    delta_{t+1} = P(delta_t + step_size * sqrt(d) * g_t / ||g_t||),  g_t = grad J(theta0 + alpha * delta_t)
    P(x)        = sqrt(d) * x / ||x||                                  (projection back on the sphere)

``step_size`` is a fraction of the norm (0.5 turns delta by at most ~27 degrees a step), so it does
not depend on the scale of the gradient. Normalized steps of fixed size need not increase J every
time, so the direction returned is the best iterate (largest J); the trace shows them all.
d counts the perturbed coordinates (all float params, or those kept by include/exclude), the same
d whose sqrt is the expected norm of a random direction, so worst-case and random directions share
alpha units. Everything runs in float32.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from basinlab import _validate as validate
from basinlab.benchmarks import _references as references
from basinlab.directions import _recipes as D
from basinlab.directions import _treemath as treemath
from basinlab.models import count_params
from basinlab.models._model import Model
from basinlab.scoring._base import Benchmark, Scores

__all__ = ["INITS", "ONE_SIDED", "WorstCase", "surrogate_value", "worst_case"]

INITS = ("gradient", "random")
# One-sided log grid for worst-case curves (PAPER.md: plotted for alpha >= 0).
ONE_SIDED = np.asarray([0.0, 1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2])
_F32 = jnp.float32


@dataclasses.dataclass(frozen=True)
class WorstCase:
    """direction: float32 pytree, norm sqrt(d), the iterate with the largest J; trace: [steps + 1] surrogate J (nats) at
    theta0 + alpha * delta_t for t = 0..steps; random: [n_random] J at random directions of the same
    norm and alpha; base: J(theta0); d: the perturbed coordinate count."""

    direction: Any
    trace: np.ndarray
    random: np.ndarray
    base: float
    alpha: float
    step_size: float
    steps: int
    init: str
    surrogate: tuple[str, ...]
    d: int
    seconds: float

    def attrs(self) -> dict[str, Any]:
        """Plain-JSON provenance (everything but the direction)."""
        return {"alpha": self.alpha, "step_size": self.step_size, "steps": self.steps, "init": self.init,
                "surrogate": list(self.surrogate), "d": self.d, "base": self.base,
                "trace": [float(x) for x in self.trace], "random": [float(x) for x in self.random]}


def _reject_unknown(fn, unknown: Mapping) -> None:
    """ValueError naming the unknown keywords and fn's keyword-only parameters (typos never run)."""
    if unknown:
        valid = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY]
        validate.options(f"{fn.__name__}()", unknown, valid)


def _surrogates(model, surrogate, shared: Mapping | None) -> list[Benchmark]:
    """The surrogate Benchmarks; ``shared`` (surrogate_options) goes to every capability name, each
    taking the options it has (``shared=`` of :func:`basinlab.benchmarks._references.reference`)."""
    items = [surrogate] if isinstance(surrogate, (str, Benchmark)) else list(surrogate)
    if not items:
        raise ValueError("surrogate is empty: give capability names or Benchmarks with an 'nll' output")
    out = []
    for item in items:
        if isinstance(item, str):
            item = references.reference(item, model, shared=shared)
        elif not isinstance(item, Benchmark):
            raise TypeError(f"surrogate items must be capability names or Benchmarks, got {item!r}")
        if item.judge is not None:
            raise ValueError(
                f"benchmark {item.name!r} is judged on generated text and has no differentiable NLL; "
                f"pass its name instead to use reference answers (available: {references.available()})")
        out.append(item)
    return out


def _objective(spec, benchmarks, compute_dtype):
    """J(params, datas): mean over benchmarks of the mean per-item NLL (float32 scalar, nats)."""
    fns = [b.score_fn for b in benchmarks]

    def J(params, datas):
        vals = []
        for fn, data in zip(fns, datas, strict=True):
            out = Scores.of(fn(spec, params, data, compute_dtype))
            if out.nll is None:
                raise ValueError("a surrogate benchmark returned no nll")
            vals.append(jnp.mean(out.nll.astype(_F32)))
        return sum(vals) / len(vals)

    return J


def _masked(tree, mask):
    return jax.tree.map(lambda m, x: jnp.asarray(x, _F32) if m else jnp.zeros(x.shape, _F32), mask, tree)


def surrogate_value(model: Model, surrogate: str | Benchmark | Sequence[str | Benchmark],
                    params: dict[str, Any] | None = None, *, compute_dtype: DTypeLike | None = None,
                    surrogate_options: Mapping[str, Any] | None = None, **unknown: Any) -> float:
    """J at `params` (default: the model's): mean reference-answer NLL over the capabilities
    (surrogate and surrogate_options as in :func:`worst_case`)."""
    _reject_unknown(surrogate_value, unknown)
    benches = _surrogates(model, surrogate, surrogate_options)
    J = jax.jit(_objective(model.spec, benches, _compute_dtype(model, compute_dtype)))
    return float(J(model.params if params is None else params, [b.data for b in benches]))


def _compute_dtype(model, compute_dtype):
    cd = compute_dtype or model.compute_dtype or "float32"
    return jnp.dtype(cd)


def _fingerprint(fn):
    """A hashable identity for a score function: partials of one function with equal options match."""
    if isinstance(fn, functools.partial):
        return (fn.func, fn.args, tuple(sorted((k, _fingerprint(v)) for k, v in fn.keywords.items())))
    return fn


_PROGRAMS: dict = {}


def _programs(spec, benches, compute_dtype, mask):
    """(value_at, grad_dir, ascend), jitted once per (spec, score functions, dtype, mask): a second
    search on the same model and capabilities does not recompile."""
    leaves, treedef = jax.tree.flatten(mask)
    key = (spec, tuple(_fingerprint(b.score_fn) for b in benches), compute_dtype, tuple(leaves), treedef)
    try:
        hash(key)
    except TypeError:
        key = None
    if key is not None and key in _PROGRAMS:
        return _PROGRAMS[key]
    J = _objective(spec, benches, compute_dtype)

    # theta0 and the data are arguments, never closed over: jit would bake them in as constants.
    @jax.jit
    def value_at(theta0, datas, delta, a):
        return J(treemath.perturb(theta0, [delta], [a]), datas)

    @jax.jit
    def grad_dir(theta0, datas, delta, a):
        """(J, unit gradient on the kept leaves) at theta0 + a * delta."""
        value, g = jax.value_and_grad(J)(treemath.perturb(theta0, [delta], [a]), datas)
        g = _masked(g, mask)
        factor = 1.0 / jnp.maximum(treemath.global_norm(g), 1e-30)  # a zero gradient stays zero, not NaN
        return value, jax.tree.map(lambda x: x * factor, g)

    @jax.jit
    def ascend(delta, unit, eta):
        norm = treemath.global_norm(delta)  # delta is on the sphere of radius sqrt(d)
        return treemath.scale_to_norm(jax.tree.map(lambda a, b: a + eta * norm * b, delta, unit), norm)

    programs = (value_at, grad_dir, ascend)
    if key is not None:
        _PROGRAMS[key] = programs
        while len(_PROGRAMS) > 8:
            _PROGRAMS.pop(next(iter(_PROGRAMS)))
    return programs


def worst_case(model: Model, surrogate: str | Benchmark | Sequence[str | Benchmark], *,
               alpha: float = 1e-4, steps: int = 10, step_size: float = 0.5, init: str = "gradient",
               seed: int = 0, n_random: int = 4, include: str | Iterable[str] | None = None,
               exclude: str | Iterable[str] | None = None, compute_dtype: DTypeLike | None = None,
               progress: bool = True, surrogate_options: Mapping[str, Any] | None = None,
               **unknown: Any) -> WorstCase:
    """Projected gradient ascent for the worst-case direction of `model` (module docstring).

    surrogate: capability names (their reference answers, :mod:`basinlab.benchmarks._references`,
    built with ``surrogate_options`` such as {"n": 20, "seed": 0}, shared by the names: each takes
    the options it has, e.g. seq_len only the text ones, and a key no benchmark takes raises),
    Benchmarks with a differentiable "nll", or a list.
    alpha: where J is ascended (the worst case depends on it; 1e-4 is ~100x inside SmolLM2's random
    basins); steps: ascent steps (0 returns the init); step_size: fraction of the norm per step;
    init: "gradient" or "random" (from `seed`); n_random: random directions of the same norm
    evaluated at alpha for comparison; include/exclude: which params move (directions.leaf_filter).
    Any other keyword raises a ValueError naming it and the valid ones.
    """
    _reject_unknown(worst_case, unknown)
    if init not in INITS:
        raise ValueError(f"init={init!r} is not supported; valid: {list(INITS)}")
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
    if not (isinstance(step_size, (int, float)) and step_size > 0):
        raise ValueError(f"step_size must be > 0 (a fraction of the direction's norm), got {step_size!r}")
    for name, value in (("steps", steps), ("n_random", n_random)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    benches = _surrogates(model, surrogate, surrogate_options)
    spec, theta0 = model.spec, model.params
    mask = D.perturbed_mask(theta0, include, exclude)  # raises when no float leaf is kept
    # count_params counts any pytree's leaves; its annotation says dict
    d = count_params([x for m, x in zip(jax.tree.leaves(mask), jax.tree.leaves(theta0), strict=True) if m])  # pyright: ignore[reportArgumentType]
    if d == 0:
        raise ValueError(f"include={include!r}, exclude={exclude!r} keep only empty parameters")
    norm = jnp.float32(math.sqrt(d))
    datas = [b.data for b in benches]
    value_at, grad_dir, ascend = _programs(spec, benches, _compute_dtype(model, compute_dtype), mask)

    def random_direction(s):
        # gaussian() already zeroes the leaves include/exclude drop and the non-float ones
        # DirectionRecipe turns a glob or an iterable of globs into the tuple its fields are typed as
        recipe = D.DirectionRecipe(seed=s, include=include, exclude=exclude)  # pyright: ignore[reportArgumentType]
        return treemath.scale_to_norm(D.regenerate(recipe, theta0), norm)

    start = time.perf_counter()
    zero = jax.tree.map(lambda x: jnp.zeros(x.shape, _F32), theta0)
    if init == "gradient":  # the first-order worst case: the normalized gradient at theta0
        base, unit = grad_dir(theta0, datas, zero, jnp.float32(0.0))
        delta = jax.tree.map(lambda x: x * norm, unit)
    else:
        base, delta = value_at(theta0, datas, zero, jnp.float32(0.0)), random_direction(seed)
    base = float(base)
    del zero
    trace = []
    a = jnp.float32(alpha)
    best = None
    for t in range(steps + 1):
        if t < steps:
            value, unit = grad_dir(theta0, datas, delta, a)
        else:
            value = value_at(theta0, datas, delta, a)
        trace.append(float(value))
        if best is None or trace[-1] > max(trace[:-1]):
            best = delta
        if progress:
            print(f"worst_case step {t}/{steps}  J {trace[-1]:.4f} nats (J(theta0) {base:.4f})  "
                  f"{time.perf_counter() - start:.1f}s", flush=True)
        if t < steps:
            delta = ascend(delta, unit, jnp.float32(step_size))
    random = []
    for i in range(n_random):
        random.append(float(value_at(theta0, datas, random_direction(seed + 1 + i), a)))
    if progress and n_random:
        print(f"random directions at alpha={alpha:g}: J {np.round(random, 4).tolist()}", flush=True)
    return WorstCase(best, np.asarray(trace, np.float32), np.asarray(random, np.float32), base, float(alpha),
                     float(step_size), steps, init, tuple(b.name for b in benches), d,
                     time.perf_counter() - start)
