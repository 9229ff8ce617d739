"""A GGUF container's header, metadata and tensor table, parsed straight from its memory map.

`gguf.GGUFReader` builds a numpy view for every element of every metadata array: SmolLM2's vocabulary
(49,152 tokens and 48,900 merges, two views per string) costs it 2.7 s of every load here. This reader
walks the same layout (GGUF v2/v3, little-endian: magic, version, tensor and key/value counts, the
key/values, the tensor infos, then the aligned tensor data) with `struct` and `np.frombuffer`, in about
0.3 s, and hands out the same things basinlab used from GGUFReader: plain Python metadata values
(numeric vocabulary arrays as numpy arrays) and, per tensor, its ggml type, dims (ne order) and a
read-only view of its bytes shaped as `gguf.quants.dequantize` expects (an array of arrays, which
llama.cpp never writes, comes out as a list of lists). Dequantization stays `gguf.quants`'. Any
inconsistency (short file, unknown type, duplicate key or tensor, bad alignment) is a ValueError; a
big-endian file or an unknown version is an UnsupportedGGUF (a ValueError); `_gguf_file.open_reader`
adds the path.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = ["GGUFContents", "ReaderTensor", "UnsupportedGGUF", "parse"]

_MAGIC = b"GGUF"
_VERSIONS = (2, 3)
_DEFAULT_ALIGNMENT = 32
_STRING, _ARRAY = 8, 9
_U64 = struct.Struct("<Q")
# GGUF value type -> little-endian numpy dtype (8: string and 9: array are parsed apart)
_SCALARS = {0: np.dtype("<u1"), 1: np.dtype("<i1"), 2: np.dtype("<u2"), 3: np.dtype("<i2"), 4: np.dtype("<u4"),
            5: np.dtype("<i4"), 6: np.dtype("<f4"), 7: np.dtype("?"), 10: np.dtype("<u8"), 11: np.dtype("<i8"),
            12: np.dtype("<f8")}
# ggml types stored as plain numbers (GGUFReader's typed views); every other type is read as bytes.
_TYPED = {"F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I8": np.dtype("<i1"),
          "I16": np.dtype("<i2"), "I32": np.dtype("<i4"), "I64": np.dtype("<i8")}
# Metadata arrays handed out as numpy arrays (vocabulary-length numbers), not Python lists.
NUMPY_ARRAYS = frozenset({"tokenizer.ggml.token_type", "tokenizer.ggml.scores"})


class UnsupportedGGUF(ValueError):
    """A well-formed GGUF file that this reader does not read (big-endian, an unknown version)."""


class ReaderTensor(NamedTuple):
    """One tensor: name, ggml type (gguf.GGMLQuantizationType), dims in ne order (fastest first, as the
    file lists them), the absolute byte offset of its data, and its data: a read-only view of the
    file shaped [*reversed(dims)] for F16/F32/F64/I8-I64, else uint8 rows of whole quantized blocks."""

    name: str
    tensor_type: Any
    shape: np.ndarray
    data_offset: int
    data: np.ndarray


class GGUFContents(NamedTuple):
    """metadata {key: value} (GGUF.version, GGUF.tensor_count and GGUF.kv_count first, as GGUFReader
    lists them), tensors in file order, and the file's bytes (a read-only memmap)."""

    metadata: dict[str, Any]
    tensors: list[ReaderTensor]
    data: np.ndarray


class _Cursor:
    """Reads little-endian values from `buf` at a moving offset; a read past the end is a ValueError."""

    def __init__(self, buf: np.ndarray) -> None:
        self.buf, self.mv, self.offset = buf, buf.data.cast("B"), 0  # buf: 1-D uint8

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        try:
            values = struct.unpack_from(fmt, self.mv, self.offset)
        except struct.error:
            raise ValueError(f"file ends at byte {len(self.mv)} inside a header value at byte {self.offset}") from None
        self.offset += struct.calcsize(fmt)
        return values

    def string(self) -> str:
        return self.strings(1)[0]

    def strings(self, count: int) -> list[str]:
        """`count` strings in a row (a vocabulary: 10^4-10^5 of them), in one tight loop."""
        mv, offset, size, length = self.mv, self.offset, len(self.mv), _U64.unpack_from
        out = []
        for _ in range(count):
            if offset + 8 > size:
                raise ValueError(f"file ends at byte {size} inside a string length at byte {offset}")
            (n,) = length(mv, offset)
            offset += 8
            if offset + n > size:
                raise ValueError(f"a string of {n} bytes at byte {offset} runs past the end ({size} bytes)")
            out.append(str(mv[offset:offset + n], "utf-8"))
            offset += n
        self.offset = offset
        return out

    def array(self, dtype: np.dtype, count: int) -> np.ndarray:
        end = self.offset + dtype.itemsize * count
        if end > len(self.mv):
            raise ValueError(f"an array of {count} {dtype} at byte {self.offset} runs past the end "
                             f"({len(self.mv)} bytes)")
        out = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.offset)
        self.offset = end
        return out

    def value(self, kind: int, as_numpy: bool = False) -> Any:
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, count = self.unpack("<IQ")
            if item in _SCALARS:
                values = self.array(_SCALARS[item], count)
                return values.copy() if as_numpy else values.tolist()
            if item == _STRING:
                return self.strings(count)
            if item == _ARRAY:
                return [self.value(item) for _ in range(count)]
            raise ValueError(f"unknown GGUF array item type {item} at byte {self.offset}")
        if kind in _SCALARS:
            return self.array(_SCALARS[kind], 1)[0].item()
        raise ValueError(f"unknown GGUF value type {kind} at byte {self.offset}")


def parse(path: Path) -> GGUFContents:
    """The header, metadata and tensor table of the GGUF file at `path` (see the module docstring)."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    from gguf.quants import quant_shape_to_byte_shape

    data = np.memmap(path, mode="r")
    cur = _Cursor(data)
    if bytes(cur.mv[:4]) != _MAGIC:
        raise ValueError(f"GGUF magic invalid: {bytes(cur.mv[:4])!r}")
    cur.offset = 4
    (version,) = cur.unpack("<I")
    if version & 0xFFFF == 0:
        raise UnsupportedGGUF("GGUF file has non-native byte order; basinlab reads little-endian files only")
    if version not in _VERSIONS:
        raise UnsupportedGGUF(f"GGUF version {version} is not supported (supported: {list(_VERSIONS)})")
    n_tensors, n_kv = cur.unpack("<QQ")
    metadata: dict[str, Any] = {"GGUF.version": version, "GGUF.tensor_count": n_tensors, "GGUF.kv_count": n_kv}
    alignment = _DEFAULT_ALIGNMENT
    for _ in range(n_kv):
        key = cur.string()
        if key in metadata:
            raise ValueError(f"duplicated metadata key {key!r}")
        (kind,) = cur.unpack("<I")
        try:
            metadata[key] = cur.value(kind, as_numpy=key in NUMPY_ARRAYS)
        except UnicodeDecodeError as exc:
            raise ValueError(f"metadata value for key {key!r} is not UTF-8: {exc}") from None
        if key == "general.alignment":
            if kind != 4:
                raise ValueError(f"general.alignment must be a uint32 (GGUF type 4), got type {kind}")
            alignment = metadata[key]
            if alignment <= 0 or alignment & (alignment - 1):
                raise ValueError(f"general.alignment must be a power of two, got {alignment}")
    infos = []
    for _ in range(n_tensors):
        name = cur.string()
        (n_dims,) = cur.unpack("<I")
        dims = cur.array(np.dtype("<u8"), n_dims).copy()
        raw_type, offset = cur.unpack("<IQ")
        infos.append((name, dims, raw_type, offset))
    start = cur.offset + (-cur.offset) % alignment
    tensors, seen = [], set()
    for name, dims, raw_type, offset in infos:
        if name in seen:
            raise ValueError(f"duplicated tensor name {name!r}")
        seen.add(name)
        ggml_type = GGMLQuantizationType(raw_type)  # ValueError for an unknown type
        np_dims = tuple(int(d) for d in reversed(dims.tolist()))
        n_elements = int(np.prod(np_dims, dtype=np.int64))
        block_size, type_size = GGML_QUANT_SIZES[ggml_type]
        dtype = _TYPED.get(ggml_type.name)
        if dtype is None:  # quantized (and BF16): bytes, whole blocks per row
            dtype, np_dims, count = np.dtype(np.uint8), quant_shape_to_byte_shape(np_dims, ggml_type), \
                n_elements * type_size // block_size
        else:
            count = n_elements
        at = start + int(offset)
        if at + dtype.itemsize * count > data.shape[0]:
            raise ValueError(f"tensor {name!r} needs bytes up to {at + dtype.itemsize * count}, the file has "
                             f"{data.shape[0]}")
        view = np.frombuffer(data, dtype=dtype, count=count, offset=at).reshape(np_dims)
        tensors.append(ReaderTensor(name, ggml_type, dims, at, view))
    return GGUFContents(metadata, tensors, data)

