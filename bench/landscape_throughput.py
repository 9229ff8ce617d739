#!/usr/bin/env python
"""Throughput of a 1-D random-direction landscape sweep: basinlab vs the authors' method vs loss-landscapes.

All methods evaluate the SAME model weights on the SAME tokens (CPython's pydoc_data.topics text,
tokenized with the model's tokenizer, first batch x seq_len tokens) at K points along one random
direction, and the quantity evaluated is the same: mean next-token NLL over batch x (seq_len - 1)
targets. Methods:

  basinlab          basinlab.landscape.landscape(model, token_benchmark(tokens), directions=1,
                    alphas=np.linspace(-0.01, 0.01, K), chunk_size=K, progress=False); unnormalized
                    Gaussian direction regenerated from seed 0 inside the compiled program. Called
                    twice in one process: 1st call (compile included) and 2nd call timed separately.
  authors-torch     the paper's scripts re-implemented on transformers' PyTorch model: delta =
                    torch.randn_like(param) for every parameter, stored; per alpha param.add_(alpha *
                    delta), evaluate under torch.no_grad, param.add_(-alpha * delta). Same alphas.
  loss-landscapes   loss_landscapes.random_line (PyPI loss-landscapes) with its Loss metric computing
                    the same NLL, steps=K. Its direction is torch.rand (uniform [0, 1), not zero-mean),
                    normalized, then rescaled to a global norm; it walks one-sided from theta0 by
                    accumulating steps in place. `distance` is set so its farthest point is as far from
                    theta0 as basinlab's alpha = max|alpha| (||dtheta|| = max|alpha| * sqrt(d)).

Every method runs in its own fresh child process, so its peak RSS (from os.wait4's rusage) is its own.
Setup that is not part of a sweep (loading weights, tokenizing) is excluded from s/eval everywhere.

    python bench/landscape_throughput.py --quick               # tiny end-to-end check
    python bench/landscape_throughput.py --json bench.json     # the real measurement (idle machine!)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import basinlab as bl

RESULT_TAG = "@@RESULT@@ "
MATMUL_N = 2048
MATMUL_REPEATS = 10


# ----------------------------------------------------------------------------------------- helpers


def _emit(result: dict) -> None:
    result["self_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(RESULT_TAG + json.dumps(result), flush=True)


def _reset_peak_rss() -> bool:
    """Reset this process's VmHWM (peak RSS) so that later peaks exclude loading (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _status_mb(field: str):
    """VmHWM / VmRSS of this process in MB, or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _sweep_memory(reset_ok: bool) -> dict:
    return {"sweep_peak_rss_mb": _status_mb("VmHWM") if reset_ok else None}


def _alphas(k: int):
    import numpy as np

    return np.linspace(-0.01, 0.01, k)


def _load_tokens(path: str):
    import numpy as np

    return np.load(path)


def _torch_model(source: str):
    """transformers' PyTorch model from the same file basinlab loaded (GGUF or HF folder), float32."""
    import torch
    from transformers import AutoModelForCausalLM

    if source.lower().endswith(".gguf"):
        folder, name = os.path.split(source)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    else:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    model.config.use_cache = False  # no KV cache: a single forward pass per evaluation
    return model.eval()


def _torch_nll_fn(tokens):
    """(model -> mean NLL) and the (inputs, targets) tensors, so both torch methods use one formula."""
    import torch
    import torch.nn.functional as F

    ids = torch.as_tensor(tokens, dtype=torch.long)
    targets = ids[:, 1:].reshape(-1)

    def nll_from_output(out, tgt):
        logits = out.logits[:, :-1].float()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt)

    def nll(model) -> float:
        with torch.no_grad():
            return nll_from_output(model(ids, use_cache=False), targets).item()

    return nll, nll_from_output, ids, targets


def _torch_versions() -> dict:
    import torch

    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}


# ----------------------------------------------------------------------------------------- workers


def worker_prep(args) -> None:
    """Load the model with basinlab once, tokenize the text, save the tokens every method uses."""
    from pydoc_data.topics import topics

    import numpy as np


    t0 = time.perf_counter()
    model = bl.load(args.model)
    load_s = time.perf_counter() - t0
    text = "\n\n".join(topics[k] for k in sorted(topics))
    ids = model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    need = args.batch * args.seq_len
    if len(ids) < need:
        raise SystemExit(f"pydoc_data.topics gives {len(ids)} tokens, fewer than batch x seq_len = {need}")
    tokens = np.asarray(ids[:need], np.int32).reshape(args.batch, args.seq_len)
    np.save(args.tokens, tokens)
    _emit({"source": model.source, "d": model.n_params, "model_repr": repr(model), "load_s": load_s,
           "text_tokens": len(ids), "dtype": str(model.dtype)})


def worker_peak(args) -> None:
    """Best-of-N time of a jitted 2048 x 2048 float32 matmul in JAX (and, for reference, in torch)."""
    import jax
    import jax.numpy as jnp

    n = MATMUL_N
    ka, kb = jax.random.split(jax.random.key(0))
    a = jax.random.normal(ka, (n, n), jnp.float32)
    b = jax.random.normal(kb, (n, n), jnp.float32)
    f = jax.jit(lambda x, y: x @ y)
    f(a, b).block_until_ready()
    times = []
    for _ in range(MATMUL_REPEATS):
        t = time.perf_counter()
        f(a, b).block_until_ready()
        times.append(time.perf_counter() - t)
    flops = 2.0 * n ** 3
    out = {"jax_matmul_best_s": min(times), "jax_peak_gflops": flops / min(times) / 1e9,
           "jax": jax.__version__, "jax_devices": [str(d) for d in jax.devices()]}
    try:
        import torch

        ta, tb = torch.randn(n, n), torch.randn(n, n)
        ta @ tb
        ttimes = []
        for _ in range(MATMUL_REPEATS):
            t = time.perf_counter()
            ta @ tb
            ttimes.append(time.perf_counter() - t)
        out.update(torch_peak_gflops=flops / min(ttimes) / 1e9, **_torch_versions())
    except ImportError:
        pass
    _emit(out)


def worker_basinlab(args) -> None:
    """basinlab.landscape on the same tokens and alphas; `--calls` timed calls in one process."""
    import jax

    from basinlab import token_benchmark
    from basinlab.landscape import landscape

    compile_s = [0.0]

    def on_duration(event, duration, **kw):
        if event.startswith("/jax/core/compile/"):
            compile_s[0] += duration

    jax.monitoring.register_event_duration_secs_listener(on_duration)

    t0 = time.perf_counter()
    model = bl.load(args.model)
    load_s = time.perf_counter() - t0
    tokens = _load_tokens(args.tokens)
    bench = token_benchmark(tokens)
    alphas = _alphas(args.k)
    calls = []
    ds = None
    reset_ok = _reset_peak_rss()
    for _ in range(args.calls):
        compile_s[0] = 0.0
        t = time.perf_counter()
        ds = landscape(model, bench, directions=1, alphas=alphas, chunk_size=args.k, progress=False)
        wall = time.perf_counter() - t
        calls.append({"wall_s": wall, "compile_s": compile_s[0]})
    memory = _sweep_memory(reset_ok)
    _emit({
        "load_s": load_s, "calls": calls, "forwards_per_call": _count_forwards(model, bench, alphas, args.k),
        "n_devices": len(jax.local_devices()),
        "base_nll": float(ds["base_nll"].values[0]),
        "nll": [float(x) for x in ds["nll"].values[0, :, 0]],
        "jax": jax.__version__, "compilation_cache_dir": jax.config.jax_compilation_cache_dir,
        **memory,
    })


def _count_forwards(model, bench, alphas, k) -> int:
    """Forward passes one landscape() call really executes (the engine may evaluate theta0 and padding
    points too): an untimed extra call on 2 tokens whose score function bumps a host counter."""
    import dataclasses

    import jax

    from basinlab import token_benchmark
    from basinlab.landscape import landscape

    count = [0]

    def bump():
        count[0] += 1

    tiny = token_benchmark(bench.data["tokens"][:1, :2])

    def counting_score(spec, params, data, compute_dtype):
        jax.debug.callback(bump)
        return tiny.score_fn(spec, params, data, compute_dtype)

    landscape(model, dataclasses.replace(tiny, score_fn=counting_score), directions=1, alphas=alphas,
              chunk_size=k, progress=False)
    jax.effects_barrier()
    return count[0]


def worker_breakdown(args) -> None:
    """Where basinlab's time goes: the pieces of one grid point, timed alone (best of a few)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from basinlab.models import token_nll

    model = bl.load(args.model)
    tokens = jnp.asarray(_load_tokens(args.tokens))
    mask = jnp.ones_like(tokens)

    def best(f, n=3):
        jax.block_until_ready(f())  # compile
        times = []
        for _ in range(n):
            t = time.perf_counter()
            jax.block_until_ready(f())
            times.append(time.perf_counter() - t)
        return min(times)

    regen = jax.jit(lambda s, p: bl.regenerate(bl.DirectionRecipe(seed=s), p))
    regen_s = best(lambda: regen(jnp.int32(0), model.params))
    delta = regen(jnp.int32(0), model.params)
    axpy = jax.jit(lambda p, d, a: jax.tree.map(lambda x, y: x + a * y, p, d))
    axpy_s = best(lambda: axpy(model.params, delta, jnp.float32(0.01)))
    delta = None  # free the direction before timing the forward pass
    fwd_s = best(lambda: token_nll(model.spec, model.params, tokens, mask, model.compute_dtype))
    _emit({"regenerate_s": regen_s, "perturb_s": axpy_s, "forward_s": fwd_s,
           "nll_theta0": float(np.asarray(token_nll(model.spec, model.params, tokens, mask)[0]).mean())})


def worker_authors(args) -> None:
    """The paper's in-place loop on transformers' PyTorch model."""
    import torch

    t0 = time.perf_counter()
    model = _torch_model(args.source)
    load_s = time.perf_counter() - t0
    tokens = _load_tokens(args.tokens)
    nll, _, _, _ = _torch_nll_fn(tokens)
    alphas = _alphas(args.k)
    params = list(model.parameters())  # a tied embedding appears once, as in the authors' scripts
    d = sum(p.numel() for p in params)
    base = nll(model)  # also a warm-up forward pass, outside the timing

    reset_ok = _reset_peak_rss()
    torch.manual_seed(args.seed)
    t = time.perf_counter()
    deltas = [torch.randn_like(p) for p in params]  # stored in memory, as the authors do
    setup_s = time.perf_counter() - t

    values, point_s = [], []
    t = time.perf_counter()
    with torch.no_grad():
        for alpha in alphas:
            tp = time.perf_counter()
            alpha = float(alpha)
            for p, dl in zip(params, deltas):
                p.add_(alpha * dl)
            values.append(nll(model))
            for p, dl in zip(params, deltas):
                p.add_(-alpha * dl)
            point_s.append(time.perf_counter() - tp)
    sweep_s = time.perf_counter() - t
    memory = _sweep_memory(reset_ok)
    after = nll(model)  # in-place add/subtract leaves float32 round-off in the weights
    _emit({"load_s": load_s, "setup_s": setup_s, "sweep_s": sweep_s, "d": d, "base_nll": base,
           "base_nll_after_sweep": after, "nll": values, "point_s": point_s, **memory, **_torch_versions()})


def worker_ll(args) -> None:
    """loss_landscapes.random_line with its Loss metric on the same NLL."""
    import importlib.metadata

    import loss_landscapes
    from loss_landscapes.metrics import Loss
    from loss_landscapes.model_interface.model_parameters import ModelParameters

    t0 = time.perf_counter()
    model = _torch_model(args.source)
    load_s = time.perf_counter() - t0
    tokens = _load_tokens(args.tokens)
    nll, nll_from_output, ids, targets = _torch_nll_fn(tokens)
    base = nll(model)  # warm-up forward pass, outside the timing
    alphas = _alphas(args.k)
    params = [p for p in model.parameters()]
    d = sum(p.numel() for p in params)
    theta_norm = ModelParameters(params).model_norm()
    reach = float(max(abs(alphas))) * math.sqrt(d)  # ||dtheta|| of basinlab's farthest point
    # random_line scales its step to ||theta0|| / distance / steps, so the farthest point (after
    # `steps` steps) is ||theta0|| / distance from theta0: `distance` is the inverse of a fraction.
    distance = theta_norm / reach

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
    reset_ok = _reset_peak_rss()
    t = time.perf_counter()
    normalization = None if args.ll_normalization == "none" else args.ll_normalization
    values = loss_landscapes.random_line(model, metric, distance=distance, steps=args.k,
                                         normalization=normalization, deepcopy_model=False)
    end = time.perf_counter()
    memory = _sweep_memory(reset_ok)
    _emit({**memory, "load_s": load_s, "setup_s": first_call[0] - t, "sweep_s": end - first_call[0], "d": d,
           "base_nll": base, "nll": [float(x) for x in values], "metric_s": metric_s, "distance": distance,
           "theta_norm": theta_norm, "reach": reach, "normalization": args.ll_normalization,
           "loss_landscapes": importlib.metadata.version("loss-landscapes"), **_torch_versions()})


WORKERS = {"prep": worker_prep, "peak": worker_peak, "basinlab": worker_basinlab, "breakdown": worker_breakdown,
           "authors": worker_authors, "ll": worker_ll}


# ------------------------------------------------------------------------------------ orchestrator


def run_child(name: str, argv: list[str], logdir: str) -> dict:
    """Run this script as a worker in a fresh process; returns its result plus its own peak RSS."""
    out_path = os.path.join(logdir, f"{name}.out")
    err_path = os.path.join(logdir, f"{name}.err")
    cmd = [sys.executable, os.path.abspath(__file__), *argv]
    print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)
    t = time.perf_counter()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    result = None
    with open(out_path) as f:
        for line in f:
            if line.startswith(RESULT_TAG):
                result = json.loads(line[len(RESULT_TAG):])
    if proc.returncode != 0 or result is None:
        with open(err_path) as f:
            tail = f.read()[-3000:]
        print(f"  {name} FAILED (exit {proc.returncode}); stderr tail:\n{tail}", file=sys.stderr)
        return {"error": f"exit {proc.returncode}", "stderr_tail": tail, "peak_rss_mb": usage.ru_maxrss / 1024}
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    result["process_wall_s"] = wall
    print(f"  done in {wall:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
    return result


def machine_info() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}
    try:
        info["usable_cores"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        info["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    import importlib.metadata as md

    for pkg in ("jax", "jaxlib", "torch", "transformers", "loss-landscapes", "numpy"):
        try:
            info[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            info[pkg] = None
    return info


def _fmt(x, spec):
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def build_rows(res: dict, args, d: int, peak: float) -> list[dict]:
    flops = 2.0 * d * args.batch * args.seq_len  # per evaluation
    rows = []

    def add(method, k, forwards, s_eval, setup, r, note=""):
        gflops = flops / s_eval / 1e9 if s_eval else None
        rows.append({"method": method, "k": k, "forwards": forwards, "s_per_eval": s_eval,
                     "gflops": gflops, "pct_peak": 100 * gflops / peak if gflops and peak else None,
                     "setup_s": setup, "peak_rss_mb": r["peak_rss_mb"],
                     "sweep_peak_rss_mb": r.get("sweep_peak_rss_mb"), "note": note})

    b = res.get("basinlab", {})
    if "calls" in b:
        fw = b["forwards_per_call"]
        c1, c2 = b["calls"][0], b["calls"][-1]
        add("basinlab, 1st call (compile incl.)", args.k, fw, c1["wall_s"] / args.k, None, b,
            f"compile {c1['compile_s']:.1f}s")
        add("basinlab, 2nd call", args.k, fw, c2["wall_s"] / args.k, None, b,
            f"compile {c2['compile_s']:.1f}s")
        add("basinlab, 2nd call minus compile", args.k, fw, (c2["wall_s"] - c2["compile_s"]) / args.k, None,
            b, "derived")
    a = res.get("authors", {})
    if "sweep_s" in a:
        add("authors-torch (in-place add_)", args.k, args.k, a["sweep_s"] / args.k, a["setup_s"], a)
    ll = res.get("ll", {})
    if "sweep_s" in ll:
        add(f"loss-landscapes random_line ({ll['normalization']})", args.k, args.k, ll["sweep_s"] / args.k,
            ll["setup_s"], ll)
    for k in args.mem_k:
        m = res.get(f"basinlab_mem_k{k}", {})
        if "calls" in m:
            c = m["calls"][0]
            add(f"basinlab memory run K={k} (1 call)", k, m["forwards_per_call"], c["wall_s"] / k, None,
                m, f"compile {c['compile_s']:.1f}s")
    ref = next((r["s_per_eval"] for r in rows if r["method"] == "basinlab, 2nd call"), None)
    for r in rows:
        r["vs_basinlab"] = r["s_per_eval"] / ref if ref and r["s_per_eval"] else None
    return rows


def print_report(report: dict, args) -> None:
    m, rows, res = report["machine"], report["rows"], report["results"]
    print()
    title = "QUICK RUN (sanity check only, not a measurement)" if args.quick else "landscape throughput"
    print(f"== {title}: {report['model']}  d={report['d']:,}  K={args.k}  batch={args.batch}  "
          f"seq_len={args.seq_len}  ({args.batch * args.seq_len} tokens/eval) ==")
    print(f"machine: {m['cpu']}, {m['cpu_count']} cores ({m.get('usable_cores')} usable), "
          f"load avg {_fmt(m.get('loadavg_start', [None])[0], '.2f')} at start, "
          f"{_fmt(report.get('loadavg_end', [None])[0], '.2f')} at end")
    print(f"versions: jax {m['jax']} (jaxlib {m['jaxlib']}), torch {m['torch']}, transformers "
          f"{m['transformers']}, loss-landscapes {m['loss-landscapes']}, numpy {m['numpy']}, python {m['python']}")
    load = m.get("loadavg_start", [0.0])[0]
    if load > 0.25 * (m.get("usable_cores") or m["cpu_count"] or 1):
        print(f"WARNING: the machine was busy (1-min load average {load:.2f} at start): timings are not "
              f"meaningful; rerun on an idle machine")
    pk = res.get("peak", {})
    print(f"matmul peak ({MATMUL_N}x{MATMUL_N} float32, best of {MATMUL_REPEATS}): JAX "
          f"{_fmt(pk.get('jax_peak_gflops'), '.1f')} GFLOP/s (the % column), torch "
          f"{_fmt(pk.get('torch_peak_gflops'), '.1f')} GFLOP/s; torch threads {pk.get('torch_threads')}")
    print(f"FLOPs per evaluation = 2 * d * tokens = {report['flops_per_eval'] / 1e9:.2f} GFLOP")
    print()
    head = f"{'method':<40} {'K':>3} {'fwd':>4} {'s/eval':>9} {'x basinlab':>10} {'GFLOP/s':>8} " \
           f"{'% peak':>7} {'setup s':>8} {'peak RSS MB':>11} {'sweep RSS MB':>12}  note"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['method']:<40} {r['k']:>3} {r['forwards']:>4} {_fmt(r['s_per_eval'], '9.3f')} "
              f"{_fmt(r['vs_basinlab'], '10.2f')} {_fmt(r['gflops'], '8.2f')} {_fmt(r['pct_peak'], '7.1f')} "
              f"{_fmt(r['setup_s'], '8.2f')} {_fmt(r['peak_rss_mb'], '11.0f')} "
              f"{_fmt(r['sweep_peak_rss_mb'], '12.0f')}  {r['note']}")
    print()
    by = {r["method"]: r for r in rows}
    ref2 = by.get("basinlab, 2nd call")
    ref3 = by.get("basinlab, 2nd call minus compile")
    for r in rows:
        if r["method"].startswith(("authors", "loss-landscapes")) and ref2:
            print(f"basinlab speedup vs {r['method']}: {r['s_per_eval'] / ref2['s_per_eval']:.2f}x (2nd call), "
                  f"{r['s_per_eval'] / ref3['s_per_eval']:.2f}x (2nd call minus compile)  [>1: basinlab faster]")
    bd = res.get("breakdown", {})
    if "forward_s" in bd:
        fw_ideal = report["flops_per_eval"] / bd["forward_s"] / 1e9
        print(f"basinlab pieces, timed alone (best of 3): regenerate the direction {bd['regenerate_s']:.3f} s "
              f"(once per block), theta0 + alpha*delta {bd['perturb_s']:.3f} s (per point), forward+NLL at "
              f"theta0 {bd['forward_s']:.3f} s ({fw_ideal:.1f} GFLOP/s) (per point)")
    mem = [r for r in rows if r["method"].startswith("basinlab memory")]
    if mem:
        print("basinlab peak RSS vs K (process / sweep only): " + ", ".join(
            f"K={r['k']}: {r['peak_rss_mb']:.0f} / {_fmt(r['sweep_peak_rss_mb'], '.0f')} MB" for r in mem))
    print()
    print("Notes:")
    print(" * s/eval = wall time of the sweep / K requested grid points. For basinlab it is the whole")
    print("   landscape() call, which also evaluates theta0 (its 'base' block) and regenerates the direction")
    print("   once per block; fwd = forward passes a call really ran (counted by a host callback in an extra,")
    print("   untimed call), K for the peers.")
    c2 = res.get("basinlab", {}).get("calls", [{}])[-1].get("compile_s")
    if c2 is not None and c2 > 0.5:
        print(f" * the 2nd landscape() call compiled again ({c2:.1f} s): the engine builds a new jax.jit per call,")
        print("   so no call reuses a compiled program; 'minus compile' is what a cached program would cost.")
    print(" * peers' s/eval excludes their setup (drawing/normalizing the direction: 'setup s'); no method's")
    print("   s/eval includes loading weights or tokenizing. x basinlab = s/eval / basinlab 2nd-call s/eval.")
    print(" * GFLOP/s counts only the K requested evaluations (2 * d * tokens each); % peak is of the JAX matmul.")
    print(" * peak RSS = max resident set of the method's own fresh child process (os.wait4 rusage), loading")
    print("   included; sweep RSS = peak resident set from just before the sweep to its end (VmHWM reset via")
    print("   /proc/self/clear_refs after loading), i.e. weights + whatever the sweep itself needs.")
    print()
    print("Agreement:")
    b, a, ll = res.get("basinlab", {}), res.get("authors", {}), res.get("ll", {})
    if "base_nll" in b and "base_nll" in a:
        diff = abs(b["base_nll"] - a["base_nll"])
        print(f"  unperturbed NLL: basinlab {b['base_nll']:.6f}, torch {a['base_nll']:.6f}, "
              f"|diff| {diff:.2e} -> {'OK' if diff <= 1e-3 else 'MISMATCH'} (tolerance 1e-3)")
    if "base_nll" in ll:
        print(f"  unperturbed NLL in the loss-landscapes process: {ll['base_nll']:.6f}")
    if "base_nll_after_sweep" in a:
        print(f"  authors-torch NLL at theta0 after the add_/sub_ sweep: {a['base_nll_after_sweep']:.6f} "
              f"(drift {a['base_nll_after_sweep'] - a['base_nll']:+.2e} from float32 round-off)")
    alphas = _alphas(args.k)
    print("  NLL along the line. The perturbed values CANNOT match exactly: basinlab draws delta ~ N(0, I) with")
    print("  JAX's RNG, authors-torch with torch's, so they are different Gaussian directions (same alphas, same")
    print("  scale). loss-landscapes' direction differs in kind, not just in RNG: torch.rand, uniform [0,1) (non-")
    print("  zero mean: it shifts every weight the same way), its own normalization, then rescaled to one global")
    print("  norm, and walked one-sided from theta0 by accumulating steps in place (the model is left perturbed):")
    if "nll" in b:
        print("    alpha          " + " ".join(f"{x:+.4f}" for x in alphas))
        print("    basinlab       " + " ".join(f"{x:7.4f}" for x in b["nll"]))
    if "nll" in a:
        print("    authors-torch  " + " ".join(f"{x:7.4f}" for x in a["nll"]))
    if "nll" in ll:
        reach = max(abs(alphas))
        eq = [reach * (i + 1) / args.k for i in range(args.k)]
        print("    loss-landscapes at ||dtheta||/sqrt(d) = " + " ".join(f"{x:.4f}" for x in eq))
        print("    loss-landscapes" + " ".join(f"{x:7.4f}" for x in ll["nll"]))
        print(f"    (random_line(distance={ll['distance']:.4g}, steps={args.k}, normalization="
              f"{ll['normalization']!r}): its step is ||theta0||/distance/steps, so distance = ||theta0|| / "
              f"(max|alpha| sqrt(d)); ||theta0|| = {ll['theta_norm']:.1f})")
    errs = {k: v["error"] for k, v in res.items() if isinstance(v, dict) and "error" in v}
    if errs:
        print(f"FAILED workers: {errs} (stderr tails are in the JSON)")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct", help="anything basinlab.load accepts")
    p.add_argument("--k", type=int, default=None, help="grid points per sweep (default 16; --quick: 4)")
    p.add_argument("--seq-len", type=int, default=None, help="tokens per sequence (default 128; --quick: 32)")
    p.add_argument("--batch", type=int, default=None, help="sequences per evaluation (default 4; --quick: 1)")
    p.add_argument("--mem-k", default=None,
                   help="comma-separated K values for basinlab's peak-memory runs (default 4,16,64; "
                        "--quick: 2,4,8; empty string to skip)")
    p.add_argument("--quick", action="store_true", help="tiny run to check the script end to end")
    p.add_argument("--seed", type=int, default=0, help="torch seed of the authors' delta")
    p.add_argument("--ll-normalization", default="none", choices=["none", "model", "layer", "filter"],
                   help="loss-landscapes direction normalization (default none: random_line rescales the "
                        "direction to a global norm afterwards anyway. Its 'model' recomputes two full-model "
                        "norms per tensor (minutes of setup on a 135M model) and its default 'filter' loops "
                        "in Python over every row; both only change the setup time column)")
    p.add_argument("--only", default=None, help="comma-separated subset of: basinlab,authors,ll,breakdown,mem")
    p.add_argument("--json", default=None, help="write all results to this JSON file")
    # internal: worker mode
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--tokens", help=argparse.SUPPRESS)
    p.add_argument("--source", help=argparse.SUPPRESS)
    p.add_argument("--calls", type=int, default=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    quick = args.quick
    args.k = args.k or (4 if quick else 16)
    args.seq_len = args.seq_len or (32 if quick else 128)
    args.batch = args.batch or (1 if quick else 4)
    mem = args.mem_k if args.mem_k is not None else ("2,4,8" if quick else "4,16,64")
    args.mem_k = [int(x) for x in mem.split(",") if x.strip()]
    if args.k < 1 or args.seq_len < 2 or args.batch < 1 or any(k < 1 for k in args.mem_k):
        p.error("need k >= 1, seq_len >= 2, batch >= 1 and mem-k values >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        WORKERS[args.worker](args)
        return 0

    only = set((args.only or "basinlab,authors,ll,breakdown,mem").split(","))
    machine = machine_info()
    def common(k):
        return ["--model", args.model, "--k", str(k), "--seq-len", str(args.seq_len), "--batch",
                str(args.batch), "--seed", str(args.seed), "--ll-normalization", args.ll_normalization]

    res = {}
    with tempfile.TemporaryDirectory(prefix="landscape_throughput_") as tmp:
        tokens = os.path.join(tmp, "tokens.npy")
        res["prep"] = run_child("prep (load model with basinlab, tokenize)",
                                ["--worker", "prep", "--tokens", tokens, *common(args.k)], tmp)
        if "error" in res["prep"]:
            print("cannot continue without the tokens", file=sys.stderr)
            return 1
        source = res["prep"]["source"]
        base = [*common(args.k), "--tokens", tokens, "--source", source]
        res["peak"] = run_child("peak (JAX matmul)", ["--worker", "peak"], tmp)
        if "basinlab" in only:
            res["basinlab"] = run_child("basinlab (2 calls)", ["--worker", "basinlab", *base], tmp)
        if "authors" in only:
            res["authors"] = run_child("authors-torch", ["--worker", "authors", *base], tmp)
        if "ll" in only:
            res["ll"] = run_child("loss-landscapes", ["--worker", "ll", *base], tmp)
        if "breakdown" in only:
            res["breakdown"] = run_child("basinlab breakdown", ["--worker", "breakdown", *base], tmp)
        if "mem" in only:
            for k in args.mem_k:
                argv_k = ["--worker", "basinlab", *common(k), "--tokens", tokens, "--source", source, "--calls", "1"]
                res[f"basinlab_mem_k{k}"] = run_child(f"basinlab memory K={k}", argv_k, tmp)

    d = res["prep"]["d"]
    for name in ("authors", "ll"):
        if "d" in res.get(name, {}) and res[name]["d"] != d:
            print(f"WARNING: {name} counts {res[name]['d']:,} parameters, basinlab {d:,}", file=sys.stderr)
    peak = res["peak"].get("jax_peak_gflops")
    report = {
        "quick": args.quick, "model": args.model, "source": source, "d": d,
        "k": args.k, "batch": args.batch, "seq_len": args.seq_len, "mem_k": args.mem_k,
        "alphas": _alphas(args.k).tolist(), "flops_per_eval": 2.0 * d * args.batch * args.seq_len,
        "machine": machine, "loadavg_end": os.getloadavg(), "results": res,
    }
    report["rows"] = build_rows(res, args, d, peak)
    print_report(report, args)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
