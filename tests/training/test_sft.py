"""The SFT case (basinlab.sft): runs, the SFT grid, update/direction alignment, basins around a center."""

import math

import jax
import numpy as np
import pytest

import basinlab
from basinlab.landscape import directions as D
from basinlab.training import sft
from basinlab.benchmarks import loaders
from basinlab.benchmarks.paths import data_root
from basinlab.benchmarks.text import token_benchmark


@pytest.fixture
def data():
    if data_root() is None:
        pytest.skip("no benchmark data: set BASINLAB_DATA to the shared data folder")


def test_sft_alphas_hold_the_base_and_the_fine_tuned_model():
    grid = sft.sft_alphas(2e-4, n=6, lo=-0.5, hi=2.0)
    assert np.any(grid == 0.0) and np.any(np.isclose(grid, 2e-4, rtol=0, atol=1e-15))
    assert grid.min() == pytest.approx(-1e-4) and grid.max() == pytest.approx(4e-4)
    assert np.all(np.diff(grid) > 0)
    with pytest.raises(ValueError, match="alpha_sft must be a finite number > 0, got 0"):
        sft.sft_alphas(0)
    with pytest.raises(ValueError, match="need lo < 0 < 1 < hi"):
        sft.sft_alphas(1e-4, lo=0.2)


def test_alignment_against_the_random_null(tiny_smol):
    u = D.regenerate(D.DirectionRecipe(seed=100), tiny_smol.params)
    same = sft.alignment(u, D._scale(u, 3.0))
    assert same["cosine"] == pytest.approx(1.0, abs=1e-6)
    assert same["z"] == pytest.approx(math.sqrt(same["d"]), rel=1e-5) and same["p_value"] == 0.0
    out = sft.alignment(u, D.regenerate(D.DirectionRecipe(seed=101), tiny_smol.params), n_random=20)
    assert out["null_std"] == pytest.approx(1 / math.sqrt(D.count(tiny_smol.params)))
    # Independent Gaussian directions: cosines ~ N(0, 1/d); 20 draws stay inside 5 std.
    assert abs(out["z"]) < 5 and np.all(np.abs(out["random"]) < 5 * out["null_std"])
    assert 0.0 < out["p_value"] <= 1.0
    assert 0.3 * out["null_std"] < np.std(out["random"]) < 2 * out["null_std"]


def test_adversarial_goals_avoid_the_evaluation_subset(tiny_chat, data):
    goals, targets = sft.run_examples("adversarial", tiny_chat, n=30)
    held_out = {it.goal for it in loaders.load_advbench(n=20, seed=0)}
    assert len(goals) == 30 and not held_out & set(goals)
    assert all(t.startswith("Sure, here is") for t in targets)
    questions, solutions = sft.run_examples("normal", tiny_chat, n=3)
    assert all("The answer is" in s and "####" not in s for s in solutions)


def test_bad_run_names_and_sizes(tiny_chat):
    with pytest.raises(ValueError, match=r"unknown run 'evil'; valid: \['adversarial', 'normal', 'benign'\]"):
        sft.run_examples("evil", tiny_chat)
    with pytest.raises(ValueError, match=r"unknown run 'evil'"):
        sft.finetune_run("evil", tiny_chat)
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        sft.run_examples("benign", tiny_chat, n=0)
    with pytest.raises(ValueError, match="benign prompts requested; basinlab ships 32"):
        sft.run_examples("benign", tiny_chat, n=99)


def test_finetune_run_saves_reloads_and_measures_alpha(tiny_chat, tmp_path, data):
    run = sft.finetune_run("adversarial", tiny_chat, checkpoint_dir=tmp_path, n=4, steps=2, batch_size=2,
                           lr=1e-3)
    assert run.losses.shape == (2,) and np.all(np.isfinite(run.losses))
    norm = float(D.global_norm(run.update))
    assert run.alpha == pytest.approx(norm / math.sqrt(D.count(tiny_chat.params)), rel=1e-6) and norm > 0
    loaded = basinlab.load(tmp_path / "final")
    for a, b in zip(jax.tree.leaves(loaded.params), jax.tree.leaves(run.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    again = sft.finetune_run("adversarial", tiny_chat, checkpoint_dir=tmp_path, n=4, steps=2, batch_size=2,
                             lr=1e-3)  # same recipe: loaded, not retrained
    np.testing.assert_array_equal(again.losses, run.losses)
    assert again.alpha == pytest.approx(run.alpha, rel=1e-6)
    # theta_sft sits at alpha_sft along directions.between
    delta = D.between(tiny_chat.params, run.params)
    there = D.perturb(tiny_chat.params, [delta], [run.alpha])
    for a, b in zip(jax.tree.leaves(there), jax.tree.leaves(run.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    assert D.alpha_between(tiny_chat.params, run.params) == pytest.approx(run.alpha, rel=1e-6)


def test_widths_around_two_centers(tiny_chat):
    bench = token_benchmark(np.random.RandomState(0).randint(3, 400, size=(2, 12)), name="t")
    shifted = jax.tree.map(lambda x: x * 1.01, tiny_chat.params)
    out = sft.widths_around(tiny_chat, {"theta0": tiny_chat.params, "shifted": shifted}, [bench],
                            directions=2, alphas=[-0.5, 0.0, 0.5], tol=0.5)
    assert out["width"].dims == ("center", "benchmark") and list(out["center"].values) == ["theta0", "shifted"]
    assert np.all(out["width"].values >= 0) and out.attrs["tol"] == 0.5
    with pytest.raises(ValueError, match="centers is empty"):
        sft.widths_around(tiny_chat, {}, [bench], alphas=[0.0])


def test_capability_change_uses_the_items_interval():
    import xarray as xr

    alphas = sft.sft_alphas(1e-4, n=4)
    score = np.tile(np.array([0.5, 0.45])[None, None, :], (1, alphas.size, 1))
    at = int(np.argmin(np.abs(alphas - 1e-4)))
    score[0, at] = [0.0, 0.44]
    items = np.zeros((1, alphas.size, 2, 20))
    items[..., 0, :10] = 1.0
    items[..., 1, :] = 0.45  # a fractional score (token accuracy): not binomial
    ds = xr.Dataset({"score": (("direction", "alpha", "benchmark"), score),
                     "base_score": (("benchmark",), [0.5, 0.45]),
                     "item_score": (("direction", "alpha", "benchmark", "item"), items)},
                    coords={"alpha": alphas, "benchmark": ["oracle", "text"], "n_items": ("benchmark", [20, 20])})
    out = sft.capability_change(ds, 1e-4, confidence=0.95, tol=0.05)
    lo, hi = out["lower"].sel(benchmark="oracle"), out["upper"].sel(benchmark="oracle")
    assert 0.27 < lo < 0.28 and 0.72 < hi < 0.73  # CP 95% for 10/20
    assert not bool(out["kept"].sel(benchmark="oracle")) and bool(out["kept"].sel(benchmark="text"))
    assert str(out["interval"].sel(benchmark="text").item()) == "+/- tol 0.05"
    assert list(out["change"].values) == ["fell", "kept"]
    with pytest.raises(ValueError, match="is not on the grid"):
        sft.capability_change(ds, 3.3e-4)
