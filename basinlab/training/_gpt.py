"""Small GPT-2-architecture models from scratch: shape presets, GPT-2 init, a byte-level tokenizer.

    model = gpt.init_model("tiny", seed=0)            # fresh float32 params, byte tokenizer

- Tokenizer: byte-level (UTF-8 bytes, 256 ids, plus ``<|endoftext|>`` = 256), built with the
  ``tokenizers`` library and wrapped as a ``transformers.PreTrainedTokenizerFast``: it encodes any
  text (the fine-tuning corpus of Figure 5c has characters Shakespeare lacks), works with
  ``Model.encode``/``text_benchmark``, and is saved with every checkpoint, so ``basinlab.load``
  gives the model back with its tokenizer.
- Model: the GPT-2 architecture of :mod:`basinlab.models._gpt2` (learned positions, pre-LayerNorm,
  GELU MLP, tied head) at nanoGPT-style sizes (:data:`SIZES`). Init as GPT-2/nanoGPT: N(0, 0.02)
  weights, N(0, 0.02 / sqrt(2 n_layers)) residual projections, zero biases, unit LayerNorm. The
  params are made in Hugging Face layout and go through the same converter as a loaded GPT-2.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from basinlab import _validate as validate
from basinlab.models import _gpt2 as gpt2
from basinlab.models._model import Model

__all__ = ["SIZES", "GPTConfig", "byte_tokenizer", "init_model"]


@dataclasses.dataclass(frozen=True)
class GPTConfig:
    """Shape of a GPT-2-architecture model. d_ff defaults to 4 * d_model; max_seq_len is the
    context (block size) in tokens; vocab_size is the tokenizer's (257 for :func:`byte_tokenizer`)."""

    n_layers: int
    d_model: int
    n_heads: int
    max_seq_len: int = 64
    d_ff: int | None = None
    vocab_size: int = 257

    def __post_init__(self) -> None:
        for field in ("n_layers", "d_model", "n_heads", "max_seq_len", "vocab_size"):
            # frozen: normalize 3.0 to 3 through object.__setattr__
            object.__setattr__(self, field, validate.positive_int(f"GPTConfig.{field}", getattr(self, field)))
        if self.d_model % self.n_heads:
            raise ValueError(f"GPTConfig.d_model={self.d_model} must be a multiple of "
                             f"n_heads={self.n_heads}")


#: nanoGPT-style presets small enough for a 2-core CPU (parameter counts with the byte tokenizer).
SIZES = {
    "tiny": GPTConfig(n_layers=2, d_model=64, n_heads=4),      # ~0.12M parameters
    "small": GPTConfig(n_layers=3, d_model=128, n_heads=4),    # ~0.63M
    "medium": GPTConfig(n_layers=4, d_model=192, n_heads=6),   # ~1.84M
}


@functools.lru_cache(maxsize=1)
def byte_tokenizer() -> Any:
    """A byte-level ``PreTrainedTokenizerFast``: ids 0-255 are UTF-8 bytes, 256 is <|endoftext|>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    from basinlab.models._hf import transformers

    PreTrainedTokenizerFast = transformers().PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    byte_to_char = _bytes_to_unicode()
    vocab = {byte_to_char[b]: b for b in range(256)}
    assert set(vocab) == set(alphabet)
    vocab["<|endoftext|>"] = 256
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                   bos_token="<|endoftext|>", pad_token="<|endoftext|>")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (what ByteLevel pre-tokenizes to)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


def _config(config) -> GPTConfig:
    if isinstance(config, GPTConfig):
        return config
    if isinstance(config, str) and config in SIZES:
        return SIZES[config]
    raise ValueError(f"config={config!r} is not a GPTConfig or a size preset; valid: {list(SIZES)}")


def init_model(config: str | GPTConfig = "tiny", seed: int = 0, tokenizer: Any = None,
               name: str | None = None) -> Model:
    """A GPT-2-architecture :class:`basinlab.Model` with fresh float32 params (GPT-2 init).

    config: a :data:`SIZES` name or a :class:`GPTConfig`. tokenizer: default
    :func:`byte_tokenizer`; its vocabulary size overrides ``config.vocab_size``.
    """
    cfg = _config(config)
    tokenizer = byte_tokenizer() if tokenizer is None else tokenizer
    vocab = len(tokenizer)
    eos = tokenizer.eos_token_id
    hf = {"model_type": "gpt2", "vocab_size": vocab, "n_positions": cfg.max_seq_len,
          "n_embd": cfg.d_model, "n_layer": cfg.n_layers, "n_head": cfg.n_heads,
          "n_inner": cfg.d_ff or 4 * cfg.d_model, "activation_function": "gelu_new",
          "bos_token_id": eos, "eos_token_id": eos, "pad_token_id": eos}
    spec = gpt2.spec_from_config(hf, name=name or _size_name(cfg))
    rs = np.random.RandomState(seed)
    d, f = spec.d_model, spec.d_ff
    normal = lambda *shape, std=0.02: rs.normal(0.0, std, shape).astype(np.float32)  # noqa: E731
    proj_std = 0.02 / math.sqrt(2 * spec.n_layers)  # GPT-2's scaled residual projections
    tensors = {"transformer.wte.weight": normal(vocab, d),
               "transformer.wpe.weight": normal(spec.max_seq_len, d, std=0.01)}
    for i in range(spec.n_layers):
        pre = f"transformer.h.{i}"
        for ln in ("ln_1", "ln_2"):
            tensors[f"{pre}.{ln}.weight"] = np.ones(d, np.float32)
            tensors[f"{pre}.{ln}.bias"] = np.zeros(d, np.float32)
        for mod, n_in, n_out, std in (("attn.c_attn", d, 3 * d, 0.02), ("attn.c_proj", d, d, proj_std),
                                      ("mlp.c_fc", d, f, 0.02), ("mlp.c_proj", f, d, proj_std)):
            tensors[f"{pre}.{mod}.weight"] = normal(n_in, n_out, std=std)
            tensors[f"{pre}.{mod}.bias"] = np.zeros(n_out, np.float32)
    tensors["transformer.ln_f.weight"] = np.ones(d, np.float32)
    tensors["transformer.ln_f.bias"] = np.zeros(d, np.float32)
    params = jax.tree.map(jnp.asarray, gpt2.params_from_state_dict(spec, tensors, "init"))
    return Model(spec, params, tokenizer, f"init:{spec.name}:seed{seed}", "float32")


def _size_name(cfg: GPTConfig) -> str:
    names = [k for k, v in SIZES.items() if v == cfg]
    return f"gpt-{names[0]}" if names else f"gpt-{cfg.n_layers}x{cfg.d_model}"
