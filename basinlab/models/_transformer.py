"""The forward pass of every supported architecture, as pure functions of (spec, params, tokens).

Params layout (a bare nested dict; layer weights stacked on a leading axis L and run with lax.scan):

    embed/embedding          [V, D]
    pos_embed/embedding      [P, D]              gpt2 only
    layers/attn_norm/scale   [L, D]   (+ bias for LayerNorm)
    layers/attn/{q,k,v}/kernel  [L, D, H*Dh] / [L, D, K*Dh]   (+ bias [L, H*Dh] when qkv_bias)
    layers/attn/o/kernel     [L, H*Dh, D]        (+ bias when o_bias)
    layers/mlp_norm/scale    [L, D]   (+ bias)
    layers/mlp/gate/kernel   [L, D, F]           gated MLPs only (SwiGLU)
    layers/mlp/up/kernel     [L, D, F]   (+ bias when mlp_bias)
    layers/mlp/down/kernel   [L, F, D]   (+ bias when mlp_bias)
    final_norm/scale         [D]      (+ bias)
    lm_head/kernel           [D, V]              absent when embeddings are tied

Kernels are [in, out] (x @ kernel), the transpose of PyTorch's Linear.weight.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from basinlab.models import _layers as L
from basinlab.models._layerwise import embedding_dtype, parts
from basinlab.models._spec import ModelSpec


def default_positions(attention_mask: jax.Array) -> jax.Array:
    """Position ids for a left-padded batch: 0 at each row's first real token. [B, T] int32."""
    mask = attention_mask.astype(jnp.int32)
    return jnp.maximum(jnp.cumsum(mask, axis=-1) - 1, 0)


def _cast(tree, dtype):
    return jax.tree.map(lambda x: x.astype(dtype), tree)


def _block(spec: ModelSpec, p: dict, x, positions, query_slots, key_valid, cache_kv):
    """One transformer block. x: [B, T, D]. cache_kv: None or (k, v, write_index) for this layer."""
    b, t, _ = x.shape

    def attn(h):
        q = L.dense(p["attn"]["q"], h).reshape(b, t, spec.n_heads, spec.head_dim)
        k = L.dense(p["attn"]["k"], h).reshape(b, t, spec.n_kv_heads, spec.head_dim)
        v = L.dense(p["attn"]["v"], h).reshape(b, t, spec.n_kv_heads, spec.head_dim)
        if spec.uses_rope:
            q, k = L.apply_rope(spec, q, positions), L.apply_rope(spec, k, positions)
        new_cache = None
        if cache_kv is not None:
            ck, cv, index = cache_kv
            k = jax.lax.dynamic_update_slice(ck, k.astype(ck.dtype), (0, index, 0, 0))
            v = jax.lax.dynamic_update_slice(cv, v.astype(cv.dtype), (0, index, 0, 0))
            new_cache = (k, v)
            k, v = k.astype(q.dtype), v.astype(q.dtype)
        o = L.attention(spec, q, k, v, query_slots, key_valid)
        return L.dense(p["attn"]["o"], o.reshape(b, t, -1)), new_cache

    def mlp(h):
        return L.mlp(spec, p["mlp"], h)

    a, new_cache = attn(L.norm(spec, p["attn_norm"], x))
    if spec.parallel_residual:
        x = x + a + mlp(L.norm(spec, p["mlp_norm"], x))
    else:
        x = x + a
        x = x + mlp(L.norm(spec, p["mlp_norm"], x))
    return x, new_cache


def _run(spec, params, tokens, positions, query_slots, key_valid, cache, compute_dtype, last_n=None):
    """Embed, scan the blocks, final norm and head. Returns (logits float32 [B, T, V], new kv);
    with last_n, the head runs on the last last_n positions only (logits [B, last_n, V]).
    params: a dict or a LayerwiseParams, whose layer weights are formed inside the scan."""
    outer, layer_inputs, make_layer = parts(params)
    embed = outer["embed"]["embedding"]
    x = jnp.take(embed, tokens, axis=0).astype(compute_dtype)
    if "pos_embed" in outer:
        x = x + jnp.take(outer["pos_embed"]["embedding"], positions, axis=0).astype(compute_dtype)

    def step(x, xs):
        layer_params, layer_cache = xs
        if make_layer is not None:
            layer_params = make_layer(layer_params)
        layer_params = _cast(layer_params, compute_dtype)
        kv = None if layer_cache is None else (*layer_cache, cache["index"])
        x, new_kv = _block(spec, layer_params, x, positions, query_slots, key_valid, kv)
        return x, new_kv

    layer_cache = None if cache is None else (cache["k"], cache["v"])
    x, new_kv = jax.lax.scan(step, x, (layer_inputs, layer_cache))
    if last_n is not None:
        x = x[:, -last_n:]  # the vocabulary projection is the costliest matmul: skip unused positions
    x = L.norm(spec, _cast(outer["final_norm"], compute_dtype), x)
    head = embed.T if spec.tie_embeddings else outer["lm_head"]["kernel"]
    logits = jnp.einsum(
        "btd,dv->btv", x, head.astype(compute_dtype), preferred_element_type=jnp.float32
    )
    return logits, new_kv


def forward(
    spec: ModelSpec,
    params: dict,
    tokens: jax.Array,
    *,
    attention_mask: jax.Array | None = None,
    positions: jax.Array | None = None,
    compute_dtype=None,
    last_n: int | None = None,
) -> jax.Array:
    """Logits of a batch of token sequences.

    tokens: [B, T] int; attention_mask: [B, T], 1 for real tokens and 0 for (left) padding;
    positions: [B, T] position ids (default: counted from each row's first real token);
    compute_dtype: dtype of activations and matmuls (default: the params' stored dtype).
    last_n: if given (static int), logits of the last last_n positions only.
    Returns logits [B, T, V] (or [B, last_n, V]) in float32. Pure: jit it with `spec` static.
    """
    tokens = jnp.asarray(tokens)
    if tokens.ndim != 2:
        raise ValueError(f"tokens must be [batch, time], got shape {tokens.shape}")
    if attention_mask is None:
        attention_mask = jnp.ones(tokens.shape, jnp.int32)
    if positions is None:
        positions = default_positions(attention_mask)
    compute_dtype = compute_dtype or embedding_dtype(params)
    query_slots = jnp.arange(tokens.shape[1])
    logits, _ = _run(
        spec, params, tokens, positions, query_slots, attention_mask.astype(bool), None, compute_dtype, last_n
    )
    return logits


def init_cache(spec: ModelSpec, batch: int, max_len: int, dtype=jnp.float32) -> dict:
    """An empty KV cache: k, v [L, B, S, K, Dh]; mask [B, S] (valid keys); index (next slot)."""
    shape = (spec.n_layers, batch, max_len, spec.n_kv_heads, spec.head_dim)
    return {
        "k": jnp.zeros(shape, dtype),
        "v": jnp.zeros(shape, dtype),
        "mask": jnp.zeros((batch, max_len), bool),
        "index": jnp.zeros((), jnp.int32),
    }


def forward_cached(
    spec: ModelSpec,
    params: dict,
    tokens: jax.Array,
    cache: dict,
    *,
    attention_mask: jax.Array,
    positions: jax.Array,
    compute_dtype=None,
    last_n: int | None = None,
) -> tuple[jax.Array, dict]:
    """Run T new tokens against a KV cache, writing them at slots [index, index + T).

    tokens, attention_mask, positions: [B, T]. Returns (logits [B, T, V] float32, new cache).
    """
    compute_dtype = compute_dtype or embedding_dtype(params)
    t = tokens.shape[1]
    index = cache["index"]
    key_valid = jax.lax.dynamic_update_slice(cache["mask"], attention_mask.astype(bool), (0, index))
    query_slots = index + jnp.arange(t)
    logits, (k, v) = _run(spec, params, tokens, positions, query_slots, key_valid, cache, compute_dtype, last_n)
    return logits, {"k": k, "v": v, "mask": key_valid, "index": index + t}
