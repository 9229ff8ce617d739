"""Optimizers that take the gradient at a perturbed point: GO, SAM, continuous dropout.

GO (Gaussian-augmented optimization, Chen et al., ICLR 2026; PAPER.md section 5) minimizes
``E_{eps ~ N(0, sigma^2 I)} L(theta + eps)``: each step draws a fresh ``eps``, takes the gradient at
``theta + eps`` and lets the base optimizer (AdamW, weight decay 0 in the paper) update ``theta``,
never ``theta + eps``. SAM (Foret et al. 2021) takes it at ``theta + rho * g / ||g||`` with ``g``
the gradient at ``theta``; continuous dropout at ``theta * (1 + eps)``. A training step::

    opt = optim.go(optax.adamw(3e-4, weight_decay=0.0), sigma=0.01, key=jax.random.key(0))
    opt_state = opt.init(params)
    ...
    point = optim.perturb(params, opt_state)                   # theta + eps_t (theta for AdamW)
    loss, grads = jax.value_and_grad(loss_fn)(point, batch)    # the gradient at the point
    updates, opt_state = opt.update(grads, opt_state, params)  # params = theta, never the point
    params = optax.apply_updates(params, updates)              # what a checkpoint saves

(:func:`basinlab.training._step.train_step` is exactly this, plus SAM's extra gradient at theta,
micro-batches and metrics; :func:`basinlab.training._step.cached_step` is its jitted form. It is the
only training step in basinlab: fine-tuning and pre-training run it.)

Design: "where to take the gradient" is a pure function of (params, opt_state)
----------------------------------------------------------------------------------
``go``/``sam``/``continuous_dropout`` wrap a base ``GradientTransformation``, like
``optax.contrib.sam``; their state (:class:`PerturbState`, a NamedTuple) holds a step ``count``,
the ``key`` (like ``optax.add_noise``) and the base's state. Their ``update`` only forwards the
gradient to the base (with ``params`` = theta) and ticks the count. The perturbation itself is
:func:`perturb`, which finds the :class:`PerturbState` anywhere in the caller's opt_state (also
inside ``optax.chain``) and returns the point; for a plain optax optimizer it returns ``params``.
The static part of the recipe (kind, sigma or rho, which leaves) is a :class:`PerturbSpec` stored in
the state as a static pytree node: it has no array leaves, so it is part of the treedef (hashable,
free under jit) and the state alone says how to perturb.

Why not the designs in optax itself:

- ``optax.add_noise`` perturbs the *update*; GO perturbs the *evaluation point*, which is not a
  function of the gradient, so it cannot live inside ``update`` unless ``update`` calls the loss.
- ``optax.contrib.sam(opaque_mode=True)`` does call it, through ``update(..., grad_fn=...)``. For GO
  that wastes the positional gradient at theta (a full backward pass per step) or forces a dummy
  one, and it composes badly: in ``chain(clip_by_global_norm(1), go(adamw))`` the clip would act
  on the gradient at theta while the base would get the unclipped gradient from ``grad_fn``; under
  ``MultiSteps`` the accumulated gradients are not the ones ``grad_fn`` computes; and the loss at
  the point (the quantity GO trains) is hidden inside the optimizer.
- ``optax.contrib.sam`` transparent mode alternates adversarial and real updates, so between calls
  the params the caller holds *are* the perturbed weights: a checkpoint could save ``theta + eps``,
  and every other step is spent on an adversarial move.

With the point computed outside ``update``, the rest of the optax pipeline sees an ordinary
gradient: ``chain(clip_by_global_norm(1.0), go(adamw))`` clips the gradient at the point,
AdamW's weight decay reads theta, and ``theta + eps`` only exists inside the step, so the params
returned by a step (the ones a checkpoint saves) are always theta.

Gradient accumulation inside one step (:func:`basinlab.training._step.train_step` with
``micro_batches=True``, what ``finetune(grad_accum=k)`` runs): micro-batch j of step t gets its own
eps from ``fold_in(fold_in(key, t), j)`` (``perturb(..., micro_batch=j)``), so the accumulated
gradient averages k noise draws, as k optimizer steps of GO would. With optax's MultiSteps, wrap
``MultiSteps`` *inside* the perturbation,
``go(optax.MultiSteps(adamw, k), sigma, key)``. GO's count then ticks on every micro-batch, so each
micro-batch gets a fresh eps, and the accumulated update is applied to theta. The other nesting,
``MultiSteps(go(adamw), k)``, would freeze GO's count between emits (MultiSteps only commits its
inner state every k calls) and reuse one eps for all k micro-batches; :func:`perturb` raises a
ValueError for it instead of silently changing the algorithm.

Noise (GO and continuous dropout): at step t (the count before the update),
``eps_t = sigma * directions.gaussian(fold_in(key, t), params, include=include, exclude=exclude)``,
i.e. leaf i of the params is drawn from ``fold_in(fold_in(key, t), i)`` (each layer slice of a
stacked ``layers/...`` leaf from a further ``fold_in(., layer)``; see :mod:`basinlab.directions._recipes`),
so runs are reproducible from the key and any step's eps can be regenerated. Leaves excluded by the
``include``/``exclude`` globs (:func:`basinlab.directions._recipes.leaf_filter`; e.g.
``exclude=directions.NO_NORMS``) and non-float leaves are not perturbed at all: the point equals
theta there bit for bit. The point is :func:`basinlab.directions._treemath.perturb` of theta and the
perturbation: formed in float32 (or the leaf's dtype when wider) and rounded once to the leaf's dtype.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from basinlab import _validate as validate
from basinlab.directions import _recipes as directions
from basinlab.directions import _treemath as treemath

__all__ = [
    "KINDS", "PerturbSpec", "PerturbState", "continuous_dropout", "go", "needs_gradient", "perturb",
    "perturbation_kind", "sam",
]

KINDS = ("go", "sam", "continuous_dropout")
_F32 = jnp.float32


@dataclasses.dataclass(frozen=True)
class PerturbSpec:
    """Static recipe of a perturbation (no array leaves: it lives in the state's treedef).

    Attributes:
      kind: one of ``KINDS``.
      scale: sigma (GO, continuous dropout; per-coordinate std) or rho (SAM; L2 radius).
      paths: leaf paths of the params the state was initialized with, in flatten order.
      mask: per leaf, True if it is perturbed (passes include/exclude and is floating point).
    """

    kind: str
    scale: float
    paths: tuple[str, ...]
    mask: tuple[bool, ...]


jax.tree_util.register_static(PerturbSpec)


class PerturbState(NamedTuple):
    """State of :func:`go`, :func:`sam` and :func:`continuous_dropout`.

    Attributes:
      count: int32 scalar, number of ``update`` calls so far (= micro-batches seen); selects eps.
      key: the PRNG key given at construction (never split or advanced; eps_t folds in ``count``).
        None for SAM, which is deterministic.
      inner: the base optimizer's state.
      spec: the static :class:`PerturbSpec`.
    """

    count: jax.Array
    key: jax.Array | None
    inner: optax.OptState
    spec: PerturbSpec


# ----------------------------------------------------------------------------- constructors


def _check_scale(name: str, value) -> float:
    # sigma/rho are static (part of the state's treedef): a traced value cannot be one.
    try:
        return validate.nonnegative_scalar(name, value)
    except jax.errors.ConcretizationTypeError:
        raise TypeError(f"{name} must be a concrete number (it is static), got a traced value") from None


def _check_key(key):
    if isinstance(key, (bool, np.bool_)):
        raise TypeError(f"key must be a JAX PRNG key or an int seed, got {key!r}")
    if isinstance(key, (int, np.integer)):
        return jax.random.key(int(key))
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"key must be a single PRNG key, got a key array of shape {key.shape}")
        return key
    if isinstance(key, (jax.Array, np.ndarray)) and key.dtype == np.uint32 and key.shape == (2,):
        return jax.random.wrap_key_data(jnp.asarray(key))  # legacy jax.random.PRNGKey
    raise TypeError(f"key must be a JAX PRNG key (jax.random.key(...)) or an int seed, "
                    f"got {key!r}")


def _wrap(base, kind: str, scale: float, key, include, exclude):
    if not callable(getattr(base, "init", None)) or not callable(getattr(base, "update", None)):
        raise TypeError(f"base must be an optax GradientTransformation, got {base!r}")
    base = optax.with_extra_args_support(base)

    def init_fn(params):
        paths = tuple(directions.paths(params))
        # raises on a pattern matching no path (a typo) and when no float leaf is kept
        mask = tuple(jax.tree_util.tree_leaves(directions.perturbed_mask(params, include, exclude)))
        return PerturbState(count=jnp.zeros([], jnp.int32), key=key, inner=base.init(params),
                            spec=PerturbSpec(kind, scale, paths, mask))

    def update_fn(updates, state, params=None, **extra_args):
        # The gradient was taken at the point; the base updates theta (= params).
        updates, inner = base.update(updates, state.inner, params, **extra_args)
        return updates, state._replace(count=optax.safe_increment(state.count), inner=inner)

    # optax types init's result as OptState (chex ArrayTree), which a NamedTuple holding a static node
    # and a None key is not, though jax flattens it like any state.
    return optax.GradientTransformationExtraArgs(init_fn, update_fn)  # pyright: ignore[reportArgumentType]


def go(base: optax.GradientTransformation, sigma: float, key: jax.Array | int,
       include: str | Iterable[str] | None = None,
       exclude: str | Iterable[str] | None = None) -> optax.GradientTransformationExtraArgs:
    """GO: the gradient is taken at ``theta + eps``, eps ~ N(0, sigma^2 I), fresh every call.

    Args:
      base: the optimizer that updates theta (the paper: ``optax.adamw(lr, weight_decay=0.0)``);
        for gradient accumulation pass ``optax.MultiSteps(base, k)`` here (module docstring).
      sigma: per-coordinate noise std (the paper: 0.01), a static float >= 0; 0 gives ``base``.
      key: PRNG key (``jax.random.key(seed)``) or an int seed; eps_t = sigma *
        ``directions.gaussian(fold_in(key, t), params, include=..., exclude=...)``.
      include, exclude: glob(s) on "/"-joined leaf paths selecting the perturbed leaves
        (:func:`basinlab.directions._recipes.leaf_filter`), e.g. ``exclude=directions.NO_NORMS``.

    Returns:
      A ``GradientTransformationExtraArgs`` whose ``update(grads, state, params)`` passes the
      gradient to ``base`` and ticks the step. Take ``grads`` at :func:`perturb`
      ``(params, opt_state)`` and give ``update`` theta as ``params`` (or use
      :func:`basinlab.training._step.train_step`).
    """
    return _wrap(base, "go", _check_scale("sigma", sigma), _check_key(key), include, exclude)


def continuous_dropout(base: optax.GradientTransformation, sigma: float, key: jax.Array | int,
                       include: str | Iterable[str] | None = None,
                       exclude: str | Iterable[str] | None = None) -> optax.GradientTransformationExtraArgs:
    """Continuous (multiplicative Gaussian) weight dropout: gradient at ``theta * (1 + eps)``.

    eps is drawn exactly as in :func:`go` (same key scheme), so ``sigma`` is the relative noise
    std per coordinate; ``sigma = 0`` gives ``base``. Arguments as in :func:`go`.
    """
    return _wrap(base, "continuous_dropout", _check_scale("sigma", sigma), _check_key(key),
                 include, exclude)


def sam(base: optax.GradientTransformation, rho: float, include: str | Iterable[str] | None = None,
        exclude: str | Iterable[str] | None = None) -> optax.GradientTransformationExtraArgs:
    """SAM: the gradient is taken at ``theta + rho * g / ||g||``, g = the gradient at theta.

    ``||g||`` is the global L2 norm over the perturbed leaves (``include``/``exclude`` as in
    :func:`go`); a zero gradient gives no perturbation. Needs two gradients per step:
    :func:`perturb` takes ``grads`` (at theta) for SAM (:func:`needs_gradient` is True), and
    :func:`basinlab.training._step.train_step` does both passes. ``rho = 0`` gives ``base``.
    """
    return _wrap(base, "sam", _check_scale("rho", rho), None, include, exclude)


# ----------------------------------------------------------------------------- the perturbation


def _find(opt_state) -> PerturbState | None:
    """The single PerturbState in ``opt_state`` (None if there is none)."""
    found = []

    def visit(tree, under_multisteps):
        nodes = jax.tree_util.tree_leaves(
            tree, is_leaf=lambda x: isinstance(x, (PerturbState, optax.MultiStepsState)))
        for x in nodes:
            if isinstance(x, PerturbState):
                found.append((x, under_multisteps))
                visit(x.inner, under_multisteps)
            elif isinstance(x, optax.MultiStepsState):
                visit(x.inner_opt_state, True)

    visit(opt_state, False)
    if not found:
        return None
    if len(found) > 1:
        kinds = [s.spec.kind for s, _ in found]
        raise ValueError(f"opt_state holds {len(found)} perturbations {kinds}; combine at most one "
                         f"of go/sam/continuous_dropout per optimizer")
    state, under_multisteps = found[0]
    if under_multisteps:
        kind = state.spec.kind
        raise ValueError(
            f"{kind} is wrapped inside optax.MultiSteps, which freezes its step count between "
            f"emits, so every micro-batch of a window would reuse one perturbation; put "
            f"MultiSteps inside instead: {kind}(optax.MultiSteps(base, k), ...)")
    return state


def perturbation_kind(opt_state: optax.OptState) -> str | None:
    """The kind (one of ``KINDS``) of the perturbation in ``opt_state``, None for a plain optax
    optimizer. Static (from the state's type); ValueError as :func:`perturb` for a bad nesting."""
    state = _find(opt_state)
    return None if state is None else state.spec.kind


def needs_gradient(opt_state: optax.OptState) -> bool:
    """True if :func:`perturb` needs the gradient at theta (SAM). Static (from the state's type)."""
    return perturbation_kind(opt_state) == "sam"


def perturb(params: Any, opt_state: optax.OptState, grads: Any = None, *,
            micro_batch: int | jax.Array | None = None) -> Any:
    """The point at which to take this step's gradient (a pytree like ``params``).

    GO: ``theta + eps_t``; continuous dropout: ``theta * (1 + eps_t)``; SAM:
    ``theta + rho * grads / ||grads||`` (``grads`` = the gradient at theta, required); a plain
    optax optimizer (no :class:`PerturbState` in ``opt_state``): ``params`` itself. Unperturbed
    leaves are returned as they are. Pure and jittable; call it before ``update``, which advances
    the step. Never store the result: it is not the model.

    micro_batch: for gradient accumulation inside one step (GO, continuous dropout), the index j
    (an int or traced int32) of the micro-batch: its eps is drawn from ``fold_in(fold_in(key, t), j)``,
    so every micro-batch of a step gets a fresh eps (:func:`basinlab.training._step.train_step` does
    this). None (one batch): ``fold_in(key, t)``. SAM ignores it (one ascent step per batch).
    """
    state = _find(opt_state)
    if state is None:
        return params
    spec = state.spec
    items, treedef = jax.tree_util.tree_flatten(params)
    paths = tuple(directions.paths(params))
    if paths != spec.paths:
        raise ValueError(f"params do not match the ones the optimizer was initialized with: "
                         f"paths {list(paths)} vs {list(spec.paths)}")
    kept = [i for i, m in enumerate(spec.mask) if m]
    if spec.kind == "sam":
        if grads is None:
            raise ValueError("sam needs the gradient at theta: perturb(params, opt_state, grads)")
        g = jax.tree_util.tree_leaves(grads)
        if len(g) != len(items):
            raise ValueError(f"grads has {len(g)} leaves, params {len(items)}")
        norm = treemath.global_norm([g[i] for i in kept])  # over the perturbed leaves only
        # rho / ||g||, and no move at all for a zero gradient (instead of NaN).
        factor = jnp.where(norm > 0, spec.scale / jnp.where(norm > 0, norm, 1.0), 0.0)
        deltas = [factor * jnp.asarray(g[i], _F32) for i in kept]
    else:
        assert state.key is not None  # only SAM has no key
        step_key = jax.random.fold_in(state.key, state.count)
        if micro_batch is not None:
            step_key = jax.random.fold_in(step_key, micro_batch)
        deltas = []
        for i in kept:
            eps = spec.scale * directions.leaf_direction(step_key, i, paths[i], items[i])
            deltas.append(eps if spec.kind == "go" else eps * jnp.asarray(items[i], _F32))
    # theta + delta on the perturbed leaves only: the others stay the very same arrays.
    out = list(items)
    for i, x in zip(kept, treemath.perturb([items[i] for i in kept], [deltas], [1.0]), strict=True):
        out[i] = x
    return jax.tree_util.tree_unflatten(treedef, out)
