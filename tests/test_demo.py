"""basinlab.demo's plan and bookkeeping, without the model: its capabilities and walk (few probes for
basins like SmolLM2's, no censoring), the summary JSON, and --help under -OO. The demo itself runs
with `make demo`."""

import argparse

import numpy as np
import pytest
from probit import Probit

from basinlab.analysis._size import search_size, size_from_search
from basinlab.benchmarks import _registry as registry
from basinlab.demo import SIZES, WALK, record

PROBIT = Probit()
Z = np.random.default_rng(3).normal(size=(4, 4))
# SmolLM2-135M-Instruct's sigma* per capability as measured by the demo (experiments/results/)
SMOLLM2_LIKE = (0.004, 0.013, 0.016, 0.019)


def search(scales):
    """The demo's walk over the probit model with its basin moved to each of `scales` (one benchmark each)."""
    true = PROBIT.sigma_star(0.1)

    def probe(sigma):
        g = np.stack([PROBIT.items(Z, np.array([-sigma, sigma]) * true / s).mean(-1).mean(1) for s in scales], 1)
        return g, np.full(len(scales), PROBIT.base)

    higher = [True] * len(scales)
    sig, g, base, done, stopped = search_size(probe, higher, 0.1, **WALK)
    return size_from_search(sig, g, base, done, stopped, names=[f"b{k}" for k in range(len(scales))],
                            higher=higher, tol=0.1, confidence=0.95, method="t", n_boot=100, seed=0,
                            attrs={"model": "probit"}, walk={**WALK, "budget": -1, "n_evaluations_per_probe": 8})


@pytest.fixture(scope="module")
def size():
    return search(SMOLLM2_LIKE)


def test_capabilities_are_registry_benchmarks_and_the_walk_goes_far_beyond_them():
    assert set(SIZES) <= set(registry.BUILDERS) and all(n > 0 for n in SIZES.values())
    assert 0 < WALK["precision"] and 0 < WALK["start"] < WALK["max_sigma"] and WALK["growth"] > 1
    assert WALK["max_sigma"] >= 5 * max(SMOLLM2_LIKE)  # ">=" only where a basin never ends


def test_the_walk_is_few_probes_for_basins_like_smollm2s(size):
    """The time budget: a probe is 8 evaluations of every capability; the demo affords about 4 (SmolLM2
    took 4 at 2 min 49 s). The probit stand-in's bands over 4 directions are wider than SmolLM2's, so its
    upper ends need the rung past 0.024 and two bisections: 7 probes here is the bound, not the typical."""
    assert size.attrs["stopped"] == "converged" and not size["censored"].any()
    assert size.attrs["n_probes"] <= 7, size["sigma_grid"].values
    for b, s in zip(size["benchmark"].values, SMOLLM2_LIKE, strict=True):
        row = size.sel(benchmark=b)
        assert row["sigma_lo"].item() <= row["sigma"].item() <= row["sigma_hi"].item()
        assert abs(row["sigma"].item() - s) < WALK["precision"]  # found within its bracket
        assert ">=" not in row["label"].item()


def test_record_writes_the_summary(size, tmp_path):
    import basinlab as bl

    path = tmp_path / "sub" / "summary.json"
    record(size, path, argparse.Namespace(model="probit"), 12.3)
    summary = bl.read_summary(path)
    r, prov = summary["results"], summary["provenance"]
    assert r["directions"] == 4 and prov["seeds"] == [0, 1, 2, 3]
    assert r["tol"] == 0.1 and r["confidence"] == 0.95 and r["interval_covers"] == "directions"
    assert r["walk"] == WALK and prov["code_version"] and prov["created_at"]
    assert prov["command"].startswith("python -m basinlab.demo")
    assert r["n_evaluations"] == 8 * r["n_probes"] == 8 * len(r["probed_sigmas"])
    b1 = r["capabilities"]["b1"]
    assert b1["sigma_lo"] <= b1["sigma"] <= b1["sigma_hi"] and not b1["censored"]
    assert b1["label"] == size["label"].sel(benchmark="b1").item() and r["kinds"]["b1"] == "items"


def test_help_runs_without_docstrings():
    """Under `python -OO` the module docstring is None; the parser's description used to crash on it."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-OO", "-m", "basinlab.demo", "--help"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:") and "--directions" in done.stdout and "--record" in done.stdout
