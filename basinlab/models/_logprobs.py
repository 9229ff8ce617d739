"""Log-probabilities of given tokens under logits: the one gather every NLL in basinlab uses."""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["token_logprobs"]


def token_logprobs(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """log p(targets) under softmax(logits), in float32.

    logits: [..., V]; targets: [...] int (same leading shape). Returns [...] (nats, <= 0).
    """
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    return jnp.take_along_axis(logp, targets[..., None].astype(jnp.int32), axis=-1)[..., 0]
