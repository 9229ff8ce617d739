"""Forgetting: fine-tune a pre-trained model on new text and track its old and new NLL (Figure 5c).

    track = forgetting.forgetting(model, new_train, old_val=old, new_val=new, steps=200)
    track.forgetting, track.learned                  # rise of the old NLL, fall of the new (nats)

The same recipe for every pre-trained model (plain AdamW, constant lr, weight decay 0, every token
trained), so forgetting compares models; several tracks as one Dataset:
:func:`basinlab.analysis._curves.forgetting_dataset`.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import numpy.typing as npt
import optax

from basinlab import _validate as validate
from basinlab.models._model import Model
from basinlab.training import _loop as loop
from basinlab.training._loss import evaluate_nll

__all__ = ["Forgetting", "forgetting"]


@dataclasses.dataclass(frozen=True)
class Forgetting:
    """steps: [k] fine-tuning steps (0 = before); old_nll, new_nll: [k] mean NLL (nats/token) on the
    old (pre-training) and new (fine-tuning) held-out windows at theta; seconds: wall time."""

    steps: np.ndarray
    old_nll: np.ndarray
    new_nll: np.ndarray
    seconds: float

    @property
    def forgetting(self) -> float:
        """Rise of the old-capability NLL from before to after fine-tuning (nats/token)."""
        return float(self.old_nll[-1] - self.old_nll[0])

    @property
    def learned(self) -> float:
        """Fall of the new-capability NLL (nats/token)."""
        return float(self.new_nll[0] - self.new_nll[-1])


def forgetting(model: Model, new_train: npt.ArrayLike, old_val: npt.ArrayLike, new_val: npt.ArrayLike, *,
               steps: int = 200, batch_size: int = 16,
               lr: float = 1e-3, eval_every: int = 10, seed: int = 0,
               optimizer: optax.GradientTransformation | None = None) -> Forgetting:
    """Fine-tune ``model`` on windows ``new_train`` [N, T] (plain AdamW, constant lr, weight decay 0,
    every token trained) and track old/new NLL on ``old_val``/``new_val`` [n, T] every
    ``eval_every`` steps (and at 0 and the end).
    """
    eval_every = validate.positive_int("eval_every", eval_every)
    new_train = np.asarray(new_train, np.int32)
    ones = np.ones(new_train.shape, np.int32)
    record = {"steps": [0], "old": [evaluate_nll(model, old_val)], "new": [evaluate_nll(model, new_val)]}

    def track(step, metrics, params):
        if step % eval_every == 0 or step == steps:
            record["steps"].append(step)
            record["old"].append(evaluate_nll(model, old_val, params))
            record["new"].append(evaluate_nll(model, new_val, params))

    start = time.perf_counter()
    loop.finetune(model, (new_train, ones, ones), steps=steps, batch_size=batch_size, lr=lr,
                  optimizer=optimizer, seed=seed, log_every=None, callback=track)
    return Forgetting(np.asarray(record["steps"]), np.asarray(record["old"], np.float32),
                      np.asarray(record["new"], np.float32), time.perf_counter() - start)
