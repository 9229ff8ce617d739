"""Compile time of a generating oracle with many length buckets: one decode loop per shape vs one per batch.

    BASINLAB_DATA=... .venv/bin/python bench/many_buckets.py [--n 13] [--batch-size 16] [--peer-timeout 600]

Builds lm-eval's `mmlu_generative` on SmolLM2-135M-Instruct over every MMLU subject in the data
(n items per subject: 13 -> 741 items) and compiles its in-graph score function, as a sweep does:

- grouped (basinlab now): batch widths on the 16/24/32/48/... ladder, batches of one shape stacked
  and decoded by one `lax.map` (`until_oracle.until_batches`);
- per batch (the peer, basinlab before): the same batches, each padded to its own longest suffix and
  decoded by its own loop, all unrolled into one program. It runs in a child process and is
  stopped after --peer-timeout seconds (it did not finish in 10 min at n = 13 before).

Reports the compile seconds of both, their ratio, and then runs the grouped program once at theta0
(score, seconds). One run each; only meaningful on an idle machine. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time

import basinlab as bl


def _bench(n: int, batch_size: int):

    model = bl.load("smollm2-135m-instruct")
    # subjects=None: every MMLU subject in the data (57), n items each
    bench = bl.benchmark("mmlu_generative", model, n=n, subjects=None, batch_size=batch_size)
    return model, bench


def per_batch(data: dict) -> dict:
    """The same batches, each its own group at its own longest suffix (the layout before the ladder)."""
    import numpy as np

    groups = []
    for g in data["groups"]:
        for tokens, mask in zip(g["tokens"], g["mask"], strict=True):
            keep = int(mask.sum(axis=1).max())
            groups.append({"tokens": tokens[None, :, -keep:], "mask": mask[None, :, -keep:]})
    return {**data, "groups": groups, "inverse": np.asarray(data["inverse"])}


def compile_seconds(n: int, batch_size: int, layout: str, queue) -> None:
    import jax

    from basinlab.scoring import hit_budget_reason

    model, bench = _bench(n, batch_size)
    data = bench.data if layout == "grouped" else per_batch(bench.data)
    fn = jax.jit(lambda params, data: bench.score_fn(model.spec, params, data, model.compute_dtype))
    t = time.perf_counter()
    compiled = fn.lower(model.params, data).compile()
    out = {"compile_s": time.perf_counter() - t, "items": bench.n_items,
           "batches": sum(int(g["tokens"].shape[0]) for g in data["groups"]), "shapes": len(data["groups"])}
    print(f"{layout}: {out}", file=sys.stderr, flush=True)  # the compile time survives a stopped run
    if layout == "grouped":
        t = time.perf_counter()
        scores = compiled(model.params, data)
        jax.block_until_ready(scores)
        judged = bench.judge(scores)
        out.update(run_s=time.perf_counter() - t, score=float(judged.score.mean()),
                   budget_hits=int(sum(hit_budget_reason(r) for r in judged.reason)))
    queue.put(out)


def child(n: int, batch_size: int, layout: str, timeout: float) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=compile_seconds, args=(n, batch_size, layout, q))
    t = time.perf_counter()
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.terminate()
        p.join()
        return {"finished": False, "stopped_after_s": round(time.perf_counter() - t, 1)}
    return {"finished": True, **q.get(timeout=5)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=13, help="items per MMLU subject")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--peer-timeout", type=float, default=600.0, help="seconds before the per-batch compile is stopped")
    args = ap.parse_args()
    grouped = child(args.n, args.batch_size, "grouped", 3600.0)
    peer = child(args.n, args.batch_size, "per_batch", args.peer_timeout)
    result = {"n_per_subject": args.n, "batch_size": args.batch_size, "grouped": grouped, "per_batch": peer}
    if grouped.get("finished") and peer.get("finished"):
        result["compile_ratio_per_batch_over_grouped"] = peer["compile_s"] / grouped["compile_s"]
    elif grouped.get("finished"):
        result["compile_ratio_per_batch_over_grouped_at_least"] = peer["stopped_after_s"] / grouped["compile_s"]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
