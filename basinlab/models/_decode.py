"""Cached decoding laid out so that the decode loop copies nothing per step, and a prefix that every
row shares is stored once.

This is basinlab's one KV cache (generation's). Scanning the stacked layers with the cache as a
scanned input and output (as `transformer.forward` scans the layers) would, inside a while loop,
make XLA slice each layer's weights and cache out of the stacked arrays and write the cache back,
copying the weights and the whole cache at every step. Here instead

- the layers' weights are sliced out of the stack (and cast) once, before the loop
  (`decode_weights`), and the layers are unrolled, so each step reads every weight in place; the
  tied output head contracts with the embedding as stored (no transposed copy);
- each row's own keys and values live in one [B, K, S, Dh] buffer per layer and per k/v
  (`DecodeCache`): new tokens are written with an in-place dynamic_update_slice, and attention
  contracts over the buffer as laid out;
- a prefix that every row starts with (few-shot examples, a chat template's system turn) is kept
  once, [K, P, Dh] per layer, and every row attends to it in the same softmax as to its own slots
  (cascade attention). Copying it into every row would cost B x P cache slots: 16 rows of an
  8-shot GSM8K prompt (1,157 tokens) on SmolLM2 hold 0.85 GB of float32 keys and values that way,
  and every decode step would read them 16 times.

`extend` runs T new tokens per row against the cache (the prompt's prefill, T = 1 per decode
step). The maths is that of `transformer.forward` (same layers, same float32 softmax); tests check
generation through it against `forward`'s logits.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from basinlab.models import _layers as L
from basinlab.models._spec import ModelSpec

__all__ = ["DecodeCache", "decode_step", "decode_weights", "empty_cache", "extend"]


class DecodeCache(NamedTuple):
    """k, v: tuples of L arrays [B, K, S, Dh] (each row's own slots); mask [B, S] bool (valid own
    keys); index: the next own slot; prefix_k, prefix_v: tuples of L arrays [K, P, Dh], the keys and
    values of the prefix every row starts with, stored once (empty tuples: no shared prefix)."""

    k: tuple
    v: tuple
    mask: jax.Array
    index: jax.Array
    prefix_k: tuple = ()
    prefix_v: tuple = ()


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


def empty_cache(spec: ModelSpec, batch: int, length: int, dtype, prefix: dict | None = None) -> DecodeCache:
    """A DecodeCache with `length` empty own slots per row; prefix: {"k", "v"} tuples of L arrays
    [K, P, Dh] (from `generate.prefill`) shared by every row, or None."""
    shape = (batch, spec.n_kv_heads, length, spec.head_dim)
    zeros = tuple(jnp.zeros(shape, dtype) for _ in range(spec.n_layers))
    pk = () if prefix is None else tuple(x.astype(dtype) for x in prefix["k"])
    pv = () if prefix is None else tuple(x.astype(dtype) for x in prefix["v"])
    return DecodeCache(zeros, zeros, jnp.zeros((batch, length), bool), jnp.int32(0), pk, pv)


def _attend(spec, q, k, v, pk, pv, query_slots, key_valid, positions):
    """q [B, T, H, Dh] at own slots query_slots [T] and positions [B, T]; own keys k, v [B, K, S, Dh]
    (valid where key_valid [B, S], causal by slot); shared prefix pk, pv [K, P, Dh] or None at
    positions 0..P-1 (every row sees all of it). One softmax over prefix and own keys. -> [B, T, H, Dh]."""
    b, t, h, dh = q.shape
    kv = k.shape[1]
    q = q.reshape(b, t, kv, h // kv, dh)
    scale = 1.0 / math.sqrt(dh)
    scores = jnp.einsum("btkgd,bksd->bkgts", q, k, preferred_element_type=jnp.float32) * scale
    slots = jnp.arange(k.shape[2])
    allowed = slots[None, :] <= query_slots[:, None]  # [T, S]
    if spec.sliding_window is not None:  # own slots of a row are contiguous: slot distance = position distance
        allowed &= query_slots[:, None] - slots[None, :] < spec.sliding_window
    allowed = allowed[None] & key_valid[:, None, :]  # [B, T, S]
    scores = jnp.where(allowed[:, None, None], scores, L.MASK_VALUE)
    if pk is None:
        probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
        return jnp.einsum("bkgts,bksd->btkgd", probs, v).reshape(b, t, h, dh)
    # One softmax over prefix and own keys, kept in two pieces (no concatenated copy of the scores).
    pre = jnp.einsum("btkgd,kpd->bkgtp", q, pk, preferred_element_type=jnp.float32) * scale
    if spec.sliding_window is not None:
        near = positions[:, :, None] - jnp.arange(pk.shape[1])[None, None] < spec.sliding_window  # [B, T, P]
        pre = jnp.where(near[:, None, None], pre, L.MASK_VALUE)
    top = jax.lax.stop_gradient(jnp.maximum(pre.max(-1, keepdims=True), scores.max(-1, keepdims=True)))
    e_pre, e_own = jnp.exp(pre - top), jnp.exp(scores - top)
    total = e_pre.sum(-1, keepdims=True) + e_own.sum(-1, keepdims=True)
    out = (jnp.einsum("bkgtp,kpd->btkgd", (e_pre / total).astype(v.dtype), pv)
           + jnp.einsum("bkgts,bksd->btkgd", (e_own / total).astype(v.dtype), v))
    return out.reshape(b, t, h, dh)


def extend(spec: ModelSpec, weights: dict, tokens: jax.Array, positions: jax.Array, valid: jax.Array,
           cache: DecodeCache, compute_dtype) -> tuple[jax.Array, DecodeCache]:
    """Run tokens [B, T] (position ids positions [B, T]; valid [B, T] bool, False for left padding)
    against the cache, writing their keys and values at own slots [index, index + T). Returns the
    float32 logits [B, V] after each row's last token and the cache. weights: `decode_weights(...)`."""
    b, t = tokens.shape
    index = cache.index
    key_valid = jax.lax.dynamic_update_slice(cache.mask, valid.astype(bool), (0, index))
    query_slots = index + jnp.arange(t)
    x = jnp.take(weights["embed"], tokens, axis=0).astype(compute_dtype)  # [B, T, D]
    if "pos_embed" in weights:
        x = x + jnp.take(weights["pos_embed"], positions, axis=0).astype(compute_dtype)
    ks, vs = list(cache.k), list(cache.v)
    for i, p in enumerate(weights["layers"]):
        h = L.norm(spec, p["attn_norm"], x)
        q = L.dense(p["attn"]["q"], h).reshape(b, t, spec.n_heads, spec.head_dim)
        k = L.dense(p["attn"]["k"], h).reshape(b, t, spec.n_kv_heads, spec.head_dim)
        v = L.dense(p["attn"]["v"], h).reshape(b, t, spec.n_kv_heads, spec.head_dim)
        if spec.uses_rope:
            q, k = L.apply_rope(spec, q, positions), L.apply_rope(spec, k, positions)
        ks[i] = jax.lax.dynamic_update_slice(ks[i], jnp.swapaxes(k, 1, 2).astype(ks[i].dtype), (0, 0, index, 0))
        vs[i] = jax.lax.dynamic_update_slice(vs[i], jnp.swapaxes(v, 1, 2).astype(vs[i].dtype), (0, 0, index, 0))
        pk = cache.prefix_k[i].astype(q.dtype) if cache.prefix_k else None
        pv = cache.prefix_v[i].astype(q.dtype) if cache.prefix_v else None
        o = _attend(spec, q, ks[i].astype(q.dtype), vs[i].astype(q.dtype), pk, pv, query_slots, key_valid,
                    positions)
        a = L.dense(p["attn"]["o"], o.reshape(b, t, -1))

        def mlp(h, p=p):
            return L.mlp(spec, p["mlp"], h)

        if spec.parallel_residual:
            x = x + a + mlp(L.norm(spec, p["mlp_norm"], x))
        else:
            x = x + a
            x = x + mlp(L.norm(spec, p["mlp_norm"], x))
    # Only the last position's logits are used: the vocabulary projection is the costliest matmul.
    x = L.norm(spec, weights["final_norm"], x[:, -1])
    head_eq = "bd,vd->bv" if spec.tie_embeddings else "bd,dv->bv"
    logits = jnp.einsum(head_eq, x, weights["head"], preferred_element_type=jnp.float32)
    return logits, cache._replace(k=tuple(ks), v=tuple(vs), mask=key_valid, index=index + t)


def decode_step(spec: ModelSpec, weights: dict, token: jax.Array, position: jax.Array, cache: DecodeCache,
                compute_dtype) -> tuple[jax.Array, DecodeCache]:
    """Logits [B, V] (float32) of the next token after `token` [B] at `position` [B], and the cache
    with the token's keys and values written at own slot cache.index."""
    valid = jnp.ones((token.shape[0], 1), bool)
    return extend(spec, weights, token[:, None], position[:, None], valid, cache, compute_dtype)
