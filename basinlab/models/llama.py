"""The Llama family: Llama 2/3, Qwen2/Qwen2.5, Mistral, SmolLM2.

Grouped-query attention, RoPE (optionally llama3-scaled), RMSNorm, SwiGLU MLP, tied or untied
embeddings, optional q/k/v biases (Qwen2). Conversion from Hugging Face checkpoints.
"""

from __future__ import annotations

from typing import Any, Mapping

from basinlab.models import convert as C
from basinlab.models.spec import ModelSpec

MODEL_TYPES = ("llama", "mistral", "qwen2")

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
        arch="llama",
        vocab_size=config["vocab_size"],
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
        bos_token_id=config.get("bos_token_id"),
        eos_token_ids=C.token_ids(config.get("eos_token_id")),
        pad_token_id=config.get("pad_token_id"),
        name=name or model_type,
        **C.rope_fields(config, head_dim),
    )


def params_from_state_dict(spec: ModelSpec, tensors: Mapping[str, Any], where: str = "checkpoint") -> dict:
    """basinlab params (numpy leaves) from Hugging Face tensor names. See transformer.py for the layout."""
    src = C.TensorSource(tensors, where)
    d, f, v = spec.d_model, spec.d_ff, spec.vocab_size
    q_out, kv_out = spec.n_heads * spec.head_dim, spec.n_kv_heads * spec.head_dim

    def layer(i):
        pre = f"model.layers.{i}"
        return {
            "attn_norm": C.norm_params(src, f"{pre}.input_layernorm", d, False),
            "attn": {
                "q": C.linear(src, f"{pre}.self_attn.q_proj", d, q_out, spec.qkv_bias),
                "k": C.linear(src, f"{pre}.self_attn.k_proj", d, kv_out, spec.qkv_bias),
                "v": C.linear(src, f"{pre}.self_attn.v_proj", d, kv_out, spec.qkv_bias),
                "o": C.linear(src, f"{pre}.self_attn.o_proj", q_out, d, spec.o_bias),
            },
            "mlp_norm": C.norm_params(src, f"{pre}.post_attention_layernorm", d, False),
            "mlp": {
                "gate": C.linear(src, f"{pre}.mlp.gate_proj", d, f, spec.mlp_bias),
                "up": C.linear(src, f"{pre}.mlp.up_proj", d, f, spec.mlp_bias),
                "down": C.linear(src, f"{pre}.mlp.down_proj", f, d, spec.mlp_bias),
            },
        }

    params = {
        "embed": {"embedding": src.get("model.embed_tokens.weight", (v, d))},
        "layers": C.stack_layers(spec.n_layers, layer),
        "final_norm": C.norm_params(src, "model.norm", d, False),
    }
    if not spec.tie_embeddings:
        params["lm_head"] = {"kernel": src.get("lm_head.weight", (v, d)).T}
    # A tied checkpoint may still store lm_head.weight (a copy of the embedding); RoPE buffers.
    src.check_all_used(ignore=["lm_head.weight", "*rotary_emb.inv_freq"])
    return params
