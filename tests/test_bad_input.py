"""Bad input through every public entry point ends in a named error (issue 13).

Hypothesis generates argument values (grids, counts, seeds, dtypes, paths, tolerances, confidence
levels, alphas, file contents) for the CLI's subcommands, run in-process through
``basinlab.cli.main(argv)``, and for the main Python functions (load, landscape, the bounds and
certify, finetune, pretrain, the plots, the widgets, the ``ds.basin`` accessor). Every case must end:

- in Python: a ValueError, TypeError or FileNotFoundError raised from basinlab's own code (the last
  traceback frame is in basinlab, so never a raw numpy/h5py/jax/tokenizers error) whose message
  names the bad value (its repr or str);
- in the CLI: exit code 2 and exactly one line on stderr naming the bad value.

The runs are derandomized (the same cases every run) and small (the "bad-input" settings profile:
EXAMPLES cases per property; tiny models only). The number of cases tried per entry point is printed
at the end of the module's run and listed in the README ("Reliability").
"""

from __future__ import annotations

import collections
import math
import traceback

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import basinlab
from basinlab.cli import main

from faults import hf_folder, landscape_file, tiny_gpt

EXAMPLES = 12
settings.register_profile("bad-input", max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
bad_input = settings.get_profile("bad-input")
TRIED: collections.Counter = collections.Counter()  # entry point -> cases tried
ERRORS = (ValueError, TypeError, FileNotFoundError)


class _CountsReport:
    """A pytest plugin printing TRIED in the terminal summary (shown under -q too)."""

    def pytest_terminal_summary(self, terminalreporter):
        if TRIED:
            terminalreporter.write_line("bad-input cases tried per entry point: " +
                                        ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items())))


@pytest.fixture(scope="module", autouse=True)
def report_counts(request):
    if not request.config.pluginmanager.has_plugin("basinlab-bad-input-counts"):
        request.config.pluginmanager.register(_CountsReport(), "basinlab-bad-input-counts")
    yield


def shown(value) -> list[str]:
    """Ways a message may name ``value``."""
    out = [repr(value), str(value)]
    if isinstance(value, float) and math.isfinite(value):
        out += [repr(float(np.float32(value))), f"{value:g}"]
    if isinstance(value, (list, tuple)):
        out += [repr(v) for v in value] + [str(v) for v in value]
    return out


def named_error(entry: str, fn, value, *also):
    """fn() raises one of ERRORS from basinlab code, naming ``value`` (or one of ``also``)."""
    TRIED[entry] += 1
    with pytest.raises(ERRORS) as info:
        fn()
    e = info.value
    last = traceback.extract_tb(e.__traceback__)[-1].filename
    assert "basinlab" in last and "/tests/" not in last, f"{type(e).__name__} raised in {last}: {e}"
    msg = str(e)
    assert any(s in msg for s in [*shown(value), *also]), f"{msg!r} does not name {value!r}"
    return e


def cli_error(entry: str, argv, value, *also):
    """main(argv) exits 2 with one stderr line naming ``value``."""
    import contextlib
    import io

    TRIED[entry] += 1
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    text = err.getvalue()
    assert code == 2, (argv, code, text)
    assert len(text.strip().splitlines()) == 1, text
    assert any(s in text for s in [*shown(value), *also]), (argv, text)


# ----------------------------------------------------------------------------- value strategies

not_positive_ints = st.one_of(st.integers(max_value=0), st.floats().filter(lambda x: not float(x).is_integer()),
                              st.text(max_size=4), st.booleans())
bad_floats = st.one_of(st.just(float("nan")), st.just(float("inf")), st.just(-float("inf")), st.text(max_size=4))
bad_probabilities = st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.000001), st.just(float("nan")))
bad_confidences = st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(float("nan")))
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_0123456789", min_size=1, max_size=12)


def bad_grid_text():
    """Text that is not a usable alphas grid: random text, or start:stop:step with a zero, wrong-signed
    or non-finite part."""
    nums = st.floats(allow_nan=True, allow_infinity=True, width=32)
    triple = st.tuples(nums, nums, nums).map(lambda t: f"{t[0]}:{t[1]}:{t[2]}")
    return st.one_of(st.text(max_size=12), triple, st.tuples(nums, nums).map(lambda t: f"{t[0]}:{t[1]}:0"))


def grid_ok(text: str) -> bool:
    from basinlab.landscape.engine import parse_grid

    try:
        g = parse_grid(text)
    except ValueError:
        return False
    return g.size > 0 and bool(np.all(np.isfinite(g)))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return hf_folder(tmp_path_factory.mktemp("bad") / "tiny-gpt")


@pytest.fixture(scope="module")
def nc(tmp_path_factory):
    return landscape_file(tmp_path_factory.mktemp("bad") / "ls.nc")


@pytest.fixture(scope="module")
def ds(nc):
    from basinlab.landscape.results import open_dataset

    return open_dataset(nc)


# ----------------------------------------------------------------------------- CLI

@bad_input
@given(text=bad_grid_text())
def test_cli_landscape_alphas(text, tmp_path_factory):
    assume(not grid_ok(text) and not text.startswith("-") or ":" in text and not grid_ok(text))
    out = tmp_path_factory.getbasetemp() / "x.nc"
    for flag in ("--alphas", "--betas"):
        argv = ["landscape", "--benchmark", "pydoc", "--model", "/nonexistent", flag, text, "--out", str(out)]
        if flag == "--betas":
            argv[5:5] = ["--alphas", "0,0.1"]
        cli_error("cli landscape --alphas/--betas", argv, text)


@bad_input
@given(flag=st.sampled_from(["--directions", "--n", "--seq-len", "--chunk-size", "--max-new-tokens"]),
       value=st.one_of(st.integers(max_value=0), st.text(min_size=1, max_size=5)))
def test_cli_landscape_counts(flag, value, tmp_path_factory):
    value = str(value)
    assume(not value.strip().lstrip("+").isdigit() or int(value) < 1)
    assume(not value.startswith("-") or value.lstrip("-").isdigit())
    argv = ["landscape", "--benchmark", "pydoc", "--model", "/nonexistent", f"{flag}={value}", "--out",
            str(tmp_path_factory.getbasetemp() / "x.nc")]
    cli_error("cli landscape counts", argv, value)


@bad_input
@given(cmd=st.sampled_from(["landscape", "scores"]), bench=names, dtype=names)
def test_cli_benchmark_and_dtype_names(cmd, bench, dtype, tmp_path_factory):
    from basinlab.benchmarks import registry

    assume(bench not in registry.available() and dtype not in ("float32", "bfloat16"))
    tail = ["--out", str(tmp_path_factory.getbasetemp() / "x.nc")] if cmd == "landscape" else []
    cli_error(f"cli {cmd} names", [cmd, "--model", "/nonexistent", "--benchmark", bench, *tail], bench)
    cli_error(f"cli {cmd} names", [cmd, "--model", "/nonexistent", "--benchmark", "pydoc", "--dtype", dtype, *tail],
              dtype)


@bad_input
@given(content=st.binary(max_size=300), tol=st.one_of(st.none(), st.floats(max_value=-1e-9), st.just(float("nan"))))
def test_cli_plot_and_widths_files(content, tol, tmp_path_factory, nc):
    bad = tmp_path_factory.getbasetemp() / "random.nc"
    bad.write_bytes(content)
    out = str(tmp_path_factory.getbasetemp() / "f.html")
    cli_error("cli plot", ["plot", str(bad), "--out", out], str(bad))
    cli_error("cli widths", ["widths", str(bad)], str(bad))
    if tol is not None:
        cli_error("cli widths", ["widths", str(nc), "--tol", str(tol)], str(tol))
        cli_error("cli plot", ["plot", str(nc), "--out", out, "--tol", str(tol)], str(tol))


@bad_input
@given(path=names)
def test_cli_missing_files_and_models(path, tmp_path_factory):
    missing = str(tmp_path_factory.getbasetemp() / "missing" / path)
    cli_error("cli plot", ["plot", missing, "--out", missing + ".html"], missing)
    cli_error("cli scores", ["scores", "--model", missing, "--benchmark", "pydoc"], missing)


# ----------------------------------------------------------------------------- load

@bad_input
@given(source=st.one_of(names, st.integers(), st.lists(st.integers(), max_size=2), st.none()))
def test_load_sources(source, tmp_path_factory):
    if isinstance(source, str):
        source = str(tmp_path_factory.getbasetemp() / "nothing-here" / source)
    named_error("load(source)", lambda: basinlab.load(source), source, type(source).__name__)


@bad_input
@given(dtype=st.one_of(names, st.integers(), st.just("int8"), st.just("float16")))
def test_load_dtypes(dtype, folder):
    assume(dtype not in ("float32", "bfloat16"))
    named_error("load(dtype)", lambda: basinlab.load(folder, dtype=dtype), dtype)
    named_error("load(dtype)", lambda: basinlab.load(folder, compute_dtype=dtype), dtype)


@bad_input
@given(content=st.binary(max_size=200), suffix=st.sampled_from([".gguf", ".bin", ""]))
def test_load_random_bytes(content, suffix, tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / f"random{suffix}"
    path.write_bytes(content)
    named_error("load(file)", lambda: basinlab.load(path), str(path))
    (tmp_path_factory.getbasetemp() / "folder").mkdir(exist_ok=True)
    folder = tmp_path_factory.getbasetemp() / "folder"
    (folder / "config.json").write_bytes(content)
    named_error("load(folder)", lambda: basinlab.load(folder), str(folder / "config.json"))
