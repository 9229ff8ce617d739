"""Pre-train small GPT-2-architecture models from scratch on a text file, with AdamW, GO or SAM.

    model = pretrain.init_model("tiny", seed=0)                         # fresh GPT-2 params, byte tokenizer
    corpus = pretrain.load_corpus("tinyshakespeare", model.tokenizer)   # 90% / 10% train / val split
    run = pretrain.pretrain(model, corpus, optimizer="go", steps=600, sigma=0.01,
                            checkpoint_dir="ckpt/go", checkpoint_every=100)
    run.val_loss, run.model                                             # curves, the trained Model

Design
------
- Tokenizer: byte-level (UTF-8 bytes, 256 ids, plus ``<|endoftext|>`` = 256), built with the
  ``tokenizers`` library and wrapped as a ``transformers.PreTrainedTokenizerFast``: it encodes any
  text (the fine-tuning corpus of Figure 5c has characters Shakespeare lacks), works with
  ``Model.encode``/``text_benchmark``, and is saved with every checkpoint, so ``basinlab.load``
  gives the model back with its tokenizer.
- Model: the GPT-2 architecture of :mod:`basinlab.models.gpt2` (learned positions, pre-LayerNorm,
  GELU MLP, tied head) at nanoGPT-style sizes (:data:`SIZES`). Init as GPT-2/nanoGPT: N(0, 0.02)
  weights, N(0, 0.02 / sqrt(2 n_layers)) residual projections, zero biases, unit LayerNorm. The
  params are made in Hugging Face layout and go through the same converter as a loaded GPT-2.
- Training: :func:`pretrain` draws ``steps * batch_size`` windows of ``seq_len`` tokens at uniform
  random offsets of the train split and runs :func:`basinlab.train.finetune` on them (every token
  carries loss), so the jitted step, GO/SAM handling (gradient at ``optim.perturb``, update to
  theta), divergence checks and checkpoints (theta, never theta + eps) are the ones tested there.
  Validation NLL is the mean over fixed windows of the val split, evaluated at theta.
- Optimizers: "adamw" = ``optax.adamw(lr, weight_decay=0)`` with linear warmup then cosine decay
  to lr/10; "go" = :func:`basinlab.optim.go` around it (sigma, fresh eps per step);
  "sam" = :func:`basinlab.optim.sam` around it (rho); "continuous_dropout" likewise; or any optax
  transformation.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from typing import Any, Callable, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr

from basinlab.training import optim

from basinlab.training import loop as train
from basinlab.models import gpt2
from basinlab.models.model import Model, token_nll

__all__ = ["OPTIMIZERS", "SIZES", "Corpus", "GPTConfig", "PretrainResult", "byte_tokenizer",
           "curves", "evaluate_nll", "init_model", "load_corpus", "make_optimizer", "pretrain", "windows"]

OPTIMIZERS = ("adamw", "go", "sam", "continuous_dropout")


@dataclasses.dataclass(frozen=True)
class GPTConfig:
    """Shape of a GPT-2-architecture model. d_ff defaults to 4 * d_model; max_seq_len is the
    context (block size) in tokens; vocab_size is the tokenizer's (257 for :func:`byte_tokenizer`)."""

    n_layers: int
    d_model: int
    n_heads: int
    max_seq_len: int = 64
    d_ff: Optional[int] = None
    vocab_size: int = 257

    def __post_init__(self):
        for field in ("n_layers", "d_model", "n_heads", "max_seq_len", "vocab_size"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{field} must be a positive int, got {value!r}")
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
def byte_tokenizer():
    """A byte-level ``PreTrainedTokenizerFast``: ids 0-255 are UTF-8 bytes, 256 is <|endoftext|>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

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


def _bytes_to_unicode() -> dict:
    """GPT-2's reversible byte -> printable character map (what ByteLevel pre-tokenizes to)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _config(config) -> GPTConfig:
    if isinstance(config, GPTConfig):
        return config
    if isinstance(config, str) and config in SIZES:
        return SIZES[config]
    raise ValueError(f"config={config!r} is not a GPTConfig or a size preset; valid: {list(SIZES)}")


def init_model(config: Union[str, GPTConfig] = "tiny", seed: int = 0, tokenizer=None,
               name: Optional[str] = None) -> Model:
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


# ----------------------------------------------------------------------------- data


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A tokenized text split in two: train = the first (1 - val_fraction) of the tokens, val = the
    rest (contiguous, so no val window overlaps training text). train, val: [N] int32 token ids."""

    name: str
    train: np.ndarray
    val: np.ndarray
    val_text: str


def load_corpus(source: Union[str, os.PathLike], tokenizer=None, val_fraction: float = 0.1,
                max_chars: Optional[int] = None) -> Corpus:
    """Tokenize a corpus: "tinyshakespeare" (from $BASINLAB_DATA), "pydoc" (ships with Python), or
    the path of any UTF-8 text file. max_chars: keep only the first that many characters."""
    from basinlab.benchmarks.loaders import load_text

    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    text = load_text(source)
    if max_chars is not None:
        text = text[:int(max_chars)]
    cut = int(len(text) * (1 - val_fraction))
    tokenizer = byte_tokenizer() if tokenizer is None else tokenizer
    enc = lambda s: np.asarray(tokenizer(s, add_special_tokens=False, verbose=False)["input_ids"],  # noqa: E731
                               np.int32)
    train_ids, val_ids = enc(text[:cut]), enc(text[cut:])
    if len(val_ids) < 2 or len(train_ids) < 2:
        raise ValueError(f"corpus {str(source)!r} is too short ({len(text)} characters) to split")
    return Corpus(os.path.basename(str(source)), train_ids, val_ids, text[cut:])


def windows(ids: np.ndarray, n: int, seq_len: int, seed: Optional[int] = 0) -> np.ndarray:
    """n windows of seq_len consecutive tokens of ids: [n, seq_len] int32. seed=None: consecutive
    non-overlapping windows from the start (a fixed evaluation set); else uniform random offsets."""
    ids = np.asarray(ids, np.int32)
    if len(ids) < seq_len:
        raise ValueError(f"{len(ids)} tokens are fewer than seq_len={seq_len}")
    if seed is None:
        n = min(n, len(ids) // seq_len)
        return ids[:n * seq_len].reshape(n, seq_len)
    starts = np.random.RandomState(seed).randint(0, len(ids) - seq_len + 1, size=n)
    return ids[starts[:, None] + np.arange(seq_len)[None, :]]


@functools.partial(jax.jit, static_argnames=("spec",))
def _mean_nll(spec, params, tokens):
    nll, mask = token_nll(spec, params, tokens, jnp.ones(tokens.shape, jnp.int32))
    return nll.sum() / mask.sum()


def evaluate_nll(model: Model, tokens, params=None) -> float:
    """Mean next-token NLL (nats/token) of ``model`` (or ``params``) on tokens [n, T]."""
    return float(_mean_nll(model.spec, model.params if params is None else params,
                           jnp.asarray(tokens, jnp.int32)))


# ----------------------------------------------------------------------------- optimizers


@functools.lru_cache(maxsize=32)
def make_optimizer(name: str = "adamw", lr: float = 3e-3, steps: int = 1000, warmup: int = 50,
                   sigma: float = 0.01, rho: float = 0.05, seed: int = 0):
    """The optimizers of Figure 5, cached so repeated runs reuse the compiled step.

    "adamw": adamw(weight_decay=0), linear warmup over ``warmup`` steps, cosine decay to lr/10;
    "go": GO around it (per-coordinate noise std ``sigma``, key ``seed``); "sam": SAM (L2 radius
    ``rho``); "continuous_dropout": relative noise std ``sigma``.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer={name!r} is not supported; valid: {list(OPTIMIZERS)} "
                         f"or an optax GradientTransformation")
    warmup = max(0, min(int(warmup), int(steps) - 1))
    rate = optax.warmup_cosine_decay_schedule(0.0, lr, warmup, max(int(steps), warmup + 1), lr / 10) \
        if warmup else optax.cosine_decay_schedule(lr, int(steps), alpha=0.1)
    base = optax.adamw(rate, weight_decay=0.0)
    if name == "adamw":
        return base
    if name == "sam":
        return optim.sam(base, rho)
    return getattr(optim, name)(base, sigma, key=seed)


# ----------------------------------------------------------------------------- pre-training


@dataclasses.dataclass(frozen=True)
class PretrainResult:
    """model: the trained Model (theta, float32). train_loss: [steps] NLL at the point where each
    gradient was taken (theta + eps for GO). val_steps, val_loss: [k] steps and val NLL at theta
    (nats/token; step 0 = init). checkpoints: folders (loadable with basinlab.load). seconds: wall time."""

    model: Model
    optimizer: str
    train_loss: np.ndarray
    val_steps: np.ndarray
    val_loss: np.ndarray
    checkpoints: list
    seconds: float

    @property
    def final_val_loss(self) -> float:
        return float(self.val_loss[-1])


def pretrain(model: Model, corpus: Corpus, optimizer: Union[str, Any] = "adamw", *, steps: int = 600,
             batch_size: int = 32, seq_len: Optional[int] = None, lr: float = 3e-3, warmup: int = 50,
             sigma: float = 0.01, rho: float = 0.05, seed: int = 0, eval_every: int = 50,
             n_eval: int = 64, checkpoint_dir: Optional[Union[str, os.PathLike]] = None,
             checkpoint_every: Optional[int] = None, log_every: Optional[int] = None,
             callback: Optional[Callable] = None) -> PretrainResult:
    """Train ``model`` on ``corpus.train`` for ``steps`` steps of batch_size x seq_len tokens.

    optimizer: one of :data:`OPTIMIZERS` (built by :func:`make_optimizer` from lr, warmup, sigma,
    rho, seed) or an optax transformation. seq_len: default the model's context. Validation NLL on
    ``n_eval`` fixed val windows every ``eval_every`` steps (and at 0 and the end). Checkpoints:
    ``checkpoint_dir/step-NNNNNN`` every ``checkpoint_every`` steps and at the end, always theta.
    callback(step, metrics, params) as in :func:`basinlab.train.finetune`.
    """
    seq_len = model.spec.max_seq_len if seq_len is None else int(seq_len)
    if not 2 <= seq_len <= model.spec.max_seq_len:
        raise ValueError(f"seq_len must be in [2, {model.spec.max_seq_len}] (the model's context), "
                         f"got {seq_len}")
    steps = train._positive_int(steps, "steps")
    batch_size = train._positive_int(batch_size, "batch_size")
    eval_every = train._positive_int(eval_every, "eval_every")
    if isinstance(optimizer, str):
        name = optimizer
        optimizer = make_optimizer(name, float(lr), steps, int(warmup), float(sigma), float(rho), int(seed))
    else:
        name = type(optimizer).__name__
    val = windows(corpus.val, n_eval, seq_len, seed=None)
    data = windows(corpus.train, steps * batch_size, seq_len, seed=seed)
    ones = np.ones(data.shape, np.int32)
    val_steps, val_loss = [0], [evaluate_nll(model, val)]

    def track(step, metrics, params):
        if step % eval_every == 0 or step == steps:
            val_steps.append(step)
            val_loss.append(evaluate_nll(model, val, params))
        return callback(step, metrics, params) if callback is not None else None

    start = time.perf_counter()
    out = train.finetune(model, (data, ones, ones), steps=steps,
                         batch_size=batch_size, optimizer=optimizer, seed=seed,
                         checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                         log_every=log_every, callback=track)
    seconds = time.perf_counter() - start
    return PretrainResult(model.with_params(out.params), name, out.losses, np.asarray(val_steps),
                          np.asarray(val_loss, np.float32), out.checkpoints, seconds)



def curves(runs: dict) -> xr.Dataset:
    """Loss curves of several runs ({label: PretrainResult}, same steps and eval_every) as one
    Dataset: train_loss [run, step], val_loss [run, eval_step] (nats/token), final_val_loss [run],
    seconds [run], n_params [run]. Saved with basinlab.results.save or .to_netcdf."""
    labels = list(runs)
    first = runs[labels[0]]
    for k in labels:
        if runs[k].train_loss.shape != first.train_loss.shape or \
                runs[k].val_steps.tolist() != first.val_steps.tolist():
            raise ValueError(f"run {k!r} has other steps than {labels[0]!r}; curves needs equal schedules")
    nats = {"units": "nats/token"}
    return xr.Dataset(
        {"train_loss": (("run", "step"), np.stack([runs[k].train_loss for k in labels]),
                        {"long_name": "train NLL at the gradient's point", **nats}),
         "val_loss": (("run", "eval_step"), np.stack([runs[k].val_loss for k in labels]),
                      {"long_name": "validation NLL at theta", **nats}),
         "final_val_loss": (("run",), [runs[k].final_val_loss for k in labels], nats),
         "seconds": (("run",), [runs[k].seconds for k in labels], {"units": "s"}),
         "n_params": (("run",), [runs[k].model.n_params for k in labels])},
        coords={"run": labels, "step": np.arange(1, len(first.train_loss) + 1),
                "eval_step": first.val_steps,
                "optimizer": ("run", [runs[k].optimizer for k in labels])})
