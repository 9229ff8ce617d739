"""The training step: the only one in basinlab (fine-tuning and pre-training run it).

    step = step.cached_step(loss_fn, optimizer, micro_batches=True)   # jitted, cached
    params, opt_state, metrics = step(params, opt_state, batch)

:func:`train_step` is the loop of :mod:`basinlab.training._optim` written out once: the gradient
is taken at ``optim.perturb(params, opt_state)`` (theta + eps for GO, theta + rho g/|g| for SAM,
theta * (1 + eps) for continuous dropout, theta for a plain optax optimizer), the optimizer's
``update`` gets theta as ``params``, and the params returned are theta after the update, never the
perturbed point. On top of that: SAM's extra gradient at theta, micro-batches (a ``lax.scan``) and
metrics. :func:`cached_step` is its jitted form, compiled once per loss function and optimizer.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from basinlab.training import _optim as optim

__all__ = ["NOISE_KINDS", "cached_step", "train_step"]

NOISE_KINDS = ("go", "continuous_dropout")  # perturbations drawn afresh for every micro-batch
# step(params, opt_state, batch) -> (params, opt_state, metrics): what train_step and cached_step return
Step = Callable[[Any, optax.OptState, Any], tuple[Any, optax.OptState, dict[str, jax.Array]]]


def train_step(loss_fn: Callable[[Any, Any], jax.Array], optimizer: optax.GradientTransformation,
               *, loss_at_theta: bool = False, micro_batches: bool = False) -> Step:
    """The training step: a jittable ``step(params, opt_state, batch) -> (params, opt_state, metrics)``.

    Works for :func:`~basinlab.training._optim.go`, :func:`~basinlab.training._optim.sam`,
    :func:`~basinlab.training._optim.continuous_dropout` and any plain optax optimizer (also chained
    or with MultiSteps inside the perturbation). ``loss_fn(params, batch)`` returns a scalar. The
    returned params are theta after the update, never the perturbed point.

    micro_batches: every leaf of ``batch`` has a leading micro-batch axis [k, ...]; the loss and
      gradient are the *sums* over the k micro-batches of ``loss_fn`` (a ``lax.scan`` holding one
      micro-batch's activations), so ``loss_fn`` normalizes by the whole batch (e.g. divides by its
      total token count). GO and continuous dropout draw a fresh eps for every micro-batch
      (``optim.perturb(..., micro_batch=j)``; with k = 1 the eps of an unsplit batch); SAM takes
      one ascent step from the whole batch's gradient at theta; plain optimizers take every
      micro-batch's gradient at theta.

    metrics (float32 scalars; ``finite`` a bool):
      ``loss``: the loss at the point where the gradient was taken (theta + eps for GO).
      ``grad_norm``: global L2 norm of that gradient (before the optimizer's own clipping).
      ``finite``: loss, gradient norm and every updated param are finite.
      ``loss_theta``: the loss at theta before the update, when it comes free (plain optimizers,
        SAM's first pass); for GO and continuous dropout only with ``loss_at_theta=True``, which
        costs one extra forward pass per step.
    """
    one_value_and_grad = jax.value_and_grad(loss_fn)
    value_and_grad = one_value_and_grad
    if micro_batches:
        value_and_grad = _summed_over_micro_batches(value_and_grad)
        loss_fn = _summed_over_micro_batches(loss_fn)

    def step(params, opt_state, batch):
        metrics = {}
        kind = optim.perturbation_kind(opt_state)
        plain = kind is None
        if optim.needs_gradient(opt_state):
            metrics["loss_theta"], grads_theta = value_and_grad(params, batch)
            point = optim.perturb(params, opt_state, grads_theta)
            loss, grads = value_and_grad(point, batch)
        elif micro_batches and kind in NOISE_KINDS:
            loss, grads = _fresh_noise_per_micro_batch(one_value_and_grad, params, opt_state, batch)
        else:
            loss, grads = value_and_grad(optim.perturb(params, opt_state), batch)
        if plain:
            metrics["loss_theta"] = loss
        elif loss_at_theta and "loss_theta" not in metrics:
            metrics["loss_theta"] = loss_fn(params, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        metrics["loss"] = loss
        metrics["grad_norm"] = optax.tree.norm(grads)
        checked = [loss, metrics["grad_norm"], *jax.tree_util.tree_leaves(params)]
        metrics["finite"] = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in checked]))
        return params, opt_state, metrics

    return step


def _fresh_noise_per_micro_batch(value_and_grad, params, opt_state, batch):
    """(loss, grads) summed over the leading micro-batch axis of batch, micro-batch j evaluated at
    its own point ``optim.perturb(params, opt_state, micro_batch=j)`` (a scan)."""
    k = jax.tree_util.tree_leaves(batch)[0].shape[0]
    if k == 1:  # static: an unsplit batch keeps the eps of a step without accumulation
        return value_and_grad(optim.perturb(params, opt_state), jax.tree_util.tree_map(lambda x: x[0], batch))

    def body(total, xs):
        j, micro = xs
        out = value_and_grad(optim.perturb(params, opt_state, micro_batch=j), micro)
        return jax.tree_util.tree_map(jnp.add, total, out), None

    first = jax.tree_util.tree_map(lambda x: x[0], batch)
    shapes = jax.eval_shape(value_and_grad, params, first)
    zeros = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    return jax.lax.scan(body, zeros, (jnp.arange(k, dtype=jnp.int32), batch))[0]


def _summed_over_micro_batches(fn):
    """fn(params, batch) summed over the leading micro-batch axis of batch's leaves (a scan)."""

    def summed(params, batch):
        if jax.tree_util.tree_leaves(batch)[0].shape[0] == 1:  # static: no scan for one micro-batch
            return fn(params, jax.tree_util.tree_map(lambda x: x[0], batch))

        def body(total, micro):
            return jax.tree_util.tree_map(jnp.add, total, fn(params, micro)), None

        shapes = jax.eval_shape(fn, params, jax.tree_util.tree_map(lambda x: x[0], batch))
        return jax.lax.scan(body, jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes), batch)[0]

    return summed


_STEPS: collections.OrderedDict = collections.OrderedDict()


def cached_step(loss_fn: Callable[[Any, Any], jax.Array], optimizer: optax.GradientTransformation,
                *, loss_at_theta: bool = False, micro_batches: bool = False) -> Step:
    """``jax.jit(train_step(loss_fn, optimizer, ...))``, one per (loss_fn, optimizer, options).

    The 8 most recent are kept: repeated runs with the same loss function and optimizer objects (and
    batch shapes) do not recompile. Unhashable arguments get a fresh jitted step.
    """
    options = {"loss_at_theta": bool(loss_at_theta), "micro_batches": bool(micro_batches)}
    key = (loss_fn, optimizer, *options.values())
    try:
        hash(key)
    except TypeError:
        return jax.jit(train_step(loss_fn, optimizer, **options))
    if key not in _STEPS:
        _STEPS[key] = jax.jit(train_step(loss_fn, optimizer, **options))
        while len(_STEPS) > 8:
            _STEPS.popitem(last=False)
    _STEPS.move_to_end(key)
    return _STEPS[key]
