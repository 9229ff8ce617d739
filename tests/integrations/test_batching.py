"""basinlab.lmeval._batching (the compute behind the lm-eval adapter) on the tiny random
SmolLM2-shaped model: batched, bucketed, filled-up and truncated requests against one-at-a-time
references (token_nll and generate on the bare sequence)."""

import jax
import numpy as np
import pytest

from basinlab.lmeval import _batching as batching
from basinlab.models import generate, token_nll
from basinlab.models._batched import pad_width

RS = np.random.RandomState(0)
# (context ids, continuation ids) of different lengths; the third is longer than max_length + 1 = 25.
PAIRS = [(list(RS.randint(3, 150, 5)), list(RS.randint(3, 150, 3))),
         (list(RS.randint(3, 150, 11)), list(RS.randint(3, 150, 1))),
         (list(RS.randint(3, 150, 30)), list(RS.randint(3, 150, 4)))]
MAX_LENGTH = 24


def reference(model, ctx, cont):
    """(log p(cont | ctx), all greedy) from token_nll and the logits of the bare, truncated sequence."""
    seq = np.asarray([(ctx + cont)[-(MAX_LENGTH + 1):]], np.int32)
    nll, _ = token_nll(model.spec, model.params, seq, np.ones_like(seq))
    greedy = np.asarray(model.logits(seq)[0, :-1].argmax(-1)) == seq[0, 1:]
    return -np.asarray(nll, np.float64)[0, -len(cont):].sum(), bool(greedy[-len(cont):].all())


def test_widths_rows_and_pow2():
    # loglikelihood batches use generation's width ladder (models._batched.pad_width; powers of two before)
    assert [pad_width(n) for n in (1, 16, 17, 33)] == [16, 16, 24, 48]
    assert pad_width(17, cap=20) == 20 and pad_width(40, cap=20) == 40  # never below n
    assert [batching.pow2_floor(n) for n in (0, 1, 5, 8, 9)] == [1, 1, 4, 8, 8]
    assert batching.rows_for(16, 8, 100, 2**28) == 8
    assert batching.rows_for(16, 8, 100, 3 * 16 * 100) == 2  # 3 rows fit: a power of two, 2
    assert batching.rows_for(16, 8, 100, 1) == 1  # never fewer than one row


def test_loglikelihood_batches_are_padded_on_the_ladder_and_filled_up(tiny_smol, monkeypatch):
    """Inputs of 20, 9 and 3 tokens in batches of 2 rows: widths 24 (on the ladder, not 32) and 16,
    the short last batch filled with a copy of its row; targets left-padded with 0 like the inputs."""
    seen = []

    def fake_score(spec, params, inputs, mask, targets, compute_dtype):
        seen.append((np.asarray(inputs), np.asarray(mask), np.asarray(targets)))
        return np.zeros(inputs.shape, np.float32), np.ones(inputs.shape, bool)

    monkeypatch.setattr(batching, "score", fake_score)
    pairs = [([4] * 20, [5]), ([6] * 9, [7]), ([8] * 3, [9])]
    batching.loglikelihoods(tiny_smol, pairs, batch_size=2, max_length=64)
    assert [x[0].shape for x in seen] == [(2, 24), (2, 16)]
    inputs, mask, targets = seen[1]
    assert (inputs[0] == inputs[1]).all() and mask[0].sum() == 3 and (inputs[0, :-3] == tiny_smol.pad_id).all()
    assert targets[0].tolist() == [0] * 13 + [8, 8, 9]


@pytest.mark.slow  # > 5 s here: runs in make test, not in make check
@pytest.mark.parametrize("batch_size, max_logits", [(2, batching.DEFAULT_LOGITS_BUDGET), (8, 1)])
def test_loglikelihoods_match_one_sequence_at_a_time(tiny_smol, batch_size, max_logits):
    got = batching.loglikelihoods(tiny_smol, PAIRS, batch_size=batch_size, max_length=MAX_LENGTH,
                                  max_logits=max_logits)
    for (ctx, cont), (logprob, greedy) in zip(PAIRS, got, strict=True):
        ref_logprob, ref_greedy = reference(tiny_smol, ctx, cont)
        assert abs(logprob - ref_logprob) <= 1e-4 and greedy == ref_greedy


def test_loglikelihoods_refuse_empty_and_too_long_requests(tiny_smol):
    with pytest.raises(ValueError, match="non-empty context and continuation"):
        batching.loglikelihoods(tiny_smol, [([], [5])], batch_size=2, max_length=MAX_LENGTH)
    with pytest.raises(ValueError, match="continuation of 30 tokens exceeds max_length=24"):
        batching.loglikelihoods(tiny_smol, [([4], [5] * 30)], batch_size=2, max_length=MAX_LENGTH)
    assert batching.loglikelihoods(tiny_smol, [], batch_size=2, max_length=MAX_LENGTH) == []


@pytest.mark.slow  # > 5 s here: runs in make test, not in make check
def test_continuations_match_generate_alone_and_are_keyed(tiny_smol):
    spec, params = tiny_smol.spec, tiny_smol.params
    shared = list(RS.randint(3, 150, 4))
    prompts = {7: shared + list(RS.randint(3, 150, 2)), 3: shared + list(RS.randint(3, 150, 5)), 5: []}
    kw = dict(batch_size=2, max_new_tokens=5, eos_ids=(), prefix_token_id=1)
    got = batching.continuations(tiny_smol, prompts, **kw)
    assert list(got) == [7, 3, 5]  # keyed as given
    for i, ids in prompts.items():
        alone = np.asarray([ids or [1]], np.int32)
        expected = np.asarray(generate(spec, params, alone, max_new_tokens=5, eos_ids=()))[0]
        np.testing.assert_array_equal(got[i].tokens, expected)
        assert got[i].hit_budget  # no EOS: every row used its budget
    keys = iter(jax.random.split(jax.random.key(0), 2))
    sampled = batching.continuations(tiny_smol, prompts, temperature=1.0, next_key=lambda: next(keys), **kw)
    again = batching.continuations(tiny_smol, prompts, temperature=1.0, next_key=lambda: jax.random.split(
        jax.random.key(0), 2)[0], **kw)
    other = batching.continuations(tiny_smol, prompts, temperature=1.0, next_key=lambda: jax.random.key(99), **kw)
    assert all(np.array_equal(sampled[i].tokens, again[i].tokens) for i in prompts)
    assert not all(np.array_equal(sampled[i].tokens, other[i].tokens) for i in prompts)
    assert batching.continuations(tiny_smol, {}, **kw) == {}
