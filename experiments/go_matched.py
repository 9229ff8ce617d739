"""GO vs AdamW at matched validation loss, over seeds (issue 16; README, Figure 5).

Notebook 05 compares GO and AdamW after the same 600 steps, where GO is the less trained model
(val NLL 2.66 against 2.21), so its wider basin and smaller forgetting are confounded with training
progress. Here, per seed (the same init, data order and schedule for both optimizers; notebook 05's
recipe: small GPT, tiny-shakespeare, 600 steps x 32 x 64 bytes, lr 3e-3, warmup 50, GO sigma 0.01):

1. GO is pre-trained for 600 steps; its final val NLL is the target.
2. AdamW is pre-trained for the same 600-step schedule, and its theta is kept at the step whose val NLL is
   closest to GO's final one (evaluated every ``--every`` steps on the same 64 val windows:
   `basinlab.training.pretrain_matched`). Why this side: GO's final NLL is reached by
   AdamW inside the same run (so it costs no extra training), while GO trained longer costs an
   unknown number of steps per seed (it did reach AdamW's loss, in 955-2025 steps of a 2400-step
   schedule: README). The price: the matched AdamW model sits earlier in its cosine schedule
   (learning rate not decayed).
   ``--no-reference`` stops AdamW there (the full run's prefix) and leaves out AdamW at 600 steps.
   ``--go-longer STEPS`` adds the other side: GO trained with a STEPS-step schedule, stopped at the
   first evaluation at or below AdamW's final NLL (or at the end, and the gap is reported).
3. For GO, AdamW at matched loss and AdamW at 600 steps: basin width (most-case landscape,
   `basinlab.analysis.basin_width`, 8 unnormalized Gaussian directions, alphas in
   [-0.08, 0.08] step 0.005, one-sided tol 0.05 on next-token accuracy of 64 x 64 held-out bytes,
   interpolated edges; median over directions and its quartiles); ``--edges``: the widths again
   with `basin_edges` (every edge bracketed to 1e-3).
4. Forgetting (`basinlab.training.forgetting`): 200 steps x 16 x 64 bytes of pydoc at
   lr 1e-3 (plain AdamW, the same windows for every model), old = Shakespeare val NLL, new = pydoc
   val NLL. Normalized by learning, two ways: forgetting / learned (old-NLL rise per nat of new-NLL
   fall, start to end), and the old-NLL rise at matched learning (`bl.training.forgetting_at`): when the
   new NLL had fallen by delta, with delta = the largest fall that all the seed's models reached
   (`bl.training.common_learning`), linearly interpolated between the evaluations (every 10 steps).

Over seeds: mean, standard deviation and a 95% t-interval (n = 3: t = 4.30), and the range.
Writes `<out>/go_matched.json` after every stage (a rerun skips what is there; pre-training resumes
from `<out>/seed-<s>/checkpoints/go`, matched params are kept as `.npz`, landscapes in stores and
`.nc`), and prints markdown tables.

How long (one run on the project's 2-core CPU, load average 10-12 from other jobs): 44 min for
seeds 0, 1, 2 with ``--no-reference`` (per seed 11-21 min: GO 4-10 min, AdamW to the match 1-3 min,
each landscape 1-2.3 min, each forgetting run 1-1.7 min); ``--edges`` afterwards: see the README.

    BASINLAB_DATA=/path/to/data python experiments/go_matched.py --out results/go_matched
    # what the README reports: AdamW stopped at the match, then basin_edges widths added to the same run
    python experiments/go_matched.py --no-reference && python experiments/go_matched.py --no-reference --edges
    python experiments/go_matched.py --quick      # a 1-layer model, a few steps: checks that it runs
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import time

import jax
import numpy as np
from runs import start_run  # experiments/runs.py (the script's folder is on sys.path)

import basinlab as bl
from basinlab import basin_width, forgetting, token_benchmark, write_json
from basinlab.analysis import basin_edges
from basinlab.training import Forgetting

MODELS = ("go", "adamw_matched", "adamw_final")  # + "go_longer" with --go-longer


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="results/go_matched")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (init, data order, GO noise)")
    p.add_argument("--size", default="small", help="basinlab.training.SIZES")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--sigma", type=float, default=0.01, help="GO noise std per coordinate")
    p.add_argument("--every", type=int, default=5, help="AdamW val NLL evaluated every that many steps")
    p.add_argument("--no-reference", dest="reference", action="store_false",
                   help="stop AdamW at the match: no AdamW-at-600-steps model (its landscape, forgetting)")
    p.add_argument("--go-longer", type=int, default=0, help="also GO with this many steps, stopped at AdamW's loss")
    p.add_argument("--n-eval", type=int, default=64)
    p.add_argument("--directions", type=int, default=8)
    p.add_argument("--alphas", default="-0.08,0.08,33", help="numpy linspace(start, stop, num)")
    p.add_argument("--tol", type=float, default=0.05)
    p.add_argument("--edges", action="store_true", help="also basin_edges widths (precision --precision)")
    p.add_argument("--precision", type=float, default=1e-3)
    p.add_argument("--ft-steps", type=int, default=200)
    p.add_argument("--ft-batch", type=int, default=16)
    p.add_argument("--ft-lr", type=float, default=1e-3)
    p.add_argument("--ft-every", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="tiny model and runs: only checks that the script runs")
    return p.parse_args(argv)


def save_params(path: pathlib.Path, params) -> None:
    leaves = jax.tree_util.tree_leaves(params)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, *[np.asarray(x) for x in leaves])
    tmp.replace(path)


def load_params(path: pathlib.Path, like):
    with np.load(path) as z:
        leaves = [z[f"arr_{i}"] for i in range(len(z.files))]
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like), leaves)


def spread(values) -> dict:
    """mean, sd, 95% t-interval and range over seeds (or anything) of a list of floats."""
    v = np.asarray(values, np.float64)
    out = {"n": int(v.size), "mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}
    if v.size > 1:
        _, lo, hi = bl.stats.t_interval(v, 0.95)
        out |= {"sd": float(v.std(ddof=1)), "ci95": [float(lo), float(hi)]}
    return out


def track_json(t: Forgetting) -> dict:
    return {"steps": t.steps.tolist(), "old_nll": t.old_nll.tolist(), "new_nll": t.new_nll.tolist(),
            "forgetting": t.forgetting, "learned": t.learned, "seconds": round(t.seconds, 1)}


def track_of(row: dict) -> Forgetting:
    return Forgetting(np.asarray(row["steps"]), np.asarray(row["old_nll"], np.float32),
                      np.asarray(row["new_nll"], np.float32), row["seconds"])


def run_seed(seed: int, cfg: dict, data: dict, args, out: pathlib.Path, res: dict, save, log) -> None:
    folder = out / f"seed-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    model0 = bl.training.init_model(cfg["size"], seed=seed)
    common = dict(steps=cfg["steps"], batch_size=cfg["batch"], lr=cfg["lr"], warmup=cfg["warmup"], sigma=cfg["sigma"],
                  seed=seed, n_eval=cfg["n_eval"])
    models = {}
    # 1. GO, 600 steps (resumable from its checkpoints)
    t = time.time()
    go = bl.pretrain(model0, data["old"], "go", eval_every=max(1, cfg["steps"] // 12),
                           checkpoint_dir=folder / "checkpoints" / "go", checkpoint_every=max(1, cfg["steps"] // 6),
                           resume=True, **common)
    models["go"] = go.model
    res.setdefault("go", {}).update(step=cfg["steps"], val_nll=go.final_val_loss, pretrain_seconds=round(go.seconds, 1))
    save()
    log(f"seed {seed}: GO {go.final_val_loss:.4f} after {cfg['steps']} steps ({time.time() - t:.0f} s)")
    # 2. AdamW, 600 steps, theta kept at GO's final NLL
    mpath, fpath = folder / "adamw_matched.npz", folder / "adamw_final.npz"
    if "adamw_matched" in res and mpath.exists() and (fpath.exists() or not args.reference):
        models["adamw_matched"] = model0.with_params(load_params(mpath, model0.params))
        if args.reference:
            models["adamw_final"] = model0.with_params(load_params(fpath, model0.params))
    else:  # (re)trained, maybe matched at another step (stop=True takes the first crossing): old stores are stale
        for label in ("adamw_matched", "adamw_final"):
            for stale in (folder / f"landscape_{label}.blocks", folder / f"edges_{label}"):
                shutil.rmtree(stale, ignore_errors=True)
        t = time.time()
        m = bl.training.pretrain_matched(model0, data["old"], go.final_val_loss, "adamw", every=cfg["every"],
                                     stop=not args.reference, eval_every=max(1, cfg["steps"] // 12), **common)
        save_params(mpath, m.params)
        models["adamw_matched"] = m.model
        res["adamw_matched"] = {"step": m.step, "val_nll": m.val_loss, "target": m.target, "gap": m.gap,
                                "pretrain_seconds": round(m.run.seconds, 1),
                                "curve_steps": m.steps.tolist(), "curve": [round(x, 5) for x in m.curve]}
        if args.reference:
            save_params(fpath, m.run.model.params)
            models["adamw_final"] = m.run.model
            res["adamw_final"] = {"step": cfg["steps"], "val_nll": m.run.final_val_loss,
                                  "pretrain_seconds": round(m.run.seconds, 1)}
        save()
        log(f"seed {seed}: AdamW matched at step {m.step} (val {m.val_loss:.4f}, gap {m.gap:+.4f}); "
            f"last step {m.steps[-1]}, val {m.curve[-1]:.4f} ({time.time() - t:.0f} s)")
    # 2b. optional: GO longer, stopped at AdamW's final NLL
    if args.go_longer:
        gpath = folder / "go_longer.npz"
        if "go_longer" in res and gpath.exists():
            models["go_longer"] = model0.with_params(load_params(gpath, model0.params))
        else:
            t = time.time()
            if "adamw_final" not in res:
                raise ValueError("--go-longer needs AdamW's final loss: run without --no-reference")
            target = res["adamw_final"]["val_nll"]
            g = bl.training.pretrain_matched(model0, data["old"], target, "go", every=cfg["every"], stop=True,
                                         eval_every=max(1, args.go_longer // 12), **{**common, "steps": args.go_longer})
            save_params(gpath, g.params)
            models["go_longer"] = g.model
            res["go_longer"] = {"step": g.step, "schedule_steps": args.go_longer, "val_nll": g.val_loss,
                                "target": g.target, "gap": g.gap, "reached": g.stopped,
                                "pretrain_seconds": round(g.run.seconds, 1)}
            save()
            log(f"seed {seed}: GO longer matched at step {g.step} of {args.go_longer} (val {g.val_loss:.4f}, "
                f"gap {g.gap:+.4f}, reached: {g.stopped}) ({time.time() - t:.0f} s)")
    # 3. basin widths (one-sided, tol on next-token accuracy)
    for label, model in models.items():
        row = res[label]
        if "width_median" not in row:
            t = time.time()
            ds, _ = basin_width(model, data["old_val"], directions=cfg["directions"], alphas=data["alphas"],
                                tol=cfg["tol"], name="shakespeare-val", store=folder / f"landscape_{label}.blocks")
            bl.save(ds, folder / f"landscape_{label}.nc")
            w = ds.basin.width(cfg["tol"], interpolate=True)
            widths = w["width"].isel(benchmark=0).values
            row.update(base_accuracy=float(ds.base_score[0]), widths=widths.tolist(),
                       width_median=float(np.median(widths)), width_q25=float(np.quantile(widths, 0.25)),
                       width_q75=float(np.quantile(widths, 0.75)),
                       censored=int(w["censored"].isel(benchmark=0).sum()), landscape_seconds=round(time.time() - t, 1))
            save()
            log(f"seed {seed}: {label} width {row['width_median']:.4f} (acc {row['base_accuracy']:.3f}, "
                f"{time.time() - t:.0f} s)")
        if args.edges and "edges_width_median" not in row:
            t = time.time()
            e = basin_edges(model, data["val_bench"], directions=cfg["directions"], tol=cfg["tol"],
                            precision=cfg["precision"], max_alpha=float(np.max(data["alphas"])),
                            store=folder / f"edges_{label}")
            ew = e["width"].isel(benchmark=0).values
            row.update(edges_widths=ew.tolist(), edges_width_median=float(np.median(ew)),
                       edges_censored=int(e["censored"].sum()), edges_evaluations=int(e.attrs["n_evaluations"]),
                       edges_seconds=round(time.time() - t, 1))
            save()
            log(f"seed {seed}: {label} basin_edges width {row['edges_width_median']:.4f} ({time.time() - t:.0f} s)")
    # 4. forgetting, and normalized by learning
    new_train = bl.training.windows(data["new"].train, cfg["ft_steps"] * cfg["ft_batch"], data["T"], seed=seed + 1)
    for label, model in models.items():
        if "track" not in res[label]:
            tr = forgetting(model, new_train, data["old_val"], data["new_val"], steps=cfg["ft_steps"],
                            batch_size=cfg["ft_batch"], lr=cfg["ft_lr"], eval_every=cfg["ft_every"], seed=seed)
            res[label]["track"] = track_json(tr)
            save()
            log(f"seed {seed}: {label} forgetting {tr.forgetting:.3f}, learned {tr.learned:.3f} ({tr.seconds:.0f} s)")
    tracks = {label: track_of(res[label]["track"]) for label in models}
    delta = bl.training.common_learning(tracks)
    res["delta_learned"] = delta
    for label, tr in tracks.items():
        res[label].update(forgetting=tr.forgetting, learned=tr.learned,
                          forgetting_per_learned=bl.training.forgetting_per_learned(tr),
                          forgetting_at_delta=bl.training.forgetting_at(tr, delta))
    save()


COLUMNS = [("step", "step", "{:.0f}"), ("val_nll", "val NLL", "{:.3f}"), ("base_accuracy", "acc", "{:.3f}"),
           ("width_median", "width (median)", "{:.4f}"), ("forgetting", "forgetting", "{:.3f}"),
           ("learned", "learned", "{:.3f}"), ("forgetting_per_learned", "forg./learned", "{:.3f}"),
           ("forgetting_at_delta", "forg. at delta", "{:.3f}")]


def summarize(result: dict) -> dict:
    seeds = [s for s, r in result["seeds"].items() if "delta_learned" in r]
    labels = [m for m in (*MODELS, "go_longer") if seeds and all(m in result["seeds"][s] for s in seeds)]
    summary = {"seeds": seeds, "models": {}}
    for m in labels:
        rows = [result["seeds"][s][m] for s in seeds]
        summary["models"][m] = {k: spread([r[k] for r in rows]) for k, _, _ in COLUMNS + [("edges_width_median",) * 3]
                                if all(k in r for r in rows)}
        summary["models"][m]["widths_all_directions"] = spread([w for r in rows for w in r["widths"]])
    ratios = {}
    for num, den in (("go", "adamw_matched"), ("go", "adamw_final"), ("go_longer", "adamw_final")):
        if num in labels and den in labels:
            for k in ("width_median", "edges_width_median", "forgetting", "forgetting_per_learned",
                      "forgetting_at_delta"):
                if not all(k in result["seeds"][s][m] for s in seeds for m in (num, den)):
                    continue
                per = [result["seeds"][s][num][k] / result["seeds"][s][den][k] for s in seeds]
                ratios[f"{num}/{den} {k}"] = {"per_seed": per, **spread(per)}
    summary["ratios"] = ratios
    summary["delta_learned"] = spread([result["seeds"][s]["delta_learned"] for s in seeds]) if seeds else None
    return summary


def markdown(result: dict) -> str:
    s = result["summary"]
    lines = ["| seed | model | " + " | ".join(h for _, h, _ in COLUMNS) + " | width q25-q75 | censored |",
             "|---" * (len(COLUMNS) + 4) + "|"]
    for seed in s["seeds"]:
        for m in s["models"]:
            r = result["seeds"][seed][m]
            cells = [f.format(r[k]) for k, _, f in COLUMNS]
            lines.append(f"| {seed} | {m} | " + " | ".join(cells) +
                         f" | {r['width_q25']:.4f}-{r['width_q75']:.4f} | {r['censored']} |")
    lines += ["", f"over seeds {s['seeds']}: mean +- sd [95% t-interval]", "| model | " +
              " | ".join(h for _, h, _ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for m, cols in s["models"].items():
        cells = []
        for k, _, f in COLUMNS:
            c = cols[k]
            cells.append(f.format(c["mean"]) + (f" +- {f.format(c['sd'])} [{f.format(c['ci95'][0])}, "
                                               f"{f.format(c['ci95'][1])}]" if "sd" in c else ""))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += ["", "ratios (per seed; mean, 95% t-interval):"]
    for k, r in s["ratios"].items():
        ci = f" [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]" if "ci95" in r else ""
        lines.append(f"- {k}: {', '.join(f'{x:.2f}' for x in r['per_seed'])}; mean {r['mean']:.2f}{ci}")
    if s["delta_learned"]:
        lines.append(f"- delta (common learning, nats): mean {s['delta_learned']['mean']:.3f}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    out, log, start = start_run(args.out, args.quick)

    cfg = dict(size=args.size, steps=args.steps, batch=args.batch, lr=args.lr, warmup=args.warmup, sigma=args.sigma,
               every=args.every, n_eval=args.n_eval, directions=args.directions, tol=args.tol, sided="one",
               precision=args.precision, alphas=args.alphas, ft_steps=args.ft_steps, ft_batch=args.ft_batch,
               ft_lr=args.ft_lr, ft_every=args.ft_every)
    if args.quick:
        cfg |= dict(size=bl.training.GPTConfig(n_layers=1, d_model=32, n_heads=2, max_seq_len=32), steps=24, batch=8,
                    warmup=2, every=2, n_eval=8, directions=2, alphas="-0.2,0.2,5", precision=0.05,
                    ft_steps=6, ft_batch=4, ft_every=3)
    a0, a1, na = cfg["alphas"].split(",")
    alphas = np.linspace(float(a0), float(a1), int(na))
    if not np.any(np.isclose(alphas, 0)):
        raise ValueError(f"--alphas {cfg['alphas']!r} must contain 0 (e.g. -0.08,0.08,33)")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    if not seeds:
        raise ValueError(f"--seeds {args.seeds!r}: give at least one seed, e.g. 0,1,2")
    old, new = bl.training.load_corpus("tinyshakespeare"), bl.training.load_corpus("pydoc")
    T = bl.training.init_model(cfg["size"], seed=0).spec.max_seq_len
    old_val = bl.training.windows(old.val, cfg["n_eval"], T, seed=None)
    data = dict(old=old, new=new, T=T, alphas=alphas, old_val=old_val,
                new_val=bl.training.windows(new.val, cfg["n_eval"], T, seed=None),
                val_bench=token_benchmark(old_val, name="shakespeare-val"))
    path = out / "go_matched.json"
    result = json.loads(path.read_text()) if path.exists() else {}
    cfg_json = {**cfg, "size": str(cfg["size"])}
    if result.get("config", cfg_json) != cfg_json:
        raise ValueError(f"{path} was written with other settings ({result['config']}); use another --out")
    result.update(config=cfg_json, go_longer=args.go_longer)
    result.setdefault("seeds", {})

    def save():
        write_json(path, result, indent=1)

    for seed in seeds:
        t = time.time()
        res = result["seeds"].setdefault(str(seed), {})
        run_seed(seed, cfg, data, args, out, res, save, log)
        res["seconds"] = round(time.time() - t, 1)
        result["summary"] = summarize(result)
        save()
    print(markdown(result))
    log(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
