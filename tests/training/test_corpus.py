"""Text corpora for pre-training (basinlab.training._corpus): the train/val split and token windows."""

import numpy as np
import pytest

from basinlab.training import _corpus as corpus


def test_load_corpus_splits_contiguously():
    text = corpus.load_corpus("pydoc", max_chars=10_000, val_fraction=0.25)
    assert text.train.dtype == text.val.dtype == np.int32
    # byte tokenizer: the ids are the UTF-8 bytes; the first 75% of the characters train, the rest validate
    train_text = bytes(text.train.astype(np.uint8)).decode()
    assert len(train_text) == 7_500 and len(text.val_text) == 2_500
    assert bytes(text.val.astype(np.uint8)).decode() == text.val_text
    with pytest.raises(ValueError, match="val_fraction"):
        corpus.load_corpus("pydoc", val_fraction=1.5)


def test_windows_fixed_and_random():
    ids = np.arange(100)
    fixed = corpus.windows(ids, 50, 16, seed=None)  # as many as fit, consecutive from the start
    assert fixed.shape == (6, 16) and fixed[1, 0] == 16 and fixed.dtype == np.int32
    rand = corpus.windows(ids, 8, 16, seed=3)
    assert rand.shape == (8, 16) and np.all(np.diff(rand, axis=1) == 1) and rand.max() < 100
    np.testing.assert_array_equal(rand, corpus.windows(ids, 8, 16, seed=3))
    with pytest.raises(ValueError, match="fewer than seq_len=200"):
        corpus.windows(ids, 1, 200)
