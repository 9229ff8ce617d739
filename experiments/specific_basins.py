"""Are fine-tuned capabilities' basins inside the general one? Definition 4.1's sigma* per capability
at theta0 and at each fine-tuned model (issue 26's re-test of the paper's claim 2).

For each model (theta0 and the runs of `basinlab.training`, one seed each, trained here or
reused from `--runs-dir`) `bl.basin_size` walks sigma for the same capabilities as `make demo`:
synthetic addition and capitals (generated-text 0/1 oracles, 16 items each), and next-token
accuracy on pydoc text (the general capability, 2 windows of 128 tokens); 4 directions, tol 0.1,
the demo's walk. "Specific inside basic" reads: a capability's sigma* is below the text accuracy's
sigma* on the same model. The intervals cover the directions' randomness only.

    BASINLAB_DATA=... python experiments/specific_basins.py --runs-dir results/adversarial_math \\
        --record experiments/results/specific_basins.json
    python experiments/specific_basins.py --quick       # 2 items, 2 directions: checks that it runs
"""

from __future__ import annotations

import argparse
import time

from runs import start_run  # experiments/runs.py (the script's folder is on sys.path)

import basinlab as bl

CAPABILITIES = {"synthetic-addition": 16, "synthetic-capitals": 16, "pydoc": 2}
GENERAL = "pydoc"  # the basic capability: next-token accuracy on ordinary text
WALK = {"start": 0.006, "growth": 2.0, "precision": 0.008, "max_sigma": 0.192}  # make demo's
SEQ_LEN = 128


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--runs", default=",".join(bl.training.RUNS), help="comma-separated runs of bl.training.RUNS")
    p.add_argument("--runs-dir", default="results/adversarial_math",
                   help="fine-tuned checkpoints <runs-dir>/<run> (experiments/adversarial_math.py's --out), reused "
                        "when their recipe matches, else trained there")
    p.add_argument("--out", default="results/specific_basins", help="probe stores and size Datasets")
    p.add_argument("--directions", type=int, default=4)
    p.add_argument("--tol", type=float, default=0.1)
    p.add_argument("--record", default=None, help="write the summary (bl.write_summary) here")
    p.add_argument("--quick", action="store_true", help="2 items, 2 directions, one run: checks that it runs")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    out, log, _ = start_run(args.out, args.quick)
    names = [r for r in args.runs.split(",") if r]
    unknown = sorted(set(names) - set(bl.training.RUNS))
    if unknown or not names:
        raise ValueError(f"--runs {args.runs!r}: {unknown or 'none given'}; choose among {list(bl.training.RUNS)}")
    caps, directions, overrides = dict(CAPABILITIES), args.directions, {}
    if args.quick:
        caps, directions, names, overrides = {k: 2 for k in caps}, 2, names[:1], {"n": 4, "steps": 1, "batch_size": 2}
    model = bl.load(args.model)
    log(f"loaded {args.model}")
    centers = {"theta0": model.params}
    for name in names:
        folder = f"{args.runs_dir}{'_quick' if args.quick else ''}/{name}"
        centers[name] = bl.finetune_run(name, model, checkpoint_dir=folder, **overrides).params
        log(f"run {name}: {folder}")
    benchmarks = [bl.benchmark(c, model, n=n, shared={"seq_len": SEQ_LEN if not args.quick else 32})
                  for c, n in caps.items()]
    results: dict = {"models": {}}
    for label, params in centers.items():
        t = time.time()
        size = bl.basin_size(model.with_params(params), benchmarks, tol=args.tol, directions=directions,
                             store=out / f"{label}.blocks", **WALK)
        bl.save(size, out / f"{label}.nc")
        rows = {str(b): {k: float(size[k].sel(benchmark=b)) for k in ("base_score", "sigma", "sigma_lo", "sigma_hi")}
                | {"censored": bool(size["censored"].sel(benchmark=b)),
                   "censored_hi": bool(size["censored_hi"].sel(benchmark=b))}
                for b in size["benchmark"].values}
        general = rows[GENERAL]
        for b, row in rows.items():
            if b != GENERAL:  # "inside": the whole interval below the general capability's
                row["inside_general"] = row["sigma_hi"] < general["sigma_lo"]
        results["models"][label] = {"capabilities": rows, "n_evaluations": int(size.attrs["n_evaluations"]),
                                    "seconds": round(time.time() - t, 1)}
        log(f"{label}: " + ", ".join(f"{b} {r['sigma']:.4f} [{r['sigma_lo']:.4f}, {r['sigma_hi']:.4f}]"
                                     for b, r in rows.items()))
    if args.record:
        bl.write_summary(args.record, "Definition 4.1 sigma* per capability at theta0 and at each fine-tuned model "
                         "(experiments/specific_basins.py)", results,
                         spec={"capabilities": caps, "general": GENERAL, "directions": directions, "tol": args.tol,
                               "walk": WALK, "runs": names, "seq_len": SEQ_LEN, "quick": args.quick},
                         model=args.model, seeds=list(range(directions)))
        log(f"wrote the summary {args.record}")
    return results


if __name__ == "__main__":
    main()
