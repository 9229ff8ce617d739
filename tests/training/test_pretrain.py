"""Pre-training from scratch (basinlab.training._pretrain): GO keeps theta, sigma=0 is AdamW, bad input."""

import numpy as np
import optax
import pytest

import basinlab
from basinlab.training import _corpus as corpora
from basinlab.training import _gpt as gpt
from basinlab.training import _optim as optim
from basinlab.training import _pretrain as pretrain

from trees import assert_same_params

TINY = gpt.GPTConfig(n_layers=1, d_model=32, n_heads=2, max_seq_len=32)


@pytest.fixture(scope="module")
def corpus():
    return corpora.load_corpus("pydoc", max_chars=60_000)


@pytest.mark.slow
def test_pretrain_learns_and_checkpoints_are_theta(corpus, tmp_path):
    model = gpt.init_model(TINY, seed=0)
    seen = {}
    run = pretrain.pretrain(model, corpus, "go", steps=12, batch_size=8, lr=1e-2, warmup=2, sigma=0.05,
                            eval_every=6, n_eval=8, checkpoint_dir=tmp_path, checkpoint_every=5,
                            callback=lambda step, m, p: seen.update({step: p}))
    assert [p.rsplit("/", 1)[-1] for p in run.checkpoints] == ["step-000005", "step-000010",
                                                               "step-000012"]
    assert run.val_steps.tolist() == [0, 6, 12] and run.train_loss.shape == (12,)
    assert run.val_loss[-1] < run.val_loss[0] - 0.3, run.val_loss
    for step, path in zip((5, 10, 12), run.checkpoints, strict=True):  # every checkpoint is theta, not theta + eps
        loaded = basinlab.load(path)
        assert_same_params(loaded.params, seen[step])
        assert loaded.tokenizer is not None
    assert_same_params(run.model.params, seen[12])
    # ... and theta is not the perturbed point GO took its last gradient at.
    state = optim.go(optax.adamw(1e-3), 0.05, key=0).init(run.model.params)
    point = optim.perturb(run.model.params, state)
    assert not np.array_equal(np.asarray(point["embed"]["embedding"]),
                              np.asarray(run.model.params["embed"]["embedding"]))


@pytest.mark.slow
def test_go_sigma0_pretraining_is_exactly_adamw(corpus):
    model = gpt.init_model(TINY, seed=1)
    kw = dict(steps=4, batch_size=4, eval_every=4, n_eval=4, warmup=1)
    adamw = pretrain.pretrain(model, corpus, "adamw", **kw)
    go0 = pretrain.pretrain(model, corpus, "go", sigma=0.0, **kw)
    assert_same_params(go0.model.params, adamw.model.params)
    np.testing.assert_array_equal(go0.train_loss, adamw.train_loss)


def test_stop_below_ends_at_the_first_evaluation_reaching_it_as_a_prefix_of_the_full_run(corpus, tmp_path):
    model = gpt.init_model(TINY, seed=2)
    kw = dict(steps=12, batch_size=4, lr=1e-2, warmup=2, eval_every=3, n_eval=4)  # cosine: the lr depends on steps
    full = pretrain.pretrain(model, corpus, "adamw", **kw)
    target = float(full.val_loss[2])  # reached at step 6, not at 3 (the curve falls here)
    assert full.val_loss[1] > target
    folder = tmp_path / "run"
    stopped = pretrain.pretrain(model, corpus, "adamw", stop_below=target, checkpoint_dir=folder,
                                checkpoint_every=3, **kw)
    assert stopped.val_steps.tolist() == [0, 3, 6]
    np.testing.assert_array_equal(stopped.val_loss, full.val_loss[:3])
    np.testing.assert_array_equal(stopped.train_loss, full.train_loss[:6])  # same schedule, same batches
    assert [p.rsplit("/", 1)[-1] for p in stopped.checkpoints] == ["step-000003", "step-000006"]
    # resuming the stopped run trains nothing more: the same curve, params and checkpoints
    again = pretrain.pretrain(model, corpus, "adamw", stop_below=target, checkpoint_dir=folder,
                              checkpoint_every=3, resume=True, **kw)
    assert again.val_steps.tolist() == [0, 3, 6] and again.train_loss.shape == (6,)
    assert_same_params(again.model.params, stopped.model.params)
    assert sorted(x.name for x in folder.iterdir()) == ["step-000003", "step-000006"]
    # ... while resuming it without the stop goes on to the end of the full run, identically
    rest = pretrain.pretrain(model, corpus, "adamw", checkpoint_dir=folder, checkpoint_every=3, resume=True, **kw)
    np.testing.assert_allclose(rest.val_loss, full.val_loss, rtol=1e-6)
    with pytest.raises(ValueError, match="stop_below must be finite, got nan"):
        pretrain.pretrain(model, corpus, "adamw", stop_below=float("nan"), **kw)


def test_bad_input_names_the_valid_choices(corpus):
    model = gpt.init_model(TINY)
    with pytest.raises(ValueError, match=r"optimizer='lion'.*'adamw', 'go', 'sam'"):
        pretrain.pretrain(model, corpus, "lion", steps=1)
    with pytest.raises(ValueError, match=r"seq_len must be in \[2, 32\].*got 64"):
        pretrain.pretrain(model, corpus, seq_len=64, steps=1)
    with pytest.raises(ValueError, match="eval_every must be a positive integer, got 0"):
        pretrain.pretrain(model, corpus, steps=1, eval_every=0)


def _adam_steps(opt, n: int) -> np.ndarray:
    """|update| of one parameter under a constant gradient for n steps: Adam's normalized step is
    about the learning rate, so this reads the schedule back from the optimizer itself."""
    import jax.numpy as jnp

    params = {"w": jnp.zeros(())}
    state, out = opt.init(params), []
    for _ in range(n):
        upd, state = opt.update({"w": jnp.ones(())}, state, params)
        out.append(abs(float(upd["w"])))
    return np.asarray(out)


def test_constant_schedule_holds_lr_after_warmup_and_cosine_decays():
    lr, steps, warmup = 1e-2, 60, 10
    const = _adam_steps(pretrain.make_optimizer("adamw", lr, steps, warmup, schedule="constant"), steps + 20)
    cos = _adam_steps(pretrain.make_optimizer("adamw", lr, steps, warmup, schedule="cosine"), steps)
    assert const[0] == 0.0 and 0 < const[5] < lr * 0.9  # linear warmup from 0
    np.testing.assert_allclose(const[warmup:], lr, rtol=1e-4)  # held, also past `steps`
    assert cos[-1] < 0.15 * lr and cos[warmup] == pytest.approx(lr, rel=1e-4)  # decays towards lr/10
    nowarm = _adam_steps(pretrain.make_optimizer("adamw", lr, steps, 0, schedule="constant"), 3)
    np.testing.assert_allclose(nowarm, lr, rtol=1e-4)


def test_schedule_bad_value_names_the_valid_choices(corpus):
    model = gpt.init_model(TINY)
    with pytest.raises(ValueError, match=r"schedule 'linear'.*'cosine', 'constant'"):
        pretrain.pretrain(model, corpus, steps=1, schedule="linear")
    with pytest.raises(ValueError, match=r"schedule='linear' is not supported; valid: \['cosine', 'constant'\]"):
        pretrain.make_optimizer("adamw", schedule="linear")


@pytest.mark.slow
def test_resume_with_another_schedule_raises(corpus, tmp_path):
    model = gpt.init_model(TINY)
    kw = dict(steps=2, batch_size=2, eval_every=2, n_eval=2, warmup=1, checkpoint_dir=tmp_path, resume=True)
    pretrain.pretrain(model, corpus, schedule="constant", **kw)
    with pytest.raises(ValueError, match="other settings.*schedule"):
        pretrain.pretrain(model, corpus, schedule="cosine", **kw)
