"""The fine-tuning loop on optax: SFT, adversarial fine-tuning (PAPER.md section 6), pre-training.

    examples = data.sft_examples(model, goals, targets)            # chat template, prompt masked
    result = loop.finetune(model, examples, steps=10, batch_size=4, lr=5e-5)
    delta = treemath.between(model.params, result.params)          # the SFT direction

Design
------
- The step is :func:`basinlab.training._step.cached_step` on :func:`basinlab.training._loss.token_loss`
  (the only training step in basinlab): gradient at ``optim.perturb(params, opt_state)`` (theta + eps
  for GO, theta + rho g/|g| for SAM, theta for a plain optimizer), update applied to theta. With
  accumulation GO (and continuous dropout) draw a fresh eps for every micro-batch; SAM ascends once
  from the whole batch's gradient. ``losses`` are the losses at that
  point; the params returned and checkpointed are always theta, never the perturbed point.
- Gradient accumulation is a ``lax.scan`` over micro-batches inside the jitted step (memory of one
  micro-batch). Every micro-batch is normalized by the token count of the whole effective batch, so
  ``grad_accum=k, batch_size=b`` computes the same gradient as ``batch_size=k*b`` (up to float
  summation order). optax.MultiSteps would average per-micro-batch means instead (row counts equal,
  token counts not) and, around GO, needs the nesting rules of basinlab.training._optim.
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

import dataclasses
import functools
import math
import os
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
import optax

from basinlab import _validate as validate
from basinlab.models import save_checkpoint
from basinlab.models._model import Model
from basinlab.training import _resume as train_resume
from basinlab.training._loss import micro_batches, token_loss
from basinlab.training._step import cached_step

__all__ = ["SCHEDULES", "FinetuneResult", "TrainingDiverged", "finetune"]

SCHEDULES = ("constant", "cosine", "linear")
_F32 = jnp.float32


# ----------------------------------------------------------------------------- training loop


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
    """params: float32 theta after the last step; losses, grad_norms: [steps] float32 (at the point
    where each step's gradient was taken); steps: steps run; checkpoints: folders written."""

    params: dict[str, Any]
    losses: np.ndarray
    steps: int
    checkpoints: list[str]
    grad_norms: np.ndarray | None = None  # always set by finetune


class TrainingDiverged(RuntimeError):
    """A non-finite loss, gradient or update. `step` (1-based) is the bad step, `params` the
    params before it, `checkpoint` the folder they were saved to (None without checkpoint_dir)."""

    step: int
    params: dict[str, Any]
    checkpoint: str | None

    def __init__(self, message: str, step: int, params: dict[str, Any], checkpoint: str | None) -> None:
        super().__init__(message)
        self.step, self.params, self.checkpoint = step, params, checkpoint


def _check_examples(examples, spec):
    if not isinstance(examples, (tuple, list)) or len(examples) != 3:
        raise TypeError("examples must be (tokens, mask, loss_mask) as returned by data.sft_examples")
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
    rate = {"constant": lambda: optax.constant_schedule(lr),
            "cosine": lambda: optax.cosine_decay_schedule(lr, decay_steps=steps),
            "linear": lambda: optax.linear_schedule(lr, 0.0, transition_steps=steps)}[schedule]()
    return optax.adamw(rate, weight_decay=weight_decay)


def finetune(model: Model, examples: Sequence[npt.ArrayLike], *, steps: int | None = None, epochs: float | None = None,
             batch_size: int = 8, grad_accum: int = 1, lr: float = 5e-5, schedule: str = "constant",
             weight_decay: float = 0.0, optimizer: optax.GradientTransformation | None = None,
             compute_dtype: Any = None, seed: int = 0, checkpoint_dir: str | os.PathLike[str] | None = None,
             checkpoint_every: int | None = None, log_every: int | None = 1,
             callback: Callable[[int, dict, dict], Any] | None = None, resume: bool = False,
             checkpoint_extra: Callable[[], dict] | None = None,
             on_resume: Callable[[dict], Any] | None = None,
             run_settings: dict[str, Any] | None = None) -> FinetuneResult:
    """Fine-tune `model` on `examples` = (tokens, mask, loss_mask) from
    :func:`basinlab.training._data.sft_examples`.

    One step uses batch_size * grad_accum examples (grad_accum micro-batches of batch_size),
    drawn without replacement from seeded shuffles (np.random.RandomState(seed)), epoch after
    epoch. Give steps, or epochs (steps = ceil(epochs * N / (batch_size * grad_accum))); default
    one epoch. lr, schedule ("constant", "cosine" or "linear" decay to 0 over the run) and
    weight_decay configure the default optimizer, optax.adamw; `optimizer` replaces it with any
    optax transformation, including basinlab.training._optim.go/sam/continuous_dropout.
    compute_dtype: "float32" or "bfloat16" activations (default: model.compute_dtype, else float32);
    the params are float32 throughout. checkpoint_dir: write `step-NNNNNN/` folders every
    checkpoint_every steps and after the last step (loadable with basinlab.load).
    log_every: print a line every that many steps (None or 0: silent). callback(step, metrics,
    params) runs after every step; returning True stops training.
    resume: with checkpoint_dir, continue from the newest complete checkpoint there (its params,
    optimizer state, step, losses; the data order is replayed), giving the result of an
    uninterrupted run; the callback is not called again for the steps already done. Each regular
    checkpoint holds that state (basinlab.training._resume); checkpoint_extra() -> dict is saved with
    it and handed to on_resume(dict) when resuming; on_resume returning True says the run had
    already ended there (a callback had stopped it), so nothing more is trained. The result's
    checkpoints then list the earlier complete checkpoints too. run_settings: JSON-able settings
    that identify the run beyond these arguments (a given optimizer's hyperparameters, the data):
    stored with each checkpoint, and a resume with other ones is an error, as for the arguments.
    Raises TrainingDiverged (RuntimeError) on a non-finite loss/gradient/update (module docstring).
    """
    spec = model.spec
    tokens, mask, loss_mask = _check_examples(examples, spec)
    batch_size = validate.positive_int("batch_size", batch_size)
    grad_accum = validate.positive_int("grad_accum", grad_accum)
    n, per_step = len(tokens), batch_size * grad_accum
    if steps is not None and epochs is not None:
        raise ValueError(f"give steps or epochs, not both (got steps={steps}, epochs={epochs})")
    if steps is None:
        epochs = 1 if epochs is None else epochs
        epochs = float(validate.positive("epochs", epochs))
        steps = math.ceil(epochs * n / per_step)
    steps = validate.positive_int("steps", steps)
    validate.choice("schedule", schedule, SCHEDULES)
    lr = float(validate.positive("lr", validate.finite("lr", lr)))
    weight_decay = float(validate.nonnegative("weight_decay", validate.finite("weight_decay", weight_decay)))
    if optimizer is None:
        optimizer = _default_optimizer(float(lr), schedule, float(weight_decay), steps)
    elif not callable(getattr(optimizer, "update", None)):
        raise TypeError(f"optimizer must be an optax GradientTransformation, got {optimizer!r}")
    if checkpoint_every is not None:
        checkpoint_every = validate.positive_int("checkpoint_every", checkpoint_every)
        if checkpoint_dir is None:
            raise ValueError("checkpoint_every needs checkpoint_dir")
    if compute_dtype is None:
        compute_dtype = "float32" if model.compute_dtype is None else model.compute_dtype
    try:
        dtype_name = jnp.dtype(compute_dtype).name
    except TypeError:
        dtype_name = compute_dtype
    compute_dtype = jnp.dtype(validate.choice("compute_dtype", dtype_name, ("float32", "bfloat16")))

    params = jax.tree.map(lambda x: jnp.asarray(x, _F32), model.params)
    opt_state = optimizer.init(params)
    step_fn = cached_step(token_loss(spec, compute_dtype), optimizer, micro_batches=True)
    folder = None if checkpoint_dir is None else pathlib.Path(checkpoint_dir).expanduser()
    checkpoints: list[str] = []
    losses, grad_norms = [], []
    settings: dict[str, Any]  # + "run": run_settings
    settings = dict(steps=steps, batch_size=batch_size, grad_accum=grad_accum, seed=int(seed), n_examples=n,
                    lr=lr, schedule=schedule, weight_decay=weight_decay, compute_dtype=compute_dtype.name,
                    optimizer=None if optimizer is _default_optimizer(lr, schedule, weight_decay, steps)
                    else type(optimizer).__name__)
    if run_settings is not None:
        settings["run"] = run_settings
    done_before, ended = 0, False
    if resume:
        if folder is None:
            raise ValueError("resume=True needs checkpoint_dir (the folder of the run to resume)")
        found = train_resume.latest(folder)
        if found is not None:
            from basinlab.models._load import load

            params = jax.tree.map(lambda x: jnp.asarray(x, _F32), load(found, dtype="float32").params)
            opt_state, done_before, losses, grad_norms, extra = train_resume.restore(found, opt_state, settings)
            checkpoints.extend(str(p) for p in train_resume.completed(folder))  # found is the last
            if on_resume is not None:
                ended = on_resume(extra) is True

    def save(step, p, state=None):
        assert folder is not None  # only called with a checkpoint_dir
        path = str(folder / f"step-{step:06d}")
        if path not in checkpoints:
            extra = None if state is None else {train_resume.TRAIN_STATE: train_resume.train_state_bytes(
                state, step, losses, grad_norms, settings, checkpoint_extra() if checkpoint_extra else None)}
            save_checkpoint(model, p, path, extra_files=extra)
            checkpoints.append(path)
        return path

    rs = np.random.RandomState(seed)
    order = np.zeros(0, np.int64)
    start = time.perf_counter()
    for step in range(1, 0 if ended else steps + 1):
        while len(order) < per_step:
            order = np.concatenate([order, rs.permutation(n)])
        idx, order = order[:per_step], order[per_step:]
        if step <= done_before:  # resumed: this step's data were drawn and trained on before
            continue
        batch = micro_batches(tokens[idx], mask[idx], loss_mask[idx], grad_accum)
        previous = params
        params, opt_state, metrics = step_fn(params, opt_state, batch)
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
        stop = callback is not None and callback(step, {"loss": loss, "grad_norm": grad_norm}, params)
        if folder is not None and checkpoint_every and step % checkpoint_every == 0:
            save(step, params, opt_state)  # after the callback, so checkpoint_extra() includes this step
        if stop is True:
            break
    done = len(losses)
    if folder is not None:
        save(done, params, opt_state)
    return FinetuneResult(params, np.asarray(losses, np.float32), done, checkpoints,
                          np.asarray(grad_norms, np.float32))
