#!/usr/bin/env python
"""Seconds per perturbed evaluation of a 1-D landscape sweep: basinlab against the authors' in-place
PyTorch method and loss-landscapes' random_line, same weights, tokens and alphas, one process each.
What runs and what each column means: bench/README.md.

    python bench/landscape_throughput.py --quick
    python bench/landscape_throughput.py --json bench/landscape_throughput.json
"""

from __future__ import annotations

import math
import os
import sys
import time

import harness
import landscape_common as lc

MATMUL_N, MATMUL_REPEATS = 2048, 10
PEERS = ("authors", "ll")


def worker_peak(args) -> None:
    """Best of MATMUL_REPEATS jitted MATMUL_N^2 float32 matmuls in JAX, and in torch for reference."""
    import jax
    import jax.numpy as jnp

    n, flops = MATMUL_N, 2.0 * MATMUL_N ** 3
    ka, kb = jax.random.split(jax.random.key(0))
    a, b = jax.random.normal(ka, (n, n), jnp.float32), jax.random.normal(kb, (n, n), jnp.float32)
    f = jax.jit(lambda x, y: x @ y)
    out = {"jax_peak_gflops": flops / harness.time_calls(lambda: f(a, b), repeats=MATMUL_REPEATS).best_s / 1e9}
    try:
        import torch
    except ImportError:
        return harness.emit(out)
    ta, tb = torch.randn(n, n), torch.randn(n, n)
    best = harness.time_calls(lambda: ta @ tb, repeats=MATMUL_REPEATS, block=lambda x: x).best_s
    harness.emit({**out, "torch_peak_gflops": flops / best / 1e9, "torch_threads": lc.torch_threads()})


def worker_authors(args) -> None:
    """The paper's in-place loop on transformers' PyTorch model: randn_like delta per parameter,
    stored; per alpha add_, evaluate, subtract."""
    import numpy as np
    import torch

    model = lc.torch_model(args.source)
    nll, _, _, _ = lc.torch_nll(np.load(args.tokens))
    params = list(model.parameters())  # a tied embedding appears once, as in the authors' scripts
    base = nll(model)  # also the warm-up forward pass, outside the timing
    reset_ok = harness.reset_peak_rss()
    torch.manual_seed(args.seed)
    t = time.perf_counter()
    deltas = [torch.randn_like(p) for p in params]
    setup_s = time.perf_counter() - t
    values, point_s = [], []
    t = time.perf_counter()
    with torch.no_grad():
        for alpha in map(float, lc.alphas(args.k)):
            tp = time.perf_counter()
            for p, dl in zip(params, deltas):
                p.add_(alpha * dl)
            values.append(nll(model))
            for p, dl in zip(params, deltas):
                p.add_(-alpha * dl)
            point_s.append(time.perf_counter() - tp)
    sweep_s = time.perf_counter() - t
    sweep_rss = harness.rss_high_water_mb() if reset_ok else None
    harness.emit({"setup_s": setup_s, "sweep_s": sweep_s, "d": sum(p.numel() for p in params), "base_nll": base,
                  "base_nll_after_sweep": nll(model), "nll": values, "point_s": point_s,
                  "sweep_peak_rss_mb": sweep_rss, "torch_threads": lc.torch_threads()})


def worker_ll(args) -> None:
    """loss_landscapes.random_line with its Loss metric on the same NLL; `distance` set so that its
    farthest point is max|alpha| * sqrt(d) from theta0, as basinlab's."""
    import loss_landscapes
    import numpy as np
    from loss_landscapes.metrics import Loss
    from loss_landscapes.model_interface.model_parameters import ModelParameters

    model = lc.torch_model(args.source)
    nll, nll_from_output, ids, targets = lc.torch_nll(np.load(args.tokens))
    base = nll(model)  # warm-up forward pass, outside the timing
    params = list(model.parameters())
    d = sum(p.numel() for p in params)
    theta_norm = ModelParameters(params).model_norm()
    reach = lc.ALPHA_MAX * math.sqrt(d)
    distance = theta_norm / reach  # random_line's step is ||theta0|| / distance / steps
    first_call, metric_s = [], []

    class TimedLoss(Loss):
        def __call__(self, model_wrapper):
            t_in = time.perf_counter()
            if not first_call:
                first_call.append(t_in)
            value = super().__call__(model_wrapper)
            metric_s.append(time.perf_counter() - t_in)
            return value

    metric = TimedLoss(nll_from_output, ids, targets)
    reset_ok = harness.reset_peak_rss()
    normalization = None if args.ll_normalization == "none" else args.ll_normalization
    t = time.perf_counter()
    values = loss_landscapes.random_line(model, metric, distance=distance, steps=args.k,
                                         normalization=normalization, deepcopy_model=False)
    end = time.perf_counter()
    harness.emit({"sweep_peak_rss_mb": harness.rss_high_water_mb() if reset_ok else None,
                  "setup_s": first_call[0] - t, "sweep_s": end - first_call[0], "d": d, "base_nll": base,
                  "nll": [float(x) for x in values], "metric_s": metric_s, "distance": distance,
                  "theta_norm": theta_norm, "normalization": args.ll_normalization,
                  "torch_threads": lc.torch_threads()})


WORKERS = {"prep": lc.worker_prep, "peak": worker_peak, "basinlab": lc.worker_basinlab,
           "authors": worker_authors, "ll": worker_ll}


def build_rows(res: dict, args, flops: float, peak: float | None) -> list[dict]:
    rows = []

    def add(method, r, s_eval, forwards, setup=None, compile_s=None):
        gflops = flops / s_eval / 1e9 if s_eval else None
        rows.append({"method": method, "k": args.k, "forwards": forwards, "s_per_eval": s_eval, "gflops": gflops,
                     "pct_peak": 100 * gflops / peak if gflops and peak else None, "setup_s": setup,
                     "compile_s": compile_s, "peak_rss_mb": r.get("peak_rss_mb"),
                     "sweep_peak_rss_mb": r.get("sweep_peak_rss_mb")})

    b = res.get("basinlab", {})
    for i, c in enumerate(b.get("calls", [])):
        add(f"basinlab, call {i + 1}", b, c["wall_s"] / args.k, b["forwards_per_call"], compile_s=c["compile_s"])
    a = res.get("authors", {})
    if "sweep_s" in a:
        add("authors-torch (in-place add_)", a, a["sweep_s"] / args.k, args.k, a["setup_s"])
    ll = res.get("ll", {})
    if "sweep_s" in ll:
        add(f"loss-landscapes random_line ({ll['normalization']})", ll, ll["sweep_s"] / args.k, args.k,
            ll["setup_s"])
    ref = rows[len(b["calls"]) - 1]["s_per_eval"] if b.get("calls") else None  # basinlab's last call
    for r in rows:
        r["vs_basinlab"] = r["s_per_eval"] / ref if ref else None
    return rows


COLUMNS = [("method", "method", ""), ("K", "k", "d"), ("fwd", "forwards", "d"), ("s/eval", "s_per_eval", ".3f"),
           ("x basinlab", "vs_basinlab", ".2f"), ("GFLOP/s", "gflops", ".2f"), ("% peak", "pct_peak", ".1f"),
           ("setup s", "setup_s", ".2f"), ("compile s", "compile_s", ".1f"), ("peak RSS MB", "peak_rss_mb", ".0f"),
           ("sweep RSS MB", "sweep_peak_rss_mb", ".0f")]


def print_report(rec: dict, args) -> None:
    res, cfg = rec["results"], rec["config"]
    pk, b, a, ll = (res.get(n, {}) for n in ("peak", "basinlab", "authors", "ll"))
    print(f"model {cfg['model']}: d = {cfg['d']:,}; K = {args.k}; batch x seq_len = {args.batch} x {args.seq_len}")
    print(f"GFLOP per evaluation (2 d tokens): {cfg['flops_per_eval'] / 1e9:.2f}")
    print(f"matmul peak GFLOP/s ({MATMUL_N}^3 float32, best of {MATMUL_REPEATS}): JAX "
          f"{harness.fmt(pk.get('jax_peak_gflops'), '.1f')}, torch {harness.fmt(pk.get('torch_peak_gflops'), '.1f')}"
          f" (torch threads {pk.get('torch_threads')})")
    print(f"load avg at end: {res['load_avg_end']:.2f}")
    print()
    print(harness.table(res["rows"], COLUMNS))
    print()
    last = next((r for r in reversed(res["rows"]) if r["method"].startswith("basinlab")), None)
    for r in res["rows"]:
        if last and not r["method"].startswith("basinlab"):
            print(f"basinlab speedup vs {r['method']}: {r['s_per_eval'] / last['s_per_eval']:.2f}x")
    if "base_nll" in b and "base_nll" in a:
        print(f"NLL at theta0: basinlab {b['base_nll']:.6f}, torch {a['base_nll']:.6f}, "
              f"|diff| {abs(b['base_nll'] - a['base_nll']):.2e} (tolerance 1e-3)")
    if "base_nll" in ll:
        print(f"NLL at theta0, loss-landscapes process: {ll['base_nll']:.6f}")
    if "base_nll_after_sweep" in a:
        print(f"authors-torch NLL at theta0 after its sweep: {a['base_nll_after_sweep']:.6f} "
              f"(drift {a['base_nll_after_sweep'] - a['base_nll']:+.2e})")
    grid = lc.alphas(args.k)
    print("NLL by point:")
    print("  alpha                   " + " ".join(f"{x:+.4f}" for x in grid))
    for label, r in (("basinlab", b), ("authors-torch", a)):
        if "nll" in r:
            print(f"  {label:<24}" + " ".join(f"{x:7.4f}" for x in r["nll"]))
    if "nll" in ll:
        eq = [lc.ALPHA_MAX * (i + 1) / args.k for i in range(args.k)]
        print("  ll ||dtheta||/sqrt(d)   " + " ".join(f"{x:.4f}" for x in eq))
        print("  loss-landscapes         " + " ".join(f"{x:7.4f}" for x in ll["nll"]))
        print(f"loss-landscapes distance {ll['distance']:.4g}, ||theta0|| {ll['theta_norm']:.1f}")
    errs = {k: v["error"] for k, v in res.items() if isinstance(v, dict) and "error" in v}
    if errs:
        print(f"FAILED workers: {errs} (stderr tails in the JSON)")


def main(argv=None) -> int:
    p = lc.parser(__doc__, WORKERS)
    p.add_argument("--seed", type=int, default=0, help="torch seed of the authors' delta")
    p.add_argument("--ll-normalization", default="none", choices=["none", "model", "layer", "filter"],
                   help="loss-landscapes direction normalization (default none; see bench/README.md)")
    p.add_argument("--only", default=",".join(("basinlab", *PEERS)),
                   help="comma-separated subset of: basinlab,authors,ll")
    args = lc.sizes(p, p.parse_args(argv))
    if args.worker:
        WORKERS[args.worker](args)
        return 0
    only = set(args.only.split(","))
    if not only <= {"basinlab", *PEERS}:
        p.error(f"--only {args.only!r}: choose from basinlab, authors, ll")
    peer_argv = ["--seed", str(args.seed), "--ll-normalization", args.ll_normalization]

    def measure(data_argv: list[str]) -> dict:
        out = {"peak": lc.run_worker(__file__, "peak", args)}
        for name in ("basinlab", *PEERS):
            if name in only:
                out[name] = lc.run_worker(__file__, name, args, *data_argv, *peer_argv)
        return out

    machine = harness.machine_info(("torch", "transformers", "loss-landscapes"))
    res = lc.with_tokens(__file__, args, measure)
    res["load_avg_end"] = os.getloadavg()[0]
    d = res["prep"]["d"]
    for name in PEERS:
        if res.get(name, {}).get("d", d) != d:
            print(f"WARNING: {name} counts {res[name]['d']:,} parameters, basinlab {d:,}", file=sys.stderr)
    rec = lc.finish("landscape_throughput", args, res, machine)
    rec["config"].update(k=args.k, alphas=lc.alphas(args.k).tolist(), d=d, flops_per_eval=lc.flops_per_eval(d, args),
                         seed=args.seed, ll_normalization=args.ll_normalization)
    res["rows"] = build_rows(res, args, rec["config"]["flops_per_eval"], res["peak"].get("jax_peak_gflops"))
    print_report(rec, args)
    if args.json:
        harness.write_json(args.json, rec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
