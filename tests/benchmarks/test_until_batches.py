"""Batched generation (`basinlab.models._batched`, behind the generate-until oracle and the lm-eval
backend): widths on a ladder, equal shapes stacked and decoded by one lax.map, so the number of
compiled decode loops grows with the number of shapes, not of batches; one left_pad for every caller."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from basinlab.models._batched import generate_batches, item_ids, left_pad, pad_width, until_batches
from basinlab.models._generate import generate


def test_pad_width_ladder():
    assert [pad_width(n, 10**6) for n in (1, 16, 17, 24, 25, 33, 49, 65, 97, 129, 200)] == \
        [16, 16, 24, 24, 32, 48, 64, 96, 128, 192, 256]
    assert pad_width(40, 41) == 41 and pad_width(40, 30) == 40  # capped, never below n
    assert pad_width(200) == 256 and pad_width(17, cap=20) == 20  # no cap by default
    for n in range(1, 3000):
        w = pad_width(n, 10**6)
        assert n <= w <= max(16, 1.5 * n)


def test_many_batches_make_few_groups_and_round_trip():
    rs = np.random.RandomState(0)
    ids = [[1, 2, 3] + list(rs.randint(4, 50, size=rs.randint(1, 900))) for _ in range(741)]
    data = until_batches(ids, pad_id=0, batch_size=16)
    assert data["prefix"].tolist() == [1, 2, 3]
    batches = sum(g["tokens"].shape[0] for g in data["groups"])
    assert batches == 47  # ceil(741 / 16) batches ...
    assert len(data["groups"]) <= 16  # ... in few shapes (about two per doubling of the length)
    assert item_ids(data) == ids
    for g in data["groups"]:
        assert g["tokens"].shape == g["mask"].shape and g["tokens"].ndim == 3


def test_error_names_a_width_too_short():
    with pytest.raises(ValueError, match="width=2 is shorter than the longest row"):
        left_pad([[1, 2, 3]], 0, width=2)
    with pytest.raises(ValueError, match="unknown side 'top'; valid choices: 'left', 'right'"):
        left_pad([[1]], 0, side="top")


def test_left_pad_sides():
    tokens, mask = left_pad([[5, 6], [7], []], 9, width=3)
    assert tokens.tolist() == [[9, 5, 6], [9, 9, 7], [9, 9, 9]] and mask.tolist() == [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
    tokens, mask = left_pad([[5, 6], [7]], 9, side="right")
    assert tokens.tolist() == [[5, 6], [7, 9]] and mask.tolist() == [[1, 1], [1, 0]]
    assert tokens.dtype == mask.dtype == np.int32


def _prompts(m, n=7):
    texts = ["abcab", "abcba", "abcc", "abcabcab", "abca", "abcbbb", "abcaaacb"][:n]
    return m.prompt_ids(texts, False)


def test_grouped_batches_generate_the_tokens_of_one_full_batch(char_model):
    """Batches of 2 rows, several of one shape (lax.map), equal plain generation from the full,
    left-padded prompts in one batch."""
    m = char_model
    ids = _prompts(m)
    data = until_batches(ids, m.pad_id, batch_size=2)
    assert any(g["tokens"].shape[0] > 1 for g in data["groups"])  # a stacked group is exercised
    out = generate_batches(m.spec, m.params, data, max_new_tokens=5, eos_ids=tuple(m.eos_ids), pad_id=m.pad_id,
                           compute_dtype=None)
    tokens, mask = left_pad(ids, m.pad_id)
    full = generate(m.spec, m.params, tokens, mask, max_new_tokens=5, eos_ids=tuple(m.eos_ids), pad_id=m.pad_id)
    np.testing.assert_array_equal(np.asarray(out.tokens), np.asarray(full))


def _per_batch(data):
    """The layout before the ladder: every batch its own group at its own longest suffix."""
    groups = []
    for g in data["groups"]:
        for tokens, mask in zip(g["tokens"], g["mask"], strict=True):
            keep = int(mask.sum(axis=1).max())
            groups.append({"tokens": tokens[None, :, -keep:], "mask": mask[None, :, -keep:]})
    return {**data, "groups": groups}


def _whiles(m, data):
    def run(params, data):
        return generate_batches(m.spec, params, data, max_new_tokens=3, eos_ids=tuple(m.eos_ids),
                                pad_id=m.pad_id, compute_dtype=None).tokens

    return jax.jit(run).lower(m.params, data).as_text().count("stablehlo.while")


def test_one_decode_loop_per_shape_not_per_batch(char_model):
    """Six batches of six suffix lengths: one shape on the ladder, so one lax.map around one decode
    loop (two while loops in the program); each at its own width, six distinct loops or more."""
    m = char_model
    ids = [[1] + [5 + k % 3] * n for n in range(1, 13) for k in range(1)]
    data = until_batches(ids, m.pad_id, batch_size=2, share_prefix=False)
    assert [g["tokens"].shape for g in data["groups"]] == [(6, 2, 13)]
    assert _whiles(m, data) == 2
    assert _whiles(m, _per_batch(data)) >= 6


def test_a_short_last_batch_keeps_its_own_shape():
    """Filling it with copies would save a compile but decode the copies at every grid point."""
    ids = [[7] * n for n in (3, 4, 5, 6, 7)]  # batches of 2: widths 16, 16, 16 with 2, 2, 1 rows
    data = until_batches(ids, pad_id=0, batch_size=2, share_prefix=False)
    assert [g["tokens"].shape for g in data["groups"]] == [(2, 2, 7), (1, 1, 7)]
    assert item_ids(data) == ids


def test_eager_calls_reuse_the_compiled_shapes_and_sampling_is_seeded(char_model):
    """lm-eval's backend calls generate_batches eagerly at every grid point: the second call (new
    params) compiles nothing. Sampling through a stacked group is reproducible from its key."""
    from basinlab.models._batched import _decode_group

    m = char_model
    data = until_batches(_prompts(m), m.pad_id, batch_size=2)
    kw = dict(max_new_tokens=4, eos_ids=tuple(m.eos_ids), pad_id=m.pad_id, compute_dtype=None)
    stacked = generate_batches(m.spec, m.params, data, **kw).tokens
    compiled = _decode_group._cache_size()
    moved = jax.tree.map(lambda x: x * 1.01, m.params)
    generate_batches(m.spec, moved, data, **kw)
    assert _decode_group._cache_size() == compiled
    one_by_one = generate_batches(m.spec, m.params, data, stacked=False, **kw).tokens  # the eager path's way
    np.testing.assert_array_equal(np.asarray(one_by_one), np.asarray(stacked))
    a = generate_batches(m.spec, m.params, data, temperature=1.0, key=jax.random.key(3), **kw).tokens
    b = generate_batches(m.spec, m.params, data, temperature=1.0, key=jax.random.key(3), **kw).tokens
    c = generate_batches(m.spec, m.params, data, temperature=1.0, key=jax.random.key(4), **kw).tokens
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert a.shape == (7, 4) and not np.array_equal(np.asarray(a), np.asarray(c))
