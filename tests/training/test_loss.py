"""Losses of the training loop (basinlab.training._loss): masked NLL, the step's token loss, micro-batches."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from basinlab.training import _loss as loss

from sft_batches import logits, random_examples


def test_masked_nll_counts_only_target_tokens(tiny_smol):
    tokens, mask, loss_mask = random_examples(tiny_smol.spec.vocab_size, n=4)
    logits_ = logits(tiny_smol, (tokens, mask))
    base = float(loss.masked_nll(logits_, tokens, loss_mask))
    prompt_pos = np.flatnonzero((mask[0] == 1) & (loss_mask[0] == 0))[1]
    target_pos = np.flatnonzero(loss_mask[0])[0]
    for pos, changes in ((prompt_pos, False), (target_pos, True)):
        labels = tokens.copy()
        labels[0, pos] = (labels[0, pos] + 1) % tiny_smol.spec.vocab_size
        value = float(loss.masked_nll(logits_, labels, loss_mask))
        assert (value != base) == changes, (pos, value, base)


def test_masked_nll_is_the_mean_target_log_loss():
    rs = np.random.RandomState(0)
    lg = rs.normal(size=(2, 5, 7)).astype(np.float32)
    tokens = rs.randint(0, 7, size=(2, 5))
    loss_mask = np.array([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0]])
    logp = lg - np.log(np.exp(lg).sum(-1, keepdims=True))
    picked = [-logp[b, t - 1, tokens[b, t]] for b in range(2) for t in range(1, 5) if loss_mask[b, t]]
    np.testing.assert_allclose(float(loss.masked_nll(lg, tokens, loss_mask)), np.mean(picked), rtol=1e-5)


def test_micro_batches_split_rows_and_count_the_batch_targets():
    tokens, mask, loss_mask = random_examples(50, n=6)
    batch = loss.micro_batches(tokens, mask, loss_mask, grad_accum=3)
    assert [x.shape for x in batch] == [(3, 2, 12)] * 3 + [(3,)]
    np.testing.assert_array_equal(batch[0].reshape(6, 12), tokens)
    assert batch[3].dtype == np.float32 and np.all(batch[3] == loss_mask[:, 1:].sum())
    with pytest.raises(ValueError, match="6 rows do not split into grad_accum=4"):
        loss.micro_batches(tokens, mask, loss_mask, grad_accum=4)
    with pytest.raises(ValueError, match="grad_accum must be a positive integer, got 0"):
        loss.micro_batches(tokens, mask, loss_mask, grad_accum=0)


def test_token_loss_over_micro_batches_is_the_batch_mean(tiny_smol):
    tokens, mask, loss_mask = random_examples(tiny_smol.spec.vocab_size, n=4)
    fn = loss.token_loss(tiny_smol.spec, jnp.dtype("float32"))
    assert loss.token_loss(tiny_smol.spec, jnp.dtype("float32")) is fn  # one object: the cached step is reused
    batch = loss.micro_batches(tokens, mask, loss_mask, grad_accum=2)
    total = sum(float(fn(tiny_smol.params, tuple(x[i] for x in batch))) for i in range(2))
    whole = float(loss.masked_nll(logits(tiny_smol, (tokens, mask)), tokens, loss_mask))
    np.testing.assert_allclose(total, whole, rtol=1e-5)


def test_evaluate_nll_is_the_mean_over_every_token(tiny_smol):
    tokens = np.random.RandomState(1).randint(3, tiny_smol.spec.vocab_size, size=(3, 10)).astype(np.int32)
    ones = np.ones_like(tokens)
    want = float(loss.masked_nll(logits(tiny_smol, (tokens, ones)), tokens, ones))
    assert math.isfinite(want)
    np.testing.assert_allclose(loss.evaluate_nll(tiny_smol, tokens), want, rtol=1e-5)
    shifted = jax.tree.map(lambda x: x * 1.5, tiny_smol.params)
    assert loss.evaluate_nll(tiny_smol, tokens, shifted) != pytest.approx(want, rel=1e-4)
