"""llama.cpp's GGUF architectures and metadata keys -> a Hugging Face config.json dict.

`SUPPORTED_ARCHITECTURES` says which ``general.architecture`` values basinlab reads and what
llama.cpp did to their tensors; `build_config` turns the ``{arch}.*`` and ``tokenizer.ggml.*`` keys
into the config a Llama-family checkpoint of the same model would carry.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

from basinlab.models._gguf_file import TensorEntry
from basinlab.models._llama import HF_CLASSES

__all__ = ["ArchSpec", "SUPPORTED_ARCHITECTURES", "arch_spec", "build_config"]


@dataclasses.dataclass(frozen=True)
class ArchSpec:
    """How one ``general.architecture`` maps onto a Hugging Face model family."""

    model_type: str  # HF config "model_type"
    permute_qk: bool  # did convert_hf_to_gguf permute q/k rows for llama.cpp's RoPE?
    qkv_bias_required: bool  # must attn_{q,k,v}.bias be present?

    @property
    def hf_class(self) -> str:
        """HF config "architectures"[0]."""
        return HF_CLASSES[self.model_type]


# The llama converter (and its Mistral subclass) permutes q/k; the Qwen2 converter does not.
# transformers agrees: its LlamaTensorProcessor is keyed on general.architecture == "llama" only.
SUPPORTED_ARCHITECTURES: dict[str, ArchSpec] = {
    "llama": ArchSpec("llama", permute_qk=True, qkv_bias_required=False),
    "qwen2": ArchSpec("qwen2", permute_qk=False, qkv_bias_required=True),
}
# llama.cpp writes Mistral (v0.1-v0.3 style) checkpoints as general.architecture == "llama";
# only the model name tells them apart. Same tensors, same permutation.
_MISTRAL = ArchSpec("mistral", permute_qk=True, qkv_bias_required=False)


def arch_spec(path: Path, metadata: dict[str, Any]) -> ArchSpec:
    """The ArchSpec of a file's general.architecture; ValueError when it is absent or unsupported."""
    arch_name = metadata.get("general.architecture")
    if arch_name is None:
        raise ValueError(f"{path}: GGUF metadata has no general.architecture key")
    if arch_name not in SUPPORTED_ARCHITECTURES:
        raise ValueError(
            f"{path}: unsupported general.architecture {arch_name!r}; "
            f"basinlab reads {sorted(SUPPORTED_ARCHITECTURES)}"
        )
    if arch_name == "llama" and _looks_like_mistral(metadata):
        return _MISTRAL
    return SUPPORTED_ARCHITECTURES[arch_name]


def _looks_like_mistral(metadata: dict[str, Any]) -> bool:
    """llama.cpp writes Mistral as arch "llama": detect it from the model's names."""
    names = (metadata.get("general.name"), metadata.get("general.basename"))
    return any(isinstance(n, str) and "mistral" in n.lower() for n in names)


def build_config(
    path: Path, metadata: dict[str, Any], vocab: dict[str, Any], tensors: dict[str, TensorEntry], spec: ArchSpec
) -> dict[str, Any]:
    """HF config.json-style dict from llama.cpp's ``{arch}.*`` and ``tokenizer.ggml.*`` keys."""
    arch = metadata["general.architecture"]

    def get(key: str, default: Any = None, required: bool = False) -> Any:
        value = metadata.get(f"{arch}.{key}", default)
        if required and value is None:
            raise ValueError(f"{path}: GGUF metadata is missing required key {arch}.{key}")
        return value

    hidden = int(get("embedding_length", required=True))
    n_heads = int(get("attention.head_count", required=True))
    n_kv = get("attention.head_count_kv", n_heads)
    if isinstance(n_kv, list):  # per-layer counts (hybrid models); a uniform list is fine
        if len(set(n_kv)) != 1:
            raise ValueError(f"{path}: per-layer {arch}.attention.head_count_kv {n_kv} is not supported")
        n_kv = n_kv[0]
    n_kv = int(n_kv)
    head_dim = int(get("attention.key_length", hidden // n_heads))

    if get("vocab_size") is not None:
        vocab_size = int(get("vocab_size"))
    elif vocab.get("tokens"):
        vocab_size = len(vocab["tokens"])
    elif "token_embd.weight" in tensors:
        vocab_size = tensors["token_embd.weight"].shape[0]
    else:
        raise ValueError(f"{path}: cannot tell the vocabulary size (no {arch}.vocab_size, tokens or token_embd)")

    has_bias = "blk.0.attn_q.bias" in tensors
    config: dict[str, Any] = {
        "architectures": [spec.hf_class],
        "model_type": spec.model_type,
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "intermediate_size": int(get("feed_forward_length", required=True)),
        "num_hidden_layers": int(get("block_count", required=True)),
        "num_attention_heads": n_heads,
        "num_key_value_heads": n_kv,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": int(get("context_length", 2048)),
        "rms_norm_eps": float(get("attention.layer_norm_rms_epsilon", 1e-6)),
        # llama.cpp's default base when the key is absent
        "rope_theta": float(get("rope.freq_base", 10000.0)),
        "rope_scaling": _rope_scaling(get),
        # llama.cpp writes output.weight only when the LM head is not the embedding matrix
        "tie_word_embeddings": "output.weight" not in tensors,
        "bos_token_id": metadata.get("tokenizer.ggml.bos_token_id"),
        "eos_token_id": metadata.get("tokenizer.ggml.eos_token_id"),
        "pad_token_id": metadata.get("tokenizer.ggml.padding_token_id"),
        "attention_bias": has_bias,
        "attention_dropout": 0.0,
    }
    if spec.model_type in ("llama", "mistral"):
        config["mlp_bias"] = "blk.0.ffn_up.bias" in tensors
    if spec.model_type == "mistral":
        config["sliding_window"] = None  # llama.cpp keeps no sliding-window key for arch "llama"
    if spec.model_type == "qwen2":
        config["use_sliding_window"] = False
    rope_dims = get("rope.dimension_count")
    if rope_dims is not None and int(rope_dims) != head_dim:
        # partial rotary: HF llama has no such knob, so the model would be silently wrong
        raise ValueError(
            f"{path}: {arch}.rope.dimension_count={rope_dims} differs from head_dim={head_dim} "
            "(partial rotary embeddings are not supported for this architecture)"
        )
    if get("attention.value_length") is not None and int(get("attention.value_length")) != head_dim:
        raise ValueError(f"{path}: {arch}.attention.value_length differs from key_length; not supported")
    if "rope_freqs.weight" in tensors:
        warnings.warn(
            f"{path}: rope_freqs.weight (llama3-style RoPE frequency factors) has no exact HF "
            "rope_scaling equivalent and is not in config/state_dict; long-context RoPE will differ",
            stacklevel=3,
        )
    return config


def _rope_scaling(get) -> dict[str, Any] | None:
    """HF rope_scaling dict from ``{arch}.rope.scaling.*``, or None when the file has none."""
    kind = get("rope.scaling.type")
    factor = get("rope.scaling.factor")
    if kind in (None, "none"):
        return None
    if kind == "linear" and factor in (None, 0.0, 1.0):  # a no-op scaling
        return None
    scaling: dict[str, Any] = {"rope_type": kind, "factor": float(factor if factor is not None else 1.0)}
    extra = {
        "original_context_length": ("original_max_position_embeddings", int),
        "attn_factor": ("attention_factor", float),
        "yarn_beta_fast": ("beta_fast", float),
        "yarn_beta_slow": ("beta_slow", float),
    }
    for gguf_key, (hf_key, cast) in extra.items():
        value = get(f"rope.scaling.{gguf_key}")
        if value is not None:
            scaling[hf_key] = cast(value)
    return scaling
