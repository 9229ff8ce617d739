"""One GSM8K grid point on SmolLM2-135M-Instruct: the in-graph oracle in a sweep vs lm-eval's path.

    .venv/bin/python bench/gsm8k_point.py [--n 50] [--alpha 0.002] [--batch-size 16] [--json PATH]
    .venv/bin/python bench/gsm8k_point.py --quick          # 2 documents, 16 new tokens

Both score the same n documents of lm-eval's gsm8k_cot_llama at theta0 + alpha * delta (Gaussian
direction, seed 1), each timed once end to end from a loaded model (compilation included):

- in-graph: `landscape` with the registry's `gsm8k_cot_llama` oracle at alphas {0, alpha}, reported
  per point (total / number of points);
- lm-eval: `lm_eval.simple_evaluate` with the `BasinlabLM` backend at the same point, in a child
  process (harness.run_child) so that its peak RSS is its own.

The speed-ups are against BASELINE_S_PER_ITEM, the issue's measurement of the old lm-eval path.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import harness

import basinlab as bl

BASELINE_S_PER_ITEM = 887 / 20  # the measurement of the old lm-eval path (batch 16, 20 items)
MODEL = "smollm2-135m-instruct"


def in_graph(args) -> dict:
    model = bl.load(MODEL)
    bench = bl.benchmark("gsm8k_cot_llama", model, n=args.n, batch_size=args.batch_size,
                         max_new_tokens=args.max_new_tokens)
    # A sweep always scores theta0 (the base): with alpha != 0 that is a second grid point, and the
    # time per point is half the total.
    alphas = sorted({0.0, args.alpha})
    t = time.perf_counter()
    ds = bl.landscape(model, [bench], directions=[bl.DirectionRecipe(seed=1)], alphas=alphas, progress=False)
    seconds = (time.perf_counter() - t) / len(alphas)
    sel = ds.isel(direction=0).sel(alpha=args.alpha, benchmark="gsm8k_cot_llama")
    return {"seconds": seconds, "s_per_item": seconds / args.n, "score": float(sel["score"]),
            "budget_hits": int(sel["budget_hits"]), "item_score": sel["item_score"].values[:args.n].tolist()}


def lmeval(args) -> dict:
    from basinlab.analysis import lmeval_scores

    model = bl.load(MODEL)
    docs = bl.lmeval.task_docs("gsm8k_cot_llama", n=args.n)
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        _, metric = lmeval_scores(model, "gsm8k_cot_llama", docs, folder, None, bl.DirectionRecipe(seed=1),
                                  args.alpha, args.max_new_tokens, args.batch_size)
        seconds = time.perf_counter() - t
    metric = metric or []
    return {"seconds": seconds, "s_per_item": seconds / args.n, "score": sum(metric) / args.n, "item_score": metric}


def main(argv=None) -> dict | None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None, help="documents (default 50; --quick: 2)")
    ap.add_argument("--alpha", type=float, default=0.002)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=None, help="default: the task's 256; --quick: 16")
    ap.add_argument("--side", choices=["both", "in-graph", "lm-eval"], default="both")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks the script end to end")
    ap.add_argument("--json", help="write the record (harness.record) to this file")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # the lm-eval child
    args = ap.parse_args(argv)
    args.n = args.n or (2 if args.quick else 50)
    if args.quick and args.max_new_tokens is None:
        args.max_new_tokens = 16
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.worker:
        harness.emit(lmeval(args))
        return None
    machine = harness.machine_info(("lm_eval",))
    out: dict = {"baseline_s_per_item": BASELINE_S_PER_ITEM}
    if args.side != "lm-eval":
        out["in_graph"] = in_graph(args)
        out["in_graph_speedup_vs_baseline"] = BASELINE_S_PER_ITEM / out["in_graph"]["s_per_item"]
    if args.side != "in-graph":
        sizes = ["--n", str(args.n), "--alpha", str(args.alpha), "--batch-size", str(args.batch_size)]
        if args.max_new_tokens is not None:
            sizes += ["--max-new-tokens", str(args.max_new_tokens)]
        out["lm_eval"] = lm = harness.run_child("lm-eval side", [os.path.abspath(__file__), "--worker", *sizes])
        if "s_per_item" in lm:
            out["lm_eval_speedup_vs_baseline"] = BASELINE_S_PER_ITEM / lm["s_per_item"]
    if "item_score" in out.get("in_graph", {}) and "item_score" in out.get("lm_eval", {}):
        out["same_item_scores"] = out["in_graph"]["item_score"] == out["lm_eval"]["item_score"]
    return harness.report("gsm8k_point", out, args, machine)


if __name__ == "__main__":
    main()
