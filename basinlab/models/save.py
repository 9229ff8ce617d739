"""`save_checkpoint(model, params, folder)`: a Hugging Face folder that `load(folder)` reads back exactly.

The writer is the inverse of the loader, family by family: `spec_to_config` inverts
`spec_from_config` (an HF-style config.json in the legacy key form that transformers v4 and v5 both
read), and `state_dict_from_params` inverts `params_from_state_dict` (kernels transposed back to
PyTorch's [out, in] Linear layout, q/k/v fused back into GPT-2's Conv1D c_attn and NeoX's per-head
query_key_value). Both inverses are checked when writing: a spec the config cannot express raises a
ValueError instead of producing a folder that loads as a different model.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from basinlab.models.spec import ModelSpec

_ARCHITECTURES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                  "qwen2": "Qwen2ForCausalLM", "gpt2": "GPT2LMHeadModel",
                  "gpt_neox": "GPTNeoXForCausalLM"}


def _eos(spec: ModelSpec):
    ids = list(spec.eos_token_ids)
    return None if not ids else ids[0] if len(ids) == 1 else ids


def _rope_config(spec: ModelSpec) -> dict:
    """rope_theta + rope_scaling (legacy form: transformers v5 converts it to rope_parameters)."""
    out: dict[str, Any] = {"rope_theta": spec.rope_theta}
    if spec.rope_type == "linear":
        out["rope_scaling"] = {"rope_type": "linear", "factor": spec.rope_factor}
    elif spec.rope_type == "llama3":
        out["rope_scaling"] = {
            "rope_type": "llama3", "factor": spec.rope_factor,
            "low_freq_factor": spec.rope_low_freq_factor,
            "high_freq_factor": spec.rope_high_freq_factor,
            "original_max_position_embeddings": spec.rope_original_max_seq_len,
        }
    return out


def _llama_type(spec: ModelSpec) -> str:
    # Qwen2 = q/k/v biases without an o bias; Mistral = a sliding window; anything else is Llama.
    if spec.qkv_bias and not spec.o_bias:
        return "qwen2"
    return "mistral" if spec.sliding_window is not None else "llama"


def spec_to_config(spec: ModelSpec, dtype: str = "float32") -> dict:
    """An HF config.json dict for `spec` (the inverse of `families.spec_from_config`).

    Raises ValueError when the spec is not expressible (e.g. a partial-rotary llama), after checking
    that reading the config back gives `spec` again (up to `name`, which comes from the folder).
    """
    common = {"vocab_size": spec.vocab_size, "bos_token_id": spec.bos_token_id,
              "eos_token_id": _eos(spec), "pad_token_id": spec.pad_token_id,
              "tie_word_embeddings": spec.tie_embeddings, "torch_dtype": dtype}
    if spec.arch == "gpt2":
        model_type = "gpt2"
        config = {"n_embd": spec.d_model, "n_layer": spec.n_layers, "n_head": spec.n_heads,
                  "n_inner": spec.d_ff, "n_positions": spec.max_seq_len,
                  "activation_function": spec.activation, "layer_norm_epsilon": spec.norm_eps}
    elif spec.arch == "neox":
        model_type = "gpt_neox"
        config = {"hidden_size": spec.d_model, "num_hidden_layers": spec.n_layers,
                  "num_attention_heads": spec.n_heads, "intermediate_size": spec.d_ff,
                  "hidden_act": spec.activation, "max_position_embeddings": spec.max_seq_len,
                  "layer_norm_eps": spec.norm_eps, "use_parallel_residual": spec.parallel_residual,
                  "attention_bias": spec.qkv_bias, "rotary_pct": spec.rotary_dim / spec.head_dim,
                  "rotary_emb_base": spec.rope_theta}
    else:
        model_type = _llama_type(spec)
        config = {"hidden_size": spec.d_model, "intermediate_size": spec.d_ff,
                  "num_hidden_layers": spec.n_layers, "num_attention_heads": spec.n_heads,
                  "num_key_value_heads": spec.n_kv_heads, "head_dim": spec.head_dim,
                  "hidden_act": spec.activation, "max_position_embeddings": spec.max_seq_len,
                  "rms_norm_eps": spec.norm_eps, **_rope_config(spec)}
        if model_type == "qwen2":
            config["use_sliding_window"] = False
        else:
            config.update(attention_bias=spec.qkv_bias, mlp_bias=spec.mlp_bias)
        if model_type == "mistral":
            config["sliding_window"] = spec.sliding_window
    config = {"architectures": [_ARCHITECTURES[model_type]], "model_type": model_type,
              **config, **common}
    _check_inverse(spec, config)
    return config


def _check_inverse(spec: ModelSpec, config: dict) -> None:
    from basinlab.models import families
    from basinlab.models.load import _normalized_config

    back = families.spec_from_config(_normalized_config(config), name=spec.name)
    if back != spec:
        diff = {f: (getattr(spec, f), getattr(back, f)) for f in spec.__dataclass_fields__
                if getattr(spec, f) != getattr(back, f)}
        raise ValueError(f"spec {spec.name!r} cannot be written as a Hugging Face "
                         f"{config['model_type']} config: fields (wanted, would load as) {diff}")


def state_dict_from_params(spec: ModelSpec, params: dict) -> dict[str, np.ndarray]:
    """Hugging Face tensor names and PyTorch layout (the inverse of `params_from_state_dict`)."""
    p = jax.tree.map(np.asarray, params)
    out: dict[str, np.ndarray] = {}
    n_layers = spec.n_layers

    def layer(tree, i):
        return jax.tree.map(lambda x: x[i], tree)

    def linear(name, q):  # {"kernel": [in, out], "bias"?} -> Linear weight [out, in]
        out[f"{name}.weight"] = q["kernel"].T
        if "bias" in q:
            out[f"{name}.bias"] = q["bias"]

    def conv1d(name, q):  # GPT-2 Conv1D keeps [in, out]
        out[f"{name}.weight"], out[f"{name}.bias"] = q["kernel"], q["bias"]

    def norm(name, q):
        out[f"{name}.weight"] = q["scale"]
        if "bias" in q:
            out[f"{name}.bias"] = q["bias"]

    if spec.arch == "llama":
        out["model.embed_tokens.weight"] = p["embed"]["embedding"]
        for i in range(n_layers):
            li, pre = layer(p["layers"], i), f"model.layers.{i}"
            norm(f"{pre}.input_layernorm", li["attn_norm"])
            for n in "qkvo":
                linear(f"{pre}.self_attn.{n}_proj", li["attn"][n])
            norm(f"{pre}.post_attention_layernorm", li["mlp_norm"])
            for n in ("gate", "up", "down"):
                linear(f"{pre}.mlp.{n}_proj", li["mlp"][n])
        norm("model.norm", p["final_norm"])
        if not spec.tie_embeddings:
            out["lm_head.weight"] = p["lm_head"]["kernel"].T
    elif spec.arch == "gpt2":
        out["transformer.wte.weight"] = p["embed"]["embedding"]
        out["transformer.wpe.weight"] = p["pos_embed"]["embedding"]
        for i in range(n_layers):
            li, pre = layer(p["layers"], i), f"transformer.h.{i}"
            a = li["attn"]
            norm(f"{pre}.ln_1", li["attn_norm"])
            conv1d(f"{pre}.attn.c_attn", {
                "kernel": np.concatenate([a[n]["kernel"] for n in "qkv"], axis=-1),
                "bias": np.concatenate([a[n]["bias"] for n in "qkv"], axis=-1)})
            conv1d(f"{pre}.attn.c_proj", a["o"])
            norm(f"{pre}.ln_2", li["mlp_norm"])
            conv1d(f"{pre}.mlp.c_fc", li["mlp"]["up"])
            conv1d(f"{pre}.mlp.c_proj", li["mlp"]["down"])
        norm("transformer.ln_f", p["final_norm"])
    else:  # neox
        d, h, dh = spec.d_model, spec.n_heads, spec.head_dim
        out["gpt_neox.embed_in.weight"] = p["embed"]["embedding"]
        for i in range(n_layers):
            li, pre = layer(p["layers"], i), f"gpt_neox.layers.{i}"
            a = li["attn"]
            # [D, H*Dh] x3 -> [D, H, 3, Dh] -> [D, H*3*Dh]: NeoX's per-head q/k/v interleave.
            fused = {"kernel": np.stack([a[n]["kernel"].reshape(d, h, dh) for n in "qkv"],
                                        axis=2).reshape(d, 3 * h * dh)}
            if spec.qkv_bias:
                fused["bias"] = np.stack([a[n]["bias"].reshape(h, dh) for n in "qkv"],
                                         axis=1).reshape(3 * h * dh)
            norm(f"{pre}.input_layernorm", li["attn_norm"])
            linear(f"{pre}.attention.query_key_value", fused)
            linear(f"{pre}.attention.dense", a["o"])
            norm(f"{pre}.post_attention_layernorm", li["mlp_norm"])
            linear(f"{pre}.mlp.dense_h_to_4h", li["mlp"]["up"])
            linear(f"{pre}.mlp.dense_4h_to_h", li["mlp"]["down"])
        norm("gpt_neox.final_layer_norm", p["final_norm"])
        if not spec.tie_embeddings:
            out["embed_out.weight"] = p["lm_head"]["kernel"].T
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def save_checkpoint(model, params: dict | None, folder: str | os.PathLike) -> pathlib.Path:
    """Write `params` (default: model.params) as a Hugging Face folder: config.json,
    model.safetensors (HF names, PyTorch layout, the params' own dtype) and the tokenizer.

    `basinlab.load(folder, dtype=<that dtype>)` gives bit-identical params and the same spec (its
    `name` becomes the folder name). Returns the folder path.
    """
    from safetensors.flax import save_file

    params = model.params if params is None else params
    dtypes = {jnp.dtype(x.dtype).name for x in jax.tree.leaves(params)}
    if len(dtypes) != 1 or not dtypes <= {"float32", "bfloat16"}:
        raise ValueError(f"params must all be float32 or all bfloat16 to save, got dtypes {sorted(dtypes)}")
    config = spec_to_config(model.spec, dtype=dtypes.pop())
    tensors = state_dict_from_params(model.spec, params)
    folder = pathlib.Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    # Write to temporary names and rename, so an interrupted save never leaves a half folder that loads.
    tmp = folder / "model.safetensors.tmp"
    save_file({k: jnp.asarray(v) for k, v in tensors.items()}, str(tmp), metadata={"format": "pt"})
    (folder / "config.json.tmp").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    if model.tokenizer is not None:
        model.tokenizer.save_pretrained(str(folder))
    os.replace(tmp, folder / "model.safetensors")
    os.replace(folder / "config.json.tmp", folder / "config.json")
    return folder
