"""Supervised fine-tuning on optax: SFT and adversarial fine-tuning (PAPER.md section 6).

    examples = train.sft_examples(model, goals, targets)            # chat template, prompt masked
    result = train.finetune(model, examples, steps=10, batch_size=4, lr=5e-5)
    delta = directions.between(model.params, result.params)          # the SFT direction

Design
------
- Data: ``sft_examples`` renders each prompt with the chat template (user turn + generation
  prompt) and tokenizes the target *separately*, then appends the end-of-turn token: the model is
  trained on the token sequence it sees at generation time. Only target tokens (and the end-of-turn
  token) carry loss; the loss is the mean NLL over those tokens of the whole effective batch
  (token-weighted, not row-weighted).
- Gradient accumulation is a ``lax.scan`` over micro-batches inside the jitted step, each one a
  ``value_and_grad`` whose grads are summed (memory of one micro-batch). Every micro-batch is
  normalized by the token count of the whole effective batch, so ``grad_accum=k, batch_size=b``
  computes the same gradient as ``batch_size=k*b`` (up to float summation order). optax.MultiSteps
  would average per-micro-batch means instead (row counts equal, token counts not) and, around
  GO, needs the nesting rules of basinlab.optim.
- Optimizers: any optax ``GradientTransformation``. The step takes its gradient at
  ``optim.perturb(params, opt_state)`` (theta + eps for GO, theta + rho g/|g| for SAM, theta for a
  plain optimizer), exactly as ``optim.train_step`` does; with accumulation one perturbation serves
  the whole effective batch. ``losses`` are the losses at that point. The params returned and
  checkpointed are always theta, never the perturbed point.
- Master weights are float32 whatever the model's dtype; ``compute_dtype="bfloat16"`` only casts
  activations and matmuls inside the forward pass (logits and loss stay float32).
- Divergence: a step whose loss, gradient norm or updated params are not finite raises
  :class:`TrainingDiverged` (a RuntimeError) naming the step; the params before that step are on
  the exception and, with ``checkpoint_dir``, saved as a checkpoint whose path the message gives.
  Params are not donated to the step, so the previous ones are still there to save.
- Compilation: the jitted step is cached per (spec, optimizer object, compute_dtype), and the
  default AdamW per (lr, schedule, weight_decay, steps), so a repeated run with the same settings
  and example shapes does not recompile. All examples are padded to one width: one compilation.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import os
import pathlib
import time
import warnings
from typing import Any, Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from basinlab.training import optim
from basinlab.models.save import save_checkpoint, spec_to_config
from basinlab.models.transformer import forward

__all__ = ["FinetuneResult", "SCHEDULES", "TrainingDiverged", "finetune", "masked_nll",
           "save_checkpoint", "sft_examples", "spec_to_config"]

SCHEDULES = ("constant", "cosine", "linear")
PADDINGS = ("left", "right")
_F32 = jnp.float32


# ----------------------------------------------------------------------------- data


def _end_of_turn_id(model, tok, chat: bool) -> int:
    """The token that ends an assistant turn: what the chat template writes right after the
    answer (<|im_end|>, <|eot_id|>, ...) when that is a special token, else the EOS token."""
    if chat:
        probe = "xq zv probe"
        full = tok.apply_chat_template(
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": probe}], tokenize=False)
        at = full.rfind(probe)
        if at >= 0:
            ids = tok(full[at + len(probe):], add_special_tokens=False)["input_ids"]
            if ids and ids[0] in set(tok.all_special_ids) | set(model.eos_ids):
                return int(ids[0])
    if tok.eos_token_id is not None:
        return int(tok.eos_token_id)
    if model.eos_ids:
        return int(model.eos_ids[0])
    raise ValueError(f"model {model.source!r} has no EOS token to end the targets with")


def sft_examples(model, prompts: Sequence[str], targets: Sequence[str], chat: bool = True,
                 max_len: Optional[int] = None, padding: str = "left"):
    """Token batches for supervised fine-tuning on (prompt, target) pairs.

    chat=True: the prompt is the tokenizer's chat template (user turn + generation prompt);
    chat=False: the raw prompt with the tokenizer's special tokens (e.g. BOS). The target is
    tokenized on its own and followed by the end-of-turn token (chat) or EOS.
    Sequences longer than max_len (default spec.max_seq_len) lose their tail, with one warning.

    Returns (tokens, mask, loss_mask), each [N, T] int32, padded on the `padding` side:
    mask is 1 on real tokens, loss_mask 1 on the target tokens and the end token (the tokens whose
    prediction is trained), 0 on the prompt and padding.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding={padding!r} is not supported; valid: {list(PADDINGS)}")
    prompts, targets = list(prompts), list(targets)
    if len(prompts) != len(targets):
        raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets: they must pair up")
    if not prompts:
        raise ValueError("no examples: prompts and targets are empty")
    for name, seq in (("prompts", prompts), ("targets", targets)):
        bad = [i for i, x in enumerate(seq) if not isinstance(x, str)]
        if bad:
            raise TypeError(f"{name} must be strings; rows {bad[:20]} are not (e.g. {seq[bad[0]]!r})")
    empty = [i for i, t in enumerate(targets) if not t.strip()]
    if empty:
        raise ValueError(f"empty target(s) in rows {empty}: every example needs a target to train on")
    tok = model._require_tokenizer()
    max_len = model.spec.max_seq_len if max_len is None else int(max_len)
    if max_len < 2:
        raise ValueError(f"max_len must be >= 2, got {max_len}")
    end = _end_of_turn_id(model, tok, chat)
    texts = [model.chat_prompt(p) for p in prompts] if chat else prompts
    # Chat templates already hold their special tokens (BOS, role markers).
    prompt_ids = tok(texts, add_special_tokens=not chat, verbose=False)["input_ids"]
    target_ids = [ids + [end] for ids in tok(targets, add_special_tokens=False, verbose=False)["input_ids"]]

    no_room = [i for i, p in enumerate(prompt_ids) if len(p) >= max_len]
    if no_room:
        raise ValueError(f"rows {no_room}: the prompt alone has >= max_len={max_len} tokens, so no "
                         f"target token would be trained; raise max_len or shorten the prompts")
    rows = [(list(p) + t, [0] * len(p) + [1] * len(t)) for p, t in zip(prompt_ids, target_ids)]
    cut = [i for i, (ids, _) in enumerate(rows) if len(ids) > max_len]
    if cut:
        warnings.warn(f"{len(cut)} of {len(rows)} examples are longer than max_len={max_len} tokens "
                      f"and were truncated (the end of their targets is dropped): rows {cut[:20]}"
                      f"{' ...' if len(cut) > 20 else ''}", stacklevel=2)
        rows = [(ids[:max_len], lm[:max_len]) for ids, lm in rows]

    width = max(len(ids) for ids, _ in rows)
    tokens = np.full((len(rows), width), model.pad_id, np.int32)
    mask = np.zeros((len(rows), width), np.int32)
    loss_mask = np.zeros((len(rows), width), np.int32)
    for i, (ids, lm) in enumerate(rows):
        cols = slice(width - len(ids), width) if padding == "left" else slice(0, len(ids))
        tokens[i, cols], mask[i, cols], loss_mask[i, cols] = ids, 1, lm
    return tokens, mask, loss_mask


# ----------------------------------------------------------------------------- loss


def _nll_sum(logits, tokens, loss_mask):
    """(sum of next-token NLL over loss_mask[:, 1:] positions, their count), float32 scalars."""
    nll = optax.losses.softmax_cross_entropy_with_integer_labels(logits[:, :-1], tokens[:, 1:])
    w = loss_mask[:, 1:].astype(_F32)
    return jnp.sum(nll * w), jnp.sum(w)


def masked_nll(logits, tokens, loss_mask):
    """Mean next-token NLL (nats) of tokens[:, 1:] under logits[:, :-1] ([B, T, V]) over the
    positions where loss_mask[:, 1:] is 1 (the target tokens)."""
    total, count = _nll_sum(logits, jnp.asarray(tokens), jnp.asarray(loss_mask))
    return total / jnp.maximum(count, 1.0)


_STEPS: "collections.OrderedDict" = collections.OrderedDict()


def _cached_step(spec, optimizer, compute_dtype):
    """One jitted step per (spec, optimizer, compute_dtype): repeated runs with the same optimizer
    object (the default AdamW is cached by its settings) and shapes do not recompile."""
    try:
        key = (spec, optimizer, compute_dtype)
        hash(key)
    except TypeError:
        return _make_step(spec, optimizer, compute_dtype)
    if key not in _STEPS:
        _STEPS[key] = _make_step(spec, optimizer, compute_dtype)
        while len(_STEPS) > 8:
            _STEPS.popitem(last=False)
    _STEPS.move_to_end(key)
    return _STEPS[key]


def _make_step(spec, optimizer, compute_dtype):
    """jit(step(params, opt_state, (tokens, mask, loss_mask) each [k, b, T])) -> (params, state, metrics)."""

    def grad_at(point, micro):
        tokens, mask, loss_mask = micro
        n_tokens = jnp.maximum(jnp.sum(loss_mask[:, :, 1:].astype(_F32)), 1.0)

        def loss(p, mb):
            logits = forward(spec, p, mb[0], attention_mask=mb[1], compute_dtype=compute_dtype)
            return _nll_sum(logits, mb[0], mb[2])[0] / n_tokens

        value_and_grad = jax.value_and_grad(loss)
        if tokens.shape[0] == 1:
            return value_and_grad(point, (tokens[0], mask[0], loss_mask[0]))

        def body(carry, mb):
            value, grads = value_and_grad(point, mb)
            return jax.tree.map(jnp.add, carry, (value, grads)), None

        zero = (jnp.zeros((), _F32), jax.tree.map(jnp.zeros_like, point))
        return jax.lax.scan(body, zero, micro)[0]

    @jax.jit
    def step(params, opt_state, micro):
        if optim.needs_gradient(opt_state):  # SAM: the point needs the gradient at theta
            point = optim.perturb(params, opt_state, grad_at(params, micro)[1])
        else:
            point = optim.perturb(params, opt_state)
        loss, grads = grad_at(point, micro)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        new = optax.apply_updates(params, updates)
        grad_norm = optax.tree.norm(grads)
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        for leaf in jax.tree.leaves(new):
            finite &= jnp.all(jnp.isfinite(leaf))
        return new, opt_state, {"loss": loss, "grad_norm": grad_norm, "finite": finite}

    return step


# ----------------------------------------------------------------------------- training loop


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
    """params: float32 theta after the last step; losses, grad_norms: [steps] float32 (at the point
    where each step's gradient was taken); steps: steps run; checkpoints: folders written."""

    params: dict
    losses: np.ndarray
    steps: int
    checkpoints: list
    grad_norms: np.ndarray = None


class TrainingDiverged(RuntimeError):
    """A non-finite loss, gradient or update. `step` (1-based) is the bad step, `params` the
    params before it, `checkpoint` the folder they were saved to (None without checkpoint_dir)."""

    def __init__(self, message, step, params, checkpoint):
        super().__init__(message)
        self.step, self.params, self.checkpoint = step, params, checkpoint


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _check_examples(examples, spec):
    if not isinstance(examples, (tuple, list)) or len(examples) != 3:
        raise TypeError("examples must be (tokens, mask, loss_mask) as returned by sft_examples")
    tokens, mask, loss_mask = (np.asarray(x) for x in examples)
    if tokens.ndim != 2 or mask.shape != tokens.shape or loss_mask.shape != tokens.shape:
        raise ValueError(f"tokens, mask, loss_mask must be [N, T] of one shape, got "
                         f"{tokens.shape}, {mask.shape}, {loss_mask.shape}")
    if tokens.shape[1] > spec.max_seq_len:
        raise ValueError(f"sequences have {tokens.shape[1]} tokens, more than the model's "
                         f"max_seq_len={spec.max_seq_len}; use sft_examples(max_len=...)")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= spec.vocab_size):
        raise ValueError(f"token ids must be in [0, {spec.vocab_size}), got [{tokens.min()}, {tokens.max()}]")
    if not loss_mask[:, 1:].any():
        raise ValueError("loss_mask has no target token (after the first position) to train on")
    return tokens.astype(np.int32), mask.astype(np.int32), loss_mask.astype(np.int32)


@functools.lru_cache(maxsize=16)
def _default_optimizer(lr: float, schedule: str, weight_decay: float, steps: int):
    if schedule == "constant":
        rate = optax.constant_schedule(lr)
    elif schedule == "cosine":
        rate = optax.cosine_decay_schedule(lr, decay_steps=steps)
    elif schedule == "linear":
        rate = optax.linear_schedule(lr, 0.0, transition_steps=steps)
    else:
        raise ValueError(f"schedule={schedule!r} is not supported; valid: {list(SCHEDULES)}")
    return optax.adamw(rate, weight_decay=weight_decay)


def finetune(model, examples, *, steps: Optional[int] = None, epochs: Optional[float] = None,
             batch_size: int = 8, grad_accum: int = 1, lr: float = 5e-5, schedule: str = "constant",
             weight_decay: float = 0.0, optimizer: Optional[optax.GradientTransformation] = None,
             compute_dtype: Any = None, seed: int = 0, checkpoint_dir: Optional[str | os.PathLike] = None,
             checkpoint_every: Optional[int] = None, log_every: Optional[int] = 1,
             callback: Optional[Callable[[int, dict, dict], Any]] = None) -> FinetuneResult:
    """Fine-tune `model` on `examples` = (tokens, mask, loss_mask) from :func:`sft_examples`.

    One step uses batch_size * grad_accum examples (grad_accum micro-batches of batch_size),
    drawn without replacement from seeded shuffles (np.random.RandomState(seed)), epoch after
    epoch. Give steps, or epochs (steps = ceil(epochs * N / (batch_size * grad_accum))); default
    one epoch. lr, schedule ("constant", "cosine" or "linear" decay to 0 over the run) and
    weight_decay configure the default optimizer, optax.adamw; `optimizer` replaces it with any
    optax transformation, including basinlab.optim.go/sam/continuous_dropout.
    compute_dtype: "float32" or "bfloat16" activations (default: model.compute_dtype, else float32);
    the params are float32 throughout. checkpoint_dir: write `step-NNNNNN/` folders every
    checkpoint_every steps and after the last step (loadable with basinlab.load).
    log_every: print a line every that many steps (None or 0: silent). callback(step, metrics,
    params) runs after every step; returning True stops training.
    Raises TrainingDiverged (RuntimeError) on a non-finite loss/gradient/update (module docstring).
    """
    spec = model.spec
    tokens, mask, loss_mask = _check_examples(examples, spec)
    batch_size, grad_accum = _positive_int(batch_size, "batch_size"), _positive_int(grad_accum, "grad_accum")
    n, per_step = len(tokens), batch_size * grad_accum
    if steps is not None and epochs is not None:
        raise ValueError(f"give steps or epochs, not both (got steps={steps}, epochs={epochs})")
    if steps is None:
        epochs = 1 if epochs is None else epochs
        if not isinstance(epochs, (int, float)) or not epochs > 0:
            raise ValueError(f"epochs must be a number > 0, got {epochs!r}")
        steps = math.ceil(epochs * n / per_step)
    steps = _positive_int(steps, "steps")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule={schedule!r} is not supported; valid: {list(SCHEDULES)}")
    if optimizer is None:
        optimizer = _default_optimizer(float(lr), schedule, float(weight_decay), steps)
    elif not callable(getattr(optimizer, "update", None)):
        raise TypeError(f"optimizer must be an optax GradientTransformation, got {optimizer!r}")
    if checkpoint_every is not None:
        checkpoint_every = _positive_int(checkpoint_every, "checkpoint_every")
        if checkpoint_dir is None:
            raise ValueError("checkpoint_every needs checkpoint_dir")
    if compute_dtype is None:
        compute_dtype = "float32" if model.compute_dtype is None else model.compute_dtype
    if jnp.dtype(compute_dtype).name not in ("float32", "bfloat16"):
        raise ValueError(f"compute_dtype={compute_dtype!r} is not supported; valid: ['float32', 'bfloat16']")
    compute_dtype = jnp.dtype(compute_dtype)

    params = jax.tree.map(lambda x: jnp.asarray(x, _F32), model.params)
    opt_state = optimizer.init(params)
    step_fn = _cached_step(spec, optimizer, compute_dtype)
    folder = None if checkpoint_dir is None else pathlib.Path(checkpoint_dir).expanduser()
    checkpoints: list[str] = []

    def save(step, p):
        path = str(folder / f"step-{step:06d}")
        if path not in checkpoints:
            save_checkpoint(model, p, path)
            checkpoints.append(path)
        return path

    rs = np.random.RandomState(seed)
    order = np.zeros(0, np.int64)
    losses, grad_norms = [], []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        while len(order) < per_step:
            order = np.concatenate([order, rs.permutation(n)])
        idx, order = order[:per_step], order[per_step:]
        micro = tuple(x[idx].reshape(grad_accum, batch_size, -1) for x in (tokens, mask, loss_mask))
        previous = params
        params, opt_state, metrics = step_fn(params, opt_state, micro)
        loss, grad_norm = float(metrics["loss"]), float(metrics["grad_norm"])
        if not bool(metrics["finite"]):
            path = save(step - 1, previous) if folder is not None else None
            what = (f"non-finite loss {loss}" if not math.isfinite(loss) else
                    f"a non-finite gradient (loss {loss:.4g}, grad_norm {grad_norm})"
                    if not math.isfinite(grad_norm) else
                    f"a non-finite update (loss {loss:.4g}, grad_norm {grad_norm:.4g})")
            where = (f"the last good params (after step {step - 1}) are saved in {path}" if path
                     else "no checkpoint was written (no checkpoint_dir); the last good params are "
                          "on this exception's .params")
            raise TrainingDiverged(f"training diverged at step {step} of {steps}: {what}; {where}. "
                                   f"Lower the learning rate.", step, previous, path)
        losses.append(loss)
        grad_norms.append(grad_norm)
        if log_every and (step % log_every == 0 or step == steps):
            print(f"step {step}/{steps}  loss {loss:.4f}  grad_norm {grad_norm:.3g}  "
                  f"{time.perf_counter() - start:.1f}s", flush=True)
        if folder is not None and checkpoint_every and step % checkpoint_every == 0:
            save(step, params)
        stop = callback is not None and callback(step, {"loss": loss, "grad_norm": grad_norm}, params)
        if stop is True:
            break
    done = len(losses)
    if folder is not None:
        save(done, params)
    return FinetuneResult(params, np.asarray(losses, np.float32), done, checkpoints,
                          np.asarray(grad_norms, np.float32))
