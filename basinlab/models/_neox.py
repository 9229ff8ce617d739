"""GPT-NeoX / Pythia: partial rotary embeddings, parallel residual, LayerNorm, GELU MLP.

Hugging Face fuses q/k/v in one query_key_value Linear laid out per head as [H, 3, Dh] on its
output axis; the name map splits it into separate q, k, v kernels (and fuses them back on save).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from basinlab.models import _convert as C
from basinlab.models import _namemap as N
from basinlab.models._spec import ModelSpec

ARCH = "neox"
MODEL_TYPES = ("gpt_neox",)

SUPPORTED_KEYS = (
    "vocab_size hidden_size num_hidden_layers num_attention_heads intermediate_size hidden_act "
    "max_position_embeddings layer_norm_eps use_parallel_residual attention_bias "
    "tie_word_embeddings bos_token_id eos_token_id pad_token_id"
).split() + list(C.ROPE_KEYS)


def spec_from_config(config: Mapping[str, Any], name: str = "") -> ModelSpec:
    """ModelSpec from a Hugging Face GPT-NeoX config dict; ValueError for anything not understood."""
    C.require_value(config, "model_type", MODEL_TYPES)
    C.check_config_keys(config, "neox", SUPPORTED_KEYS)
    act = C.require_value(config, "hidden_act", ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu"), "gelu")
    d, h = config["hidden_size"], config["num_attention_heads"]
    head_dim = d // h
    bias = bool(config.get("attention_bias", True))
    return ModelSpec(
        arch=ARCH,
        d_model=d,
        n_layers=config["num_hidden_layers"],
        n_heads=h,
        n_kv_heads=h,
        head_dim=head_dim,
        d_ff=config["intermediate_size"],
        max_seq_len=config.get("max_position_embeddings", 2048),
        norm="layer",
        norm_eps=float(config.get("layer_norm_eps", 1e-5)),
        activation=act,
        gated_mlp=False,
        tie_embeddings=bool(config.get("tie_word_embeddings", False)),
        qkv_bias=bias,
        o_bias=bias,
        mlp_bias=True,
        parallel_residual=bool(config.get("use_parallel_residual", True)),
        **C.vocab_and_token_fields(config),
        name=name or "gpt_neox",
        **C.rope_fields(config, head_dim),
    )


def spec_to_config(spec: ModelSpec) -> dict[str, Any]:
    """The family part of an HF config.json for `spec` (inverse of `spec_from_config`)."""
    return {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "hidden_size": spec.d_model,
            "num_hidden_layers": spec.n_layers, "num_attention_heads": spec.n_heads,
            "intermediate_size": spec.d_ff, "hidden_act": spec.activation,
            "max_position_embeddings": spec.max_seq_len, "layer_norm_eps": spec.norm_eps,
            "use_parallel_residual": spec.parallel_residual, "attention_bias": spec.qkv_bias,
            "rotary_pct": spec.rotary_dim / spec.head_dim, "rotary_emb_base": spec.rope_theta}


def _split_heads(x: np.ndarray, spec: ModelSpec) -> tuple:
    """[H*3*Dh, ...] (output axis first, per head q/k/v) -> q, k, v each [H*Dh, ...]."""
    h, dh, rest = spec.n_heads, spec.head_dim, x.shape[1:]
    per_head = x.reshape(h, 3, dh, *rest)
    return tuple(per_head[:, j].reshape(h * dh, *rest) for j in range(3))


def _fuse_heads(parts, spec: ModelSpec) -> np.ndarray:
    """Inverse of `_split_heads`: q, k, v [H*Dh, ...] -> [H, 3, Dh, ...] -> [H*3*Dh, ...]."""
    h, dh, rest = spec.n_heads, spec.head_dim, parts[0].shape[1:]
    return np.stack([p.reshape(h, dh, *rest) for p in parts], axis=1).reshape(3 * h * dh, *rest)


# query_key_value: a Linear weight [H*3*Dh, D] <-> q, k, v kernels [D, H*Dh]; its bias [H*3*Dh] <-> 3 x [H*Dh].
FUSED_QKV_WEIGHT = N.Layout(lambda w, spec: tuple(p.T for p in _split_heads(w, spec)),
                            lambda kernels, spec: _fuse_heads([k.T for k in kernels], spec))
FUSED_QKV_BIAS = N.Layout(_split_heads, _fuse_heads)


def tensor_map(spec: ModelSpec) -> list[N.Entry]:
    """Every Hugging Face tensor of a GPT-NeoX checkpoint and its params leaves (see namemap.py)."""
    layer = "gpt_neox.layers.{i}"
    qkv = f"{layer}.attention.query_key_value"
    fused = [N.Entry(f"{qkv}.weight", tuple(f"layers/attn/{n}/kernel" for n in "qkv"), ("3D", "D"),
                     FUSED_QKV_WEIGHT)]
    if spec.qkv_bias:
        fused.append(N.Entry(f"{qkv}.bias", tuple(f"layers/attn/{n}/bias" for n in "qkv"), ("3D",), FUSED_QKV_BIAS))
    # Saved as embed_out (what transformers v4 reads; v5 maps it to lm_head); either name loads.
    head = [] if spec.tie_embeddings else [
        N.Entry("embed_out.weight", "lm_head/kernel", ("V", "D"), N.TRANSPOSED, aliases=("lm_head.weight",))]
    return [
        N.Entry("gpt_neox.embed_in.weight", "embed/embedding", ("V", "D")),
        *N.norm(f"{layer}.input_layernorm", "layers/attn_norm", True),
        *fused,
        *N.linear(f"{layer}.attention.dense", "layers/attn/o", "D", "D", spec.o_bias),
        *N.norm(f"{layer}.post_attention_layernorm", "layers/mlp_norm", True),
        *N.linear(f"{layer}.mlp.dense_h_to_4h", "layers/mlp/up", "D", "F", True),
        *N.linear(f"{layer}.mlp.dense_4h_to_h", "layers/mlp/down", "F", "D", True),
        *N.norm("gpt_neox.final_layer_norm", "final_norm", True),
        *head,
    ]


IGNORED = ("lm_head.weight", "*rotary_emb.inv_freq", "*.attention.bias", "*.attention.masked_bias")


def params_from_state_dict(spec: ModelSpec, tensors: Mapping[str, Any], where: str = "checkpoint",
                           place: N.Place | None = None) -> dict[str, Any]:
    """basinlab params (numpy leaves) from a GPT-NeoX/Pythia state dict."""
    return N.load_params(tensor_map(spec), spec, tensors, where, ignore=IGNORED, place=place)
