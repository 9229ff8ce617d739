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

from typing import Any

import jax
import jax.numpy as jnp

from basinlab.models import _layers as L
from basinlab.models._layerwise import embedding_dtype, parts
from basinlab.models._spec import ModelSpec


def default_positions(attention_mask: jax.Array) -> jax.Array:
    """Position ids for a left-padded batch: 0 at each row's first real token. [B, T] int32."""
    mask = attention_mask.astype(jnp.int32)
    return jnp.maximum(jnp.cumsum(mask, axis=-1) - 1, 0)


def _cast(tree: Any, dtype: Any) -> Any:
    return jax.tree.map(lambda x: x.astype(dtype), tree)


def _block(spec: ModelSpec, p: dict, x: jax.Array, positions: jax.Array, key_valid: jax.Array) -> jax.Array:
    """One transformer block. x: [B, T, D]; positions, key_valid: [B, T]. Returns [B, T, D]."""
    b, t, _ = x.shape

    def attn(h: jax.Array) -> jax.Array:
        q = L.dense(p["attn"]["q"], h).reshape(b, t, spec.n_heads, spec.head_dim)
        k = L.dense(p["attn"]["k"], h).reshape(b, t, spec.n_kv_heads, spec.head_dim)
        v = L.dense(p["attn"]["v"], h).reshape(b, t, spec.n_kv_heads, spec.head_dim)
        if spec.uses_rope:
            q, k = L.apply_rope(spec, q, positions), L.apply_rope(spec, k, positions)
        o = L.attention(spec, q, k, v, jnp.arange(t), key_valid)
        return L.dense(p["attn"]["o"], o.reshape(b, t, -1))

    def mlp(h: jax.Array) -> jax.Array:
        return L.mlp(spec, p["mlp"], h)

    a = attn(L.norm(spec, p["attn_norm"], x))
    if spec.parallel_residual:
        return x + a + mlp(L.norm(spec, p["mlp_norm"], x))
    x = x + a
    return x + mlp(L.norm(spec, p["mlp_norm"], x))


def _run(spec: ModelSpec, params: Any, tokens: jax.Array, positions: jax.Array, key_valid: jax.Array,
         compute_dtype: Any, last_n: int | None = None) -> jax.Array:
    """Embed, scan the blocks, final norm and head: logits float32 [B, T, V]; with last_n, the head
    runs on the last last_n positions only (logits [B, last_n, V]). params: a dict or a
    LayerwiseParams, whose layer weights are formed inside the scan. (Cached decoding, which reads
    weights and cache in place, is `models._decode`.)"""
    outer, layer_inputs, make_layer = parts(params)
    embed = outer["embed"]["embedding"]
    x = jnp.take(embed, tokens, axis=0).astype(compute_dtype)
    if "pos_embed" in outer:
        x = x + jnp.take(outer["pos_embed"]["embedding"], positions, axis=0).astype(compute_dtype)

    def step(x: jax.Array, layer_params: Any) -> tuple[jax.Array, None]:
        if make_layer is not None:
            layer_params = make_layer(layer_params)
        return _block(spec, _cast(layer_params, compute_dtype), x, positions, key_valid), None

    x, _ = jax.lax.scan(step, x, layer_inputs)
    if last_n is not None:
        x = x[:, -last_n:]  # the vocabulary projection is the costliest matmul: skip unused positions
    x = L.norm(spec, _cast(outer["final_norm"], compute_dtype), x)
    head = embed.T if spec.tie_embeddings else outer["lm_head"]["kernel"]
    return jnp.einsum("btd,dv->btv", x, head.astype(compute_dtype), preferred_element_type=jnp.float32)


def forward(
    spec: ModelSpec,
    params: Any,
    tokens: jax.Array,
    *,
    attention_mask: jax.Array | None = None,
    positions: jax.Array | None = None,
    compute_dtype: Any = None,
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
    return _run(spec, params, tokens, positions, attention_mask.astype(bool), compute_dtype, last_n)
