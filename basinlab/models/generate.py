"""Batched greedy decoding and temperature sampling with a KV cache, compiled once per shape.

Prompts are left-padded so that every row's next token lands in the same cache slot; each row
keeps its own position ids. Rows stop at an EOS token; later slots hold the pad id.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from basinlab import validate
from basinlab.models.layerwise import embedding_dtype
from basinlab.models.spec import ModelSpec
from basinlab.models.transformer import default_positions, forward_cached, init_cache


@functools.partial(
    jax.jit, static_argnames=("spec", "max_new_tokens", "eos_ids", "pad_id", "sample", "compute_dtype")
)
def _generate(
    spec, params, tokens, attention_mask, key, temperature, *, max_new_tokens, eos_ids, pad_id, sample,
    compute_dtype,
):
    b, t = tokens.shape
    cache = init_cache(spec, b, t + max_new_tokens, dtype=compute_dtype)
    positions = default_positions(attention_mask)
    logits, cache = forward_cached(
        spec, params, tokens, cache, attention_mask=attention_mask, positions=positions,
        compute_dtype=compute_dtype, last_n=1,
    )
    eos = jnp.asarray(eos_ids if eos_ids else (-1,), jnp.int32)

    def choose(logits, i):
        if not sample:
            return jnp.argmax(logits, axis=-1).astype(jnp.int32)
        step_key = jax.random.fold_in(key, i)
        return jax.random.categorical(step_key, logits / temperature, axis=-1).astype(jnp.int32)

    out = jnp.full((b, max_new_tokens), pad_id, jnp.int32)
    state = (
        jnp.int32(0), choose(logits[:, -1], 0), positions[:, -1] + 1, jnp.zeros((b,), bool), out, cache
    )

    def cond(state):
        i, _, _, done, _, _ = state
        return (i < max_new_tokens) & ~jnp.all(done)

    def body(state):
        i, token, pos, done, out, cache = state
        token = jnp.where(done, pad_id, token)
        out = out.at[:, i].set(token)
        done = done | jnp.isin(token, eos)
        logits, cache = forward_cached(
            spec, params, token[:, None], cache, attention_mask=jnp.ones((b, 1), jnp.int32),
            positions=pos[:, None], compute_dtype=compute_dtype,
        )
        return i + 1, choose(logits[:, -1], i + 1), pos + 1, done, out, cache

    _, _, _, _, out, _ = jax.lax.while_loop(cond, body, state)
    return out


def generate(
    spec: ModelSpec,
    params: dict,
    tokens: jax.Array,
    attention_mask: jax.Array | None = None,
    *,
    max_new_tokens: int = 32,
    eos_ids: Sequence[int] | None = None,
    pad_id: int | None = None,
    temperature: float = 0.0,
    key: jax.Array | None = None,
    compute_dtype=None,
) -> jax.Array:
    """Continue left-padded prompts. tokens, attention_mask: [B, T]. Returns [B, max_new_tokens].

    temperature = 0 is greedy decoding; temperature > 0 samples and needs a PRNG `key`.
    eos_ids default to the spec's; the EOS token itself is kept in the output, then pad_id.
    """
    max_new_tokens = validate.positive_int("max_new_tokens", max_new_tokens)
    temperature = validate.nonnegative_scalar("temperature", temperature)
    sample = temperature > 0
    if sample and key is None:
        raise ValueError("temperature > 0 samples tokens: pass a PRNG key, e.g. key=jax.random.key(0)")
    tokens = jnp.asarray(tokens, jnp.int32)
    if attention_mask is None:
        attention_mask = jnp.ones_like(tokens)
    eos_ids = tuple(int(e) for e in (spec.eos_token_ids if eos_ids is None else eos_ids))
    if pad_id is None:
        pad_id = spec.pad_token_id if spec.pad_token_id is not None else (eos_ids[0] if eos_ids else 0)
    return _generate(
        spec, params, tokens, jnp.asarray(attention_mask, jnp.int32),
        key if key is not None else jax.random.key(0), jnp.float32(max(temperature, 1e-6)),
        max_new_tokens=int(max_new_tokens), eos_ids=eos_ids, pad_id=int(pad_id), sample=sample,
        compute_dtype=jnp.dtype(compute_dtype or embedding_dtype(params)),
    )
