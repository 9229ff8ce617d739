"""`make demo`: Definition 4.1's basin size of the bundled SmolLM2-135M-Instruct per capability, in about
3 minutes on 2 CPU cores.

Loads the model (architecture, parameter count d, NLL on a text sample, a chat reply), then finds,
per capability, sigma* = the first sigma (walking out from 0) where the mean score over Gaussian
noise, E S(theta0 + sigma delta) with delta ~ N(0, I), is more than tol below theta0's (PAPER.md
section 2), with a 95% interval over directions (Student t): ``basinlab.basin_size``, a geometric
walk out in sigma then bisection; each probe evaluates every direction at -sigma and +sigma (an
antithetic pair). It prints the table of ``basinlab size``, writes results/basin_size.nc (the size
Dataset), results/basin_size.html (``viz.size_curves``: E S against sigma, sigma* and its interval
marked) and keeps every probe in results/basin_size.blocks/ (a rerun resumes from it).

Settings, and why (a probe costs 2 x directions perturbed evaluations, each scoring all four
capabilities, about 3 s on this 2-core machine, plus regenerating each direction; the whole demo
is meant to take at most 3 minutes):
- 4 directions (the fewest the interval is worth having with: t_3 = 3.18), tol 0.1 in score units.
- one search for all four capabilities: measured on SmolLM2 their basins are within a factor of
  five of each other (sigma* about 0.004 for addition, 0.013 capitals, 0.016-0.019 the text
  accuracies), so every probe serves every capability.
- WALK: rungs 0.006, 0.012, 0.024, then bisection of brackets wider than 0.008 (0.018 for
  SmolLM2): 4 probes, 32 evaluations (a start of 0.004 took 5 probes, 40 evaluations, 3 min 51 s in
  all on an idle machine: over the 3 minutes). A precision of 0.008 is coarse against these
  sigmas: sigma*, sigma_lo and sigma_hi are interpolated linearly inside brackets up to 0.008 wide
  (from sigma = 0 where a curve leaves before the first rung), so they are approximate at that
  scale; `basinlab size --precision` refines them at more cost.
- max_sigma 0.192 (0.006 x 2^5), far beyond every basin: ">=" (censored) only where a capability
  never left.
The interval covers the randomness of the directions only (not of the items, nor the interpolation).

    python -m basinlab.demo [--model SOURCE] [--directions 4] [--tol 0.1] [--out results/basin_size]
                            [--record experiments/results/smollm2_basin_size.json]
"""

from __future__ import annotations

import argparse
import pathlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from basinlab.data._corpora import load_text
from basinlab.models._load import load
from basinlab.models._model import Model

if TYPE_CHECKING:
    import xarray as xr

DIRECTIONS = 4
TOL = 0.1
SEQ_LEN = 128  # tokens per text sequence (pydoc, shakespeare)
# Two generated-text oracles (synthetic skills this 135M model has; the paper's GSM8K, MMLU, AdvBench
# and HumanEval sit at chance or at the floor for it) and two next-token accuracies on text; items
# per benchmark (text: sequences of SEQ_LEN tokens).
SIZES = {"synthetic-addition": 16, "synthetic-capitals": 16, "pydoc": 2, "shakespeare": 2}
TEXT_CAPABILITIES = ("pydoc", "shakespeare")  # scored per window of SEQ_LEN tokens, not per item
# basin_size's walk: rungs 0.006, 0.012, 0.024, then bisection of brackets wider than 0.008
# (for SmolLM2 one more probe, 0.018): 4 probes, 32 perturbed evaluations.
WALK = {"start": 0.006, "growth": 2.0, "precision": 0.008, "max_sigma": 0.192}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])  # None under python -OO
    parser.add_argument("--model", default="smollm2-135m-instruct", help="alias, .gguf path, HF folder or hub id")
    parser.add_argument("--question", default="What is the capital of France?")
    parser.add_argument("--directions", type=int, default=DIRECTIONS, help="Gaussian directions (>= 2)")
    parser.add_argument("--tol", type=float, default=TOL, help="basin edge: mean-score drop from theta0")
    parser.add_argument("--out", default="results/basin_size")
    parser.add_argument("--record", default=None,
                        help="also write the summary JSON here (e.g. experiments/results/smollm2_basin_size.json)")
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
    reply = model.generate_text([args.question], max_new_tokens=16, chat=True)[0]
    print(f"chat, greedy ({time.perf_counter() - t0:.1f} s)\n  user: {args.question}\n  model: {reply.strip()}")
    if not args.no_landscape:
        headline(model, args, start)
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s")


def headline(model: Model, args: argparse.Namespace, start: float) -> None:
    """Definition 4.1's basin size of every capability, resumable through the store next to the
    output: the table of `basinlab size`, the figure, the Dataset and, with --record, the summary."""
    from basinlab.analysis._size import basin_size
    from basinlab.benchmarks import _registry as registry
    from basinlab.cli import print_sizes
    from basinlab.landscape._results import save
    from basinlab.viz._export import save_figure
    from basinlab.viz._size import size_curves

    benchmarks = []
    for name, n in SIZES.items():
        try:
            benchmarks.append(registry.build(name, model, n=n, shared={"seq_len": SEQ_LEN}))
        except FileNotFoundError as e:
            print(f"(skipping {name}: {e})")
    out = pathlib.Path(args.out)
    store = out.with_name(out.name + ".blocks")
    print(f"\nbasin size (Definition 4.1) of {', '.join(f'{b.name} ({SIZES[b.name]})' for b in benchmarks)}: "
          f"{args.directions} unnormalized Gaussian directions at -sigma and +sigma (antithetic pairs), "
          f"tol {args.tol:g}; sigma walks {WALK['start']:g}, x{WALK['growth']:g}, ... (at most "
          f"{WALK['max_sigma']:g}), then bisects brackets wider than {WALK['precision']:g}")
    t0 = time.perf_counter()
    size = basin_size(model, benchmarks, tol=args.tol, directions=args.directions, store=store,
                      start=WALK["start"], growth=WALK["growth"], precision=WALK["precision"],
                      max_sigma=WALK["max_sigma"])
    print(f"search: {time.perf_counter() - t0:.0f} s, probes at sigma "
          f"{', '.join(f'{x:.4g}' for x in size['sigma_grid'].values)}")
    nc, html = out.with_name(out.name + ".nc"), out.with_name(out.name + ".html")
    save(size, nc)
    save_figure(size_curves(size), html)
    print()
    print_sizes(size)
    if args.record:
        record(size, pathlib.Path(args.record), args, time.perf_counter() - start)
    print(f"\nresults:\n  {nc.resolve()}  (the size Dataset: basinlab.results.open_dataset)\n"
          f"  {html.resolve()}  (the figure: open it in a browser)\n"
          f"  {store.resolve()}/  (probe store: rerunning resumes from it)"
          + (f"\n  {pathlib.Path(args.record).resolve()}  (summary)" if args.record else ""))


def record(size: xr.Dataset, path: pathlib.Path, args: argparse.Namespace, seconds: float) -> None:
    """The run's summary (`bl.write_summary`): per capability sigma*, its interval and evaluations,
    the walk's settings; provenance says the command, code version, machine and date."""
    import sys

    from basinlab.results import write_summary

    caps = {}
    for b in size["benchmark"].values:
        row = size.sel(benchmark=b)
        caps[str(b)] = {
            "base_score": round(float(row["base_score"]), 6), "sigma": float(row["sigma"]),
            "sigma_lo": float(row["sigma_lo"]), "sigma_hi": float(row["sigma_hi"]),
            "censored": bool(row["censored"]), "censored_hi": bool(row["censored_hi"]),
            "label": str(row["label"].values), "items": SIZES.get(str(b))}
    n_dirs = int(size.sizes["direction"])
    results = {
        "d": size.attrs.get("d"), "tol": float(size.attrs["tol"]), "confidence": float(size.attrs["confidence"]),
        "interval_method": str(size.attrs["method"]), "interval_covers": str(size.attrs["covers"]),
        "directions": n_dirs, "walk": {k: float(size.attrs[k]) for k in WALK},
        "probed_sigmas": [float(x) for x in size["sigma_grid"].values],
        "n_evaluations": int(size.attrs["n_evaluations"]), "n_probes": int(size.attrs["n_probes"]),
        "n_evaluations_note": "perturbed evaluations, each scoring every capability; theta0 once more",
        "stopped": str(size.attrs["stopped"]), "capabilities": caps,
        "kinds": {b: f"windows of {SEQ_LEN} tokens" if b in TEXT_CAPABILITIES else "items" for b in caps},
        "demo_wall_seconds_to_here": round(seconds, 1),
    }
    write_summary(path, "Definition 4.1 basin size sigma* of SmolLM2-135M-Instruct per capability (make demo)",
                  results, spec={"directions": n_dirs, "tol": results["tol"], "walk": results["walk"]},
                  model=str(size.attrs.get("model_label") or size.attrs.get("model", args.model)),
                  seeds=list(range(n_dirs)), command="python -m basinlab.demo " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
