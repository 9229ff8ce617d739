"""Compile time of a generating oracle with many length buckets: one decode loop per shape vs one per batch.

    BASINLAB_DATA=... .venv/bin/python bench/many_buckets.py [--n 13] [--batch-size 16] [--peer-timeout 600]
    BASINLAB_DATA=... .venv/bin/python bench/many_buckets.py --quick     # 3 subjects x 2 items, 8 new tokens

Builds lm-eval's `mmlu_generative` on SmolLM2-135M-Instruct over the MMLU subjects (every subject in
the data unless --subjects; n items each) and compiles its in-graph score function as a sweep does
(params as an argument), each layout in a child process (harness.run_child):

- grouped (basinlab now): equal-shape batches stacked and decoded by one `lax.map`;
- per batch (the peer, basinlab before): each batch padded to its own longest suffix, its own decode
  loop, all unrolled into one program; stopped after --peer-timeout seconds.

Then runs the grouped program once at theta0 (score, seconds). Layouts and history: bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import harness

import basinlab as bl

MODEL = "smollm2-135m-instruct"


def per_batch(data: dict) -> dict:
    """The same batches, each its own group at its own longest suffix (the layout before the ladder)."""
    import numpy as np

    groups = []
    for g in data["groups"]:
        for tokens, mask in zip(g["tokens"], g["mask"], strict=True):
            keep = int(mask.sum(axis=1).max())
            groups.append({"tokens": tokens[None, :, -keep:], "mask": mask[None, :, -keep:]})
    return {**data, "groups": groups, "inverse": np.asarray(data["inverse"])}


def compile_seconds(args) -> None:
    """The worker: compile one layout (and run the grouped one); emits its numbers."""
    import jax

    from basinlab.scoring import hit_budget_reason

    model = bl.load(MODEL)
    bench = bl.benchmark("mmlu_generative", model, n=args.n, subjects=args.subjects, batch_size=args.batch_size,
                         max_new_tokens=args.max_new_tokens)
    data = bench.data if args.worker == "grouped" else per_batch(bench.data)
    fn = jax.jit(lambda params, data: bench.score_fn(model.spec, params, data, model.compute_dtype))
    t = time.perf_counter()
    compiled = fn.lower(model.params, data).compile()
    out = {"compile_s": time.perf_counter() - t, "items": bench.n_items,
           "batches": sum(int(g["tokens"].shape[0]) for g in data["groups"]), "shapes": len(data["groups"])}
    print(f"{args.worker}: {out}", file=sys.stderr, flush=True)  # the compile time survives a stopped run
    if args.worker == "grouped":
        t = time.perf_counter()
        judged = bench.judge(harness.ready(compiled(model.params, data)))
        out.update(run_s=time.perf_counter() - t, score=float(judged.score.mean()),
                   budget_hits=int(sum(hit_budget_reason(r) for r in judged.reason)))
    harness.emit(out)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=None, help="items per MMLU subject (default 13; --quick: 2)")
    ap.add_argument("--subjects", default=None,
                    help="comma-separated MMLU subjects (default: all in the data; --quick: 3)")
    ap.add_argument("--batch-size", type=int, default=None, help="default 16; --quick: 2")
    ap.add_argument("--max-new-tokens", type=int, default=None, help="default: the task's; --quick: 8")
    ap.add_argument("--peer-timeout", type=float, default=600.0, help="seconds before the per-batch compile is stopped")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks the script end to end")
    ap.add_argument("--json", default=None, help="write the record (harness.record) to this file")
    ap.add_argument("--worker", choices=["grouped", "per_batch"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.batch_size = args.n or 2, args.batch_size or 2
        args.subjects = args.subjects or "abstract_algebra,anatomy,astronomy"
        args.max_new_tokens = args.max_new_tokens or 8
    args.n, args.batch_size = args.n or 13, args.batch_size or 16
    if isinstance(args.subjects, str):
        args.subjects = args.subjects.split(",")
    if args.worker:
        compile_seconds(args)
        return {}
    machine = harness.machine_info()
    child = [os.path.abspath(__file__), "--n", str(args.n), "--batch-size", str(args.batch_size)]
    if args.subjects:
        child += ["--subjects", ",".join(args.subjects)]
    if args.max_new_tokens:
        child += ["--max-new-tokens", str(args.max_new_tokens)]
    grouped = harness.run_child("grouped", [*child, "--worker", "grouped"], timeout=3600.0)
    peer = harness.run_child("per batch", [*child, "--worker", "per_batch"], timeout=args.peer_timeout)
    result = {"grouped": grouped, "per_batch": peer}
    if grouped.get("finished") and peer.get("finished"):
        result["compile_ratio_per_batch_over_grouped"] = peer["compile_s"] / grouped["compile_s"]
    elif grouped.get("finished") and "stopped_after_s" in peer:
        result["compile_ratio_per_batch_over_grouped_at_least"] = peer["stopped_after_s"] / grouped["compile_s"]
    return harness.report("many_buckets", result, args, machine)


if __name__ == "__main__":
    main()
