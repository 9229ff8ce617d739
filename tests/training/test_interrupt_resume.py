"""A KeyboardInterrupt mid-run (the notebook kernel's stop button), then the same call again with
resume=True: it continues from the last checkpoint and ends with the uninterrupted run's result,
checkpoint list and (pre-training) validation curve and total training time (issue 12).

In-process, on the 1-layer GPT of tests/faults.py: the callback raises KeyboardInterrupt at step 5
of 6, between the checkpoints of steps 4 and 6. SIGKILLed runs are tests/training/test_kill_resume.py.
"""

import json
import pathlib

import jax
import numpy as np
import pytest

from basinlab.training import _corpus as corpus
from basinlab.training import _pretrain as pretrain
from basinlab.training._loop import finetune

from faults import tiny_gpt

STOP_AT = 5


def stop_at(step, metrics, params):
    if step == STOP_AT:
        raise KeyboardInterrupt


def names(paths):
    return [pathlib.Path(p).name for p in paths]


def assert_same_params(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def no_temporaries(folder):
    return not [p for p in folder.rglob("*") if ".tmp-" in p.name]


@pytest.fixture(scope="module")
def text():
    data = np.random.RandomState(0).randint(0, 256, size=600).astype(np.int32)
    return corpus.Corpus(name="bytes", train=data[:500], val=data[500:], val_text="")


def run_pretrain(model, text, ckpt, callback=None, **kw):
    return pretrain.pretrain(model, text, "go", **{**dict(steps=6, batch_size=4, seq_len=16, eval_every=2, n_eval=4,
                                                      warmup=2), **kw},
                             checkpoint_dir=ckpt, checkpoint_every=2, callback=callback, resume=True)


def test_interrupted_pretraining_resumes_to_the_uninterrupted_result(text, tmp_path):
    model = tiny_gpt()
    clean = run_pretrain(model, text, tmp_path / "clean")
    ckpt = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        run_pretrain(model, text, ckpt, stop_at)
    assert sorted(p.name for p in ckpt.iterdir()) == ["step-000002", "step-000004"]
    assert no_temporaries(ckpt)

    resumed = run_pretrain(model, text, ckpt)
    np.testing.assert_array_equal(resumed.train_loss, clean.train_loss)
    np.testing.assert_array_equal(resumed.val_steps, clean.val_steps)
    np.testing.assert_array_equal(resumed.val_loss, clean.val_loss)
    assert_same_params(resumed.model.params, clean.model.params)
    assert names(resumed.checkpoints) == names(clean.checkpoints) == ["step-000002", "step-000004", "step-000006"]

    # run once more, all done: nothing is trained, and the time is the stored total, not ~0
    with np.load(ckpt / "step-000006" / "train_state.npz") as f:
        stored = json.loads(str(f["extra"]))["seconds"]
    again = run_pretrain(model, text, ckpt)
    assert stored <= again.seconds < stored + 5.0, (stored, again.seconds)
    assert names(again.checkpoints) == names(clean.checkpoints)
    np.testing.assert_array_equal(again.val_loss, clean.val_loss)


def test_resuming_pretraining_with_other_settings_names_them(text, tmp_path):
    model = tiny_gpt()
    with pytest.raises(KeyboardInterrupt):
        run_pretrain(model, text, tmp_path, stop_at)
    with pytest.raises(ValueError, match=r"other settings .*'run': .*'lr': 0\.003.*'lr': 0\.01"):
        run_pretrain(model, text, tmp_path, lr=0.01)
    with pytest.raises(ValueError, match=r"other settings .*'sigma': 0\.01.*'sigma': 0\.02"):
        run_pretrain(model, text, tmp_path, sigma=0.02)


def test_interrupted_finetuning_resumes_to_the_uninterrupted_result(tmp_path):
    model = tiny_gpt()
    tokens = np.random.RandomState(1).randint(0, 256, size=(10, 16))
    ones = np.ones_like(tokens)

    def run(ckpt, callback=None):
        return finetune(model, (tokens, ones, ones), steps=6, batch_size=4, lr=1e-3, schedule="cosine",
                        checkpoint_dir=ckpt, checkpoint_every=2, callback=callback, resume=True, log_every=None)

    clean = run(tmp_path / "clean")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "ckpt", stop_at)
    assert no_temporaries(tmp_path / "ckpt")
    resumed = run(tmp_path / "ckpt")
    np.testing.assert_array_equal(resumed.losses, clean.losses)
    np.testing.assert_array_equal(resumed.grad_norms, clean.grad_norms)
    assert_same_params(resumed.params, clean.params)
    assert resumed.steps == clean.steps == 6
    assert names(resumed.checkpoints) == names(clean.checkpoints) == ["step-000002", "step-000004", "step-000006"]
