"""`make demo`: the most-case landscape of the bundled SmolLM2-135M-Instruct, in about 3 minutes on 2 CPU cores.

Loads the model (architecture, parameter count d, NLL on a text sample, a chat reply), then sweeps
four capabilities (two synthetic generated-text oracles, two next-token accuracies) along 4 random
Gaussian directions over 11 alphas in [-0.005, 0.005] (step 1e-3: SmolLM2's generated-text basins are
about 0.004 wide, so a coarser grid would miss them; +-0.005 brackets addition's edges at -0.0045 and
+0.004), with a progress bar, and writes
results/most_case.nc (xarray/NetCDF) and results/most_case.html (the figure), then prints the basin
width per capability and where the results are.

One block per direction: chunk_size is the whole grid unless given, and must divide the grid, so no
compiled call regenerates a direction for a leftover point or two.

    python -m basinlab.demo [--model SOURCE] [--directions 4] [--alphas -0.005:0.00501:0.001] [--tol 0.1]
"""

from __future__ import annotations

import argparse
import pathlib
import time
from collections.abc import Sequence

import numpy as np

from basinlab import _validate as validate
from basinlab.data._corpora import load_text
from basinlab.models._load import load
from basinlab.models._model import Model

DEFAULT_ALPHAS = "-0.005:0.00501:0.001"
# Two generated-text oracles (synthetic skills this 135M model has; the paper's GSM8K, MMLU, AdvBench
# and HumanEval sit at chance or at the floor for it) and two text capabilities; items per benchmark.
SIZES = {"synthetic-addition": 24, "synthetic-capitals": 16, "pydoc": 2, "shakespeare": 2}


def chunk_for(n_points: int, chunk_size: int | None) -> int:
    """Grid points per compiled call: the whole grid by default (one block per direction); a given
    chunk_size must divide the grid, else one block would regenerate the direction for a remainder."""
    n_points = validate.positive_int("number of alphas", n_points)
    if chunk_size is None:
        return n_points
    chunk_size = validate.positive_int("chunk_size", chunk_size)
    if n_points % chunk_size:
        divisors = [k for k in range(1, n_points + 1) if n_points % k == 0]
        raise ValueError(f"chunk_size {chunk_size} does not divide the {n_points} alphas (a last block of "
                         f"{n_points % chunk_size} would cost a whole direction regeneration); valid: {divisors}")
    return chunk_size


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])  # None under python -OO
    parser.add_argument("--model", default="smollm2-135m-instruct", help="alias, .gguf path, HF folder or hub id")
    parser.add_argument("--question", default="What is the capital of France?")
    parser.add_argument("--directions", type=int, default=4)
    parser.add_argument("--alphas", default=DEFAULT_ALPHAS, help="start:stop:step (stop excluded) or a,b,c")
    parser.add_argument("--chunk-size", type=int, default=None, help="grid points per compiled call (divides the grid)")
    parser.add_argument("--tol", type=float, default=0.1, help="basin edge: score drop from theta0 (one-sided)")
    parser.add_argument("--out", default="results/most_case")
    parser.add_argument("--no-landscape", action="store_true", help="only the model check")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    t0 = time.perf_counter()
    model = load(args.model)
    print(f"loaded in {time.perf_counter() - t0:.1f} s: {model}")
    s = model.spec
    print(f"architecture: {s.arch} ({s.name}), parameters d = {model.n_params:,}")

    t0 = time.perf_counter()
    nll = model.nll(load_text("pydoc")[:40_000], seq_len=128, batch=8)
    print(f"mean token NLL on 8 x 128 tokens of Python's pydoc text: {nll:.4f} nats "
          f"({time.perf_counter() - t0:.1f} s)")

    t0 = time.perf_counter()
    reply = model.generate_text([args.question], max_new_tokens=32, chat=True)[0]
    print(f"chat, greedy ({time.perf_counter() - t0:.1f} s)\n  user: {args.question}\n  model: {reply.strip()}")
    if not args.no_landscape:
        most_case(model, args)
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s")


def most_case(model: Model, args: argparse.Namespace) -> None:
    """The most-case sweep; resumable through the block store next to the output."""
    from basinlab.benchmarks import _registry as registry
    from basinlab.cli import print_widths
    from basinlab.landscape._engine import landscape, parse_grid
    from basinlab.landscape._results import save
    from basinlab.viz import _plots as plots
    from basinlab.viz._export import save_figure

    alphas = parse_grid(args.alphas)
    chunk = chunk_for(len(alphas), args.chunk_size)
    benchmarks = []
    for name, n in SIZES.items():
        try:
            benchmarks.append(registry.build(name, model, n=n, shared={"seq_len": 128}))
        except FileNotFoundError as e:
            print(f"(skipping {name}: {e})")
    step = float(np.min(np.diff(np.sort(alphas)))) if len(alphas) > 1 else float("nan")
    print(f"\nmost-case landscape: {args.directions} unnormalized Gaussian directions x {len(alphas)} alphas "
          f"in [{alphas.min():g}, {alphas.max():g}] (step {step:g}), {chunk} points per compiled call; "
          f"benchmarks {[f'{b.name} ({n})' for b, n in zip(benchmarks, [SIZES[b.name] for b in benchmarks])]}")
    out = pathlib.Path(args.out)
    t0 = time.perf_counter()
    ds = landscape(model, benchmarks, directions=args.directions, alphas=alphas, chunk_size=chunk,
                   store=out.with_name(out.name + ".blocks"), progress=True)
    print(f"sweep: {time.perf_counter() - t0:.0f} s")
    nc, html = out.with_name(out.name + ".nc"), out.with_name(out.name + ".html")
    save(ds, nc)
    save_figure(plots.curves(ds, tol=args.tol), html)

    width = ds.basin.width(tol=args.tol)
    definition = width.attrs.get("definition")
    if definition:  # the width Dataset names its definition (one- or two-sided)
        print(f"\nbasin width definition: {definition}")
    print_widths(ds, tol=args.tol)
    print(f"\nresults:\n  {nc.resolve()}  (xarray Dataset: basinlab.results.open_dataset)\n"
          f"  {html.resolve()}  (the figure: open it in a browser)\n"
          f"  {out.with_name(out.name + '.blocks').resolve()}/  (block store: rerunning resumes from it)")


if __name__ == "__main__":
    main()
