"""Parameter shapes of a ModelSpec, random weights in real model shapes, and named shapes.

For planning and benchmarking at scale without downloading a checkpoint:

    spec = SHAPES["llama2-7b"]
    abstract = param_shapes(spec, jnp.bfloat16)     # jax.ShapeDtypeStruct leaves, no memory
    params = random_params(spec, jax.random.key(0), jnp.bfloat16)

The layout is the one ``basinlab.models._transformer`` documents (layers stacked on a leading axis).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from basinlab.models._spec import ModelSpec

__all__ = ["SHAPES", "param_shapes", "random_params"]

_LLAMA: dict[str, Any] = dict(arch="llama", norm="rms", activation="silu", gated_mlp=True, max_seq_len=4096)

# Real models' shapes (parameter counts checked in tests/models/test_shapes.py).
SHAPES: dict[str, ModelSpec] = {
    "smollm2-135m": ModelSpec(**_LLAMA, vocab_size=49152, d_model=576, n_layers=30, n_heads=9, n_kv_heads=3,
                              head_dim=64, d_ff=1536, tie_embeddings=True, rotary_dim=64, name="smollm2-135m"),
    "llama-3.2-1b": ModelSpec(**_LLAMA, vocab_size=128256, d_model=2048, n_layers=16, n_heads=32, n_kv_heads=8,
                              head_dim=64, d_ff=8192, tie_embeddings=True, rotary_dim=64, name="llama-3.2-1b"),
    "llama2-7b": ModelSpec(**_LLAMA, vocab_size=32000, d_model=4096, n_layers=32, n_heads=32, n_kv_heads=32,
                           head_dim=128, d_ff=11008, rotary_dim=128, name="llama2-7b"),
    # Qwen2.5-32B: a Llama-family model with q/k/v biases, the usual "32B" of recent papers.
    "llama-32b": ModelSpec(**_LLAMA, vocab_size=152064, d_model=5120, n_layers=64, n_heads=40, n_kv_heads=8,
                           head_dim=128, d_ff=27648, qkv_bias=True, rotary_dim=128, name="llama-32b"),
}


def _layer_shapes(spec: ModelSpec) -> dict[str, Any]:
    d, q, kv, f = spec.d_model, spec.n_heads * spec.head_dim, spec.n_kv_heads * spec.head_dim, spec.d_ff

    def dense(n_in: int, n_out: int, bias: bool) -> dict[str, tuple[int, ...]]:
        return {"kernel": (n_in, n_out), **({"bias": (n_out,)} if bias else {})}

    def norm() -> dict[str, tuple[int, ...]]:
        return {"scale": (d,), **({"bias": (d,)} if spec.norm == "layer" else {})}

    mlp = {"up": dense(d, f, spec.mlp_bias), "down": dense(f, d, spec.mlp_bias)}
    if spec.gated_mlp:
        mlp["gate"] = dense(d, f, spec.mlp_bias)
    attn = {"q": dense(d, q, spec.qkv_bias), "k": dense(d, kv, spec.qkv_bias), "v": dense(d, kv, spec.qkv_bias),
            "o": dense(q, d, spec.o_bias)}
    return {"attn_norm": norm(), "attn": attn, "mlp_norm": norm(), "mlp": mlp}


def _shape_tree(spec: ModelSpec) -> dict[str, Any]:
    layers = jax.tree.map(lambda s: (spec.n_layers, *s), _layer_shapes(spec), is_leaf=lambda x: isinstance(x, tuple))
    tree = {"embed": {"embedding": (spec.vocab_size, spec.d_model)}, "layers": layers,
            "final_norm": {"scale": (spec.d_model,), **({"bias": (spec.d_model,)} if spec.norm == "layer" else {})}}
    if not spec.uses_rope:
        tree["pos_embed"] = {"embedding": (spec.max_seq_len, spec.d_model)}
    if not spec.tie_embeddings:
        tree["lm_head"] = {"kernel": (spec.d_model, spec.vocab_size)}
    return tree


def param_shapes(spec: ModelSpec, dtype: DTypeLike = jnp.float32) -> dict[str, Any]:
    """The params pytree of ``spec`` as jax.ShapeDtypeStruct leaves (nothing allocated)."""
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s, jnp.dtype(dtype)), _shape_tree(spec),
                        is_leaf=lambda x: isinstance(x, tuple))


def random_params(spec: ModelSpec, key: jax.Array, dtype: DTypeLike = jnp.float32, std: float = 0.02) -> dict[str, Any]:
    """Random weights in ``spec``'s shapes: N(0, std^2) kernels and embeddings, unit norm scales,
    zero biases (a fresh-initialized model; for speed and memory measurements, not for quality)."""
    shapes = _shape_tree(spec)
    paths, treedef = jax.tree_util.tree_flatten_with_path(shapes, is_leaf=lambda x: isinstance(x, tuple))
    keys = jax.random.split(key, len(paths))
    leaves = []
    for k, (path, shape) in zip(keys, paths, strict=True):
        name = str(path[-1].key)
        if name == "scale":
            leaves.append(jnp.ones(shape, dtype))
        elif name == "bias":
            leaves.append(jnp.zeros(shape, dtype))
        else:
            leaves.append((std * jax.random.normal(k, shape, jnp.float32)).astype(dtype))
    return jax.tree_util.tree_unflatten(treedef, leaves)
