"""Explicit config conversion: config-key allowlists, value checks, RoPE and token-id fields both
ways, and the stored dtypes.

Every architecture module (gpt2.py, llama.py, neox.py) declares which Hugging Face config keys it
understands (and maps each tensor name through namemap.py). Anything the converter does not
understand is an error, never silently ignored: a checkpoint that loads is a checkpoint that
computes what its authors meant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

if TYPE_CHECKING:
    from basinlab.models._spec import ModelSpec

# Keys every transformers config carries that do not change what a decoder computes at inference
# (bookkeeping, training-only dropout and init, generation defaults).
GENERIC_CONFIG_KEYS = frozenset(
    """
    transformers_version architectures output_hidden_states output_attentions return_dict dtype
    torch_dtype chunk_size_feed_forward is_encoder_decoder is_decoder id2label label2id problem_type
    _name_or_path model_type initializer_range use_cache tokenizer_class prefix task_specific_params
    add_cross_attention cross_attention_hidden_size tie_encoder_decoder pruned_heads torchscript
    finetuning_task decoder_start_token_id sep_token_id bad_words_ids begin_suppress_tokens
    num_labels use_bfloat16 tf_legacy_loss _attn_implementation_autoset transformers.js_config
    attention_dropout hidden_dropout resid_pdrop embd_pdrop attn_pdrop classifier_dropout
    summary_type summary_use_proj summary_activation summary_proj_to_labels summary_first_dropout
    max_length min_length do_sample early_stopping num_beams temperature top_k top_p
    repetition_penalty length_penalty no_repeat_ngram_size num_return_sequences
    output_scores return_dict_in_generate forced_bos_token_id forced_eos_token_id
    remove_invalid_values exponential_decay_length_penalty suppress_tokens diversity_penalty
    num_beam_groups typical_p encoder_no_repeat_ngram_size
    """.split()
)


def check_config_keys(config: Mapping[str, Any], family: str, supported: Iterable[str]) -> None:
    """Raise ValueError if `config` has keys that neither `supported` nor the generic set cover."""
    supported = frozenset(supported)
    unknown = sorted(set(config) - supported - GENERIC_CONFIG_KEYS)
    if unknown:
        raise ValueError(
            f"unsupported config key(s) for the {family} family: {unknown}; "
            f"supported keys: {sorted(supported)} (plus generic bookkeeping keys)"
        )


def require_value(config: Mapping[str, Any], key: str, valid: Iterable[Any], default: Any = None) -> Any:
    """Return config[key] (or default) after checking it is one of `valid`."""
    value = config.get(key, default)
    valid = list(valid)
    if value not in valid:
        raise ValueError(f"config {key}={value!r} is not supported; valid: {valid}")
    return value


def to_jax(tree: dict[str, Any], dtype: DTypeLike) -> dict[str, Any]:
    """numpy leaves -> jax arrays of the stored dtype."""
    return jax.tree.map(lambda x: jnp.asarray(x, dtype=dtype), tree)


def float_dtype(name: str, value: Any, valid: Iterable[str] | None = None) -> np.dtype:
    """The floating dtype `value` names (a string, numpy/jax/ml_dtypes type), one of `valid` if given.

    ValueError naming the argument `name`, the value and what is valid.
    """
    if valid is not None:
        valid = list(valid)
        label = value if isinstance(value, str) else jnp.dtype(value).name
        if label not in valid:
            raise ValueError(f"{name}={value!r} is not supported; valid: {valid}")
        return jnp.dtype(label)
    try:
        out = jnp.dtype(value)
    except TypeError as exc:
        raise ValueError(f"{name} {value!r} is not a numpy dtype: {exc}") from None
    # ml_dtypes.bfloat16 registers with kind "V"; accept it by name.
    if out.kind != "f" and out.name != "bfloat16":
        raise ValueError(f"{name} must be a floating type (float32, float16, bfloat16, ...), got {out}")
    return out


def token_ids(value: Any) -> tuple[int, ...]:
    """A config's eos_token_id (int, list or None) as a tuple of ints."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    return (int(value),)


def vocab_and_token_fields(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ModelSpec fields every family reads the same way: vocab size and bos/eos/pad token ids."""
    return {"vocab_size": config["vocab_size"], "bos_token_id": config.get("bos_token_id"),
            "eos_token_ids": token_ids(config.get("eos_token_id")), "pad_token_id": config.get("pad_token_id")}


def token_id_value(ids: Iterable[int]) -> int | list[int] | None:
    """Inverse of `token_ids`: None, one int, or a list of ints (as config.json writes them)."""
    ids = list(ids)
    return None if not ids else ids[0] if len(ids) == 1 else ids


ROPE_KEYS = ("rope_parameters", "rope_theta", "rope_scaling", "partial_rotary_factor", "rotary_pct",
             "rotary_emb_base")


def rope_fields(config: Mapping[str, Any], head_dim: int) -> dict[str, Any]:
    """ModelSpec rotary fields from a config in either transformers v5 (`rope_parameters`) or
    legacy (`rope_theta` + `rope_scaling`, NeoX `rotary_pct`/`rotary_emb_base`) form."""
    params = dict(config.get("rope_parameters") or {})
    scaling = dict(config.get("rope_scaling") or {})
    params = {**scaling, **params}
    theta = params.get("rope_theta", config.get("rope_theta", config.get("rotary_emb_base", 10000.0)))
    fraction = params.get(
        "partial_rotary_factor", config.get("partial_rotary_factor", config.get("rotary_pct", 1.0))
    )
    rope_type = params.get("rope_type", params.get("type", "default"))
    valid = ("default", "linear", "llama3")
    if rope_type not in valid:
        raise ValueError(f"config rope_type={rope_type!r} is not supported; valid: {list(valid)}")
    fields = dict(
        rotary_dim=int(head_dim * float(fraction)),
        rope_theta=float(theta),
        rope_type=rope_type,
        rope_factor=float(params.get("factor", 1.0)),
    )
    if rope_type == "llama3":
        fields.update(
            rope_low_freq_factor=float(params["low_freq_factor"]),
            rope_high_freq_factor=float(params["high_freq_factor"]),
            rope_original_max_seq_len=int(params["original_max_position_embeddings"]),
        )
    return fields


def rope_config(spec: ModelSpec) -> dict[str, Any]:
    """Inverse of `rope_fields` for a Llama-family spec: rope_theta + rope_scaling in the legacy form
    (transformers v5 converts it to rope_parameters)."""
    out: dict[str, Any] = {"rope_theta": spec.rope_theta}
    if spec.rope_type == "linear":
        out["rope_scaling"] = {"rope_type": "linear", "factor": spec.rope_factor}
    elif spec.rope_type == "llama3":
        out["rope_scaling"] = {
            "rope_type": "llama3", "factor": spec.rope_factor,
            "low_freq_factor": spec.rope_low_freq_factor,
            "high_freq_factor": spec.rope_high_freq_factor,
            "original_max_position_embeddings": spec.rope_original_max_seq_len,
        }
    return out


def nonfinite_tensors(tensors: Mapping[str, Any]) -> list[str]:
    """Names of the tensors holding a NaN or an infinity, in order (integer tensors never do)."""
    out = []
    for name, v in tensors.items():
        a = np.asarray(v)
        if a.dtype.kind not in "biu" and not np.isfinite(a).all():
            out.append(name)
    return out


def check_finite(names: list[str], where: str, allow: bool) -> None:
    """ValueError naming the tensors in ``names`` (those with NaN/inf weights) unless ``allow``;
    with ``allow`` a warning names them and the model loads as it is (to study a broken model)."""
    if not names:
        return
    shown = ", ".join(map(repr, names[:10])) + (f", ... ({len(names)} in all)" if len(names) > 10 else "")
    if allow:
        import warnings

        warnings.warn(f"{where}: loading non-finite (NaN/inf) weights in {shown} as asked (allow_nonfinite=True)",
                      stacklevel=3)
        return
    raise ValueError(f"{where}: tensor(s) {shown} hold non-finite (NaN/inf) weights; the checkpoint "
                     f"is corrupt or the model diverged. To load it anyway (to study a broken model), pass "
                     f"allow_nonfinite=True")
