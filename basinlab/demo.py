"""`make demo`: the most-case landscape of the bundled SmolLM2-135M-Instruct.

Loads the model (architecture, parameter count d, NLL on a text sample, a chat reply), then sweeps
four capabilities (two synthetic generated-text oracles, two text ones) along 6 random Gaussian
directions and writes results/most_case.nc (xarray/NetCDF),
results/most_case.html (the figure) and prints the basin width per capability.

    python -m basinlab.demo [--model SOURCE] [--directions 6] [--alphas -0.02:0.0201:0.005] [--tol 0.1]
"""

from __future__ import annotations

import argparse
import time

from basinlab.benchmarks.corpora import load_text
from basinlab.models import load


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="alias, .gguf path, HF folder or hub id")
    parser.add_argument("--question", default="What is the capital of France?")
    parser.add_argument("--directions", type=int, default=6)
    parser.add_argument("--alphas", default="-0.02:0.0201:0.005", help="start:stop:step (stop excluded)")
    parser.add_argument("--tol", type=float, default=0.1, help="basin edge: score drop from theta0 (one-sided)")
    parser.add_argument("--out", default="results/most_case")
    parser.add_argument("--no-landscape", action="store_true", help="only the model check")
    args = parser.parse_args(argv)

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
    reply = model.generate_text([args.question], max_new_tokens=48, chat=True)[0]
    print(f"chat, greedy ({time.perf_counter() - t0:.1f} s)\n  user: {args.question}\n  model: {reply.strip()}")
    if not args.no_landscape:
        most_case(model, args)


def most_case(model, args) -> None:
    """The most-case sweep; resumable through the block store next to the output."""
    from basinlab.atomicio import atomic_path
    from basinlab.benchmarks import registry
    from basinlab.cli import print_widths
    from basinlab.landscape.engine import landscape, parse_grid
    from basinlab.landscape.results import save
    from basinlab.viz import plots

    # Two generated-text oracles (synthetic skills this 135M model has; the paper's GSM8K, MMLU,
    # AdvBench and HumanEval sit at chance or at the floor for it) and two text capabilities.
    sizes = {"synthetic-addition": 40, "synthetic-capitals": 32, "pydoc": 4, "shakespeare": 4}
    benchmarks = []
    for name, n in sizes.items():
        try:
            benchmarks.append(registry.build(name, model, n=n, shared={"seq_len": 128}))
        except FileNotFoundError as e:
            print(f"(skipping {name}: {e})")
    alphas = parse_grid(args.alphas)
    print(f"\nmost-case landscape: {args.directions} unnormalized Gaussian directions x {len(alphas)} alphas "
          f"in [{alphas.min():g}, {alphas.max():g}], benchmarks {[b.name for b in benchmarks]}")
    t0 = time.perf_counter()
    ds = landscape(model, benchmarks, directions=args.directions, alphas=alphas, store=args.out + ".blocks")
    save(ds, args.out + ".nc")
    with atomic_path(args.out + ".html") as tmp:
        plots.curves(ds, tol=args.tol).write_html(tmp, include_plotlyjs=True)
    print(f"wrote {args.out}.nc and {args.out}.html ({time.perf_counter() - t0:.0f} s)")
    print_widths(ds, tol=args.tol)


if __name__ == "__main__":
    main()
