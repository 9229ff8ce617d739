"""Landscapes of a tiny random SmolLM2 shared by the figure and widget tests (computed once per session)."""

import numpy as np
import pytest

from basinlab.directions._recipes import DirectionRecipe
from basinlab.landscape import landscape
from basinlab.scoring import token_benchmark

ALPHAS = np.linspace(-0.3, 0.3, 13)


@pytest.fixture(scope="session")
def ds1(tiny_smol):
    """1-D sweep: 4 directions x 13 alphas x 2 benchmarks of different sizes."""
    rs = np.random.RandomState(0)
    benches = [token_benchmark(rs.randint(3, 160, size=(4, 24)), name="text"),
               token_benchmark(rs.randint(3, 160, size=(3, 16)), name="short")]
    return landscape(tiny_smol, benches, directions=4, alphas=ALPHAS, progress=False)


@pytest.fixture(scope="session")
def ds2(tiny_smol):
    """2-D sweep: one plane, 5 alphas x 4 betas."""
    tokens = np.random.RandomState(0).randint(3, 160, size=(4, 24))
    return landscape(tiny_smol, [token_benchmark(tokens, name="text")],
                     directions=[(DirectionRecipe(seed=0), DirectionRecipe(seed=1))],
                     alphas=np.linspace(-0.3, 0.3, 5), betas=np.linspace(-0.2, 0.2, 4), progress=False)
