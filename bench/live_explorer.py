"""The live explorer's latency: from a slider release to the new point, and to the perturbed answer.

    .venv/bin/python bench/live_explorer.py                 # SmolLM2-135M-Instruct, the demo's capabilities
    .venv/bin/python bench/live_explorer.py --quick         # the first 2 blocks: checks the script end to end

The setting of issue 29's targets: SmolLM2-135M-Instruct, the demo's four capabilities at the demo's item
counts (``SIZES`` below, as in ``make demo``), 2 directions, a 32-token answer. Measured in
one process, in this order, each at a sigma never evaluated before (``LiveExplorer.evaluate``, the
work a slider release starts; drawing the page adds a redraw of the figure, not timed here):

- ``first_point_s``: the first point (compiles the sweep program; theta0 evaluated once);
- ``point_s``: later points (median of ``--points``), the target <= 10 s;
- ``revisit_s``: a point already evaluated (memory); ``restart_s``: a new explorer over the same
  store (a restarted kernel) reading every stored point back (``restart_points``; it evaluates none);
- ``first_answer_s``: theta0's and the perturbed model's first answers (compiles generation);
- ``perturb_s`` (theta0 + sigma * delta formed, delta drawn from its seed) and ``score_s`` (every
  capability scored once at a perturbed point), each timed alone: ``floor_s`` = directions x their sum
  is what a point costs without the engine around them;
- ``answer_s``: the perturbed model's 32-token answer at a new sigma (median of ``--points``: forming
  theta0 + sigma * delta and generating; the answer's length is the budget, EOS may end it sooner,
  so ``answer_tokens`` is reported), the target <= 3 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import harness

import basinlab as bl

# The demo's four capabilities and item counts (`make demo`; basinlab/demo.py), 128-token text windows.
SIZES = {"synthetic-addition": 16, "synthetic-capitals": 16, "pydoc": 2, "shakespeare": 2}
SEQ_LEN = 128

QUESTION = "Explain in two sentences why the sky is blue."


def clock(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--directions", type=int, default=2)
    ap.add_argument("--points", type=int, default=3, help="new points (and answers) timed after the first")
    ap.add_argument("--tokens", type=int, default=32, help="the answer's budget of new tokens")
    ap.add_argument("--quick", action="store_true", help="the model's first 2 blocks, 2 items per capability")
    ap.add_argument("--json", default=None, help="write the record (harness.record) to this file")
    args = ap.parse_args(argv)
    machine = harness.machine_info()
    model = bl.load(args.model, n_layers=2 if args.quick else None)
    benchmarks = [bl.benchmark(name, model, n=2 if args.quick else n, shared={"seq_len": SEQ_LEN})
                  for name, n in SIZES.items()]
    store = tempfile.mkdtemp(prefix="live-bench-")
    ex = bl.LiveExplorer(model, benchmarks, directions=args.directions, tol=0.1, store=store, background=False,
                         max_new_tokens=args.tokens)
    sigmas = [0.002 * 1.37 ** k for k in range(args.points + 1)]
    out = {"model": model.source, "capabilities": {b.name: b.n_items for b in benchmarks},
           "directions": args.directions, "answer_budget_tokens": args.tokens}
    out["first_point_s"], _ = clock(lambda: ex.evaluate(sigmas[0]))
    out["first_answer_s"], _ = clock(lambda: ex.ask(QUESTION))
    points, answers, lengths = [], [], []
    for sigma in sigmas[1:]:
        points.append(clock(lambda s=sigma: ex.evaluate(s))[0])
        seconds, (_, moved) = clock(ex.ask)
        answers.append(seconds)
        lengths.append(len(model.tokenizer.encode(moved, add_special_tokens=False)) if moved else 0)
    out["point_s"], out["points_s"] = statistics.median(points), points
    out["answer_s"], out["answers_s"], out["answer_tokens"] = statistics.median(answers), answers, lengths
    # What bounds a point: per direction, drawing delta and forming theta0 + sigma * delta, then scoring
    # every capability once (each timed alone, compiled beforehand; the engine does both in one program).
    import jax

    dtype = model.compute_dtype or model.dtype
    score_all = jax.jit(lambda p: {b.name: b.score_fn(model.spec, p, b.data, dtype) for b in benchmarks})
    moved = bl.directions.perturbed(model.params, ex.recipes[0], 0.01)
    harness.ready(score_all(moved))
    out["perturb_s"] = harness.time_calls(lambda: bl.directions.perturbed(model.params, ex.recipes[1], 0.011),
                                          repeats=2).best_s
    out["score_s"] = harness.time_calls(lambda: score_all(moved), repeats=2, warmup=0).best_s
    out["floor_s"] = args.directions * (out["perturb_s"] + out["score_s"])
    out["revisit_s"], _ = clock(lambda: ex.evaluate(sigmas[1]))
    out["restart_s"], restarted = clock(lambda: bl.LiveExplorer(model, benchmarks, directions=args.directions,
                                                                 store=store, background=False))
    out["restart_points"] = len(restarted.sigmas)  # read back at construction, none evaluated:
    out["evaluations"], out["restarted_evaluations"] = ex.evaluations, restarted.evaluations
    out["targets"] = {"point_s <= 10": out["point_s"] <= 10, "answer_s <= 3": out["answer_s"] <= 3}
    return harness.report("live_explorer", out, args, machine)


if __name__ == "__main__":
    main()
