"""Pre-train small GPT-2-architecture models from scratch on a text corpus, with AdamW, GO or SAM.

    model = gpt.init_model("tiny", seed=0)                              # fresh GPT-2 params, byte tokenizer
    text = corpus.load_corpus("tinyshakespeare", model.tokenizer)       # 90% / 10% train / val split
    run = pretrain.pretrain(model, text, optimizer="go", steps=600, sigma=0.01,
                           checkpoint_dir="ckpt/go", checkpoint_every=100)
    run.val_loss, run.model                                             # curves, the trained Model

- Training: :func:`pretrain` draws ``steps * batch_size`` windows of ``seq_len`` tokens at uniform
  random offsets of the train split and runs :func:`basinlab.training._loop.finetune` on them (every
  token carries loss), so the jitted step (:func:`basinlab.training._step.cached_step`: gradient at
  ``optim.perturb``, update to theta), divergence checks and checkpoints (theta, never theta + eps)
  are the ones tested there. Validation NLL is the mean over fixed windows of the val split,
  evaluated at theta.
- Optimizers: "adamw" = ``optax.adamw(lr, weight_decay=0)`` with linear warmup then cosine decay
  to lr/10 (``schedule="cosine"``, the default) or then a constant lr (``schedule="constant"``: the
  end of a run is not a cosine tail, and a run's learning rate does not depend on its length);
  "go" = :func:`basinlab.training._optim.go` around it (sigma, fresh eps per step);
  "sam" = :func:`basinlab.training._optim.sam` around it (rho); "continuous_dropout" likewise; or
  any optax transformation.

Models come from :mod:`basinlab.training._gpt`, corpora from :mod:`basinlab.training._corpus`; the
curves of several runs as one Dataset: :func:`basinlab.analysis._curves.training_curves`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import optax

from basinlab import _validate as validate
from basinlab.models._model import Model
from basinlab.training import _loop as loop
from basinlab.training import _optim as optim
from basinlab.training._corpus import Corpus, windows
from basinlab.training._loss import evaluate_nll

__all__ = ["OPTIMIZERS", "SCHEDULES", "PretrainResult", "make_optimizer", "pretrain"]

OPTIMIZERS = ("adamw", "go", "sam", "continuous_dropout")
SCHEDULES = ("cosine", "constant")  # after the linear warmup


# ----------------------------------------------------------------------------- optimizers


@functools.lru_cache(maxsize=32)
def make_optimizer(name: str = "adamw", lr: float = 3e-3, steps: int = 1000, warmup: int = 50,
                   sigma: float = 0.01, rho: float = 0.05, seed: int = 0,
                   schedule: str = "cosine") -> optax.GradientTransformation:
    """The optimizers of Figure 5, cached so repeated runs reuse the compiled step.

    "adamw": adamw(weight_decay=0), linear warmup over ``warmup`` steps, then (``schedule``) cosine
    decay to lr/10 at ``steps`` ("cosine") or lr held constant ("constant", :data:`SCHEDULES`);
    "go": GO around it (per-coordinate noise std ``sigma``, key ``seed``); "sam": SAM (L2 radius
    ``rho``); "continuous_dropout": relative noise std ``sigma``.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer={name!r} is not supported; valid: {list(OPTIMIZERS)} "
                         f"or an optax GradientTransformation")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule={schedule!r} is not supported; valid: {list(SCHEDULES)}")
    warmup = max(0, min(int(warmup), int(steps) - 1))
    if schedule == "constant":
        rate = optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), optax.constant_schedule(lr)],
                                    [warmup]) if warmup else optax.constant_schedule(lr)
    elif warmup:
        rate = optax.warmup_cosine_decay_schedule(0.0, lr, warmup, max(int(steps), warmup + 1), lr / 10)
    else:
        rate = optax.cosine_decay_schedule(lr, int(steps), alpha=0.1)
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
    (nats/token; step 0 = init). checkpoints: folders (loadable with basinlab.load). seconds: wall time
    of the training, summed over an interrupted run and its resumes."""

    model: Model
    optimizer: str
    train_loss: np.ndarray
    val_steps: np.ndarray
    val_loss: np.ndarray
    checkpoints: list[str]
    seconds: float

    @property
    def final_val_loss(self) -> float:
        return float(self.val_loss[-1])


def pretrain(model: Model, corpus: Corpus, optimizer: str | optax.GradientTransformation = "adamw", *, steps: int = 600,
             batch_size: int = 32, seq_len: int | None = None, lr: float = 3e-3, warmup: int = 50,
             sigma: float = 0.01, rho: float = 0.05, seed: int = 0, schedule: str = "cosine", eval_every: int = 50,
             n_eval: int = 64, checkpoint_dir: str | os.PathLike[str] | None = None,
             checkpoint_every: int | None = None, log_every: int | None = None,
             callback: Callable[[int, dict[str, float], dict[str, Any]], Any] | None = None, resume: bool = False,
             stop_below: float | None = None) -> PretrainResult:
    """Train ``model`` on ``corpus.train`` for ``steps`` steps of batch_size x seq_len tokens.

    optimizer: one of :data:`OPTIMIZERS` (built by :func:`make_optimizer` from lr, warmup, sigma,
    rho, seed, schedule: "cosine" or "constant" after the warmup) or an optax transformation.
    seq_len: default the model's context. Validation NLL on
    ``n_eval`` fixed val windows every ``eval_every`` steps (and at 0 and the end). Checkpoints:
    ``checkpoint_dir/step-NNNNNN`` every ``checkpoint_every`` steps and at the end, always theta.
    callback(step, metrics, params) as in :func:`basinlab.training._loop.finetune`.
    resume: continue a killed or interrupted run from the newest complete checkpoint in checkpoint_dir
    (params, optimizer state, losses and the validation curve so far): the same result as an
    uninterrupted run. The checkpoints record the settings (optimizer name and hyperparameters,
    seq_len, evaluation, corpus), and resuming with others raises a ValueError naming them.
    stop_below: end the run at the first validation evaluation after step 0 at or below this NLL
    (nats/token), saving a checkpoint there when checkpoint_dir is set. The schedule and the data
    order stay those of the full ``steps`` run, so the stopped run is a prefix of it (a size trained
    only until it reaches another run's loss); resuming a run that had stopped trains nothing more.
    """
    seq_len = model.spec.max_seq_len if seq_len is None else validate.positive_int("seq_len", seq_len)
    if not 2 <= seq_len <= model.spec.max_seq_len:
        raise ValueError(f"seq_len must be in [2, {model.spec.max_seq_len}] (the model's context), "
                         f"got {seq_len}")
    steps = validate.positive_int("steps", steps)
    batch_size = validate.positive_int("batch_size", batch_size)
    eval_every = validate.positive_int("eval_every", eval_every)
    n_eval = validate.positive_int("n_eval", n_eval)
    if checkpoint_every is not None:
        checkpoint_every = validate.positive_int("checkpoint_every", checkpoint_every)
    if stop_below is not None:
        stop_below = float(validate.finite("stop_below", stop_below))
    warmup = validate.nonnegative_int("warmup", warmup)
    lr = float(validate.positive("lr", validate.finite("lr", lr)))
    rho = float(validate.nonnegative("rho", validate.finite("rho", rho)))
    validate.choice("schedule", schedule, SCHEDULES)
    if isinstance(optimizer, str):
        name = optimizer
        optimizer = make_optimizer(name, float(lr), steps, int(warmup), float(sigma), float(rho), int(seed),
                                   schedule)
        # a cosine run's settings stay as before, so its older checkpoints still resume
        hyper = dict(lr=lr, warmup=int(warmup), **({"schedule": schedule} if schedule != "cosine" else {}),
                     **({"sigma": float(sigma)} if name in ("go", "continuous_dropout")
                                                    else {"rho": rho} if name == "sam" else {}))
    else:  # a given transformation's hyperparameters are the caller's to keep the same
        name, hyper = type(optimizer).__name__, {}
    val = windows(corpus.val, n_eval, seq_len, seed=None)
    data = windows(corpus.train, steps * batch_size, seq_len, seed=seed)
    ones = np.ones(data.shape, np.int32)
    val_steps, val_loss = [0], [evaluate_nll(model, val)]
    seconds_before = [0.0]  # training time of the run being resumed

    def reached(steps_, losses_) -> bool:
        return stop_below is not None and any(s > 0 and v <= stop_below for s, v in zip(steps_, losses_, strict=True))

    def restore_curve(extra):
        val_steps[:], val_loss[:] = extra["val_steps"], extra["val_loss"]
        seconds_before[0] = float(extra.get("seconds", 0.0))
        return reached(val_steps, val_loss)  # True: the run had stopped there, loop.finetune trains no more

    def track(step, metrics, params):
        stop = False
        if step % eval_every == 0 or step == steps:
            val_steps.append(step)
            val_loss.append(evaluate_nll(model, val, params))
            stop = reached(val_steps[-1:], val_loss[-1:])
        asked = callback(step, metrics, params) if callback is not None else None
        return True if stop else asked

    start = time.perf_counter()
    out = loop.finetune(model, (data, ones, ones), steps=steps,
                        batch_size=batch_size, optimizer=optimizer, seed=seed,
                        checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                        log_every=log_every, callback=track, resume=resume,
                        checkpoint_extra=lambda: {"val_steps": [int(x) for x in val_steps],
                                                  "val_loss": [float(x) for x in val_loss],
                                                  "seconds": seconds_before[0] + time.perf_counter() - start},
                        on_resume=restore_curve,
                        run_settings=dict(optimizer=name, **hyper, seq_len=seq_len, eval_every=eval_every,
                                          n_eval=n_eval, corpus=corpus.name, train_tokens=len(corpus.train)))
    seconds = seconds_before[0] + time.perf_counter() - start
    return PretrainResult(model.with_params(out.params), name, out.losses, np.asarray(val_steps),
                          np.asarray(val_loss, np.float32), out.checkpoints, seconds)
