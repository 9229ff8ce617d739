"""Which family file (gpt2.py, llama.py, neox.py) serves a Hugging Face model_type or a spec's arch,
and config normalization (transformers' defaults filled in) before a family reads a config."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from basinlab.models import _gpt2 as gpt2
from basinlab.models import _llama as llama
from basinlab.models import _neox as neox
from basinlab.models._namemap import Place
from basinlab.models._spec import ModelSpec

FAMILIES = {
    **{t: gpt2 for t in gpt2.MODEL_TYPES},
    **{t: llama for t in llama.MODEL_TYPES},
    **{t: neox for t in neox.MODEL_TYPES},
}
SUPPORTED_MODEL_TYPES = tuple(sorted(FAMILIES))
# ModelSpec.arch -> family file
BY_ARCH = {family.ARCH: family for family in (gpt2, llama, neox)}


def _family(config: Mapping[str, Any]) -> ModuleType:
    model_type = config.get("model_type")
    if model_type not in FAMILIES:
        raise ValueError(
            f"unsupported architecture model_type={model_type!r}; supported: {list(SUPPORTED_MODEL_TYPES)}"
        )
    return FAMILIES[model_type]


def for_spec(spec: ModelSpec) -> ModuleType:
    """The family file of `spec` (by `spec.arch`): its `tensor_map`, `spec_to_config`, ..."""
    return BY_ARCH[spec.arch]


def normalized_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """`raw` (a config.json dict) with transformers' defaults for the keys it omits, after checking
    its model_type is supported (ValueError listing the supported ones)."""
    from basinlab.models._hf import transformers

    AutoConfig = transformers().AutoConfig

    _family(raw)  # ValueError for an unsupported model_type, before transformers sees it
    model_type = raw["model_type"]
    fields = {k: v for k, v in raw.items() if k != "model_type"}
    return AutoConfig.for_model(model_type, **fields).to_dict()


def spec_from_config(config: Mapping[str, Any], name: str = "") -> ModelSpec:
    """ModelSpec from a Hugging Face config dict; ValueError for anything not understood."""
    return _family(config).spec_from_config(config, name=name)


def params_from_state_dict(
    config: Mapping[str, Any], spec: ModelSpec, tensors: Mapping[str, Any], where: str = "checkpoint",
    place: Place | None = None,
) -> dict[str, Any]:
    """basinlab params from a Hugging Face state dict (PyTorch names and layout): numpy leaves, or
    ``place(path, leaf)`` of each leaf as soon as it is built (see ``namemap.load_params``)."""
    return _family(config).params_from_state_dict(spec, tensors, where=where, place=place)
