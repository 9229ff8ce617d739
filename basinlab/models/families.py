"""Which Hugging Face model_type maps to which basinlab converter."""

from __future__ import annotations

from typing import Any, Mapping

from basinlab.models import gpt2, llama, neox
from basinlab.models.spec import ModelSpec

FAMILIES = {
    **{t: gpt2 for t in gpt2.MODEL_TYPES},
    **{t: llama for t in llama.MODEL_TYPES},
    **{t: neox for t in neox.MODEL_TYPES},
}
SUPPORTED_MODEL_TYPES = tuple(sorted(FAMILIES))


def _family(config: Mapping[str, Any]):
    model_type = config.get("model_type")
    if model_type not in FAMILIES:
        raise ValueError(
            f"unsupported architecture model_type={model_type!r}; supported: {list(SUPPORTED_MODEL_TYPES)}"
        )
    return FAMILIES[model_type]


def spec_from_config(config: Mapping[str, Any], name: str = "") -> ModelSpec:
    """ModelSpec from a Hugging Face config dict; ValueError for anything not understood."""
    return _family(config).spec_from_config(config, name=name)


def params_from_state_dict(
    config: Mapping[str, Any], spec: ModelSpec, tensors: Mapping[str, Any], where: str = "checkpoint"
) -> dict:
    """basinlab params (numpy leaves) from a Hugging Face state dict (PyTorch names and layout)."""
    return _family(config).params_from_state_dict(spec, tensors, where=where)
