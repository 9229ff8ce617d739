"""Forgetting (basinlab.training._forgetting): fine-tune a pre-trained model on new text, track old and new NLL."""

import numpy as np
import pytest

from basinlab.training import _corpus as corpus
from basinlab.training import _forgetting as forgetting
from basinlab.training import _gpt as gpt
from basinlab.training import _pretrain as pretrain
from basinlab.training._loss import evaluate_nll

TINY = gpt.GPTConfig(n_layers=1, d_model=32, n_heads=2, max_seq_len=32)


def test_forgetting_properties_are_the_nll_changes():
    track = forgetting.Forgetting(np.array([0, 5]), np.array([2.0, 2.5], np.float32),
                                  np.array([3.0, 1.0], np.float32), 1.0)
    assert track.forgetting == pytest.approx(0.5) and track.learned == pytest.approx(2.0)


@pytest.mark.slow
def test_forgetting_on_a_tiny_model():
    old = corpus.load_corpus("pydoc", max_chars=60_000)
    run = pretrain.pretrain(gpt.init_model(TINY, seed=0), old, "adamw", steps=10, batch_size=8, eval_every=10,
                            n_eval=4)
    val = corpus.windows(old.val, 4, 32, seed=None)
    new = corpus.load_corpus(__file__)  # this file's own text as the "new" corpus
    new_train = corpus.windows(new.train, 40, 32, seed=0)
    new_val = corpus.windows(new.val, 4, 32, seed=None)
    f = forgetting.forgetting(run.model, new_train, val, new_val, steps=6, batch_size=4, lr=3e-3, eval_every=3)
    assert f.steps.tolist() == [0, 3, 6] and f.learned > 0 and np.isfinite(f.forgetting)
    assert f.old_nll[0] == pytest.approx(evaluate_nll(run.model, val), rel=1e-6)  # step 0 is the model as given
    with pytest.raises(ValueError, match="eval_every must be a positive integer"):
        forgetting.forgetting(run.model, new_train, val, new_val, eval_every=0)
