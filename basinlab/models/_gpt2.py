"""GPT-2: learned absolute positions, pre-LayerNorm blocks, GELU MLP, tied head.

Hugging Face stores GPT-2's projections as Conv1D modules whose weight is already [in, out], and
the q/k/v projections fused in one c_attn matrix that the name map splits (and fuses back on save).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from basinlab.models import _convert as C
from basinlab.models import _namemap as N
from basinlab.models._spec import ModelSpec

ARCH = "gpt2"
MODEL_TYPES = ("gpt2",)

SUPPORTED_KEYS = (
    "vocab_size n_positions n_ctx n_embd n_layer n_head n_inner activation_function "
    "layer_norm_epsilon scale_attn_weights scale_attn_by_inverse_layer_idx reorder_and_upcast_attn "
    "tie_word_embeddings bos_token_id eos_token_id pad_token_id n_special"
).split()


def spec_from_config(config: Mapping[str, Any], name: str = "") -> ModelSpec:
    """ModelSpec from a Hugging Face GPT-2 config dict; ValueError for anything not understood."""
    C.require_value(config, "model_type", MODEL_TYPES)
    C.check_config_keys(config, "gpt2", SUPPORTED_KEYS)
    act = C.require_value(
        config, "activation_function", ("gelu_new", "gelu", "gelu_pytorch_tanh", "relu"), "gelu_new"
    )
    C.require_value(config, "scale_attn_weights", (True,), True)
    C.require_value(config, "scale_attn_by_inverse_layer_idx", (False,), False)
    C.require_value(config, "tie_word_embeddings", (True,), True)
    d, h = config["n_embd"], config["n_head"]
    return ModelSpec(
        arch=ARCH,
        d_model=d,
        n_layers=config["n_layer"],
        n_heads=h,
        n_kv_heads=h,
        head_dim=d // h,
        d_ff=config.get("n_inner") or 4 * d,
        max_seq_len=config.get("n_positions", 1024),
        norm="layer",
        norm_eps=float(config.get("layer_norm_epsilon", 1e-5)),
        activation=act,
        gated_mlp=False,
        tie_embeddings=True,
        qkv_bias=True,
        o_bias=True,
        mlp_bias=True,
        rotary_dim=0,
        **C.vocab_and_token_fields(config),
        name=name or "gpt2",
    )


def spec_to_config(spec: ModelSpec) -> dict[str, Any]:
    """The family part of an HF config.json for `spec` (inverse of `spec_from_config`)."""
    return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": spec.d_model,
            "n_layer": spec.n_layers, "n_head": spec.n_heads, "n_inner": spec.d_ff,
            "n_positions": spec.max_seq_len, "activation_function": spec.activation,
            "layer_norm_epsilon": spec.norm_eps}


# c_attn [D, 3D] (Conv1D: [in, out]) <-> q, k, v kernels [D, D] (or biases [3D] <-> [D] x 3).
FUSED_QKV = N.Layout(lambda x, spec: tuple(np.split(x, 3, axis=-1)),
                     lambda leaves, spec: np.concatenate(leaves, axis=-1))


def tensor_map(spec: ModelSpec) -> list[N.Entry]:
    """Every Hugging Face tensor of a GPT-2 checkpoint and its params leaves (see namemap.py).
    Conv1D weights are already [in, out], so nothing is transposed."""
    layer = "transformer.h.{i}"

    def conv1d(hf: str, params: str, n_in: str, n_out: str) -> list[N.Entry]:
        return [N.Entry(f"{hf}.weight", f"{params}/kernel", (n_in, n_out)),
                N.Entry(f"{hf}.bias", f"{params}/bias", (n_out,))]

    return [
        N.Entry("transformer.wte.weight", "embed/embedding", ("V", "D")),
        N.Entry("transformer.wpe.weight", "pos_embed/embedding", ("P", "D")),
        *N.norm(f"{layer}.ln_1", "layers/attn_norm", True),
        N.Entry(f"{layer}.attn.c_attn.weight", tuple(f"layers/attn/{n}/kernel" for n in "qkv"), ("D", "3D"),
                FUSED_QKV),
        N.Entry(f"{layer}.attn.c_attn.bias", tuple(f"layers/attn/{n}/bias" for n in "qkv"), ("3D",), FUSED_QKV),
        *conv1d(f"{layer}.attn.c_proj", "layers/attn/o", "D", "D"),
        *N.norm(f"{layer}.ln_2", "layers/mlp_norm", True),
        *conv1d(f"{layer}.mlp.c_fc", "layers/mlp/up", "D", "F"),
        *conv1d(f"{layer}.mlp.c_proj", "layers/mlp/down", "F", "D"),
        *N.norm("transformer.ln_f", "final_norm", True),
    ]


# lm_head.weight is the tied embedding; attn.bias / attn.masked_bias are causal-mask buffers.
IGNORED = ("lm_head.weight", "*.attn.bias", "*.attn.masked_bias")


def params_from_state_dict(spec: ModelSpec, tensors: Mapping[str, Any], where: str = "checkpoint",
                           place: N.Place | None = None) -> dict[str, Any]:
    """basinlab params (numpy leaves) from a GPT-2 state dict (with or without "transformer.")."""
    # The original OpenAI-converted checkpoints omit the "transformer." prefix.
    if not any(k.startswith("transformer.") for k in tensors):
        tensors = N.Renamed(tensors, {f"transformer.{k}" if k != "lm_head.weight" else k: k for k in tensors})
    return N.load_params(tensor_map(spec), spec, tensors, where, ignore=IGNORED, place=place)
