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

EXAMPLES = 8
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
        with np.errstate(over="ignore"):
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
    from basinlab.landscape._engine import parse_grid

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
    from basinlab.landscape._results import open_dataset

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
    from basinlab.benchmarks import _registry as registry

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


# ----------------------------------------------------------------------------- landscape

@pytest.fixture(scope="module")
def text_bench():
    from basinlab.scoring import token_benchmark

    return token_benchmark(np.random.RandomState(0).randint(0, 256, size=(2, 8)), name="text")


@bad_input
@given(alphas=st.one_of(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=3)
                        .filter(lambda a: not a or not np.all(np.isfinite(a))),
                        st.just([]), st.text(alphabet="abxyz:,", min_size=1, max_size=4), st.just([[0.1, "x"]])))
def test_landscape_alphas(alphas, text_bench):
    from basinlab.landscape import landscape

    model = tiny_gpt()
    named_error("landscape(alphas)", lambda: landscape(model, text_bench, directions=1, alphas=alphas,
                                                       progress=False), alphas, "alpha grid")
    named_error("landscape(alphas)", lambda: landscape(model, text_bench, directions=1, alphas=[0.0],
                                                       betas=alphas, progress=False), alphas, "beta grid")


@bad_input
@given(directions=st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=3), st.just([])),
       chunk=st.one_of(st.integers(max_value=0), st.floats().filter(lambda x: not float(x).is_integer())))
def test_landscape_counts(directions, chunk, text_bench):
    from basinlab.landscape import landscape

    model = tiny_gpt()
    named_error("landscape(directions)", lambda: landscape(model, text_bench, directions=directions, alphas=[0.0],
                                                           progress=False), directions, "directions")
    named_error("landscape(chunk_size)", lambda: landscape(model, text_bench, directions=1, alphas=[0.0],
                                                           chunk_size=chunk, progress=False), chunk)


@bad_input
@given(normalization=names, benchmarks=st.sampled_from([[], "text", 3, None]))
def test_landscape_options(normalization, benchmarks, text_bench, tmp_path_factory):
    from basinlab.landscape import landscape

    assume(normalization not in ("none", "layer", "filter"))
    model = tiny_gpt()
    named_error("landscape(normalization)", lambda: landscape(model, text_bench, directions=1, alphas=[0.0],
                                                              normalization=normalization, progress=False),
                normalization)
    named_error("landscape(benchmarks)", lambda: landscape(model, benchmarks, directions=1, alphas=[0.0],
                                                           progress=False), benchmarks, "benchmark")
    store = tmp_path_factory.getbasetemp() / "a-file"
    store.write_text("x")
    named_error("landscape(store)", lambda: landscape(model, text_bench, directions=1, alphas=[0.0], store=store,
                                                      progress=False), str(store))


@bad_input
@given(tol=st.one_of(st.floats(max_value=-1e-9), st.just(float("nan"))),
       precision=st.one_of(st.floats(max_value=0.0), st.just(float("nan"))),
       sided=names, growth=st.floats(max_value=1.0))
def test_basin_edges(tol, precision, sided, growth, text_bench):
    from basinlab.analysis import basin_edges

    assume(sided not in ("one", "two"))
    model = tiny_gpt()
    named_error("basin_edges", lambda: basin_edges(model, text_bench, directions=1, tol=tol), tol, "tol")
    named_error("basin_edges", lambda: basin_edges(model, text_bench, directions=1, precision=precision),
                precision, "precision")
    named_error("basin_edges", lambda: basin_edges(model, text_bench, directions=1, sided=sided), sided)
    named_error("basin_edges", lambda: basin_edges(model, text_bench, directions=1, growth=growth), growth,
                "growth")


# ----------------------------------------------------------------------------- theory

@bad_input
@given(p_a=bad_probabilities, r=st.floats(max_value=-1e-9), sigma=st.one_of(st.floats(max_value=0.0),
                                                                           st.just(float("nan"))))
def test_bounds(p_a, r, sigma):
    from basinlab import theory

    for fn in (theory.strong_bound, theory.weak_bound, theory.log_strong_bound):
        named_error("theory bounds", lambda fn=fn: fn(p_a, 0.001, 0.01), p_a, "p_a")
        named_error("theory bounds", lambda fn=fn: fn(0.9, r, 0.01), r, "r ")
        named_error("theory bounds", lambda fn=fn: fn(0.9, 0.001, sigma), sigma, "sigma")
    named_error("theory bounds", lambda: theory.certified_radius(p_a, 0.01), p_a, "p_a")


@bad_input
@given(sigma=st.one_of(st.floats(max_value=0.0), st.just(float("nan"))), n=not_positive_ints,
       confidence=bad_confidences)
def test_certify(sigma, n, confidence, text_bench):
    from basinlab.theory._certify import certify

    model = tiny_gpt()
    theta = model.params
    named_error("certify", lambda: certify(model, theta, text_bench, sigma, 2), sigma, "sigma")
    named_error("certify", lambda: certify(model, theta, text_bench, 0.01, n), n, "n ")
    named_error("certify", lambda: certify(model, theta, text_bench, 0.01, 2, confidence=confidence), confidence,
                "confidence")
    named_error("certify", lambda: certify(model, {"x": 1}, text_bench, 0.01, 2), "theta", "params", "structure")


# ----------------------------------------------------------------------------- training

@pytest.fixture(scope="module")
def examples():
    tokens = np.random.RandomState(0).randint(0, 256, size=(4, 8))
    ones = np.ones_like(tokens)
    return tokens, ones, ones


@bad_input
@given(field=st.sampled_from(["steps", "batch_size", "grad_accum", "checkpoint_every", "epochs"]),
       value=not_positive_ints)
def test_finetune_counts(field, value, examples, tmp_path_factory):
    from basinlab.training._loop import finetune

    kw = {field: value, "log_every": None, "checkpoint_dir": tmp_path_factory.getbasetemp() / "ck"}
    if field == "epochs":
        assume(not isinstance(value, float) or value <= 0 or not math.isfinite(value))
    named_error("finetune", lambda: finetune(tiny_gpt(), examples, **kw), value, field)


@bad_input
@given(lr=bad_floats, weight_decay=st.one_of(st.floats(max_value=-1e-9), st.just(float("nan"))),
       schedule=names, dtype=names)
def test_finetune_values(lr, weight_decay, schedule, dtype, examples):
    from basinlab.training._loop import finetune

    assume(schedule not in ("constant", "cosine", "linear") and dtype not in ("float32", "bfloat16"))
    model = tiny_gpt()
    named_error("finetune", lambda: finetune(model, examples, steps=1, lr=lr, log_every=None), lr, "lr")
    named_error("finetune", lambda: finetune(model, examples, steps=1, weight_decay=weight_decay, log_every=None),
                weight_decay, "weight_decay")
    named_error("finetune", lambda: finetune(model, examples, steps=1, schedule=schedule, log_every=None), schedule)
    named_error("finetune", lambda: finetune(model, examples, steps=1, compute_dtype=dtype, log_every=None), dtype)
    named_error("finetune", lambda: finetune(model, (examples[0][:, :1],) * 3, steps=1, log_every=None),
                "loss_mask")


@bad_input
@given(field=st.sampled_from(["steps", "batch_size", "eval_every", "n_eval", "seq_len", "checkpoint_every"]),
       value=not_positive_ints, optimizer=names)
def test_pretrain(field, value, optimizer, tmp_path_factory):
    from basinlab.training import _corpus as corpus
    from basinlab.training import _pretrain as pretrain

    assume(optimizer not in pretrain.OPTIMIZERS)
    text = corpus.Corpus(name="bytes", train=np.arange(200, dtype=np.int32) % 256,
                         val=np.arange(100, dtype=np.int32) % 256, val_text="")
    kw = {field: value, "checkpoint_dir": tmp_path_factory.getbasetemp() / "pk"}
    named_error("pretrain", lambda: pretrain.pretrain(tiny_gpt(), text, **kw), value, field)
    named_error("pretrain", lambda: pretrain.pretrain(tiny_gpt(), text, optimizer, steps=1), optimizer)
    for name in ("lr", "sigma", "rho"):
        named_error("pretrain", lambda name=name: pretrain.pretrain(tiny_gpt(), text, "go", steps=1,
                                                                     **{name: float("nan")}), "nan", name)


# ----------------------------------------------------------------------------- results, plots, widgets

@bad_input
@given(tol=st.one_of(st.floats(max_value=-1e-9), st.just(float("nan")), st.text(max_size=3)),
       confidence=bad_confidences, variable=names)
def test_basin_accessor(tol, confidence, variable, ds):
    assume(variable not in ds.data_vars)
    named_error("ds.basin", lambda: ds.basin.width(tol=tol), tol, "tol")
    named_error("ds.basin", lambda: ds.basin.width(variable=variable), variable)
    named_error("ds.basin", lambda: ds.basin.strict_fraction(0.0, confidence=confidence), confidence,
                "confidence")
    named_error("ds.basin", lambda: ds.basin.band(confidence=confidence), confidence, "confidence")


@bad_input
@given(tol=st.one_of(st.floats(max_value=-1e-9), st.just(float("nan"))), confidence=bad_confidences,
       variable=names, bench=names, direction=st.integers(min_value=5))
def test_plots(tol, confidence, variable, bench, direction, ds):
    from basinlab.viz import _plots as plots

    assume(variable not in ds.data_vars)
    named_error("plots", lambda: plots.curves(ds, tol=tol), tol, "tol")
    named_error("plots", lambda: plots.curves(ds, variable=variable), variable)
    named_error("plots", lambda: plots.curves(ds, confidence=confidence), confidence, "confidence")
    named_error("plots", lambda: plots.widths([ds], tol=tol), tol, "tol")
    named_error("plots", lambda: plots.heatmap(ds), "beta", "2-D")


@bad_input
@given(variable=names, tol=st.one_of(st.floats(max_value=-1e-9), st.just(float("nan"))),
       alpha=st.one_of(st.just(float("nan")), st.just(float("inf")), st.text(max_size=3)),
       sigma=st.just(float("nan")))
def test_widgets(variable, tol, alpha, sigma, ds):
    from basinlab.viz._widgets import BoundExplorer, SigmaExplorer

    assume(variable not in ds.data_vars)
    named_error("widgets", lambda: SigmaExplorer(ds, variable), variable)
    named_error("widgets", lambda: SigmaExplorer(ds, tol=tol), tol, "tol")
    explorer = SigmaExplorer(ds)
    named_error("widgets", lambda: explorer.set_alpha(alpha), alpha, "alpha")
    named_error("widgets", lambda: BoundExplorer(sigma=sigma), sigma, "sigma")
