"""Addition mixed into a pre-training text (basinlab.training._mixture): held-out sums never trained on."""

import re

import numpy as np
import pytest

from basinlab.training import _mixture as mixture

TEXT = "\n\n".join(f"Speaker {i}:\nSome words of line {i}, and more words." for i in range(400))
SUM = re.compile(r"^(\d+)\+(\d+)=(\d+)$", re.M)


def test_addition_pairs_hold_out_both_orders():
    train, heldout = mixture.addition_pairs(max_operand=30, n_heldout=40, seed=3)
    assert heldout.shape == (40, 2) and len(np.unique(heldout, axis=0)) == 40
    seen = {tuple(p) for p in train}
    assert not any((a, b) in seen or (b, a) in seen for a, b in heldout)
    held = {tuple(p) for p in heldout} | {(b, a) for a, b in heldout}
    assert len(train) + len(held) == 900  # every other pair is a training pair
    assert (train < 30).all() and (train >= 0).all()
    np.testing.assert_array_equal(mixture.addition_pairs(30, 40, seed=3)[1], heldout)
    with pytest.raises(ValueError, match="n_heldout=300 is more than a quarter"):
        mixture.addition_pairs(30, 300)


def test_mix_addition_keeps_the_text_and_reaches_the_fraction():
    train, _ = mixture.addition_pairs(20, 10)
    mixed = mixture.mix_addition(TEXT, train, fraction=0.25, block=3, seed=0)
    sums = SUM.findall(mixed)
    assert all(int(a) + int(b) == int(c) for a, b, c in sums)
    added = sum(len(f"{a}+{b}={c}\n") for a, b, c in sums)
    assert 0.2 < added / len(mixed) < 0.3
    assert len(sums) % 3 == 0  # whole blocks
    plain = re.sub(r"\n\n(\d+\+\d+=\d+\n?)+", "\n\n", "\n\n" + mixed)[2:].replace("\n\n\n\n", "\n\n")
    assert SUM.search(plain) is None and plain.split() == TEXT.split()
    with pytest.raises(ValueError, match="fraction"):
        mixture.mix_addition(TEXT, train, fraction=1.0)


def test_addition_corpus_keeps_heldout_sums_out_of_both_splits(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    mix = mixture.addition_corpus(path, max_operand=20, n_heldout=30, fraction=0.3, block=2, seed=1)
    train_text = bytes(mix.corpus.train.astype(np.uint8)).decode()
    val_text = bytes(mix.corpus.val.astype(np.uint8)).decode()
    assert val_text == mix.corpus.val_text and mix.plain_val_text == TEXT[int(len(TEXT) * 0.9):]
    found = {(int(a), int(b)) for a, b, _ in SUM.findall(train_text + "\n" + val_text)}
    assert len(found) > 100
    assert not found & ({tuple(p) for p in mix.heldout} | {(b, a) for a, b in mix.heldout})
    assert "addition(fraction=0.3,block=2,max_operand=20,n_heldout=30,seed=1)" in mix.corpus.name
