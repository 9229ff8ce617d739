"""Matched loss and matched learning (basinlab.training._matched): the kept theta is the run's own at the
step closest to the target, stopping early follows the full run's trajectory, and forgetting at a
matched amount of learning interpolates the track."""

import numpy as np
import pytest

from basinlab.training import _corpus as corpora
from basinlab.training import _gpt as gpt
from basinlab.training import _matched as matched
from basinlab.training._forgetting import Forgetting
from basinlab.training._loss import evaluate_nll

from trees import assert_same_params

TINY = gpt.GPTConfig(n_layers=1, d_model=32, n_heads=2, max_seq_len=32)


def track(new, old):
    return Forgetting(np.arange(len(new)) * 10, np.asarray(old, np.float32), np.asarray(new, np.float32), 0.0)


def test_closest_index_earliest_on_ties_and_never_nan():
    assert matched.closest_index([3.0, 2.5, 2.1, 1.9], 2.0) == 2  # |0.1| tie: the earlier one
    assert matched.closest_index([np.nan, 2.4, 2.2], 2.0) == 2
    assert matched.closest_index([1.0, 5.0], 10.0) == 1
    with pytest.raises(ValueError, match="no finite entry"):
        matched.closest_index([np.nan, np.nan], 1.0)
    with pytest.raises(ValueError, match="no finite entry"):
        matched.closest_index([], 1.0)
    with pytest.raises(ValueError, match="target"):
        matched.closest_index([1.0], float("nan"))


def test_forgetting_at_interpolates_between_evaluations():
    t = track(new=[3.0, 2.0, 1.0, 1.5], old=[2.0, 2.2, 2.6, 2.7])  # falls 0, 1, 2, 1.5; rises 0, .2, .6, .7
    assert matched.forgetting_at(t, 0.0) == pytest.approx(0.0)
    assert matched.forgetting_at(t, 1.0) == pytest.approx(0.2)
    assert matched.forgetting_at(t, 1.5) == pytest.approx(0.4)  # the first crossing, between steps 10 and 20
    assert matched.forgetting_at(t, 2.0) == pytest.approx(0.6)
    with pytest.raises(ValueError, match=r"learned=2.5 nats.*\(2\)"):
        matched.forgetting_at(t, 2.5)
    with pytest.raises(ValueError, match="learned"):
        matched.forgetting_at(t, -0.1)


def test_common_learning_and_forgetting_per_learned():
    a, b = track([3.0, 2.0, 1.0], [2.0, 2.5, 3.0]), track([3.0, 2.5, 2.4], [2.0, 2.1, 2.1])
    assert matched.common_learning({"a": a, "b": b}) == pytest.approx(0.6)
    assert matched.forgetting_per_learned(a) == pytest.approx(0.5)
    assert matched.forgetting_per_learned(b) == pytest.approx(0.1 / 0.6)
    with pytest.raises(ValueError, match="tracks is empty"):
        matched.common_learning({})
    flat = track([3.0, 3.1], [2.0, 2.0])
    with pytest.raises(ValueError, match=r"never lowered.*'flat'"):
        matched.common_learning({"a": a, "flat": flat})
    with pytest.raises(ValueError, match="learned > 0"):
        matched.forgetting_per_learned(flat)
    with pytest.raises(ValueError, match="equal, non-zero length"):
        matched.forgetting_at(Forgetting(np.arange(2), np.zeros(2), np.zeros(3), 0.0), 0.0)


@pytest.fixture(scope="module")
def text():
    return corpora.load_corpus("pydoc", max_chars=60_000)


@pytest.mark.slow  # trains a tiny GPT three times (6 steps each): compiles dominate, like test_pretrain's runs
def test_pretrain_matched_keeps_the_closest_step_and_stop_follows_the_full_run(text):
    model = gpt.init_model(TINY, seed=0)
    kw = dict(steps=6, batch_size=2, lr=1e-2, warmup=1, eval_every=6, n_eval=2, every=2)
    seen = {}
    full = matched.pretrain_matched(model, text, 0.0, "adamw", callback=lambda s, m, p: seen.update({s: p}), **kw)
    assert full.steps.tolist() == [0, 2, 4, 6] and len(full.run.train_loss) == 6 and not full.stopped
    assert len(seen) == 6  # the caller's callback still sees every step
    val = corpora.windows(text.val, 2, 32, seed=None)
    assert full.curve[-1] == pytest.approx(full.run.final_val_loss, rel=1e-6)  # same windows as pretrain
    # a target between two evaluations: the closer one is kept, with its params and loss
    i = int(np.argmin(full.curve[1:])) + 1
    target = full.curve[i] + 0.2 * abs(full.curve[i - 1] - full.curve[i])
    m = matched.pretrain_matched(model, text, target, "adamw", **kw)
    j = matched.closest_index(m.curve, target)
    assert m.step == m.steps[j] and m.val_loss == pytest.approx(m.curve[j])
    assert m.gap == pytest.approx(m.curve[j] - target)
    assert evaluate_nll(model, val, m.params) == pytest.approx(m.val_loss, rel=1e-6)
    if m.step:
        assert_same_params(m.params, seen[m.step])
    # stop=True at a loss the run reaches at step 4: the run ends there, on the full run's trajectory
    stopped = matched.pretrain_matched(model, text, float(full.curve[2]), "adamw", stop=True, **kw)
    first = int(np.nonzero(full.curve <= full.curve[2])[0][0])
    assert stopped.stopped and len(stopped.run.train_loss) == full.steps[first]
    assert_same_params(stopped.run.model.params, seen[int(full.steps[first])])
    with pytest.raises(ValueError, match="every must be a positive integer"):
        matched.pretrain_matched(model, text, 2.0, every=0, steps=2)
