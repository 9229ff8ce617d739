"""`save_checkpoint(model, params, folder)`: a Hugging Face folder that `load(folder)` reads back exactly.

The writer is the inverse of the loader and holds no family knowledge: `spec_to_config` asks the
spec's family file for its config keys (an HF-style config.json in the legacy key form that
transformers v4 and v5 both read) and `state_dict_from_params` walks the family's name map, the one
`load` reads through (namemap.py: kernels transposed back to PyTorch's [out, in] Linear layout, q/k/v
fused back into GPT-2's Conv1D c_attn and NeoX's per-head query_key_value). The config is checked
when writing: a spec it cannot express raises a ValueError instead of producing a folder that loads
as a different model.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from basinlab._atomicio import publish_dir, staging_dir
from basinlab.models import _families as families
from basinlab.models._convert import token_id_value
from basinlab.models._namemap import save_params
from basinlab.models._spec import ModelSpec

if TYPE_CHECKING:
    from basinlab.models._model import Model


def spec_to_config(spec: ModelSpec, dtype: str = "float32") -> dict[str, Any]:
    """An HF config.json dict for `spec` (the inverse of `families.spec_from_config`).

    Raises ValueError when the spec is not expressible (e.g. a partial-rotary llama), after checking
    that reading the config back gives `spec` again (up to `name`, which comes from the folder).
    """
    config = {**families.for_spec(spec).spec_to_config(spec),
              "vocab_size": spec.vocab_size, "bos_token_id": spec.bos_token_id,
              "eos_token_id": token_id_value(spec.eos_token_ids), "pad_token_id": spec.pad_token_id,
              "tie_word_embeddings": spec.tie_embeddings, "torch_dtype": dtype}
    back = families.spec_from_config(families.normalized_config(config), name=spec.name)
    if back != spec:
        diff = {f: (getattr(spec, f), getattr(back, f)) for f in spec.__dataclass_fields__
                if getattr(spec, f) != getattr(back, f)}
        raise ValueError(f"spec {spec.name!r} cannot be written as a Hugging Face "
                         f"{config['model_type']} config: fields (wanted, would load as) {diff}")
    return config


def state_dict_from_params(spec: ModelSpec, params: dict[str, Any]) -> dict[str, np.ndarray]:
    """Hugging Face tensor names and PyTorch layout (the inverse of `params_from_state_dict`),
    through the same name map: the family's `tensor_map(spec)`."""
    return save_params(families.for_spec(spec).tensor_map(spec), spec, params)


def save_checkpoint(model: Model, params: dict[str, Any] | None, folder: str | os.PathLike[str], *,
                    extra_files: dict[str, bytes] | None = None) -> pathlib.Path:
    """Write `params` (default: model.params) as a Hugging Face folder: config.json,
    model.safetensors (HF names, PyTorch layout, the params' own dtype) and the tokenizer.

    `basinlab.load(folder, dtype=<that dtype>)` gives bit-identical params and the same spec (its
    `name` becomes the folder name). extra_files: {file name: bytes} written into the folder with
    the rest, in the same atomic publish (the trainer's resume state). Returns the folder path.
    """
    from safetensors.flax import save_file

    params = model.params if params is None else params
    dtypes = {jnp.dtype(x.dtype).name for x in jax.tree.leaves(params)}
    if len(dtypes) != 1 or not dtypes <= {"float32", "bfloat16"}:
        raise ValueError(f"params must all be float32 or all bfloat16 to save, got dtypes {sorted(dtypes)}")
    config = spec_to_config(model.spec, dtype=dtypes.pop())
    tensors = state_dict_from_params(model.spec, params)
    folder = pathlib.Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"cannot save a checkpoint to {folder}: it is an existing file, not a folder")
    # Everything is written into a temporary folder first. A new folder is then renamed into place
    # whole; in an existing one each file is replaced atomically, config.json last. An interrupted
    # save never leaves a folder that loads as a half-written model.
    with staging_dir(folder) as tmp:
        save_file({k: jnp.asarray(v) for k, v in tensors.items()}, str(tmp / "model.safetensors"),
                  metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        if model.tokenizer is not None:
            model.tokenizer.save_pretrained(str(tmp))
        for name, data in (extra_files or {}).items():
            (tmp / name).write_bytes(data)
        publish_dir(tmp, folder, last=("config.json",))
    return folder
