"""One GSM8K grid point on SmolLM2-135M-Instruct: the in-graph oracle in a sweep vs lm-eval's path.

    .venv/bin/python bench/gsm8k_point.py [--n 50] [--alpha 0.002] [--batch-size 16]

Both score the same n documents of lm-eval's gsm8k_cot_llama (8 chain-of-thought shots as chat
turns, 256 new tokens, chat template) at theta0 + alpha * delta (Gaussian direction, seed 1):

- in-graph: `landscape` with the registry's `gsm8k_cot_llama` oracle at alphas {0, alpha} (shared
  8-shot prefix prefilled once per point, length-sorted batches, stop strings in the decode loop),
  reported per point (total / number of points);
- lm-eval: `lm_eval.simple_evaluate` with the `BasinlabLM` backend at the same point (the same
  generation path since basinlab 0.2), in a child process so its peak resident memory is its own.

Each is run once, timed end to end from a loaded model (compilation included, as a user pays it);
the child's peak RSS comes from getrusage. The baseline the issue measured for lm-eval through
BasinlabLM before this path (20 items, batch 16, this CPU): 887 s, 44 s per item, ~11 GB resident.
Prints one JSON object. Numbers are only meaningful on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import basinlab as bl

BASELINE_S_PER_ITEM = 887 / 20  # the measurement of the old lm-eval path (batch 16, 20 items)


def in_graph(n: int, alpha: float, batch_size: int) -> dict:
    from basinlab import landscape

    model = bl.load("smollm2-135m-instruct")
    bench = bl.benchmark("gsm8k_cot_llama", model, n=n, batch_size=batch_size)
    # A sweep always scores theta0 (the base): with alpha != 0 that is a second grid point, and the
    # time per point is half the total.
    alphas = sorted({0.0, alpha})
    t = time.perf_counter()
    ds = landscape(model, [bench], directions=[bl.DirectionRecipe(seed=1)], alphas=alphas, progress=False)
    seconds = (time.perf_counter() - t) / len(alphas)
    sel = ds.isel(direction=0).sel(alpha=alpha, benchmark="gsm8k_cot_llama")
    return {"seconds": seconds, "s_per_item": seconds / n, "score": float(sel["score"]),
            "budget_hits": int(sel["budget_hits"]),
            "item_score": sel["item_score"].values[:n].tolist()}


def lmeval(n: int, alpha: float, batch_size: int) -> dict:
    from basinlab.analysis import lmeval_scores

    model = bl.load("smollm2-135m-instruct")
    docs = bl.lmeval.task_docs("gsm8k_cot_llama", n=n)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        _, metric = lmeval_scores(model, "gsm8k_cot_llama", docs, folder, None, bl.DirectionRecipe(seed=1), alpha, None,
                            batch_size)
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "s_per_item": seconds / n, "score": sum(metric) / n, "item_score": metric,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--alpha", type=float, default=0.002)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--side", choices=["both", "in-graph", "lm-eval"], default="both")
    ap.add_argument("--json", help="also write the JSON here")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.side == "lm-eval":
        print(json.dumps(lmeval(args.n, args.alpha, args.batch_size)))
        return
    out = {"machine": os.uname().nodename, "n": args.n, "alpha": args.alpha, "batch_size": args.batch_size,
           "baseline_s_per_item": BASELINE_S_PER_ITEM}
    out["in_graph"] = in_graph(args.n, args.alpha, args.batch_size)
    if args.side == "both":
        child = subprocess.run([sys.executable, __file__, "--side", "lm-eval", "--n", str(args.n), "--alpha",
                                str(args.alpha), "--batch-size", str(args.batch_size)],
                               capture_output=True, text=True, check=True)
        out["lm_eval"] = json.loads(child.stdout.strip().splitlines()[-1])
        out["same_item_scores"] = out["in_graph"]["item_score"] == out["lm_eval"]["item_score"]
        out["lm_eval_speedup_vs_baseline"] = BASELINE_S_PER_ITEM / out["lm_eval"]["s_per_item"]
    out["in_graph_speedup_vs_baseline"] = BASELINE_S_PER_ITEM / out["in_graph"]["s_per_item"]
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
