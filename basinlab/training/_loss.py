"""Losses of the training loop: next-token NLL over target tokens, and a model's NLL on windows.

    loss_fn = loss.token_loss(model.spec, jnp.dtype("float32"))      # for step.train_step
    batch = loss.micro_batches(tokens, mask, loss_mask, grad_accum=2)  # [k, b, T] and n_tokens [k]
    fn = step.cached_step(loss_fn, optimizer, micro_batches=True)      # what finetune runs

Every NLL here gathers log-probabilities with :func:`basinlab.models.token_logprobs`. The training
loss is the mean NLL over the target tokens of the whole effective batch (token-weighted, not
row-weighted): each micro-batch's NLL sum is divided by the batch's total target-token count, so
the step's sum over micro-batches is that mean whatever the split.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
from jax.typing import DTypeLike

from basinlab import _validate as validate
from basinlab.models import forward, token_logprobs, token_nll
from basinlab.models._model import Model
from basinlab.models._spec import ModelSpec

__all__ = ["evaluate_nll", "masked_nll", "micro_batches", "token_loss"]

_F32 = jnp.float32


def _nll_sum(logits, tokens, loss_mask):
    """(sum of next-token NLL over loss_mask[:, 1:] positions, their count), float32 scalars."""
    nll = -token_logprobs(logits[:, :-1], tokens[:, 1:])
    w = loss_mask[:, 1:].astype(_F32)
    return jnp.sum(nll * w), jnp.sum(w)


def masked_nll(logits: jax.Array, tokens: npt.ArrayLike, loss_mask: npt.ArrayLike) -> jax.Array:
    """Mean next-token NLL (nats) of tokens[:, 1:] under logits[:, :-1] ([B, T, V]) over the
    positions where loss_mask[:, 1:] is 1 (the target tokens)."""
    total, count = _nll_sum(logits, jnp.asarray(tokens), jnp.asarray(loss_mask))
    return total / jnp.maximum(count, 1.0)


@functools.lru_cache(maxsize=16)
def token_loss(spec: ModelSpec, compute_dtype: DTypeLike | None) -> Callable[[Any, Any], jax.Array]:
    """loss(params, micro_batch) for :func:`basinlab.training._step.train_step` (``micro_batches=True``).

    micro_batch = (tokens, mask, loss_mask, n_tokens): [b, T] int32 each and the float32 target-token
    count of the whole batch (:func:`micro_batches`). Returns the micro-batch's target NLL sum /
    n_tokens (nats). One function object per (spec, compute_dtype), so the cached step is reused.
    """

    def loss(params, micro_batch):
        tokens, mask, loss_mask, n_tokens = micro_batch
        logits = forward(spec, params, tokens, attention_mask=mask, compute_dtype=compute_dtype)
        return _nll_sum(logits, tokens, loss_mask)[0] / n_tokens

    return loss


def micro_batches(tokens: npt.ArrayLike, mask: npt.ArrayLike, loss_mask: npt.ArrayLike,
                  grad_accum: int = 1) -> tuple[np.ndarray, ...]:
    """One step's batch for :func:`token_loss`: (tokens, mask, loss_mask) [N, T] split into
    ``grad_accum`` micro-batches [grad_accum, N / grad_accum, T], plus n_tokens [grad_accum] float32,
    the batch's target-token count (at least 1) repeated for every micro-batch."""
    grad_accum = validate.positive_int("grad_accum", grad_accum)
    rows = [np.asarray(x) for x in (tokens, mask, loss_mask)]
    if len(rows[0]) % grad_accum:
        raise ValueError(f"{len(rows[0])} rows do not split into grad_accum={grad_accum} equal micro-batches")
    split = tuple(x.reshape(grad_accum, len(x) // grad_accum, -1) for x in rows)
    n_tokens = np.float32(max(int(rows[2][:, 1:].sum()), 1))
    return (*split, np.full(grad_accum, n_tokens, np.float32))


@functools.partial(jax.jit, static_argnames=("spec",))
def _mean_nll(spec, params, tokens):
    nll, mask = token_nll(spec, params, tokens, jnp.ones(tokens.shape, jnp.int32))
    return nll.sum() / mask.sum()


def evaluate_nll(model: Model, tokens: npt.ArrayLike, params: dict[str, Any] | None = None) -> float:
    """Mean next-token NLL (nats/token) of ``model`` (or ``params``) on tokens [n, T]."""
    return float(_mean_nll(model.spec, model.params if params is None else params,
                           jnp.asarray(tokens, jnp.int32)))
