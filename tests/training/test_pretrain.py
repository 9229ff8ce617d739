"""Pre-training from scratch (basinlab.pretrain) and basin widths / forgetting (basinlab.basins)."""

import math

import jax
import numpy as np
import pytest
import xarray as xr

import basinlab
from basinlab.training import basins
from basinlab.training import optim
from basinlab.training import pretrain


def assert_same_params(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
        assert np.array_equal(np.asarray(x), np.asarray(y)), f"{jax.tree_util.keystr(path)} differs"


TINY = pretrain.GPTConfig(n_layers=1, d_model=32, n_heads=2, max_seq_len=32)


@pytest.fixture(scope="module")
def corpus():
    return pretrain.load_corpus("pydoc", max_chars=60_000)


def test_byte_tokenizer_round_trips_any_text():
    tok = pretrain.byte_tokenizer()
    text = "To be, or not to be: é ∑ {x_1} \n\t  done"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(tok) == 257 and max(ids) < 256 and len(ids) == len(text.encode("utf-8"))
    assert tok.decode(ids) == text and tok.eos_token_id == 256


def test_init_model_gpt2_shapes_and_loss_at_init(tmp_path):
    model = pretrain.init_model(TINY, seed=0)
    spec = model.spec
    assert spec.arch == "gpt2" and spec.vocab_size == 257 and spec.max_seq_len == 32
    d = 257 * 32 + 32 * 32 + (4 * 32 + 3 * 32 * 32 + 3 * 32 + 32 * 32 + 32 + 2 * 32 * 128 + 128 + 32) + 2 * 32
    assert model.n_params == d
    # A fresh model predicts nearly uniformly: NLL ~ ln(257).
    tokens = pretrain.windows(np.arange(200) % 256, 4, 32, seed=0)
    assert abs(pretrain.evaluate_nll(model, tokens) - math.log(257)) < 0.1
    # Saved and loaded as a Hugging Face GPT-2 folder, tokenizer included.
    basinlab.models.save_checkpoint(model, None, tmp_path / "m")
    back = basinlab.load(tmp_path / "m")
    assert_same_params(back.params, model.params)
    assert back.tokenizer("abc")["input_ids"] == [97, 98, 99]
    assert pretrain.init_model("tiny").n_params == 120_640


@pytest.mark.slow
def test_pretrain_learns_and_checkpoints_are_theta(corpus, tmp_path):
    model = pretrain.init_model(TINY, seed=0)
    seen = {}
    run = pretrain.pretrain(model, corpus, "go", steps=12, batch_size=8, lr=1e-2, warmup=2, sigma=0.05,
                            eval_every=6, n_eval=8, checkpoint_dir=tmp_path, checkpoint_every=5,
                            callback=lambda step, m, p: seen.update({step: p}))
    assert [p.rsplit("/", 1)[-1] for p in run.checkpoints] == ["step-000005", "step-000010",
                                                               "step-000012"]
    assert run.val_steps.tolist() == [0, 6, 12] and run.train_loss.shape == (12,)
    assert run.val_loss[-1] < run.val_loss[0] - 0.3, run.val_loss
    for step, path in zip((5, 10, 12), run.checkpoints):  # every checkpoint is theta, not theta + eps
        loaded = basinlab.load(path)
        assert_same_params(loaded.params, seen[step])
        assert loaded.tokenizer is not None
    assert_same_params(run.model.params, seen[12])
    # ... and theta is not the perturbed point GO took its last gradient at.
    state = optim.go(__import__("optax").adamw(1e-3), 0.05, key=0).init(run.model.params)
    point = optim.perturb(run.model.params, state)
    assert not np.array_equal(np.asarray(point["embed"]["embedding"]),
                              np.asarray(run.model.params["embed"]["embedding"]))


@pytest.mark.slow
def test_go_sigma0_pretraining_is_exactly_adamw(corpus):
    model = pretrain.init_model(TINY, seed=1)
    kw = dict(steps=4, batch_size=4, eval_every=4, n_eval=4, warmup=1)
    adamw = pretrain.pretrain(model, corpus, "adamw", **kw)
    go0 = pretrain.pretrain(model, corpus, "go", sigma=0.0, **kw)
    assert_same_params(go0.model.params, adamw.model.params)
    np.testing.assert_array_equal(go0.train_loss, adamw.train_loss)


def test_bad_input_names_the_valid_choices(corpus):
    model = pretrain.init_model(TINY)
    with pytest.raises(ValueError, match=r"config='huge'.*\['tiny', 'small', 'medium'\]"):
        pretrain.init_model("huge")
    with pytest.raises(ValueError, match=r"optimizer='lion'.*'adamw', 'go', 'sam'"):
        pretrain.pretrain(model, corpus, "lion", steps=1)
    with pytest.raises(ValueError, match=r"seq_len must be in \[2, 32\].*got 64"):
        pretrain.pretrain(model, corpus, seq_len=64, steps=1)
    with pytest.raises(ValueError, match="val_fraction"):
        pretrain.load_corpus("pydoc", val_fraction=1.5)
    with pytest.raises(ValueError, match="d_model=30 must be a multiple of n_heads=4"):
        pretrain.GPTConfig(n_layers=1, d_model=30, n_heads=4)


def _synthetic(scores, alphas):
    scores = np.asarray(scores, float)[:, :, None]
    return xr.Dataset({"score": (("direction", "alpha", "benchmark"), scores),
                       "base_score": (("benchmark",), [scores[0, list(alphas).index(0.0), 0]])},
                      coords={"direction": np.arange(len(scores)), "alpha": alphas, "benchmark": ["b"]})


def test_width_interpolates_the_tolerance_crossing():
    alphas = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    # Direction 0: score 1 - |alpha| * 2 -> crosses 1 - 0.05 at |alpha| = 0.025 on both sides.
    # Direction 1: flat -> censored at the grid ends.
    ds = _synthetic([1 - 2 * np.abs(alphas), np.ones(5)], alphas)
    w = basins.width(ds, tol=0.05)
    np.testing.assert_allclose(w["left"].values[:, 0], [-0.025, -0.2])
    np.testing.assert_allclose(w["right"].values[:, 0], [0.025, 0.2])
    assert w["censored"].values[:, 0].tolist() == [False, True]
    with pytest.raises(ValueError, match=r"variable='loss'.*\['score', 'nll'\]"):
        basins.width(ds, variable="loss")


@pytest.mark.slow
def test_measure_and_forgetting_on_a_tiny_model(corpus):
    model = pretrain.init_model(TINY, seed=0)
    run = pretrain.pretrain(model, corpus, "adamw", steps=10, batch_size=8, eval_every=10, n_eval=4)
    val = pretrain.windows(corpus.val, 4, 32, seed=None)
    ds, w = basins.measure(run.model, val, directions=2, alphas=np.linspace(-0.5, 0.5, 5), tol=0.05)
    assert ds.sizes["direction"] == 2 and 0 < w <= 1.0
    new = pretrain.load_corpus(__file__)  # this file's own text as the "new" corpus
    new_train = pretrain.windows(new.train, 40, 32, seed=0)
    f = basins.forgetting(run.model, new_train, val, pretrain.windows(new.val, 4, 32, seed=None),
                          steps=6, batch_size=4, lr=3e-3, eval_every=3)
    assert f.steps.tolist() == [0, 3, 6] and f.learned > 0 and np.isfinite(f.forgetting)
