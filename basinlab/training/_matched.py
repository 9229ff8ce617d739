"""Comparisons at matched validation loss and at matched learning (issue 16: GO vs AdamW).

    ref = pretrain.pretrain(model0, text, "go", steps=600)                      # GO: the target loss
    m = matched.pretrain_matched(model0, text, ref.final_val_loss, "adamw", steps=600, every=5)
    m.model, m.step, m.val_loss, m.gap                  # AdamW's theta at the step closest to GO's loss
    m.run                                               # the whole run (to step 600, or stopped: stop=True)

    tracks = {"go": forgetting(...), "adamw": forgetting(...)}
    delta = matched.common_learning(tracks)             # nats of new-NLL fall that every track reached
    matched.forgetting_at(tracks["go"], delta)          # old-NLL rise when the new NLL had fallen by delta

- Matched loss: :func:`pretrain_matched` runs :func:`basinlab.training._pretrain.pretrain` and, every
  ``every`` steps, evaluates the validation NLL at theta on the same windows as pretrain (the first
  ``n_eval`` consecutive windows of the val split) and keeps the params of the step whose NLL is
  closest to the target (the earliest on a tie). The matched model is a point of the same run with
  the same schedule, so its learning rate at that step is the schedule's, not decayed.
- Matched learning: fine-tuning on a new corpus lowers the new NLL and raises the old one. Models
  that learn the new corpus by different amounts are compared by the old-NLL rise at the same fall
  of the new NLL (:func:`forgetting_at`, linear between the track's evaluations), taken at the
  largest fall that every compared track reached (:func:`common_learning`);
  :func:`forgetting_per_learned` is the cruder ratio of the two totals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from basinlab import _validate as validate
from basinlab.models._model import Model
from basinlab.training._corpus import Corpus, windows
from basinlab.training._forgetting import Forgetting
from basinlab.training._loss import evaluate_nll
from basinlab.training._pretrain import PretrainResult, pretrain

__all__ = ["Matched", "closest_index", "common_learning", "forgetting_at", "forgetting_per_learned",
           "pretrain_matched"]


def closest_index(values: npt.ArrayLike, target: float) -> int:
    """Index of the entry of ``values`` [k] closest to ``target`` (earliest on a tie; NaN never
    chosen). Raises ValueError for an empty or all-NaN ``values`` or a non-finite target."""
    target = validate.finite("target", target)
    values = np.asarray(values, np.float64).reshape(-1)
    if values.size == 0 or np.isnan(values).all():
        raise ValueError(f"values has no finite entry to match target={target:g}: {values.tolist()}")
    return int(np.nanargmin(np.abs(values - target)))


@dataclasses.dataclass(frozen=True)
class Matched:
    """A run and its theta at the evaluated step closest to a target validation NLL.

    run: the PretrainResult (its model is the last step's). params: theta at ``step``. val_loss:
    the val NLL there (nats/token); target: the NLL asked for. steps, curve: [k] the evaluated steps
    (0 = the initial params) and their val NLL (nats/token). stopped: the run ended early, at the
    first evaluation at or below the target (``stop=True``)."""

    run: PretrainResult
    params: Any
    step: int
    val_loss: float
    target: float
    steps: np.ndarray
    curve: np.ndarray
    stopped: bool

    @property
    def gap(self) -> float:
        """val_loss - target (nats/token): how far the match is off."""
        return self.val_loss - self.target

    @property
    def model(self) -> Model:
        """The Model with the matched params."""
        return self.run.model.with_params(self.params)


def pretrain_matched(model: Model, corpus: Corpus, target: float, optimizer: Any = "adamw", *, every: int = 5,
                     stop: bool = False, n_eval: int = 64, seq_len: int | None = None,
                     **pretrain_options: Any) -> Matched:
    """Pre-train ``model`` on ``corpus`` like :func:`pretrain` and keep theta at the evaluated step
    whose validation NLL is closest to ``target`` (nats/token).

    every: evaluate the val NLL every that many steps (and at step 0, the initial params).
    stop: end the run at the first evaluation at or below ``target`` (the schedule stays the one of
    ``steps``, so the trajectory is the full run's prefix); default: train all ``steps``.
    n_eval, seq_len, pretrain_options: as for :func:`pretrain` (a ``callback`` there is called too).
    Params are not donated by the training step, so the kept ones stay valid (no copy).
    """
    target = validate.finite("target", target)
    every = validate.positive_int("every", every)
    n_eval = validate.positive_int("n_eval", n_eval)
    T = model.spec.max_seq_len if seq_len is None else validate.positive_int("seq_len", seq_len)
    val = windows(corpus.val, n_eval, T, seed=None)  # the windows pretrain evaluates on
    user_callback = pretrain_options.pop("callback", None)
    first = evaluate_nll(model, val)
    state = {"steps": [0], "curve": [first], "best": (abs(first - target), 0, first, model.params), "stopped": False}

    def track(step, metrics, params):
        out = user_callback(step, metrics, params) if user_callback is not None else None
        if step % every:
            return out
        v = evaluate_nll(model, val, params)
        state["steps"].append(step)
        state["curve"].append(v)
        if abs(v - target) < state["best"][0]:
            state["best"] = (abs(v - target), step, v, params)
        if stop and v <= target:
            state["stopped"] = True
            return True
        return out

    run = pretrain(model, corpus, optimizer, n_eval=n_eval, seq_len=seq_len, callback=track, **pretrain_options)
    _, step, v, params = state["best"]
    return Matched(run, params, int(step), float(v), float(target), np.asarray(state["steps"]),
                   np.asarray(state["curve"], np.float64), bool(state["stopped"]))


def _falls_and_rises(track: Forgetting) -> tuple[np.ndarray, np.ndarray]:
    new, old = np.asarray(track.new_nll, np.float64), np.asarray(track.old_nll, np.float64)
    if new.size == 0 or new.shape != old.shape:
        raise ValueError(f"a track needs old_nll and new_nll of one equal, non-zero length; got "
                         f"{old.shape} and {new.shape}")
    return new[0] - new, old - old[0]


def forgetting_at(track: Forgetting, learned: float) -> float:
    """Rise of the old NLL (nats/token) at the first point of ``track`` where the new NLL has fallen
    by ``learned`` (nats/token, >= 0) below its value before fine-tuning, linearly interpolated
    between the two evaluations around it. Raises ValueError when the track never learned that much
    (naming the most it learned)."""
    learned = validate.nonnegative_scalar("learned", learned)
    fall, rise = _falls_and_rises(track)
    reached = np.nonzero(fall >= learned)[0]
    if reached.size == 0:
        raise ValueError(f"learned={learned:g} nats is more than this track's new NLL ever fell "
                         f"({np.nanmax(fall):.4g}); choose learned <= that (common_learning gives the shared amount)")
    i = int(reached[0])
    if i == 0:
        return float(rise[0])
    w = (learned - fall[i - 1]) / (fall[i] - fall[i - 1])  # fall[i-1] < learned <= fall[i]
    return float(rise[i - 1] + w * (rise[i] - rise[i - 1]))


def common_learning(tracks: Mapping[str, Forgetting]) -> float:
    """The largest new-NLL fall (nats/token) that every track reached at some evaluation: the min over
    tracks of each one's max fall. Raises ValueError for no tracks or when one never learned (<= 0)."""
    if not tracks:
        raise ValueError("tracks is empty: give {label: Forgetting}")
    most = {label: float(np.nanmax(_falls_and_rises(t)[0])) for label, t in tracks.items()}
    bad = {k: v for k, v in most.items() if not v > 0}
    if bad:
        raise ValueError(f"these tracks never lowered the new NLL below its start (max fall, nats): {bad}")
    return min(most.values())


def forgetting_per_learned(track: Forgetting) -> float:
    """forgetting / learned of a track: old-NLL rise per nat of new-NLL fall, start to end of
    fine-tuning (dimensionless). Raises ValueError when the track's learned is not > 0."""
    if not track.learned > 0:
        raise ValueError(f"the track's learned is {track.learned:g} nats (new NLL did not fall); "
                         f"forgetting per learned needs learned > 0")
    return track.forgetting / track.learned
