"""Pure building blocks shared by every architecture: norms, activations, RoPE, attention.

Shapes: B batch, T query length, S key length (cache slots), H query heads, K kv heads,
G = H // K query heads per kv head, Dh head dim, D model width.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from basinlab.models._spec import ModelSpec

# A finite "minus infinity": fully masked rows (left padding) then give a uniform softmax over
# garbage instead of NaN, and NaN never leaks into valid positions through the residual stream.
_MASK_VALUE = -0.7 * float(jnp.finfo(jnp.float32).max)
MASK_VALUE = _MASK_VALUE  # public: other attention implementations (models.decode) use the same value


def norm(spec: ModelSpec, p: dict, x: jax.Array) -> jax.Array:
    """RMSNorm or LayerNorm over the last axis, computed in float32, returned in x.dtype."""
    h = x.astype(jnp.float32)
    if spec.norm == "rms":
        h = h * jax.lax.rsqrt(jnp.mean(h * h, axis=-1, keepdims=True) + spec.norm_eps)
        return p["scale"].astype(x.dtype) * h.astype(x.dtype)
    mean = jnp.mean(h, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(h - mean), axis=-1, keepdims=True)
    h = (h - mean) * jax.lax.rsqrt(var + spec.norm_eps)
    h = h * p["scale"].astype(jnp.float32) + p["bias"].astype(jnp.float32)
    return h.astype(x.dtype)


def activation(name: str, x: jax.Array) -> jax.Array:
    if name == "silu":
        return jax.nn.silu(x)
    if name == "gelu":
        return jax.nn.gelu(x, approximate=False)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return jax.nn.gelu(x, approximate=True)
    if name == "relu":
        return jax.nn.relu(x)
    raise ValueError(f"unknown activation {name!r}")


def dense(p: dict, x: jax.Array) -> jax.Array:
    """x @ kernel (+ bias). kernel: [in, out]."""
    y = x @ p["kernel"]
    if "bias" in p:
        y = y + p["bias"]
    return y


def mlp(spec: ModelSpec, p: dict, h: jax.Array) -> jax.Array:
    """The feed-forward block on normed activations h [..., D]: down(act(gate(h)) * up(h)) for gated
    MLPs (SwiGLU), down(act(up(h))) otherwise. p: the layer's "mlp" params."""
    up = dense(p["up"], h)
    if spec.gated_mlp:
        up = activation(spec.activation, dense(p["gate"], h)) * up
    else:
        up = activation(spec.activation, up)
    return dense(p["down"], up)


def rope_inv_freq(spec: ModelSpec) -> jax.Array:
    """Inverse frequencies [rotary_dim // 2], with llama3 or linear scaling applied (float32)."""
    dim = spec.rotary_dim
    inv = 1.0 / (spec.rope_theta ** (jnp.arange(0, dim, 2, dtype=jnp.float32) / dim))
    if spec.rope_type == "linear":
        inv = inv / spec.rope_factor
    elif spec.rope_type == "llama3":
        # Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, the band between
        # interpolated smoothly (Meta's reference implementation; transformers matches it).
        factor, low, high = spec.rope_factor, spec.rope_low_freq_factor, spec.rope_high_freq_factor
        old_len = spec.rope_original_max_seq_len
        wavelen = 2 * math.pi / inv
        scaled = jnp.where(wavelen > old_len / low, inv / factor, inv)
        smooth = (old_len / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old_len / high) & (wavelen <= old_len / low)
        inv = jnp.where(medium, smoothed, scaled)
    return inv


def apply_rope(spec: ModelSpec, x: jax.Array, positions: jax.Array) -> jax.Array:
    """Rotate the first rotary_dim dims of each head (half-split layout). x: [B, T, H, Dh]."""
    dim = spec.rotary_dim
    freqs = positions[..., None].astype(jnp.float32) * rope_inv_freq(spec)  # [B, T, dim/2]
    emb = jnp.concatenate([freqs, freqs], axis=-1)[:, :, None, :]  # [B, T, 1, dim]
    cos, sin = jnp.cos(emb).astype(x.dtype), jnp.sin(emb).astype(x.dtype)
    rot, rest = x[..., :dim], x[..., dim:]
    half = dim // 2
    rotated = jnp.concatenate([-rot[..., half:], rot[..., :half]], axis=-1)
    return jnp.concatenate([rot * cos + rotated * sin, rest], axis=-1)


def attention(
    spec: ModelSpec,
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    query_slots: jax.Array,
    key_valid: jax.Array,
) -> jax.Array:
    """Causal grouped-query attention.

    q: [B, T, H, Dh]; k, v: [B, S, K, Dh]; query_slots: [T] int, the cache slot of each query;
    key_valid: [B, S] bool (False for padding and unfilled cache slots). Returns [B, T, H, Dh].
    """
    b, t, h, dh = q.shape
    kv = k.shape[2]
    q = q.reshape(b, t, kv, h // kv, dh)
    scores = jnp.einsum("btkgd,bskd->bkgts", q, k, preferred_element_type=jnp.float32)
    scores = scores / math.sqrt(dh)
    key_slots = jnp.arange(k.shape[1])
    allowed = key_slots[None, :] <= query_slots[:, None]  # [T, S]
    if spec.sliding_window is not None:
        allowed &= query_slots[:, None] - key_slots[None, :] < spec.sliding_window
    allowed = allowed[None, :, :] & key_valid[:, None, :]  # [B, T, S]
    scores = jnp.where(allowed[:, None, None], scores, _MASK_VALUE)
    probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
    out = jnp.einsum("bkgts,bskd->btkgd", probs, v)
    return out.reshape(b, t, h, dh)
