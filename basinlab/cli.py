"""`basinlab` console entry: headless sweeps and figures.

    basinlab landscape --model smollm2-135m-instruct --benchmark pydoc --benchmark shakespeare \
        --alphas -0.01:0.01:5e-4 --directions 8 --out results/most_case.nc
    basinlab plot results/most_case.nc --out fig.html
    basinlab plot results/most_case.nc --out fig.pdf --format pdf
    basinlab widths results/most_case.nc --tol 0.05
    basinlab landscape ... --mesh points=2,model=4                 # 8 devices, weights sharded 4 ways
    basinlab landscape ... --coordinator host0:1234 --num-processes 2 --process-id 0   # on each host
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # annotations only: heavy modules are imported where used, so `--help` stays fast
    import xarray as xr

# basinlab.benchmarks.available(), written out so that `--help` needs no JAX import (tests/test_cli.py
# checks that the two agree).
BENCHMARK_NAMES = (
    "advbench", "advbench-target", "gsm8k-zeroshot", "gsm8k_cot_llama", "humaneval-code-only", "humaneval_instruct",
    "mmlu-letter-first-token", "mmlu-letter-likelihood", "mmlu_generative", "pydoc", "shakespeare",
    "synthetic-addition", "synthetic-addition-fewshot", "synthetic-capitals",
)


def _benchmark_options(args) -> dict:
    """The command's benchmark flags as `registry.build(..., shared=)`: each named benchmark takes
    those it has (seq_len: text benchmarks; seed: sampled items; max_new_tokens: generating ones)."""
    return dict(n=args.n, seed=args.seed, seq_len=args.seq_len, max_new_tokens=args.max_new_tokens)


def _check_args(args) -> None:
    """The numeric flags and benchmark names, checked before the (slow) model load."""
    from basinlab import _validate as validate
    from basinlab.benchmarks import _registry as registry

    for flag in ("directions", "n", "seq_len", "max_new_tokens", "chunk_size"):
        value = getattr(args, flag, None)
        if value is not None:
            validate.positive_int("--" + flag.replace("_", "-"), value)
    if getattr(args, "tol", None) is not None:
        validate.nonnegative("--tol", validate.finite("--tol", args.tol))
    for name in getattr(args, "benchmark", None) or ():
        registry.check_name(name)  # an earlier name is an error naming the current one


def _distributed(args) -> None:
    """jax.distributed.initialize from the flags (before any JAX computation): explicit
    coordinator/count/id, or --distributed auto for the cluster environments jax detects (SLURM,
    TPU pods, ...). Every process runs the same command; process 0 writes the store and the file."""
    explicit = [args.coordinator, args.num_processes, args.process_id]
    if args.distributed == "off" and all(x is None for x in explicit):
        return
    import jax

    if args.distributed == "auto":
        jax.distributed.initialize()
        return
    if any(x is None for x in explicit):
        raise ValueError("a multi-process run needs --coordinator HOST:PORT, --num-processes N and "
                         "--process-id I together (or --distributed auto on a cluster)")
    jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                               process_id=args.process_id)


def _landscape(args) -> None:
    _distributed(args)
    import jax

    from basinlab.benchmarks import _registry as registry
    from basinlab.landscape._engine import landscape, parse_grid
    from basinlab.landscape._results import save
    from basinlab.models._load import load

    _check_args(args)
    alphas = parse_grid(args.alphas)
    betas = None if args.betas is None else parse_grid(args.betas)
    for name, grid in (("--alphas", alphas), ("--betas", betas)):
        if grid is not None and not np.all(np.isfinite(grid)):
            raise ValueError(f"{name} has non-finite values {grid[~np.isfinite(grid)].tolist()}")
    t0 = time.perf_counter()
    model = load(args.model, dtype=args.dtype)
    print(f"model: {model}")
    benchmarks = [registry.build(name, model, shared=_benchmark_options(args)) for name in args.benchmark]
    directions = args.directions
    if betas is not None:
        from basinlab.directions._recipes import DirectionRecipe

        kw: dict[str, Any] = dict(normalization=args.normalization, exclude=args.exclude or None)
        directions = [(DirectionRecipe(seed=2 * i, **kw), DirectionRecipe(seed=2 * i + 1, **kw))
                      for i in range(args.directions)]
    out = pathlib.Path(args.out)
    store = pathlib.Path(args.store) if args.store else out.with_name(out.name + ".blocks")
    ds = landscape(
        model, benchmarks, directions, alphas, betas, normalization=args.normalization,
        exclude=args.exclude or None, chunk_size=args.chunk_size, store=store, mesh=args.mesh,
        perturbation=args.perturbation,
    )
    if jax.process_index() != 0:
        return
    save(ds, out)
    print(f"wrote {out} ({time.perf_counter() - t0:.0f} s; resumable blocks in {store}; "
          f"perturbation {ds.attrs['perturbation']}, mesh {ds.attrs['mesh']})")
    if betas is None:
        print_widths(ds, args.tol, sided=args.sided)


def print_widths(ds: xr.Dataset, tol: float, sided: str = "one") -> None:
    """Median per-direction basin width per benchmark, with the base score. sided: "one" (the basin
    ends where the score has dropped by more than tol; a rise never ends it) or "two" (a change of
    more than tol either way ends it)."""
    import numpy as np

    w = ds.basin.width(tol=tol, sided=sided)
    rule = (f"score at most {tol} below its value at theta0, one-sided" if sided == "one"
            else f"score within {tol} of its value at theta0, two-sided")
    print(f"basin width per capability ({rule}; median over "
          f"{ds.sizes['direction']} directions; '>=' = reaches the grid's end):")
    for b in ds["benchmark"].values:
        wb = w.sel(benchmark=b)
        censored = bool(wb["censored"].any())
        print(f"  {b:<14} base {float(ds['base_score'].sel(benchmark=b)):.3f}  width "
              f"{'>=' if censored else ''}{float(np.median(wb['width'])):.4g}  "
              f"(edges {float(np.median(wb['left'])):+.4g} .. {float(np.median(wb['right'])):+.4g})")


def _plot(args) -> None:
    from basinlab.landscape._results import open_dataset
    from basinlab.viz import _plots as plots
    from basinlab.viz._export import format_of, save_figure

    _check_args(args)
    out = pathlib.Path(args.out)
    # --format, else the suffix of --out (none: HTML, as before --format existed); checked before reading.
    fmt = format_of(out, args.format or (None if out.suffix else "html"))
    ds = open_dataset(args.file, landscape=True)
    fig = plots.heatmap(ds) if "beta" in ds.dims else plots.curves(ds, variable=args.variable, tol=args.tol)
    save_figure(fig, out, fmt, width=args.width, cdn=args.cdn)
    print(f"wrote {out} ({fmt})")


def _scores(args) -> None:
    from basinlab.benchmarks import _registry as registry
    from basinlab.benchmarks._measure import measure
    from basinlab.models._load import load

    _check_args(args)
    model = load(args.model, dtype=args.dtype)
    print(f"model: {model}")
    print(f"{'benchmark':<26} {'n':>4} {'score':>7}  {'95% interval':<17} {'chance':>6}  note")
    for name in args.benchmark:
        bench = registry.build(name, model, shared=_benchmark_options(args))
        t0 = time.perf_counter()
        ev = measure(model, bench)
        ci = f"[{ev.lower:.3f}, {ev.upper:.3f}]" if ev.lower is not None else "(fractional items)"
        chance = "-" if ev.chance is None else f"{ev.chance:.2f}"
        note = "near chance" if ev.near_chance else ("synthetic" if bench.synthetic else "")
        print(f"{name:<26} {ev.n:>4} {ev.score:>7.3f}  {ci:<17} {chance:>6}  {note} "
              f"({time.perf_counter() - t0:.0f} s)")
        if args.examples and ev.examples:
            print(f"    e.g. {ev.examples[0]!r}")


def print_sizes(size: Any) -> None:
    """Definition 4.1's basin size per benchmark (a basin_size / ds.basin.size Dataset): theta0's
    score, sigma* with its interval (">=" only where the search reached max_sigma), and the cost."""
    conf = float(size.attrs.get("confidence", 0.95))
    print(f"basin size sigma* (Definition 4.1: mean score over directions and both signs at most "
          f"{float(size.attrs['tol']):g} below theta0's; {conf:.0%} interval over directions, "
          f"{size.attrs.get('method', 't')}):")
    for b in size["benchmark"].values:
        row = size.sel(benchmark=b)
        print(f"  {str(b):<26} base {float(row['base_score']):.3f}   sigma* {str(row['label'].values)}")
    if "n_evaluations" in size.attrs:
        print(f"  ({int(size.attrs['n_evaluations'])} perturbed evaluations in {int(size.attrs['n_probes'])} "
              f"probes of {int(size.attrs['n_evaluations_per_probe'])}; stopped: {size.attrs['stopped']})")


def _size(args) -> None:
    from basinlab.analysis._size import basin_size
    from basinlab.benchmarks import _registry as registry
    from basinlab.landscape._results import open_dataset, save
    from basinlab.landscape._size import basin_size_on_grid
    from basinlab.models._load import load

    _check_args(args)
    if args.from_file:
        path = pathlib.Path(args.from_file)
        if not path.exists():
            raise FileNotFoundError(f"no landscape file {path}")
        size = basin_size_on_grid(open_dataset(path), args.tol, args.confidence)
    else:
        if not args.benchmark:
            raise ValueError("basinlab size needs --benchmark NAME (repeatable) or --from LANDSCAPE.nc")
        model = load(args.model, dtype=args.dtype)
        print(f"model: {model}")
        benchmarks = [registry.build(name, model, shared=_benchmark_options(args)) for name in args.benchmark]
        size = basin_size(model, benchmarks, tol=args.tol, directions=args.directions, max_sigma=args.max_sigma,
                          precision=args.precision, confidence=args.confidence, budget=args.budget,
                          start=args.start, growth=args.growth, store=args.store)
    if args.out:
        save(size, pathlib.Path(args.out))
        print(f"wrote {args.out}")
    print_sizes(size)


def _widths(args) -> None:
    from basinlab.landscape._results import open_dataset

    _check_args(args)
    print_widths(open_dataset(args.file, landscape=True), args.tol, sided=args.sided)


class UsageError(Exception):
    """A command line argparse cannot parse (its message is one line)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints the usage and exits; main prints one line instead
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def _benchmark_flags(sp: argparse.ArgumentParser, required: bool) -> None:
    """The flags every model-and-benchmark command takes: --model, --benchmark (repeatable), the
    benchmark options (see _benchmark_options) and --dtype."""
    sp.add_argument("--model", default="smollm2-135m-instruct")
    sp.add_argument("--benchmark", action="append", required=required, default=None,
                    help="repeatable; one of: " + ", ".join(BENCHMARK_NAMES))
    sp.add_argument("--n", type=int, default=None, help="items per benchmark (text: sequences); default per benchmark")
    sp.add_argument("--seq-len", type=int, default=128, help="tokens per text sequence")
    sp.add_argument("--seed", type=int, default=0, help="seed of the benchmark item subset")
    sp.add_argument("--max-new-tokens", type=int, default=None, help="generation length of generating benchmarks")
    sp.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="basinlab", description="Loss landscapes of language models.")
    sub = p.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("landscape", help="sweep benchmarks over random directions (resumable)")
    _benchmark_flags(ls, required=True)
    ls.add_argument("--alphas", default="-0.01:0.01:5e-4", help="start:stop:step (stop excluded) or a,b,c")
    ls.add_argument("--betas", default=None, help="a second grid for a 2-D sweep")
    ls.add_argument("--directions", type=int, default=8)
    ls.add_argument("--normalization", default="none", choices=["none", "layer", "filter"])
    ls.add_argument("--exclude", action="append", help="glob of parameter paths not to perturb")
    ls.add_argument("--chunk-size", type=int, default=None)
    ls.add_argument("--tol", type=float, default=0.05)
    ls.add_argument("--sided", default="one", choices=["one", "two"],
                    help="basin definition of the printed widths: one (a drop of tol ends it, default) or two")
    ls.add_argument("--store", default=None, help="block store folder (default: OUT.blocks)")
    ls.add_argument("--out", required=True)
    ls.add_argument("--mesh", default=None,
                    help="device mesh 'points=P,model=M' (model shards the weights); default: all on points")
    ls.add_argument("--perturbation", default="auto", choices=["auto", "fused", "materialized"],
                    help="fused: perturbed weights formed per layer in the forward pass (least memory)")
    ls.add_argument("--distributed", default="off", choices=["off", "auto"],
                    help="auto: jax.distributed.initialize() from the cluster environment (SLURM, TPU)")
    ls.add_argument("--coordinator", default=None, help="HOST:PORT of process 0 (multi-process runs)")
    ls.add_argument("--num-processes", type=int, default=None)
    ls.add_argument("--process-id", type=int, default=None)
    ls.set_defaults(run=_landscape)

    pl = sub.add_parser("plot", help="landscape NetCDF -> figure (HTML, or PNG/SVG/PDF for a paper)")
    pl.add_argument("file")
    pl.add_argument("--out", required=True)
    pl.add_argument("--format", default=None, choices=["html", "png", "svg", "pdf"],
                    help="default: from the suffix of --out (html without one)")
    pl.add_argument("--width", type=int, default=None, help="px width of a PNG/SVG/PDF (default 1200)")
    pl.add_argument("--variable", default="score", choices=["score", "loss", "nll"])
    pl.add_argument("--tol", type=float, default=None)
    pl.add_argument("--cdn", action="store_true", help="load plotly.js from a CDN (smaller file)")
    pl.set_defaults(run=_plot)

    sc = sub.add_parser("scores", help="unperturbed scores with 95%% intervals")
    _benchmark_flags(sc, required=True)
    sc.add_argument("--examples", action="store_true", help="print one output per generating benchmark")
    sc.set_defaults(run=_scores)

    sz = sub.add_parser("size", help="Definition 4.1's basin size sigma* per benchmark, with its interval")
    _benchmark_flags(sz, required=False)
    sz.add_argument("--from", dest="from_file", default=None,
                    help="read sigma* off an evaluated landscape NetCDF instead of searching")
    sz.add_argument("--directions", type=int, default=8, help="Gaussian directions (>= 2)")
    sz.add_argument("--tol", type=float, default=0.1, help="allowed drop of the mean score below theta0's")
    sz.add_argument("--confidence", type=float, default=0.95)
    sz.add_argument("--max-sigma", type=float, default=0.05, help="the search's end (then sigma* >= it)")
    sz.add_argument("--precision", type=float, default=2.5e-4, help="bracket width of sigma* and its interval")
    sz.add_argument("--start", type=float, default=None, help="the walk's first sigma (default 4 x precision)")
    sz.add_argument("--growth", type=float, default=2.0, help="the walk's ratio between rungs (> 1)")
    sz.add_argument("--budget", type=int, default=None, help="most perturbed evaluations to spend")
    sz.add_argument("--store", default=None, help="folder: every probe is resumable")
    sz.add_argument("--out", default=None, help="write the size Dataset (NetCDF)")
    sz.set_defaults(run=_size)

    wd = sub.add_parser("widths", help="print basin widths of a landscape NetCDF")
    wd.add_argument("file")
    wd.add_argument("--tol", type=float, default=0.05)
    wd.add_argument("--sided", default="one", choices=["one", "two"],
                    help="one: the basin ends where the score drops by more than tol (default); two: any change")
    wd.set_defaults(run=_widths)
    return p


def _value_flags(p: argparse.ArgumentParser) -> tuple[set[str], set[str]]:
    """(flags that take a value, every flag) over the parser and its subcommands."""
    takes, every = set(), set()
    parsers = [p] + [sp for a in p._actions if isinstance(a, argparse._SubParsersAction)
                     for sp in a.choices.values()]
    for sp in parsers:
        for action in sp._actions:
            every.update(action.option_strings)
            if action.option_strings and action.nargs != 0:
                takes.update(action.option_strings)
    return takes, every


def _join_grids(argv: Sequence[str], p: argparse.ArgumentParser | None = None) -> list[str]:
    """Let `--alphas -0.01:0.01:5e-4`, `--tol -1` and `--dtype -x` work as typed: argparse reads a
    word with a leading '-' as an option. A flag that takes a value joins the next word when that
    word is no flag of basinlab's, so a bad value is named in the error instead of "expected one
    argument"."""
    takes, every = _value_flags(p or parser())
    out, argv = [], list(argv)
    i = 0
    while i < len(argv):
        flag = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if flag in takes and nxt is not None and nxt.startswith("-") and nxt not in every:
            out.append(f"{flag}={nxt}")
            i += 2
        else:
            out.append(flag)
            i += 1
    return out


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code. Bad input of any kind (an unparsable command line, a
    bad value, a missing or corrupt file, a store in use) prints one line to stderr and returns 2."""
    from basinlab.landscape._store import StoreLocked

    try:
        p = parser()
        args = p.parse_args(_join_grids(sys.argv[1:] if argv is None else argv, p))
    except UsageError as e:
        print(_one_line(e), file=sys.stderr)
        return 2
    try:
        args.run(args)
    except (ValueError, TypeError, OSError, StoreLocked) as e:
        print(f"basinlab {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
