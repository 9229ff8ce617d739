"""Training runs as Datasets: pre-training loss curves and forgetting tracks of several runs.

    ds = curves.training_curves({"adamw": run_a, "go": run_g})     # {label: PretrainResult}
    forget = curves.forgetting_dataset({"adamw": track_a})          # {label: Forgetting}

The figures of these Datasets are :func:`basinlab.viz._pretraining.loss_curves` and
:func:`basinlab.viz._pretraining.forgetting_curves`. Saved with basinlab.landscape._results.save or .to_netcdf.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from basinlab.landscape._results import provenance

if TYPE_CHECKING:  # only for the annotations: analysis reads the results, it never runs training
    from basinlab.training._forgetting import Forgetting
    from basinlab.training._pretrain import PretrainResult

__all__ = ["forgetting_dataset", "training_curves"]

_NATS = {"units": "nats/token"}


def _labels(runs: Mapping[str, object], what: str) -> list[str]:
    if not runs:
        raise ValueError(f"no runs: give {{label: {what}}}")
    return list(runs)


def training_curves(runs: Mapping[str, PretrainResult]) -> xr.Dataset:
    """Loss curves of several pre-training runs ({label: PretrainResult}, same steps and eval_every)
    as one Dataset: train_loss [run, step], val_loss [run, eval_step] (nats/token), final_val_loss
    [run], seconds [run], n_params [run]; coordinate optimizer [run]."""
    labels = _labels(runs, "PretrainResult")
    first = runs[labels[0]]
    for k in labels:
        if runs[k].train_loss.shape != first.train_loss.shape or \
                runs[k].val_steps.tolist() != first.val_steps.tolist():
            raise ValueError(f"run {k!r} has other steps than {labels[0]!r}; training_curves needs equal schedules")
    return xr.Dataset(
        {"train_loss": (("run", "step"), np.stack([runs[k].train_loss for k in labels]),
                        {"long_name": "train NLL at the gradient's point", **_NATS}),
         "val_loss": (("run", "eval_step"), np.stack([runs[k].val_loss for k in labels]),
                      {"long_name": "validation NLL at theta", **_NATS}),
         "final_val_loss": (("run",), [runs[k].final_val_loss for k in labels], _NATS),
         "seconds": (("run",), [runs[k].seconds for k in labels], {"units": "s"}),
         "n_params": (("run",), [runs[k].model.n_params for k in labels])},
        coords={"run": labels, "step": np.arange(1, len(first.train_loss) + 1),
                "eval_step": first.val_steps,
                "optimizer": ("run", [runs[k].optimizer for k in labels])},
        attrs=provenance("training_curves", {"runs": labels, "optimizers": [runs[k].optimizer for k in labels]},
                         model=[runs[k].model for k in labels]))


def forgetting_dataset(tracks: Mapping[str, Forgetting]) -> xr.Dataset:
    """{label: Forgetting} (same steps) as one Dataset: old_nll, new_nll [run, ft_step] (nats/token),
    forgetting, learned [run]."""
    labels = _labels(tracks, "Forgetting")
    steps = tracks[labels[0]].steps
    for k in labels:
        if tracks[k].steps.tolist() != steps.tolist():
            raise ValueError(f"run {k!r} was evaluated at other steps than {labels[0]!r}")
    return xr.Dataset(
        {"old_nll": (("run", "ft_step"), np.stack([tracks[k].old_nll for k in labels]),
                     {"long_name": "old capability: NLL on pre-training val text", **_NATS}),
         "new_nll": (("run", "ft_step"), np.stack([tracks[k].new_nll for k in labels]),
                     {"long_name": "new capability: NLL on fine-tuning val text", **_NATS}),
         "forgetting": (("run",), [tracks[k].forgetting for k in labels],
                        {"long_name": "rise of the old NLL over fine-tuning", **_NATS}),
         "learned": (("run",), [tracks[k].learned for k in labels],
                     {"long_name": "fall of the new NLL over fine-tuning", **_NATS})},
        coords={"run": labels, "ft_step": steps}, attrs=provenance("forgetting_dataset", {"runs": labels}))
