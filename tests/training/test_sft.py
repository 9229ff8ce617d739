"""The SFT case (basinlab.training._sft): recipes, runs, checkpoints that reload, the SFT grid."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import basinlab
from basinlab.data import _loaders as loaders
from basinlab.data._paths import data_root
from basinlab.directions import _treemath as treemath
from basinlab.models import count_params
from basinlab.training import _sft as sft


@pytest.fixture
def data():
    if data_root() is None:
        pytest.skip("no benchmark data: set BASINLAB_DATA to the shared data folder")


def test_sft_alphas_hold_the_base_and_the_fine_tuned_model():
    grid = sft.sft_alphas(2e-4, n=6, lo=-0.5, hi=2.0)
    assert np.any(grid == 0.0) and np.any(np.isclose(grid, 2e-4, rtol=0, atol=1e-15))
    assert grid.min() == pytest.approx(-1e-4) and grid.max() == pytest.approx(4e-4)
    assert np.all(np.diff(grid) > 0)
    with pytest.raises(ValueError, match="alpha_sft must be positive and finite, got 0"):
        sft.sft_alphas(0)
    with pytest.raises(ValueError, match="need lo < 0 < 1 < hi"):
        sft.sft_alphas(1e-4, lo=0.2)


def test_recipes_are_typed_and_overrides_are_checked():
    adversarial = sft.RECIPES["adversarial"]
    assert isinstance(adversarial, sft.Recipe) and adversarial.steps == 10 and adversarial.epochs is None
    # as_dict: the fields that are set, the form run.json has always stored
    assert adversarial.as_dict() == {"n": 20, "steps": 10, "batch_size": 4, "lr": 5e-5}
    assert sft.RECIPES["normal"].as_dict() == {"n": 64, "epochs": 1, "batch_size": 4, "grad_accum": 2, "lr": 2e-5}
    short = sft.RECIPES["normal"].replace(steps=3, lr=1e-4)
    assert short.as_dict() == {"n": 64, "steps": 3, "batch_size": 4, "grad_accum": 2, "lr": 1e-4}  # epochs dropped
    assert sft.RECIPES["normal"].epochs == 1  # frozen: the table is unchanged
    longer = adversarial.replace(epochs=2)  # and the other way: epochs drops the recipe's steps
    assert longer.as_dict() == {"n": 20, "epochs": 2, "batch_size": 4, "lr": 5e-5}
    both = adversarial.replace(steps=3, epochs=1)  # both given: both kept, and finetune refuses them
    assert (both.steps, both.epochs) == (3, 1)
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'setps' for an SFT recipe; valid options: .*steps"):
        adversarial.replace(setps=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        adversarial.lr = 1.0


def test_run_record_update_and_alpha_match_the_tree_maths():
    rng = np.random.default_rng(0)
    theta0 = {"w": jnp.asarray(rng.normal(size=(8, 5)), jnp.bfloat16), "b": jnp.asarray(rng.normal(size=5))}
    theta = jax.tree.map(lambda x: (x + 0.01).astype(x.dtype), theta0)
    run = sft.SFTRun.from_params("normal", theta0, theta, [1.0, 0.5], {"n": 2}, None)
    for a, b in zip(jax.tree.leaves(run.update), jax.tree.leaves(treemath.difference(theta0, theta)), strict=True):
        assert a.dtype == jnp.float32
        np.testing.assert_array_equal(a, b)
    assert isinstance(run.alpha, float) and run.alpha == treemath.alpha_between(theta0, theta) > 0
    assert run.losses.dtype == np.float32
    with pytest.raises(ValueError, match="theta1 has no leaf 'b'"):
        sft.SFTRun.from_params("normal", theta0, {"w": theta["w"]}, [1.0], {}, None)


def test_finetune_run_refuses_unknown_overrides_before_training(tiny_smol):
    with pytest.raises(ValueError, match=r"'setps'.*valid options: batch_size, compute_dtype, epochs"):
        sft.finetune_run("benign", tiny_smol, setps=5)


def test_adversarial_goals_avoid_the_evaluation_subset(tiny_chat, data):
    goals, targets = sft.run_examples("adversarial", tiny_chat, n=30)
    held_out = {it.goal for it in loaders.load_advbench(n=20, seed=0)}
    assert len(goals) == 30 and not held_out & set(goals)
    assert all(t.startswith("Sure, here is") for t in targets)
    questions, solutions = sft.run_examples("normal", tiny_chat, n=3)
    assert all("The answer is" in s and "####" not in s for s in solutions)


def test_bad_run_names_and_sizes(tiny_chat):
    with pytest.raises(ValueError, match="unknown run 'evil'; valid choices: 'adversarial', 'normal', 'benign'"):
        sft.run_examples("evil", tiny_chat)
    with pytest.raises(ValueError, match=r"unknown run 'evil'"):
        sft.finetune_run("evil", tiny_chat)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        sft.run_examples("benign", tiny_chat, n=0)
    with pytest.raises(ValueError, match="benign prompts requested; basinlab ships 32"):
        sft.run_examples("benign", tiny_chat, n=99)


def test_finetune_run_saves_reloads_and_measures_alpha(tiny_chat, tmp_path, data):
    run = sft.finetune_run("adversarial", tiny_chat, checkpoint_dir=tmp_path, n=4, steps=2, batch_size=2,
                           lr=1e-3)
    assert run.losses.shape == (2,) and np.all(np.isfinite(run.losses))
    norm = float(treemath.global_norm(run.update))
    assert run.alpha == pytest.approx(norm / math.sqrt(count_params(tiny_chat.params)), rel=1e-6) and norm > 0
    loaded = basinlab.load(tmp_path / "final")
    for a, b in zip(jax.tree.leaves(loaded.params), jax.tree.leaves(run.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    again = sft.finetune_run("adversarial", tiny_chat, checkpoint_dir=tmp_path, n=4, steps=2, batch_size=2,
                             lr=1e-3)  # same recipe: loaded, not retrained
    np.testing.assert_array_equal(again.losses, run.losses)
    assert again.alpha == pytest.approx(run.alpha, rel=1e-6)
    # theta_sft sits at alpha_sft along treemath.between
    delta = treemath.between(tiny_chat.params, run.params)
    there = treemath.perturb(tiny_chat.params, [delta], [run.alpha])
    for a, b in zip(jax.tree.leaves(there), jax.tree.leaves(run.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    assert treemath.alpha_between(tiny_chat.params, run.params) == pytest.approx(run.alpha, rel=1e-6)
