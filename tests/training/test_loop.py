"""The fine-tuning loop (basinlab.training._loop.finetune): learning, accumulation, divergence, GO, bf16."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import basinlab
from basinlab.training import _data as data
from basinlab.training import _loop as loop
from basinlab.training import _optim as optim
from basinlab.training._loss import masked_nll

from sft_batches import logits, random_examples
from trees import assert_same_params


@pytest.mark.slow  # > 5 s here: runs in make test, not in make check
def test_loss_decreases_memorizing_four_examples(tiny_chat):
    examples = data.sft_examples(tiny_chat, ["one", "two", "three", "four"],
                                  ["uno", "dos", "tres", "cuatro"])
    result = loop.finetune(tiny_chat, examples, steps=20, batch_size=4, lr=3e-3, log_every=0)
    assert result.steps == 20 and result.losses.shape == (20,)
    assert result.losses[-1] < 0.5 * result.losses[0], result.losses
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(result.params))


@pytest.mark.slow  # > 5 s here: runs in make test, not in make check
def test_grad_accumulation_equals_a_bigger_batch(tiny_smol):
    examples = random_examples(tiny_smol.spec.vocab_size, n=8)
    run = dict(steps=3, optimizer=optax.sgd(0.5), seed=1, log_every=0)
    big = loop.finetune(tiny_smol, examples, batch_size=4, grad_accum=1, **run)
    acc = loop.finetune(tiny_smol, examples, batch_size=2, grad_accum=2, **run)
    np.testing.assert_allclose(acc.losses, big.losses, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(acc.params), jax.tree.leaves(big.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    moved = sum(float(jnp.abs(a - b).max()) for a, b in
                zip(jax.tree.leaves(big.params), jax.tree.leaves(tiny_smol.params), strict=True))
    assert moved > 1e-3  # the steps did something


def test_nan_stops_with_the_step_and_a_last_good_checkpoint(tiny_smol, tmp_path):
    examples = random_examples(tiny_smol.spec.vocab_size, n=4)
    seen = {}
    with pytest.raises(RuntimeError, match="step 2 of 5: a non-finite gradient") as info:
        loop.finetune(tiny_smol, examples, steps=5, batch_size=4, lr=1e30, log_every=0,
                       checkpoint_dir=tmp_path / "ckpt", callback=lambda step, m, p: seen.update({step: p}))
    assert list(seen) == [1] and info.value.step == 2
    assert str(info.value.checkpoint) in str(info.value) and "step-000001" in str(info.value)
    assert_same_params(basinlab.load(info.value.checkpoint).params, seen[1])
    assert_same_params(info.value.params, seen[1])


def test_nan_loss_at_the_first_step_saves_the_initial_params(tiny_smol, tmp_path):
    params = jax.tree.map(lambda x: x, tiny_smol.params)
    params["final_norm"]["scale"] = params["final_norm"]["scale"].at[0].set(jnp.nan)
    # The same settings as the test above: the cached step is reused, no recompilation.
    with pytest.raises(RuntimeError, match="step 1 of 5: non-finite loss nan") as info:
        loop.finetune(tiny_smol.with_params(params), random_examples(tiny_smol.spec.vocab_size, n=4),
                       steps=5, batch_size=4, lr=1e30, checkpoint_dir=tmp_path, log_every=0)
    assert info.value.checkpoint.endswith("step-000000")
    with pytest.raises(ValueError, match=r"'model\.norm\.weight' hold non-finite"):  # named at load...
        basinlab.load(info.value.checkpoint)
    with pytest.warns(UserWarning, match=r"model\.norm\.weight"):  # ...and loadable on request
        saved = basinlab.load(info.value.checkpoint, allow_nonfinite=True).params
    np.testing.assert_array_equal(saved["final_norm"]["scale"], params["final_norm"]["scale"])
    assert_same_params(saved["layers"], tiny_smol.params["layers"])


@pytest.mark.slow  # > 5 s here: runs in make test, not in make check
def test_go_trains_theta_and_never_returns_the_perturbed_point(tiny_smol, tmp_path):
    examples = random_examples(tiny_smol.spec.vocab_size, n=4)
    # Learning rate 0 for 3 steps, then 0.5: theta must stay theta0 bit for bit while the loss,
    # taken at theta0 + eps_t with a fresh eps each step, changes; then GO trains.
    rate = optax.join_schedules([optax.constant_schedule(0.0), optax.constant_schedule(0.5)], [3])
    opt = optim.go(optax.sgd(rate), sigma=0.01, key=3)
    seen = {}
    result = loop.finetune(tiny_smol, examples, steps=8, batch_size=4, optimizer=opt,
                            checkpoint_dir=tmp_path, checkpoint_every=3, log_every=0,
                            callback=lambda step, m, p: seen.update({step: p}))
    assert [p.rsplit("/", 1)[-1] for p in result.checkpoints] == ["step-000003", "step-000006",
                                                                  "step-000008"]
    assert_same_params(seen[3], tiny_smol.params)
    assert_same_params(basinlab.load(result.checkpoints[0]).params, tiny_smol.params)
    assert len(set(result.losses[:3].tolist())) == 3  # three different perturbed points
    point = optim.perturb(tiny_smol.params, opt.init(tiny_smol.params))
    assert max(float(jnp.abs(a - b).max()) for a, b in
               zip(jax.tree.leaves(point), jax.tree.leaves(tiny_smol.params), strict=True)) > 1e-2
    assert result.losses[-1] < result.losses[2] - 0.3, result.losses
    assert_same_params(basinlab.load(result.checkpoints[-1]).params, result.params)


@pytest.mark.slow  # > 5 s here: runs in make test, not in make check
def test_bf16_compute_keeps_float32_master_weights(tiny_smol):
    examples = random_examples(tiny_smol.spec.vocab_size, n=4)
    bf16 = loop.finetune(tiny_smol.with_params(jax.tree.map(lambda x: x.astype(jnp.bfloat16),
                                                             tiny_smol.params)),
                          examples, steps=2, batch_size=4, lr=1e-3, schedule="cosine",
                          compute_dtype="bfloat16", log_every=0)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(bf16.params))
    f32_loss = float(masked_nll(logits(tiny_smol, examples), examples[0], examples[2]))
    assert np.isfinite(bf16.losses).all() and bf16.losses[0] != f32_loss
    np.testing.assert_allclose(bf16.losses[0], f32_loss, rtol=3e-2)


def test_argument_errors_name_the_valid_choices(tiny_smol):
    examples = random_examples(tiny_smol.spec.vocab_size, n=4)
    with pytest.raises(ValueError, match="unknown schedule 'step'; valid choices: 'constant', 'cosine', 'linear'"):
        loop.finetune(tiny_smol, examples, steps=1, schedule="step")
    with pytest.raises(ValueError, match="steps or epochs"):
        loop.finetune(tiny_smol, examples, steps=1, epochs=1)
    with pytest.raises(ValueError, match="vocab|token ids"):
        loop.finetune(tiny_smol, (examples[0] + 1000, *examples[1:]), steps=1)
