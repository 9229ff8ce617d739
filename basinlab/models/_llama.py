"""The Llama family: Llama 2/3, Qwen2/Qwen2.5, Mistral, SmolLM2.

Grouped-query attention, RoPE (optionally llama3-scaled), RMSNorm, SwiGLU MLP, tied or untied
embeddings, optional q/k/v biases (Qwen2). The Hugging Face config allowlist and its inverse
(`spec_from_config`, `spec_to_config`) and the tensor name map (`tensor_map`) that load and save share.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from basinlab.models import _convert as C
from basinlab.models import _namemap as N
from basinlab.models._spec import ModelSpec

ARCH = "llama"
# Hugging Face model_type -> the class its config.json names in "architectures".
HF_CLASSES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}
MODEL_TYPES = tuple(HF_CLASSES)

SUPPORTED_KEYS = (
    "vocab_size hidden_size intermediate_size num_hidden_layers num_attention_heads "
    "num_key_value_heads head_dim hidden_act max_position_embeddings rms_norm_eps "
    "tie_word_embeddings attention_bias mlp_bias pretraining_tp bos_token_id eos_token_id "
    "pad_token_id sliding_window use_sliding_window max_window_layers layer_types "
    "rope_interleaved is_llama_config"
).split() + list(C.ROPE_KEYS)


def spec_from_config(config: Mapping[str, Any], name: str = "") -> ModelSpec:
    """ModelSpec from a Hugging Face config dict (model_type llama, mistral or qwen2)."""
    model_type = C.require_value(config, "model_type", MODEL_TYPES)
    C.check_config_keys(config, "llama", SUPPORTED_KEYS)
    act = C.require_value(config, "hidden_act", ("silu", "gelu", "gelu_pytorch_tanh", "relu"), "silu")
    C.require_value(config, "rope_interleaved", (False, None))
    # Qwen2 checkpoints list a sliding window they do not use unless use_sliding_window is set;
    # per-layer sliding windows (max_window_layers) are not implemented, so refuse them.
    C.require_value(config, "use_sliding_window", (False, None))
    layer_types = config.get("layer_types") or []
    if any(t != "full_attention" for t in layer_types) and model_type != "mistral":
        raise ValueError(f"config layer_types={sorted(set(layer_types))} not supported; valid: ['full_attention']")
    d, h = config["hidden_size"], config["num_attention_heads"]
    head_dim = config.get("head_dim") or d // h
    qkv_bias = model_type == "qwen2" or bool(config.get("attention_bias", False))
    return ModelSpec(
        arch=ARCH,
        d_model=d,
        n_layers=config["num_hidden_layers"],
        n_heads=h,
        n_kv_heads=config.get("num_key_value_heads") or h,
        head_dim=head_dim,
        d_ff=config["intermediate_size"],
        max_seq_len=config.get("max_position_embeddings", 2048),
        norm="rms",
        norm_eps=float(config.get("rms_norm_eps", 1e-6)),
        activation=act,
        gated_mlp=True,
        tie_embeddings=bool(config.get("tie_word_embeddings", False)),
        qkv_bias=qkv_bias,
        # Llama's attention_bias also covers o_proj; Qwen2 has biases on q/k/v only.
        o_bias=model_type != "qwen2" and bool(config.get("attention_bias", False)),
        mlp_bias=bool(config.get("mlp_bias", False)),
        sliding_window=config.get("sliding_window") if model_type == "mistral" else None,
        **C.vocab_and_token_fields(config),
        name=name or model_type,
        **C.rope_fields(config, head_dim),
    )


def spec_to_config(spec: ModelSpec) -> dict[str, Any]:
    """The family part of an HF config.json for `spec` (inverse of `spec_from_config`; save.py adds
    the keys every family shares)."""
    # Qwen2 = q/k/v biases without an o bias; Mistral = a sliding window; anything else is Llama.
    if spec.qkv_bias and not spec.o_bias:
        model_type = "qwen2"
    else:
        model_type = "mistral" if spec.sliding_window is not None else "llama"
    config = {"architectures": [HF_CLASSES[model_type]], "model_type": model_type,
              "hidden_size": spec.d_model, "intermediate_size": spec.d_ff,
              "num_hidden_layers": spec.n_layers, "num_attention_heads": spec.n_heads,
              "num_key_value_heads": spec.n_kv_heads, "head_dim": spec.head_dim,
              "hidden_act": spec.activation, "max_position_embeddings": spec.max_seq_len,
              "rms_norm_eps": spec.norm_eps, **C.rope_config(spec)}
    if model_type == "qwen2":
        config["use_sliding_window"] = False
    else:
        config.update(attention_bias=spec.qkv_bias, mlp_bias=spec.mlp_bias)
    if model_type == "mistral":
        config["sliding_window"] = spec.sliding_window
    return config


def tensor_map(spec: ModelSpec) -> list[N.Entry]:
    """Every Hugging Face tensor of a `spec` checkpoint and its params leaves (see namemap.py)."""
    layer = "model.layers.{i}"
    attn = [N.linear(f"{layer}.self_attn.{n}_proj", f"layers/attn/{n}", "D", out, spec.qkv_bias)
            for n, out in (("q", "Q"), ("k", "K"), ("v", "K"))]
    mlp = [N.linear(f"{layer}.mlp.{n}_proj", f"layers/mlp/{n}", n_in, n_out, spec.mlp_bias)
           for n, n_in, n_out in (("gate", "D", "F"), ("up", "D", "F"), ("down", "F", "D"))]
    head = [] if spec.tie_embeddings else [N.Entry("lm_head.weight", "lm_head/kernel", ("V", "D"), N.TRANSPOSED)]
    return [
        N.Entry("model.embed_tokens.weight", "embed/embedding", ("V", "D")),
        *N.norm(f"{layer}.input_layernorm", "layers/attn_norm", False),
        *[e for entries in attn for e in entries],
        *N.linear(f"{layer}.self_attn.o_proj", "layers/attn/o", "Q", "D", spec.o_bias),
        *N.norm(f"{layer}.post_attention_layernorm", "layers/mlp_norm", False),
        *[e for entries in mlp for e in entries],
        *N.norm("model.norm", "final_norm", False),
        *head,
    ]


# A tied checkpoint may still store lm_head.weight (a copy of the embedding); RoPE buffers.
IGNORED = ("lm_head.weight", "*rotary_emb.inv_freq")


def params_from_state_dict(spec: ModelSpec, tensors: Mapping[str, Any], where: str = "checkpoint",
                           place: N.Place | None = None) -> dict[str, Any]:
    """basinlab params (numpy leaves) from Hugging Face tensor names. See transformer.py for the layout."""
    return N.load_params(tensor_map(spec), spec, tensors, where, ignore=IGNORED, place=place)
