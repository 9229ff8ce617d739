"""Parity with transformers' PyTorch models on tiny seeded random configs of every architecture."""

import numpy as np
import pytest

import basinlab
from basinlab.models import forward, generate

from hf_tiny import CONFIGS, tiny_model, torch

NAMES = sorted(CONFIGS)


@pytest.fixture(scope="module", params=NAMES)
def pair(request, tmp_path_factory):
    """(name, transformers model, basinlab Model loaded from the saved folder)."""
    name = request.param
    ref = tiny_model(name)
    folder = tmp_path_factory.mktemp(name)
    ref.save_pretrained(folder)
    return name, ref, basinlab.load(folder)


def left_padded_batch(vocab, seed=0):
    rs = np.random.RandomState(seed)
    tokens = rs.randint(3, vocab, size=(3, 14))
    mask = np.ones_like(tokens)
    mask[0, :5] = 0
    mask[1, :1] = 0
    tokens[mask == 0] = 0
    return tokens, mask


def test_logits_match_transformers(pair):
    name, ref, model = pair
    tokens, mask = left_padded_batch(model.spec.vocab_size)
    positions = np.maximum(mask.cumsum(-1) - 1, 0)
    with torch.no_grad():
        expected = ref(torch.tensor(tokens), attention_mask=torch.tensor(mask),
                       position_ids=torch.tensor(positions)).logits.numpy()
    got = np.asarray(forward(model.spec, model.params, tokens, attention_mask=mask))
    assert np.abs(expected).max() > 0.5, "logits too small for the tolerance to mean anything"
    err = np.abs(got - expected)[mask == 1].max()
    assert err <= 1e-4, f"{name}: max abs logit difference {err:.2e}"


def test_unpadded_logits_match(pair):
    name, ref, model = pair
    tokens = np.random.RandomState(1).randint(3, model.spec.vocab_size, size=(2, 40))
    with torch.no_grad():
        expected = ref(torch.tensor(tokens)).logits.numpy()
    got = np.asarray(model.logits(tokens))
    assert np.abs(got - expected).max() <= 1e-4


def test_greedy_generation_matches_transformers(pair):
    name, ref, model = pair
    tokens, mask = left_padded_batch(model.spec.vocab_size, seed=2)
    with torch.no_grad():
        expected = ref.generate(torch.tensor(tokens), attention_mask=torch.tensor(mask),
                                max_new_tokens=20, do_sample=False, pad_token_id=0,
                                eos_token_id=None).numpy()[:, tokens.shape[1]:]
    got = np.asarray(generate(model.spec, model.params, tokens, mask, max_new_tokens=20, eos_ids=()))
    assert expected.shape == (3, 20)
    assert len(set(map(tuple, got))) > 1 or len(set(got[0])) > 1, "degenerate continuation"
    np.testing.assert_array_equal(got, expected)


def test_bfloat16_storage_and_compute_close(pair):
    name, ref, model = pair
    tokens = np.random.RandomState(3).randint(3, model.spec.vocab_size, size=(2, 16))
    full = np.asarray(model.logits(tokens))
    bf16 = basinlab.load(model.source, dtype="bfloat16")
    low = np.asarray(bf16.logits(tokens))
    assert bf16.dtype == np.dtype("bfloat16") or str(bf16.dtype) == "bfloat16"
    assert low.dtype == np.float32
    # bf16 keeps ~3 significant digits: close, not equal.
    assert 0 < np.abs(low - full).max() < 0.15 * np.abs(full).max()


def test_generation_stops_at_eos_like_transformers(pair):
    name, ref, model = pair
    tokens, mask = left_padded_batch(model.spec.vocab_size, seed=4)
    free = np.asarray(generate(model.spec, model.params, tokens, mask, max_new_tokens=12, eos_ids=()))
    eos = int(free[0, 4])  # row 0 meets this "EOS" at step 5 at the latest
    with torch.no_grad():
        expected = ref.generate(torch.tensor(tokens), attention_mask=torch.tensor(mask),
                                max_new_tokens=12, do_sample=False, pad_token_id=0,
                                eos_token_id=eos).numpy()[:, tokens.shape[1]:]
    got = np.asarray(generate(model.spec, model.params, tokens, mask, max_new_tokens=12,
                              eos_ids=(eos,), pad_id=0))
    np.testing.assert_array_equal(got[:, : expected.shape[1]], expected)
    assert (got[:, expected.shape[1]:] == 0).all()
    first = list(got[0]).index(eos)
    assert (got[0, first + 1:] == 0).all()


def test_temperature_sampling_is_keyed_and_reproducible(pair):
    import jax

    name, ref, model = pair
    tokens, mask = left_padded_batch(model.spec.vocab_size, seed=5)
    run = lambda key, t: np.asarray(generate(model.spec, model.params, tokens, mask, max_new_tokens=12,  # noqa: E731
                                             eos_ids=(), temperature=t, key=key))
    a, b, c = run(jax.random.key(1), 1.0), run(jax.random.key(1), 1.0), run(jax.random.key(2), 1.0)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any(), "different keys gave the same samples"
    greedy = np.asarray(generate(model.spec, model.params, tokens, mask, max_new_tokens=12, eos_ids=()))
    np.testing.assert_array_equal(run(jax.random.key(3), 1e-4), greedy)  # T -> 0 is greedy
    with pytest.raises(ValueError, match="PRNG key"):
        generate(model.spec, model.params, tokens, mask, temperature=0.7)
