"""GPT-2: learned absolute positions, pre-LayerNorm blocks, GELU MLP, tied head.

Hugging Face stores GPT-2's projections as Conv1D modules whose weight is already [in, out], and
the q/k/v projections fused in one c_attn matrix that the converter splits.
"""

from __future__ import annotations

from typing import Any, Mapping

from basinlab.models import convert as C
from basinlab.models.spec import ModelSpec

MODEL_TYPES = ("gpt2",)

SUPPORTED_KEYS = (
    "vocab_size n_positions n_ctx n_embd n_layer n_head n_inner activation_function "
    "layer_norm_epsilon scale_attn_weights scale_attn_by_inverse_layer_idx reorder_and_upcast_attn "
    "tie_word_embeddings bos_token_id eos_token_id pad_token_id n_special"
).split()


def spec_from_config(config: Mapping[str, Any], name: str = "") -> ModelSpec:
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
        arch="gpt2",
        vocab_size=config["vocab_size"],
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
        bos_token_id=config.get("bos_token_id"),
        eos_token_ids=C.token_ids(config.get("eos_token_id")),
        pad_token_id=config.get("pad_token_id"),
        name=name or "gpt2",
    )


def params_from_state_dict(spec: ModelSpec, tensors: Mapping[str, Any], where: str = "checkpoint") -> dict:
    # The original OpenAI-converted checkpoints omit the "transformer." prefix.
    if not any(k.startswith("transformer.") for k in tensors):
        tensors = {f"transformer.{k}" if k != "lm_head.weight" else k: v for k, v in tensors.items()}
    src = C.TensorSource(tensors, where)
    d, f, v = spec.d_model, spec.d_ff, spec.vocab_size

    def conv1d(name, n_in, n_out):
        return {"kernel": src.get(f"{name}.weight", (n_in, n_out)), "bias": src.get(f"{name}.bias", (n_out,))}

    def layer(i):
        pre = f"transformer.h.{i}"
        qkv = conv1d(f"{pre}.attn.c_attn", d, 3 * d)
        split = lambda a: {"q": a[..., :d], "k": a[..., d : 2 * d], "v": a[..., 2 * d :]}  # noqa: E731
        kernels, biases = split(qkv["kernel"]), split(qkv["bias"])
        return {
            "attn_norm": C.norm_params(src, f"{pre}.ln_1", d, True),
            "attn": {
                **{n: {"kernel": kernels[n], "bias": biases[n]} for n in ("q", "k", "v")},
                "o": conv1d(f"{pre}.attn.c_proj", d, d),
            },
            "mlp_norm": C.norm_params(src, f"{pre}.ln_2", d, True),
            "mlp": {"up": conv1d(f"{pre}.mlp.c_fc", d, f), "down": conv1d(f"{pre}.mlp.c_proj", f, d)},
        }

    params = {
        "embed": {"embedding": src.get("transformer.wte.weight", (v, d))},
        "pos_embed": {"embedding": src.get("transformer.wpe.weight", (spec.max_seq_len, d))},
        "layers": C.stack_layers(spec.n_layers, layer),
        "final_norm": C.norm_params(src, "transformer.ln_f", d, True),
    }
    # lm_head.weight is the tied embedding; attn.bias / attn.masked_bias are causal-mask buffers.
    src.check_all_used(ignore=["lm_head.weight", "*.attn.bias", "*.attn.masked_bias"])
    return params
