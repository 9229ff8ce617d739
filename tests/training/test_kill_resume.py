"""SIGKILL at random moments of a pre-training and a fine-tuning run: resuming gives the same result as
an uninterrupted run, and the last good checkpoint survives every kill (issue 13).

Each run is a real subprocess on a 1-layer GPT (tests/faults.py). Kills: one from inside the callback
at a seeded random step, then one from outside after a seeded random delay (it may land in the
import, the compilation, a step or a checkpoint write, or miss when the run is already done)."""

import os
import pathlib
import random
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parents[1]
ROOT = HERE.parent

RUNNER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path[:0] = [{root!r}, {tests!r}]
    import numpy as np
    from faults import train
    mode, ckpt, out = sys.argv[1:4]
    kill_at = int(os.environ.get("KILL_AT", "0"))

    def killer(step, metrics, params):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    np.savez(out, **train(mode, ckpt, killer))
    """
)


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    path = tmp_path_factory.mktemp("kill") / "run.py"
    path.write_text(RUNNER.format(root=str(ROOT), tests=str(HERE)))
    return path


def run(runner, mode, ckpt, out, kill_at=0, kill_after=None):
    env = {**os.environ, "KILL_AT": str(kill_at), "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen([sys.executable, str(runner), mode, str(ckpt), str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode in (0, -9), err[-3000:]
    return proc.returncode


def complete_checkpoints(ckpt):
    return sorted(p.name for p in ckpt.glob("step-*") if (p / "train_state.npz").exists())


@pytest.mark.slow  # real subprocesses killed and resumed
@pytest.mark.parametrize("mode", ["pretrain", "finetune"])
def test_sigkill_then_resume_gives_the_uninterrupted_result(runner, tmp_path, mode):
    import basinlab

    from faults import train

    rng = random.Random(f"kill-{mode}")
    clean = train(mode, tmp_path / "clean")  # the uninterrupted run, in this process
    ckpt, out = tmp_path / "ckpt", tmp_path / "out.npz"
    assert run(runner, mode, ckpt, out, kill_at=rng.randint(3, 5)) == -9  # killed inside a step's callback
    survivors = complete_checkpoints(ckpt)
    assert survivors, "no checkpoint survived the kill"
    basinlab.load(ckpt / survivors[-1])  # the last good checkpoint loads
    if mode == "pretrain":  # resumed, then killed from outside at a random moment (or finished first)
        run(runner, mode, ckpt, out, kill_after=rng.uniform(0.5, 8.0))
        assert complete_checkpoints(ckpt)[-1] >= survivors[-1], "a kill lost a checkpoint"
        basinlab.load(ckpt / complete_checkpoints(ckpt)[-1])
    assert run(runner, mode, ckpt, out) == 0
    resumed = np.load(out)
    assert sorted(clean) == sorted(resumed.files)
    for k in clean:
        np.testing.assert_array_equal(resumed[k], clean[k], err_msg=k)
