"""basinlab.demo's sweep plan: a grid fine enough for SmolLM2's narrow basins, one block per direction."""

import numpy as np
import pytest

from basinlab.demo import DEFAULT_ALPHAS, chunk_for
from basinlab.landscape._engine import parse_grid


def test_default_grid_resolves_the_narrow_basin():
    alphas = parse_grid(DEFAULT_ALPHAS)
    # addition's score holds for |alpha| <= 0.002 and falls by 0.004: the grid needs steps <= 1e-3 there
    assert np.max(np.diff(alphas)) <= 1e-3 + 1e-12
    assert np.isclose(alphas, 0.0).sum() == 1 and alphas.min() <= -0.005 + 1e-12 and alphas.max() >= 0.005 - 1e-12
    assert chunk_for(len(alphas), None) == len(alphas)  # the whole grid: one block per direction


def test_chunk_size_must_divide_the_grid():
    assert chunk_for(12, 4) == 4
    with pytest.raises(ValueError, match=r"chunk_size 5 does not divide the 13 alphas .*valid: \[1, 13\]"):
        chunk_for(13, 5)
    with pytest.raises(ValueError, match="chunk_size"):
        chunk_for(13, 0)


def test_help_runs_without_docstrings():
    """Under `python -OO` the module docstring is None; the parser's description used to crash on it."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-OO", "-m", "basinlab.demo", "--help"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:") and "--directions" in done.stdout
