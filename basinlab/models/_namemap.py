"""Hugging Face tensor name maps: the entry type and the two walks over a family's map.

Each family file (gpt2.py, llama.py, neox.py) declares `tensor_map(spec)`: one `Entry` per tensor
of its Hugging Face checkpoint, naming the tensor ("model.layers.{i}.self_attn.q_proj.weight";
``{i}`` is the layer index), the params leaves it holds ("layers/attn/q/kernel"; leaves under
``layers/`` are stacked on a leading layer axis L), its PyTorch shape in symbolic dims, and a
`Layout` that turns the tensor into those leaves and back. `load_params` reads a state dict through
the map (every tensor shape-checked, none left unused) and `save_params` writes params through the
same map, so loading and saving cannot disagree about a name.

Symbolic dims (`dims`): V vocab, D model width, F MLP width, Q = heads * head_dim,
K = kv_heads * head_dim, P positions (max_seq_len), 3D = 3 * D (fused q/k/v of multi-head attention).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np

from basinlab.models._spec import ModelSpec

# `place(path, leaf)`: what load_params stores for a leaf built on the host (e.g. a device array).
Place: TypeAlias = Callable[[str, np.ndarray], Any]

__all__ = ["Entry", "Layout", "SAME", "TRANSPOSED", "TensorSource", "dims", "linear", "load_params", "norm",
           "save_params"]

_LAYERS = "layers/"


@dataclasses.dataclass(frozen=True)
class Layout:
    """One tensor <-> params leaves, both ways; each direction only reshapes/transposes/slices, so
    a round trip is exact. to_params(x, spec) -> tuple of leaves; to_hf(leaves, spec) -> x."""

    to_params: Callable[[np.ndarray, ModelSpec], tuple]
    to_hf: Callable[[Sequence[np.ndarray], ModelSpec], np.ndarray]


SAME = Layout(lambda x, spec: (x,), lambda leaves, spec: leaves[0])
# A PyTorch Linear weight [out, in] is the transpose of basinlab's kernel [in, out].
TRANSPOSED = Layout(lambda x, spec: (x.T,), lambda leaves, spec: leaves[0].T)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One Hugging Face tensor and the params leaves it holds.

    hf: the name written on save; aliases: other names accepted on load (older checkpoints), tried
    after `hf`. params: "/"-joined leaf paths, one per output of `layout.to_params`. shape: the
    tensor's PyTorch shape in symbolic dims (see `dims`). A name containing "{i}" is one tensor per
    layer, and then every leaf lies under "layers/".
    """

    hf: str
    params: tuple[str, ...] | str
    shape: tuple[str, ...]
    layout: Layout = SAME
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.params, str):
            object.__setattr__(self, "params", (self.params,))
        if any(p.startswith(_LAYERS) != self.per_layer for p in self.params):
            raise ValueError(f"name map entry {self.hf!r}: per-layer names ('{{i}}') go with 'layers/' "
                             f"leaves and only with them, got {list(self.params)}")

    @property
    def per_layer(self) -> bool:
        return "{i}" in self.hf

    def names(self, i: int | None) -> tuple[str, ...]:
        return tuple(n.format(i=i) for n in (self.hf, *self.aliases))


def dims(spec: ModelSpec) -> dict[str, int]:
    """The symbolic dims of `Entry.shape` for `spec`."""
    return {"V": spec.vocab_size, "D": spec.d_model, "F": spec.d_ff, "P": spec.max_seq_len,
            "Q": spec.n_heads * spec.head_dim, "K": spec.n_kv_heads * spec.head_dim, "3D": 3 * spec.d_model}


def linear(hf: str, params: str, n_in: str, n_out: str, bias: bool) -> list[Entry]:
    """A PyTorch Linear `hf` (weight [out, in], bias [out]) as {"kernel": [in, out], "bias"}."""
    out = [Entry(f"{hf}.weight", f"{params}/kernel", (n_out, n_in), TRANSPOSED)]
    return out + [Entry(f"{hf}.bias", f"{params}/bias", (n_out,))] if bias else out


def norm(hf: str, params: str, bias: bool) -> list[Entry]:
    """An RMSNorm/LayerNorm `hf` (weight [D], bias [D]) as {"scale", "bias"}."""
    out = [Entry(f"{hf}.weight", f"{params}/scale", ("D",))]
    return out + [Entry(f"{hf}.bias", f"{params}/bias", ("D",))] if bias else out


class Renamed(Mapping[str, Any]):
    """A view of ``tensors`` under other names (``names``: new name -> old name); values are read
    from ``tensors`` only when asked for (a lazy mapping stays lazy)."""

    def __init__(self, tensors: Mapping[str, Any], names: Mapping[str, str]):
        self.tensors, self.names = tensors, dict(names)

    def __getitem__(self, name: str) -> Any:
        return self.tensors[self.names[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


class TensorSource:
    """Shape-checked, use-tracked access to a checkpoint's tensors (PyTorch names and layout)."""

    def __init__(self, tensors: Mapping[str, Any], where: str):
        self.tensors = tensors
        self.where = where
        self.used: set[str] = set()

    def get(self, names: str | Sequence[str], shape: tuple) -> np.ndarray:
        """The first of `names` present, checked to have `shape`; ValueError naming it otherwise."""
        names = (names,) if isinstance(names, str) else tuple(names)
        name = next((n for n in names if n in self.tensors), None)
        if name is None:
            raise ValueError(f"{self.where}: missing tensor {names[0]!r} (expected shape {tuple(shape)})")
        value = np.asarray(self.tensors[name])
        if tuple(value.shape) != tuple(shape):
            raise ValueError(
                f"{self.where}: tensor {name!r} has shape {tuple(value.shape)}, "
                f"expected {tuple(shape)} from the config"
            )
        self.used.add(name)
        return value

    def check_all_used(self, ignore: Iterable[str] = ()) -> None:
        """Unused tensors mean the name map missed something: refuse rather than drop weights."""
        ignore = list(ignore)
        left = [
            n for n in self.tensors if n not in self.used and not any(fnmatch.fnmatch(n, p) for p in ignore)
        ]
        if left:
            shown = sorted(left)[:10]
            raise ValueError(
                f"{self.where}: {len(left)} tensor(s) not understood by the converter, e.g. {shown}"
            )


def _layers(entry: Entry, spec: ModelSpec) -> Sequence[int | None]:
    return range(spec.n_layers) if entry.per_layer else (None,)


def load_params(entries: Sequence[Entry], spec: ModelSpec, tensors: Mapping[str, Any], where: str = "checkpoint",
                ignore: Iterable[str] = (), place: Place | None = None) -> dict[str, Any]:
    """basinlab params (numpy leaves) from a state dict, through `entries`.

    ValueError for a missing tensor or a wrong shape (naming it), and for any tensor that no entry
    reads unless it matches an `ignore` glob (buffers, a tied head's copy). tensors may be lazy (read
    on access); `place(path, leaf)`, when given, replaces each leaf as soon as it is built (e.g. puts
    it on a device), so no more than one entry's tensors are on the host at a time.
    """
    src = TensorSource(tensors, where)
    size = dims(spec)
    flat: dict[str, Any] = {}
    for e in entries:
        shape = tuple(size[s] for s in e.shape)
        per_layer = [e.layout.to_params(src.get(e.names(i), shape), spec) for i in _layers(e, spec)]
        for j, path in enumerate(e.params):
            leaf = np.stack([leaves[j] for leaves in per_layer]) if e.per_layer else per_layer[0][j]
            flat[path] = leaf if place is None else place(path, leaf)
        del per_layer
    src.check_all_used(ignore)
    params: dict = {}
    for path, value in flat.items():
        *parents, leaf = path.split("/")
        node = params
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return params


def _flatten(tree: Mapping, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        out.update(_flatten(value, path + "/") if isinstance(value, Mapping) else {path: value})
    return out


def save_params(entries: Sequence[Entry], spec: ModelSpec, params: Mapping) -> dict[str, np.ndarray]:
    """Hugging Face tensors (names, PyTorch layout, contiguous numpy) from params, through `entries`:
    the inverse of `load_params`. ValueError if a params leaf has no entry, an entry's leaf is
    missing, or a tensor comes out with another shape than the map says."""
    flat = {path: np.asarray(x) for path, x in _flatten(params).items()}
    size = dims(spec)
    out: dict[str, np.ndarray] = {}
    for e in entries:
        missing = [p for p in e.params if p not in flat]
        if missing:
            raise ValueError(f"params lack leaf {missing[0]!r}, which tensor {e.hf!r} needs")
        shape = tuple(size[s] for s in e.shape)
        for i in _layers(e, spec):
            leaves = [flat[p] if i is None else flat[p][i] for p in e.params]
            name = e.names(i)[0]
            value = np.ascontiguousarray(e.layout.to_hf(leaves, spec))
            if value.shape != shape:
                raise ValueError(f"params give tensor {name!r} the shape {value.shape}, expected {shape} "
                                 f"from the spec")
            out[name] = value
    unwritten = sorted(set(flat) - {p for e in entries for p in e.params})
    if unwritten:
        raise ValueError(f"params leaves {unwritten} have no Hugging Face name in the {spec.arch} map")
    return out
