"""Does the basin grow over (longer) pre-training? Byte-level GPTs on Shakespeare + addition (issue 16).

README's notebook-06 section found the basin NARROWING over a 600-step cosine run (1.2M tokens), the
opposite of the paper. This experiment re-asks the question with what the issue asked for:

- training: AdamW at a constant learning rate after a linear warmup (`pretrain(schedule="constant")`,
  so the end of training is not a cosine tail), 10x or more of the old tokens (default 6,000 steps
  x 32 x 64 = 12.3M tokens), sizes "tiny" and "small" (`basinlab.training.SIZES`), 3 seeds each
  (init and batch order), a checkpoint every `--checkpoint-every` steps;
- data: tiny-shakespeare with bare-text addition lines "a+b=c\\n" (operands 0-49) mixed in as ~25%
  of the characters (`basinlab.training.addition_corpus`); 200 sums, in either order, are
  held out of the mix;
- oracles, scored at each measured checkpoint and along 8 Gaussian directions (unnormalized,
  alpha = per-coordinate noise std): a 0/1 generated-text oracle, greedy "a+b=" -> "c\\n" exact
  match on the 200 held-out sums (`basinlab.benchmarks`), and next-token top-1
  accuracy on held-out Shakespeare (the val split without additions, 32 windows of 64 bytes);
- widths: one-sided (Definition 4.1) with a tolerance relative to the checkpoint's own score
  (tol = `--rel-tol` x base score, `basinlab.analysis.relative_widths`), interpolated on the
  alpha grid; per checkpoint the median over directions with its order-statistic interval
  (n = 8: [2nd, 7th] of the sorted widths, 93% coverage), then the spread over seeds;
- sizes compared at matched validation loss (`bl.analysis.match_by_loss`: each tiny checkpoint against
  the small checkpoint of the same seed whose val loss is nearest, within `--max-gap` nats). With
  `--match tiny` a small run trains only until its val loss reaches the lowest of tiny's (same seed;
  `pretrain(stop_below=...)`, the schedule and batches stay those of the full run) and measures only
  the checkpoints nearest in val loss to tiny's measured ones: the matched pairs at about a third of
  the cost of the full small runs.

Resumable: each run trains from its newest checkpoint (`pretrain(resume=True)`), each landscape
keeps its blocks in a store, and `<out>/results.json` holds every measured checkpoint (written
after each one); re-running the same command continues where it stopped and skips what is done.
`--phase measure` measures whatever checkpoints exist without training (a run stopped half way).

    BASINLAB_DATA=/path/to/data python experiments/pretraining_growth.py --sizes tiny --seeds 0,1,2
    BASINLAB_DATA=/path/to/data python experiments/pretraining_growth.py --sizes small --seeds 0,1,2
    BASINLAB_DATA=/path/to/data python experiments/pretraining_growth.py --sizes small --match tiny
    python experiments/pretraining_growth.py --phase summary      # the tables of what is measured
    python experiments/pretraining_growth.py --quick              # a few steps: checks that it runs

How long (2-core CPU shared with two other heavy jobs): see README, notebook-06 section.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import time

import jax
import numpy as np

import basinlab as bl
from basinlab import write_json

# |alpha| ladder (per-coordinate noise std), mirrored: edges are interpolated between its points
LADDER = (0.001, 0.0015, 0.002, 0.003, 0.004, 0.006, 0.008, 0.011, 0.016, 0.022, 0.032, 0.045, 0.064, 0.09)
BENCHMARKS = bl.analysis.ORACLES


def alpha_grid(ladder=LADDER) -> np.ndarray:
    """[2 len(ladder) + 1] the signed grid with 0."""
    ladder = np.asarray(ladder, np.float64)
    return np.concatenate([-ladder[::-1], [0.0], ladder])


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="results/pretraining_growth", help="checkpoints, landscapes, results.json")
    p.add_argument("--sizes", default="tiny,small", help=f"comma-separated among {list(bl.training.SIZES)}")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--steps", type=int, default=6000, help="steps of batch x 64 tokens per run")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3, help="held constant after the warmup")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument("--measure-steps", default="250,500,1000,1500,2000,3000,4000,5000,6000",
                   help="checkpoints to measure (each must be a multiple of --checkpoint-every)")
    p.add_argument("--directions", type=int, default=8)
    p.add_argument("--rel-tol", type=float, default=0.1, help="tol = this x the checkpoint's own score")
    p.add_argument("--n-heldout", type=int, default=200, help="held-out sums scored by the oracle")
    p.add_argument("--n-windows", type=int, default=32, help="held-out 64-byte windows for next-token accuracy")
    p.add_argument("--max-operand", type=int, default=50, help="sums a+b with a, b in [0, this)")
    p.add_argument("--fraction", type=float, default=0.25, help="share of the training characters that are sums")
    p.add_argument("--max-gap", type=float, default=0.05, help="matched val loss: largest |gap| in nats")
    p.add_argument("--min-score", type=float, default=0.1,
                   help="tables: a width at a checkpoint scoring below this is not reported (too few items to drop)")
    p.add_argument("--match", default=None, metavar="SIZE",
                   help="train each run only until its val loss reaches SIZE's lowest (same seed) and measure only "
                        "the checkpoints nearest in val loss to SIZE's measured ones")
    p.add_argument("--phase", default="all", choices=["all", "train", "measure", "summary"])
    p.add_argument("--quick", action="store_true", help="a few steps, 2 directions: checks that it runs")
    args = p.parse_args(argv)
    if args.quick:
        args.out = args.out + "_quick"
        args.steps, args.checkpoint_every, args.measure_steps = 20, 10, "10,20"
        args.directions, args.n_windows, args.n_heldout, args.sizes, args.seeds = 2, 4, 16, "tiny", "0"
    args.sizes = [s for s in args.sizes.split(",") if s]
    for s in args.sizes:
        if s not in bl.training.SIZES:
            p.error(f"--sizes: {s!r} is not a size; valid: {list(bl.training.SIZES)}")
    if args.match is not None and (args.match not in bl.training.SIZES or args.match in args.sizes):
        p.error(f"--match: {args.match!r} must be a size not trained in this call; valid: "
                f"{[s for s in bl.training.SIZES if s not in args.sizes]}")
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    args.measure_steps = [int(s) for s in args.measure_steps.split(",") if s]
    bad = [s for s in args.measure_steps if s % args.checkpoint_every or s > args.steps]
    if bad:
        p.error(f"--measure-steps {bad} are not checkpoints (multiples of --checkpoint-every "
                f"{args.checkpoint_every}, at most --steps {args.steps})")
    return args


def settings(args) -> dict:
    """What makes two measurements comparable: a results.json with other settings is not reused."""
    return {k: getattr(args, k) for k in ("steps", "batch", "lr", "warmup", "checkpoint_every", "directions",
                                         "rel_tol", "n_heldout", "n_windows", "fraction", "max_operand")} | {
        "alphas": [float(a) for a in alpha_grid()], "schedule": "constant", "seq_len": 64}


def load_results(path: pathlib.Path, want: dict) -> dict:
    if not path.exists():
        return {"settings": want, "runs": {}, "measured": {}}
    out = json.loads(path.read_text())
    if out["settings"] != want:
        diff = {k: (out["settings"].get(k), v) for k, v in want.items() if out["settings"].get(k) != v}
        raise SystemExit(f"{path} holds results with other settings (stored, now): {diff}; use another --out")
    return out


def save(path: pathlib.Path, res: dict) -> None:
    """Write res, merged with what another process (another size, run at the same time) wrote since."""
    if path.exists():
        now = json.loads(path.read_text())
        if now["settings"] == res["settings"]:
            for k in ("runs", "measured"):
                res[k] = {**now[k], **res[k]}
    write_json(path, res)


def train(size: str, seed: int, mix, args, folder: pathlib.Path, stop_below: float | None = None) -> dict:
    """Train (or resume) one run, up to the first checkpoint at or below ``stop_below`` (val NLL) if
    given; returns its val curve and wall time."""
    model = bl.training.init_model(size, seed=seed)
    t = time.time()
    run = bl.pretrain(model, mix.corpus, "adamw", steps=args.steps, batch_size=args.batch, lr=args.lr,
                            warmup=args.warmup, schedule="constant", seed=seed, eval_every=args.checkpoint_every,
                            checkpoint_dir=folder, checkpoint_every=args.checkpoint_every,
                            log_every=args.checkpoint_every, resume=True, stop_below=stop_below)
    print(f"{size} seed {seed}: trained, val loss {run.final_val_loss:.3f}, {run.seconds:.0f} s of training "
          f"({time.time() - t:.0f} s this call)", flush=True)
    return {"val_steps": run.val_steps.tolist(), "val_loss": run.val_loss.tolist(), "seconds": run.seconds,
            "params": int(sum(np.size(x) for x in jax.tree.leaves(model.params)))}


def reference(res: dict, size: str, seed: int) -> list[tuple[int, float]]:
    """(step, val loss) of ``size``'s measured checkpoints of ``seed``, by step."""
    out = sorted((r["step"], r["val_loss"]) for r in res["measured"].values()
                 if r["size"] == size and r["seed"] == seed)
    if not out:
        raise SystemExit(f"--match {size}: no measured {size} checkpoint of seed {seed} in the results; "
                         f"run --sizes {size} --seeds {seed} first")
    return out


def partners(curve: dict, ref: list[tuple[int, float]], every: int, max_gap: float) -> list[int]:
    """Checkpoint steps of a run (its val curve, evaluated at its checkpoints) nearest in val loss to
    each reference checkpoint, kept when within max_gap nats; sorted, without repeats."""
    steps = [s for s in curve["val_steps"] if s > 0 and s % every == 0]
    loss = [v for s, v in zip(curve["val_steps"], curve["val_loss"], strict=True) if s > 0 and s % every == 0]
    return sorted({steps[j] for _, j, _ in bl.analysis.match_by_loss([v for _, v in ref], loss, max_gap)})


def fmt(s: dict, min_score: float = 0.0) -> str:
    if s["score"] == 0 or s["score"] < min_score:
        return f"(score < {min_score:g})" if s["score"] else "no skill (0)"
    cens = f", {s['n_censored']} cens." if s["n_censored"] else ""
    return f"{s['median']:.4f} [{s['lo']:.4f}, {s['hi']:.4f}]{cens}"


def summary(res: dict, args) -> dict:
    """Print the tables; return the across-seed summary (what the README cites)."""
    rows = sorted(res["measured"].items(), key=lambda kv: (kv[1]["size"], kv[1]["seed"], kv[1]["step"]))
    print("\n| size | seed | step | tokens (M) | val loss | addition score | addition width (median [93% int.]) "
          "| next-token acc | acc width (median [93% int.]) |\n|---|---|---|---|---|---|---|---|---|")
    for _, r in rows:
        a, c = r["inline-addition"], r["shakespeare-acc"]
        print(f"| {r['size']} | {r['seed']} | {r['step']} | {r['step'] * args.batch * 64 / 1e6:.2f} | "
              f"{r['val_loss']:.3f} | {a['score']:.3f} | {fmt(a, args.min_score)} | {c['score']:.3f} | "
              f"{fmt(c, args.min_score)} |")
    table = {}
    for _, r in rows:
        table.setdefault((r["size"], r["step"]), []).append(r)
    print(f"\nAcross seeds (mean of the per-seed medians, [min, max] over seeds; widths of checkpoints scoring "
          f"< {args.min_score:g} left out):\n"
          "| size | step | seeds | val loss | addition score | addition width | acc | acc width |\n"
          "|---|---|---|---|---|---|---|---|")
    out = []
    for (size, step), rs in sorted(table.items()):
        def agg(b, k, rs=rs):  # a width at a checkpoint scoring < --min-score (or 0) is left out
            v = np.array([r[b][k] if k == "score" or r[b]["score"] >= max(args.min_score, 1e-12) else np.nan
                          for r in rs], np.float64)
            if not np.isfinite(v).any():
                return float("nan"), float("nan"), float("nan")
            return float(np.nanmean(v)), float(np.nanmin(v)), float(np.nanmax(v))
        row = {"size": size, "step": step, "seeds": [r["seed"] for r in rs],
               "val_loss": float(np.mean([r["val_loss"] for r in rs]))}
        for b in BENCHMARKS:
            row[b] = {"score": agg(b, "score"), "width": agg(b, "median")}
        out.append(row)
        a, c = row["inline-addition"], row["shakespeare-acc"]
        print(f"| {size} | {step} | {len(rs)} | {row['val_loss']:.3f} | {a['score'][0]:.3f} | "
              f"{a['width'][0]:.4f} [{a['width'][1]:.4f}, {a['width'][2]:.4f}] | {c['score'][0]:.3f} | "
              f"{c['width'][0]:.4f} [{c['width'][1]:.4f}, {c['width'][2]:.4f}] |")
    matched = []
    sizes = sorted({r["size"] for _, r in rows}, key=list(bl.training.SIZES).index)
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[1]
        print(f"\nMatched val loss ({lo} vs {hi}, same seed, |gap| <= {args.max_gap} nats):\n"
              f"| seed | {lo} step | {hi} step | val loss {lo} / {hi} | addition width {lo} / {hi} "
              f"| acc width {lo} / {hi} |\n|---|---|---|---|---|---|")
        for seed in sorted({r["seed"] for _, r in rows}):
            ra = [r for _, r in rows if r["size"] == lo and r["seed"] == seed]
            rb = [r for _, r in rows if r["size"] == hi and r["seed"] == seed]
            for i, j, gap in bl.analysis.match_by_loss([r["val_loss"] for r in ra], [r["val_loss"] for r in rb],
                                                   args.max_gap):
                a, b = ra[i], rb[j]
                matched.append({"seed": seed, lo: a["step"], hi: b["step"], "gap": gap,
                                "val_loss": [a["val_loss"], b["val_loss"]],
                                **{k: [a[k]["median"], b[k]["median"]] for k in BENCHMARKS},
                                **{f"{k}_score": [a[k]["score"], b[k]["score"]] for k in BENCHMARKS}})
                print(f"| {seed} | {a['step']} | {b['step']} | {a['val_loss']:.3f} / {b['val_loss']:.3f} | "
                      f"{fmt(a['inline-addition'], args.min_score)} / {fmt(b['inline-addition'], args.min_score)} | "
                      f"{fmt(a['shakespeare-acc'], args.min_score)} / {fmt(b['shakespeare-acc'], args.min_score)} |")
    matched_by_step = []
    if matched:
        lo, hi = sizes[0], sizes[1]
        print(f"\nMatched pairs across seeds, by the {lo} step (mean over seeds [min, max]; a width only where both "
              f"scores are >= {args.min_score:g}; ratio = {hi} / {lo}):\n| {lo} step | seeds | val loss {lo} / {hi} "
              f"| addition width {lo} / {hi} | ratio | acc width {lo} / {hi} | ratio |\n|---|---|---|---|---|---|---|")
        for step in sorted({m[lo] for m in matched}):
            ms = [m for m in matched if m[lo] == step]
            row = {lo: step, "seeds": [m["seed"] for m in ms],
                   "val_loss": np.mean([m["val_loss"] for m in ms], axis=0).tolist()}
            cells = []
            for b in BENCHMARKS:
                ok = [m for m in ms if min(m[f"{b}_score"]) >= max(args.min_score, 1e-12)]
                w = np.array([m[b] for m in ok], np.float64).reshape(-1, 2)
                r = w[:, 1] / w[:, 0] if len(w) else np.zeros(0)
                row[b] = {"n": len(ok), "width": w.mean(axis=0).tolist() if len(w) else None,
                          "ratio": [float(r.mean()), float(r.min()), float(r.max())] if len(r) else None}
                cells.append("-" if not len(w) else f"{w[:, 0].mean():.4f} / {w[:, 1].mean():.4f} ({len(w)})")
                cells.append("-" if not len(r) else f"{r.mean():.2f} [{r.min():.2f}, {r.max():.2f}]")
            matched_by_step.append(row)
            losses = f"{row['val_loss'][0]:.3f} / {row['val_loss'][1]:.3f}"
            print(f"| {step} | {len(ms)} | {losses} | " + " | ".join(cells) + " |")
    return {"settings": res["settings"], "by_step": out, "matched": matched, "matched_by_step": matched_by_step,
            "runs": {k: {"seconds": v["seconds"], "final_step": v["val_steps"][-1],
                         "final_val_loss": v["val_loss"][-1], "params": v["params"]}
                     for k, v in res["runs"].items()}}


def main(argv=None) -> dict:
    args = parse(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    res = load_results(path, settings(args))
    if args.phase != "summary":
        mix = bl.training.addition_corpus("tinyshakespeare", fraction=args.fraction, max_operand=args.max_operand,
                                      n_heldout=args.n_heldout)
        for size in args.sizes:
            for seed in args.seeds:
                run = f"{size}-seed{seed}"
                ckpt = out / run / "ckpt"
                ref = reference(res, args.match, seed) if args.match else None
                target = float(np.nanmin([v for _, v in ref])) if ref else None
                done = run in res["runs"] and target is not None and res["runs"][run]["val_loss"][-1] <= target
                if args.phase in ("all", "train") and not done:  # a run stopped at the target is not resumed
                    res["runs"][run] = train(size, seed, mix, args, ckpt, stop_below=target)
                    save(path, res)
                if args.phase == "train":
                    continue
                if ref and run not in res["runs"]:
                    print(f"{run}: not trained yet, so no checkpoints to match with {args.match}", flush=True)
                    continue
                steps = (partners(res["runs"][run], ref, args.checkpoint_every, args.max_gap) if ref
                         else args.measure_steps)
                for step in steps:
                    key, folder = f"{run}/step{step}", ckpt / f"step-{step:06d}"
                    if key in res["measured"] or not (folder / "config.json").exists():
                        continue
                    t = time.time()
                    r = bl.analysis.checkpoint_widths(bl.load(folder), mix, directions=args.directions,
                                                 alphas=alpha_grid(), rel_tol=args.rel_tol, n_windows=args.n_windows,
                                                 store=out / run / f"landscape-{step:06d}.blocks")
                    r["seconds"] = time.time() - t
                    res["measured"][key] = {"size": size, "seed": seed, "step": step, **r}
                    save(path, res)
                    a, c = r["inline-addition"], r["shakespeare-acc"]
                    print(f"{key}: val {r['val_loss']:.3f}  addition {a['score']:.3f} width {fmt(a)}  "
                          f"acc {c['score']:.3f} width {fmt(c)}  ({r['seconds']:.0f} s)", flush=True)
    table = summary(res, args)
    write_json(out / "summary.json", table)
    return table


if __name__ == "__main__":
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    main()
