"""Batched greedy decoding and temperature sampling with a KV cache, compiled once per shape.

Prompts are left-padded so that every row's next token lands in the same cache slot; each row
keeps its own position ids. A row is done at an EOS token or, with a `StopTable`, at the first
token that completes a stop string (`basinlab.models._stops`); later slots hold the pad id, and the
loop ends when every row is done. The last forward pass is skipped (its logits would be unused).

`generate_until` also takes a shared prefix (e.g. the few-shot examples every prompt starts with):
it is prefilled once, as a batch of one, and its keys and values are stored once and attended to
by every row (`models.decode`), so only each row's own suffix is prefilled and cached per row. It
returns, with the tokens, which rows hit the token budget (neither an EOS nor a stop string within
max_new_tokens): their answers may be cut.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from basinlab import _validate as validate
from basinlab.models._decode import decode_step, decode_weights, empty_cache, extend
from basinlab.models._layerwise import as_dict
from basinlab.models._spec import ModelSpec
from basinlab.models._stops import StopTable, stop_step
from basinlab.models._transformer import default_positions

__all__ = ["Generated", "generate", "generate_until", "prefill"]


class Generated(NamedTuple):
    """tokens [B, max_new_tokens] int32 (EOS kept, then the pad id); hit_budget [B] bool: the row
    produced neither an EOS nor a stop string within the budget."""

    tokens: jax.Array
    hit_budget: jax.Array


def prefill(spec: ModelSpec, params: dict[str, Any], prefix: jax.Array,
            compute_dtype: DTypeLike | None = None) -> dict[str, Any]:
    """The keys and values of a shared prefix [P] (one row): {"k", "v"}, tuples of L arrays [K, P, Dh],
    for `generate_until(..., prefix_cache=...)` when several batches share one prefix. Stored once:
    every row attends to it without a copy (`models.decode`)."""
    params = as_dict(params)
    compute_dtype = jnp.dtype(compute_dtype or params["embed"]["embedding"].dtype)
    return _prefill(spec, params, jnp.asarray(prefix, jnp.int32), compute_dtype)


@functools.partial(jax.jit, static_argnames=("spec", "compute_dtype"))
def _prefill(spec, params, prefix, compute_dtype):
    tp = prefix.shape[0]
    cache = empty_cache(spec, 1, tp, compute_dtype)
    _, cache = extend(spec, decode_weights(spec, params, compute_dtype), prefix[None],
                      jnp.arange(tp, dtype=jnp.int32)[None], jnp.ones((1, tp), bool), cache, compute_dtype)
    return {"k": tuple(k[0] for k in cache.k), "v": tuple(v[0] for v in cache.v)}


@functools.partial(
    jax.jit, static_argnames=("spec", "max_new_tokens", "eos_ids", "pad_id", "sample", "compute_dtype")
)
def _generate(
    spec, params, tokens, attention_mask, key, temperature, prefix_cache, stops, *, max_new_tokens, eos_ids,
    pad_id, sample, compute_dtype,
):
    b, t = tokens.shape
    tp = 0 if prefix_cache is None else prefix_cache["k"][0].shape[1]
    # Decode steps read weights sliced once and per-layer cache buffers (models.decode): no copy per
    # step; the shared prefix's keys and values are stored once, not per row.
    weights = decode_weights(spec, params, compute_dtype)
    cache = empty_cache(spec, b, t + max_new_tokens, compute_dtype, prefix_cache)
    positions = tp + default_positions(attention_mask)
    logits, cache = extend(spec, weights, tokens, positions, attention_mask.astype(bool), cache, compute_dtype)
    eos = jnp.asarray(eos_ids if eos_ids else (-1,), jnp.int32)

    def choose(logits, i):
        if not sample:
            return jnp.argmax(logits, axis=-1).astype(jnp.int32)
        step_key = jax.random.fold_in(key, i)
        return jax.random.categorical(step_key, logits / temperature, axis=-1).astype(jnp.int32)

    def emit(i, token, done, state, out):
        """Write token i of every row (pad where done) and update done and the stop state."""
        token = jnp.where(done, pad_id, token)
        out = out.at[:, i].set(token)
        hit = jnp.isin(token, eos)
        if stops is not None:
            state, stop_hit = stop_step(stops, state, token)
            hit = hit | stop_hit
        return out, done | hit, state

    out = jnp.full((b, max_new_tokens), pad_id, jnp.int32)
    zeros = jnp.zeros((b,), jnp.int32)
    init = (jnp.int32(0), choose(logits, 0), positions[:, -1] + 1, jnp.zeros((b,), bool), zeros, out, cache)

    def cond(s):
        i, _, _, done, _, _, _ = s
        return (i < max_new_tokens - 1) & ~jnp.all(done)

    def body(s):
        i, token, pos, done, state, out, cache = s
        out, done, state = emit(i, token, done, state, out)
        logits, cache = decode_step(spec, weights, token, pos, cache, compute_dtype)
        return i + 1, choose(logits, i + 1), pos + 1, done, state, out, cache

    i, token, _, done, state, out, _ = jax.lax.while_loop(cond, body, init)
    # The last token needs no forward pass; rows already done get the pad id.
    out, done, _ = emit(i, token, done, state, out)
    return Generated(out, ~done)


def _check(spec, params, tokens, attention_mask, max_new_tokens, eos_ids, pad_id, temperature, key,
           compute_dtype) -> dict[str, Any]:
    max_new_tokens = validate.positive_int("max_new_tokens", max_new_tokens)
    temperature = validate.nonnegative_scalar("temperature", temperature)
    sample = temperature > 0
    if sample and key is None:
        raise ValueError("temperature > 0 samples tokens: pass a PRNG key, e.g. key=jax.random.key(0)")
    tokens = jnp.asarray(tokens, jnp.int32)
    if tokens.ndim != 2:
        raise ValueError(f"tokens must be [batch, time], got shape {tokens.shape}")
    if attention_mask is None:
        attention_mask = jnp.ones_like(tokens)
    eos_ids = tuple(int(e) for e in (spec.eos_token_ids if eos_ids is None else eos_ids))
    if pad_id is None:
        pad_id = spec.pad_token_id if spec.pad_token_id is not None else (eos_ids[0] if eos_ids else 0)
    return dict(
        tokens=tokens, attention_mask=jnp.asarray(attention_mask, jnp.int32),
        key=key if key is not None else jax.random.key(0), temperature=jnp.float32(max(temperature, 1e-6)),
        max_new_tokens=int(max_new_tokens), eos_ids=eos_ids, pad_id=int(pad_id), sample=sample,
        compute_dtype=jnp.dtype(compute_dtype or params["embed"]["embedding"].dtype),
    )


def generate(
    spec: ModelSpec,
    params: dict[str, Any],
    tokens: ArrayLike,
    attention_mask: ArrayLike | None = None,
    *,
    max_new_tokens: int = 32,
    eos_ids: Sequence[int] | None = None,
    pad_id: int | None = None,
    temperature: float = 0.0,
    key: jax.Array | None = None,
    compute_dtype: DTypeLike | None = None,
) -> jax.Array:
    """Continue left-padded prompts. tokens, attention_mask: [B, T]. Returns [B, max_new_tokens].

    temperature = 0 is greedy decoding; temperature > 0 samples and needs a PRNG `key`.
    eos_ids default to the spec's; the EOS token itself is kept in the output, then pad_id.
    """
    return generate_until(spec, params, tokens, attention_mask, max_new_tokens=max_new_tokens, eos_ids=eos_ids,
                          pad_id=pad_id, temperature=temperature, key=key, compute_dtype=compute_dtype).tokens


def generate_until(
    spec: ModelSpec,
    params: dict[str, Any],
    tokens: ArrayLike,
    attention_mask: ArrayLike | None = None,
    *,
    prefix: ArrayLike | None = None,
    prefix_cache: dict[str, Any] | None = None,
    stops: StopTable | None = None,
    max_new_tokens: int = 32,
    eos_ids: Sequence[int] | None = None,
    pad_id: int | None = None,
    temperature: float = 0.0,
    key: jax.Array | None = None,
    compute_dtype: DTypeLike | None = None,
) -> Generated:
    """Continue `prefix` + each left-padded row of `tokens` until EOS, a stop string or the budget.

    tokens, attention_mask: [B, T], each row's own suffix (left-padded); prefix: [P] int ids every
    row starts with (None or empty: none), prefilled once; prefix_cache: `prefill(...)` of a prefix
    instead (several calls sharing one prefix prefill it once); stops: `stops.stop_table(...)` of
    the stop strings (None: EOS only). Returns Generated(tokens [B, max_new_tokens], hit_budget [B]).
    Pure and jit-able (prefix and stops are traced arrays; their shapes are static).
    """
    params = as_dict(params)  # a LayerwiseParams is formed once here, not at every decode step
    args = _check(spec, params, tokens, attention_mask, max_new_tokens, eos_ids, pad_id, temperature, key,
                  compute_dtype)
    if prefix is not None and prefix_cache is not None:
        raise ValueError("pass prefix (token ids) or prefix_cache (from prefill), not both")
    if prefix is not None:
        prefix = jnp.asarray(prefix, jnp.int32)
        if prefix.ndim != 1:
            raise ValueError(f"prefix must be a 1-D array of token ids, got shape {prefix.shape}")
        if prefix.shape[0]:
            prefix_cache = prefill(spec, params, prefix, args["compute_dtype"])
    if stops is not None and not isinstance(stops, StopTable):
        raise TypeError(f"stops must be a basinlab.models._stops.StopTable, got {type(stops).__name__}")
    return _generate(spec, params, args.pop("tokens"), args.pop("attention_mask"), args.pop("key"),
                     args.pop("temperature"), prefix_cache, stops, **args)
