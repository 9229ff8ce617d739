"""One decode step (a single new token per row) laid out so that the decode loop copies nothing per step.

`transformer.forward_cached` scans the stacked layers with the cache as a scanned input and output:
inside a while loop XLA then slices each layer's weights and cache out of the stacked arrays and
writes the cache back, copying the weights and the whole cache at every step. Here instead

- the layers' weights are sliced out of the stack (and cast) once, before the loop
  (`decode_weights`), and the layers are unrolled, so each step reads every weight in place; the
  tied output head contracts with the embedding as stored (no transposed copy);
- the cache is one [B, K, S, Dh] buffer per layer and per k/v (`DecodeCache`, built once from a
  prefilled `init_cache` cache by `decode_cache`): the new token's keys and values are written with
  an in-place dynamic_update_slice, and attention contracts over the buffer as laid out.

The maths is that of `transformer.forward` for one token (same layers, same float32 softmax);
tests check generation through it against generation through `forward_cached`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from basinlab.models import layers as L
from basinlab.models.spec import ModelSpec

__all__ = ["DecodeCache", "decode_cache", "decode_step", "decode_weights"]


class DecodeCache(NamedTuple):
    """k, v: tuples of L arrays [B, K, S, Dh]; mask [B, S] bool (valid keys); index: next slot."""

    k: tuple
    v: tuple
    mask: jax.Array
    index: jax.Array


def decode_weights(spec: ModelSpec, params: dict, compute_dtype) -> dict:
    """The weights a decode step reads, prepared once: "layers" (tuple of L per-layer dicts), "embed"
    [V, D], "pos_embed" (gpt2), "final_norm", "head" ([V, D] when tied, else [D, V]), all in
    compute_dtype (a no-op where the params already are)."""
    cast = lambda t: jax.tree.map(lambda w: w.astype(compute_dtype), t)  # noqa: E731
    n = jax.tree.leaves(params["layers"])[0].shape[0]
    out = {"layers": tuple(cast(jax.tree.map(lambda w, i=i: w[i], params["layers"])) for i in range(n)),
           "embed": params["embed"]["embedding"], "final_norm": cast(params["final_norm"]),
           "head": cast(params["embed"]["embedding"] if spec.tie_embeddings else params["lm_head"]["kernel"])}
    if "pos_embed" in params:
        out["pos_embed"] = params["pos_embed"]["embedding"]
    return out


def decode_cache(cache: dict) -> DecodeCache:
    """A DecodeCache holding the same keys and values as an `init_cache`-style cache [L, B, S, K, Dh]."""
    k = tuple(jnp.swapaxes(cache["k"][i], 1, 2) for i in range(cache["k"].shape[0]))
    v = tuple(jnp.swapaxes(cache["v"][i], 1, 2) for i in range(cache["v"].shape[0]))
    return DecodeCache(k, v, cache["mask"], cache["index"])


def _attend(spec, q, k, v, index, key_valid):
    """q [B, H, Dh] (one query at slot `index`), k, v [B, K, S, Dh] -> [B, H, Dh]."""
    b, h, dh = q.shape
    kv = k.shape[1]
    q = q.reshape(b, kv, h // kv, dh)
    scores = jnp.einsum("bkgd,bksd->bkgs", q, k, preferred_element_type=jnp.float32) / math.sqrt(dh)
    slots = jnp.arange(k.shape[2])
    allowed = key_valid & (slots <= index)[None]
    if spec.sliding_window is not None:
        allowed &= (index - slots < spec.sliding_window)[None]
    scores = jnp.where(allowed[:, None, None], scores, L.MASK_VALUE)
    probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
    return jnp.einsum("bkgs,bksd->bkgd", probs, v).reshape(b, h, dh)


def decode_step(spec: ModelSpec, weights: dict, token: jax.Array, position: jax.Array, cache: DecodeCache,
                compute_dtype) -> tuple[jax.Array, DecodeCache]:
    """Logits [B, V] (float32) of the next token after `token` [B] at `position` [B], and the cache
    with the token's keys and values written at slot cache.index. weights: `decode_weights(...)`."""
    b = token.shape[0]
    index = cache.index
    key_valid = cache.mask.at[:, index].set(True)
    x = jnp.take(weights["embed"], token, axis=0).astype(compute_dtype)[:, None]  # [B, 1, D]
    if "pos_embed" in weights:
        x = x + jnp.take(weights["pos_embed"], position, axis=0).astype(compute_dtype)[:, None]
    pos = position[:, None]
    ks, vs = list(cache.k), list(cache.v)
    for i, p in enumerate(weights["layers"]):
        h = L.norm(spec, p["attn_norm"], x)
        q = L.dense(p["attn"]["q"], h).reshape(b, 1, spec.n_heads, spec.head_dim)
        k = L.dense(p["attn"]["k"], h).reshape(b, 1, spec.n_kv_heads, spec.head_dim)
        v = L.dense(p["attn"]["v"], h).reshape(b, 1, spec.n_kv_heads, spec.head_dim)
        if spec.uses_rope:
            q, k = L.apply_rope(spec, q, pos), L.apply_rope(spec, k, pos)
        ks[i] = jax.lax.dynamic_update_slice(ks[i], jnp.swapaxes(k, 1, 2).astype(ks[i].dtype), (0, 0, index, 0))
        vs[i] = jax.lax.dynamic_update_slice(vs[i], jnp.swapaxes(v, 1, 2).astype(vs[i].dtype), (0, 0, index, 0))
        o = _attend(spec, q[:, 0], ks[i].astype(q.dtype), vs[i].astype(q.dtype), index, key_valid)
        a = L.dense(p["attn"]["o"], o.reshape(b, 1, -1))

        def mlp(h, p=p):
            return L.mlp(spec, p["mlp"], h)

        if spec.parallel_residual:
            x = x + a + mlp(L.norm(spec, p["mlp_norm"], x))
        else:
            x = x + a
            x = x + mlp(L.norm(spec, p["mlp_norm"], x))
    x = L.norm(spec, weights["final_norm"], x[:, 0])
    head_eq = "bd,vd->bv" if spec.tie_embeddings else "bd,dv->bv"
    logits = jnp.einsum(head_eq, x, weights["head"], preferred_element_type=jnp.float32)
    return logits, DecodeCache(tuple(ks), tuple(vs), key_valid, index + 1)
