"""Training runs as Datasets (basinlab.analysis._curves): pre-training curves and forgetting tracks."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from basinlab.analysis import _curves as curves
from basinlab.training._forgetting import Forgetting
from basinlab.training._pretrain import PretrainResult


def result(optimizer, train_loss, val_loss, val_steps=(0, 2), n_params=10):
    return PretrainResult(SimpleNamespace(n_params=n_params), optimizer, np.asarray(train_loss, np.float32),
                          np.asarray(val_steps), np.asarray(val_loss, np.float32), [], 1.5)


def test_training_curves_stack_runs():
    ds = curves.training_curves({"a": result("adamw", [3.0, 2.0], [4.0, 2.5]),
                                 "g": result("go", [3.5, 2.2], [4.0, 2.0], n_params=12)})
    assert ds["train_loss"].dims == ("run", "step") and ds["step"].values.tolist() == [1, 2]
    assert ds["val_loss"].sel(run="g").values.tolist() == [4.0, 2.0] and ds["eval_step"].values.tolist() == [0, 2]
    assert ds["final_val_loss"].values.tolist() == [2.5, 2.0] and ds["n_params"].values.tolist() == [10, 12]
    assert ds["optimizer"].values.tolist() == ["adamw", "go"] and ds["val_loss"].attrs["units"] == "nats/token"
    with pytest.raises(ValueError, match="run 'b' has other steps than 'a'"):
        curves.training_curves({"a": result("adamw", [3.0, 2.0], [4.0, 2.5]),
                                "b": result("adamw", [3.0], [4.0, 2.5])})
    with pytest.raises(ValueError, match="no runs"):
        curves.training_curves({})


def test_forgetting_dataset_stacks_tracks():
    steps = np.array([0, 3])
    tracks = {"early": Forgetting(steps, np.array([2.0, 2.6], np.float32), np.array([3.0, 2.0], np.float32), 1.0),
              "late": Forgetting(steps, np.array([1.5, 1.7], np.float32), np.array([3.0, 1.0], np.float32), 1.0)}
    ds = curves.forgetting_dataset(tracks)
    assert ds["old_nll"].dims == ("run", "ft_step") and ds["ft_step"].values.tolist() == [0, 3]
    np.testing.assert_allclose(ds["forgetting"].values, [0.6, 0.2], rtol=1e-6)
    np.testing.assert_allclose(ds["learned"].values, [1.0, 2.0])
    with pytest.raises(ValueError, match="run 'odd' was evaluated at other steps than 'early'"):
        curves.forgetting_dataset({**tracks, "odd": dataclasses.replace(tracks["late"], steps=np.array([0, 4]))})
