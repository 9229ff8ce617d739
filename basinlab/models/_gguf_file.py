"""Reading a GGUF container: opening it, its metadata as plain Python values (the vocabulary arrays
kept apart), its tensor table, and dequantization to float32 numpy arrays.

The container is parsed by basinlab's own reader (`_gguf_reader`: header, metadata, tensor table,
about 30x faster than gguf.GGUFReader on a vocabulary-sized file); dequantization is `gguf.quants`'.
GGUF lists tensor dims fastest-moving first (ggml's ``ne`` order), the reverse of numpy/torch;
`TensorEntry.shape` is in numpy/torch order. Every failure (missing, truncated or corrupt file, an
unsupported tensor type, non-finite values) is a FileNotFoundError or a ValueError naming the file.
"""

from __future__ import annotations

import dataclasses
import errno
from pathlib import Path
from typing import Any

import numpy as np

from basinlab.models._gguf_reader import GGUFContents, ReaderTensor, UnsupportedGGUF, parse

__all__ = ["SUPPORTED_TENSOR_TYPES", "TensorEntry", "dequantize", "open_reader", "read_metadata", "tensor_table"]

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

# Tensor types whose dequantization basinlab supports (gguf.quants implements all of them).
# The tests cover F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K and Q6_K directly.
SUPPORTED_TENSOR_TYPES: tuple[str, ...] = (
    "F32", "F16", "BF16",
    "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
    "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
)  # fmt: skip


def open_reader(path: Path) -> GGUFContents:
    """The parsed container at ``path``, with every failure turned into FileNotFoundError / ValueError."""
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "GGUF file not found", str(path))
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, not a GGUF file")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file (first bytes {magic!r}, expected b'GGUF'; {size} bytes)")
    try:
        return parse(path)
    except UnsupportedGGUF as exc:  # well-formed, not readable here: not "corrupt"
        raise ValueError(f"{path}: {exc}") from exc
    except Exception as exc:  # a short or inconsistent file surfaces as struct/numpy/enum errors
        raise ValueError(
            f"{path}: corrupt or truncated GGUF file ({size} bytes): {type(exc).__name__}: {exc}"
        ) from exc


def read_metadata(reader: GGUFContents, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata without vocabulary arrays, vocabulary arrays keyed by their last name part)."""
    metadata: dict[str, Any] = {}
    vocab: dict[str, Any] = {}
    for key, value in reader.metadata.items():
        if key in _TOKENIZER_ARRAY_KEYS:
            vocab[key.rsplit(".", 1)[1]] = value
        else:
            metadata[key] = value
    return metadata, vocab


@dataclasses.dataclass(frozen=True)
class TensorEntry:
    """One GGUF tensor: its reader record and its shape in numpy/torch order."""

    name: str
    type_name: str
    shape: tuple[int, ...]  # reversed ne: numpy/torch order
    raw: ReaderTensor


def tensor_table(reader: GGUFContents, path: Path) -> dict[str, TensorEntry]:
    """GGUF name -> TensorEntry (parse() has checked that each tensor's bytes lie inside the file)."""
    return {t.name: TensorEntry(name=t.name, type_name=t.tensor_type.name,
                                shape=tuple(int(d) for d in reversed(t.shape.tolist())), raw=t)
            for t in reader.tensors}


def dequantize(path: Path, entry: TensorEntry, check_finite: bool = True) -> np.ndarray:
    """Float32 copy of one tensor in torch order, via gguf.quants; ValueError for unsupported types
    and (unless not ``check_finite``) for NaN/inf values."""
    from gguf import quants

    if entry.type_name not in SUPPORTED_TENSOR_TYPES:
        raise ValueError(
            f"{path}: tensor {entry.name!r} has unsupported type {entry.type_name}; "
            f"supported: {', '.join(SUPPORTED_TENSOR_TYPES)}"
        )
    try:
        # np.array(..., copy) detaches F32 tensors from the file's memmap
        array = np.array(quants.dequantize(entry.raw.data, entry.raw.tensor_type), dtype=np.float32, copy=True)
    except Exception as exc:
        raise ValueError(f"{path}: cannot dequantize tensor {entry.name!r} ({entry.type_name}): {exc}") from exc
    if array.shape != entry.shape:
        raise ValueError(
            f"{path}: tensor {entry.name!r} dequantized to shape {list(array.shape)}, expected {list(entry.shape)}"
        )
    # Garbage scales (a corrupt file) show up as inf/nan; never hand those on as a model.
    if check_finite and not np.isfinite(array).all():
        raise ValueError(
            f"{path}: tensor {entry.name!r} ({entry.type_name}) contains non-finite values; the file is corrupt"
        )
    return array
