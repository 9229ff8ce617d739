"""Explicit checkpoint conversion: config-key allowlists and shape-checked tensor lookup.

Every architecture module (gpt2.py, llama.py, neox.py) declares which Hugging Face config keys it
understands and maps each Hugging Face tensor name to a path in basinlab's params by hand. Anything
the converter does not understand is an error, never silently ignored: a checkpoint that loads is a
checkpoint that computes what its authors meant.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable, Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

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


def require_value(config: Mapping[str, Any], key: str, valid: Iterable[Any], default=None) -> Any:
    """Return config[key] (or default) after checking it is one of `valid`."""
    value = config.get(key, default)
    valid = list(valid)
    if value not in valid:
        raise ValueError(f"config {key}={value!r} is not supported; valid: {valid}")
    return value


class TensorSource:
    """Shape-checked, use-tracked access to a checkpoint's tensors (PyTorch names and layout)."""

    def __init__(self, tensors: Mapping[str, Any], where: str):
        self.tensors = tensors
        self.where = where
        self.used: set[str] = set()

    def get(self, name: str, shape: tuple) -> np.ndarray:
        if name not in self.tensors:
            raise ValueError(f"{self.where}: missing tensor {name!r} (expected shape {tuple(shape)})")
        value = np.asarray(self.tensors[name])
        if tuple(value.shape) != tuple(shape):
            raise ValueError(
                f"{self.where}: tensor {name!r} has shape {tuple(value.shape)}, "
                f"expected {tuple(shape)} from the config"
            )
        self.used.add(name)
        return value

    def has(self, name: str) -> bool:
        return name in self.tensors

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


def stack_layers(n_layers: int, layer_fn: Callable[[int], dict]) -> dict:
    """Stack per-layer dicts of numpy arrays along a new leading axis."""
    per_layer = [layer_fn(i) for i in range(n_layers)]

    def stack(*leaves):
        return np.stack(leaves, axis=0)

    return jax.tree.map(stack, *per_layer)


def to_jax(tree: dict, dtype) -> dict:
    """numpy leaves -> jax arrays of the stored dtype."""
    return jax.tree.map(lambda x: jnp.asarray(x, dtype=dtype), tree)


def linear(src: TensorSource, name: str, n_in: int, n_out: int, bias: bool) -> dict:
    """A PyTorch Linear (weight [out, in]) as {"kernel": [in, out], "bias": [out]}."""
    p = {"kernel": src.get(f"{name}.weight", (n_out, n_in)).T}
    if bias:
        p["bias"] = src.get(f"{name}.bias", (n_out,))
    return p


def norm_params(src: TensorSource, name: str, d: int, bias: bool) -> dict:
    p = {"scale": src.get(f"{name}.weight", (d,))}
    if bias:
        p["bias"] = src.get(f"{name}.bias", (d,))
    return p


def token_ids(value) -> tuple:
    """A config's eos_token_id (int, list or None) as a tuple of ints."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    return (int(value),)


ROPE_KEYS = ("rope_parameters", "rope_theta", "rope_scaling", "partial_rotary_factor", "rotary_pct",
             "rotary_emb_base")


def rope_fields(config: Mapping[str, Any], head_dim: int) -> dict:
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
