"""Basin width and forgetting of pre-trained models (Figure 5b/5c, basin growth, basins and scale).

    ds, w = basins.measure(model, tokens, directions=8, alphas=np.linspace(-0.1, 0.1, 21), tol=0.05)
    track = basins.forgetting(model, new_train, old_val=old, new_val=new, steps=200)

Width definition. Next-token accuracy under weight noise falls smoothly (PAPER.md section 2), so
a basin edge is a threshold: walking out from alpha = 0 along one unnormalized Gaussian direction
(alpha = per-coordinate noise std, as everywhere in basinlab), the edge on each side is the alpha
where |score(alpha) - score(0)| first exceeds ``tol``, linearly interpolated between the last grid
point inside and the first outside (so widths are not quantized to the grid step). The width is
right edge - left edge; a side that never leaves the tolerance is censored at the grid's end. A
model's basin width is the median over directions. ``variable="nll"`` uses the mean NLL (nats)
instead, with ``tol`` in nats.
"""

from __future__ import annotations

import dataclasses
import time
import numpy as np
import xarray as xr

from basinlab.landscape import results  # noqa: F401  registers ds.basin
from basinlab.training import loop as train
from basinlab.benchmarks.text import token_benchmark
from basinlab.landscape.engine import landscape

__all__ = ["Forgetting", "forgetting", "forgetting_dataset", "measure", "width"]


def width(ds: xr.Dataset, tol: float = 0.05, variable: str = "score") -> xr.Dataset:
    """Interpolated basin edges per direction and benchmark (module docstring) of a 1-D landscape.

    Returns a Dataset with left, right, width ([direction, benchmark], alpha units) and censored
    (bool: an edge is the end of the grid, the basin is at least that wide).
    """
    if "beta" in ds.dims:
        raise ValueError("basin width is defined along one direction: select a beta first")
    if variable not in ("score", "nll"):
        raise ValueError(f"variable={variable!r} is not supported; valid: ['score', 'nll']")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    alphas = ds["alpha"].values
    if not (alphas.min() <= 0 <= alphas.max()):
        raise ValueError("the alpha grid must contain 0 (or straddle it)")
    return ds.basin.width(tol, variable, interpolate=True)


def measure(model, tokens, directions: int = 8, alphas=np.linspace(-0.1, 0.1, 21), tol: float = 0.05,
            variable: str = "score", name: str = "val", progress: bool = False):
    """Most-case landscape of ``model`` on next-token accuracy over ``tokens`` [n, T] and its width.

    Returns (ds, w): the landscape Dataset and the median interpolated width over directions of the
    single benchmark (float, alpha units).
    """
    bench = token_benchmark(tokens, name=name, description=f"{len(tokens)} x {np.shape(tokens)[1]} "
                                                           "held-out tokens")
    ds = landscape(model, bench, directions=directions, alphas=np.asarray(alphas, np.float64),
                   progress=progress)
    return ds, float(width(ds, tol, variable)["width"].median("direction").values[0])


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


def forgetting(model, new_train, old_val, new_val, *, steps: int = 200, batch_size: int = 16,
               lr: float = 1e-3, eval_every: int = 10, seed: int = 0,
               optimizer=None) -> Forgetting:
    """Fine-tune ``model`` on windows ``new_train`` [N, T] (plain AdamW, constant lr, weight decay 0,
    every token trained) and track old/new NLL on ``old_val``/``new_val`` [n, T] every
    ``eval_every`` steps. The same recipe for every pre-trained model, so forgetting compares them.
    """
    from basinlab.training.pretrain import evaluate_nll

    new_train = np.asarray(new_train, np.int32)
    ones = np.ones(new_train.shape, np.int32)
    record = {"steps": [0], "old": [evaluate_nll(model, old_val)], "new": [evaluate_nll(model, new_val)]}

    def track(step, metrics, params):
        if step % eval_every == 0 or step == steps:
            record["steps"].append(step)
            record["old"].append(evaluate_nll(model, old_val, params))
            record["new"].append(evaluate_nll(model, new_val, params))

    start = time.perf_counter()
    train.finetune(model, (new_train, ones, ones), steps=steps, batch_size=batch_size, lr=lr,
                   optimizer=optimizer, seed=seed, log_every=None, callback=track)
    return Forgetting(np.asarray(record["steps"]), np.asarray(record["old"], np.float32),
                      np.asarray(record["new"], np.float32), time.perf_counter() - start)



def forgetting_dataset(tracks: dict) -> xr.Dataset:
    """{label: Forgetting} (same steps) as one Dataset: old_nll, new_nll [run, ft_step] (nats/token),
    forgetting, learned [run]."""
    labels = list(tracks)
    steps = tracks[labels[0]].steps
    for k in labels:
        if tracks[k].steps.tolist() != steps.tolist():
            raise ValueError(f"run {k!r} was evaluated at other steps than {labels[0]!r}")
    nats = {"units": "nats/token"}
    return xr.Dataset(
        {"old_nll": (("run", "ft_step"), np.stack([tracks[k].old_nll for k in labels]),
                     {"long_name": "old capability: NLL on pre-training val text", **nats}),
         "new_nll": (("run", "ft_step"), np.stack([tracks[k].new_nll for k in labels]),
                     {"long_name": "new capability: NLL on fine-tuning val text", **nats}),
         "forgetting": (("run",), [tracks[k].forgetting for k in labels],
                        {"long_name": "rise of the old NLL over fine-tuning", **nats}),
         "learned": (("run",), [tracks[k].learned for k in labels],
                     {"long_name": "fall of the new NLL over fine-tuning", **nats})},
        coords={"run": labels, "ft_step": steps})
