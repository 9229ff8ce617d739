"""GPT-NeoX / Pythia: partial rotary embeddings, parallel residual, LayerNorm, GELU MLP.

Hugging Face fuses q/k/v in one query_key_value Linear laid out per head as [H, 3, Dh] on its
output axis; the converter splits it into separate q, k, v kernels.
"""

from __future__ import annotations

from typing import Any, Mapping

from basinlab.models import convert as C
from basinlab.models.spec import ModelSpec

MODEL_TYPES = ("gpt_neox",)

SUPPORTED_KEYS = (
    "vocab_size hidden_size num_hidden_layers num_attention_heads intermediate_size hidden_act "
    "max_position_embeddings layer_norm_eps use_parallel_residual attention_bias "
    "tie_word_embeddings bos_token_id eos_token_id pad_token_id"
).split() + list(C.ROPE_KEYS)


def spec_from_config(config: Mapping[str, Any], name: str = "") -> ModelSpec:
    C.require_value(config, "model_type", MODEL_TYPES)
    C.check_config_keys(config, "neox", SUPPORTED_KEYS)
    act = C.require_value(config, "hidden_act", ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu"), "gelu")
    d, h = config["hidden_size"], config["num_attention_heads"]
    head_dim = d // h
    bias = bool(config.get("attention_bias", True))
    return ModelSpec(
        arch="neox",
        vocab_size=config["vocab_size"],
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
        bos_token_id=config.get("bos_token_id"),
        eos_token_ids=C.token_ids(config.get("eos_token_id")),
        pad_token_id=config.get("pad_token_id"),
        name=name or "gpt_neox",
        **C.rope_fields(config, head_dim),
    )


def params_from_state_dict(spec: ModelSpec, tensors: Mapping[str, Any], where: str = "checkpoint") -> dict:
    src = C.TensorSource(tensors, where)
    d, f, v, h, dh = spec.d_model, spec.d_ff, spec.vocab_size, spec.n_heads, spec.head_dim

    def layer(i):
        pre = f"gpt_neox.layers.{i}"
        qkv = C.linear(src, f"{pre}.attention.query_key_value", d, 3 * d, spec.qkv_bias)
        # kernel [D, H*3*Dh] -> [D, H, 3, Dh]; slot 0/1/2 of the "3" axis is q/k/v.
        kernel = qkv["kernel"].reshape(d, h, 3, dh)
        attn = {n: {"kernel": kernel[:, :, j].reshape(d, h * dh)} for j, n in enumerate("qkv")}
        if spec.qkv_bias:
            bias = qkv["bias"].reshape(h, 3, dh)
            for j, n in enumerate("qkv"):
                attn[n]["bias"] = bias[:, j].reshape(h * dh)
        attn["o"] = C.linear(src, f"{pre}.attention.dense", d, d, spec.o_bias)
        return {
            "attn_norm": C.norm_params(src, f"{pre}.input_layernorm", d, True),
            "attn": attn,
            "mlp_norm": C.norm_params(src, f"{pre}.post_attention_layernorm", d, True),
            "mlp": {
                "up": C.linear(src, f"{pre}.mlp.dense_h_to_4h", d, f, True),
                "down": C.linear(src, f"{pre}.mlp.dense_4h_to_h", f, d, True),
            },
        }

    params = {
        "embed": {"embedding": src.get("gpt_neox.embed_in.weight", (v, d))},
        "layers": C.stack_layers(spec.n_layers, layer),
        "final_norm": C.norm_params(src, "gpt_neox.final_layer_norm", d, True),
    }
    if not spec.tie_embeddings:
        # Older Pythia checkpoints name the head embed_out.
        head = "embed_out.weight" if src.has("embed_out.weight") else "lm_head.weight"
        params["lm_head"] = {"kernel": src.get(head, (v, d)).T}
    src.check_all_used(
        ignore=["lm_head.weight", "*rotary_emb.inv_freq", "*.attention.bias", "*.attention.masked_bias"]
    )
    return params
