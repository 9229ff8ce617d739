"""Sweeps at paper scale: the compiled memory plan of a sweep, and a GPU timing run.

    python bench/scale.py memory --shape llama2-7b [--dtype bfloat16] [--batch 32 --seq-len 512 --points 16]
    python bench/scale.py memory --quick     # a tiny shape and sizes (any machine)
    python bench/scale.py gpu [--shapes llama-3.2-1b,llama2-7b] [--json bench/scale_gpu.json]
    python bench/scale.py gpu --quick        # the same code paths on a tiny shape (any machine)

`memory` compiles, ahead of time and with abstract arrays (nothing is allocated), three programs for
a random-weight model of a real shape: a plain jitted forward + NLL, and one block of the landscape
sweep (one direction, --points grid points, a next-token benchmark of --batch x --seq-len tokens) with
the fused and with the materialized perturbation. It prints XLA's plan (arguments + temporaries) over
the weight bytes; the last line is the fused sweep's `peak/weights = X`.

`gpu` measures, on the default JAX device, seconds per perturbed evaluation of basinlab's sweep (fused
and materialized), the plain jitted forward, the authors' in-place PyTorch method (transformers' Llama
of the same shape with its own random init, delta = randn_like per parameter, add_/sub_ per alpha) and
the matmul peak, with peak device memory, and writes JSON. Random weights: only the shapes matter.
"""

from __future__ import annotations

import argparse
import math
import time

import harness
import jax
import jax.numpy as jnp
import numpy as np

import basinlab as bl
from basinlab.landscape import build_mesh, chunk_program
from basinlab.models import SHAPES, forward, param_shapes, random_params, token_logprobs
from basinlab.scoring import token_benchmark

GB = 1e9


def _weight_bytes(tree) -> int:
    return sum(math.prod(x.shape) * jnp.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree))


def _plain_nll(spec, dtype):
    def nll(params, tokens):
        logits = forward(spec, params, tokens, compute_dtype=dtype)[:, :-1]
        return -token_logprobs(logits, tokens[:, 1:]).mean()

    return jax.jit(nll)


def _sweep_program(spec, dtype, batch, seq_len, perturbation, mesh):
    bench = token_benchmark(np.zeros((batch, seq_len), np.int32))
    return chunk_program(spec, (bench,), (bl.DirectionRecipe(seed=0),), jnp.dtype(dtype), mesh, perturbation)


def _plan(compiled) -> dict:
    m = compiled.memory_analysis()
    return {"arguments": m.argument_size_in_bytes, "temporaries": m.temp_size_in_bytes,
            "outputs": m.output_size_in_bytes,
            "peak": m.argument_size_in_bytes + m.temp_size_in_bytes + m.output_size_in_bytes}


def memory(args) -> None:
    if args.quick:
        args.shape, args.batch, args.seq_len, args.points = "smollm2-135m", 2, 32, 2
    machine = harness.machine_info()
    spec, dtype = SHAPES[args.shape], jnp.dtype(args.dtype)
    theta = param_shapes(spec, dtype)
    weights = _weight_bytes(theta)
    tokens = jax.ShapeDtypeStruct((args.batch, args.seq_len), jnp.int32)
    mesh = build_mesh(None, jax.devices()[:1])
    print(f"== compiled memory plan: {args.shape} ({sum(math.prod(x.shape) for x in jax.tree.leaves(theta)):,} "
          f"params, {dtype.name}), {args.batch} x {args.seq_len} tokens, {args.points} points per call ==")
    print(harness.machine_line(machine))
    print(f"weights: {weights / GB:.2f} GB")
    rows = {}
    t0 = time.perf_counter()
    rows["plain forward + NLL"] = _plan(_plain_nll(spec, dtype).lower(theta, tokens).compile())
    for perturbation in ("materialized", "fused"):
        prog = _sweep_program(spec, dtype, args.batch, args.seq_len, perturbation, mesh)
        lowered = prog.lower(theta, (jax.ShapeDtypeStruct((), jnp.int32),),
                             jax.ShapeDtypeStruct((args.points, 1), jnp.float32),
                             jax.ShapeDtypeStruct((args.points,), jnp.bool_), {"text": {"tokens": tokens}})
        rows[f"sweep, {perturbation}"] = _plan(lowered.compile())
    print(f"(compiled in {time.perf_counter() - t0:.0f} s)")
    print(f"{'program':<24} {'arguments GB':>12} {'temporaries GB':>15} {'peak GB':>9} {'peak/weights':>13}")
    for name, r in rows.items():
        print(f"{name:<24} {r['arguments'] / GB:>12.2f} {r['temporaries'] / GB:>15.2f} {r['peak'] / GB:>9.2f} "
              f"{r['peak'] / weights:>13.2f}")
    print(f"peak/weights = {rows['sweep, fused']['peak'] / weights:.3f}")
    if args.json:
        harness.write_json(args.json, harness.record("scale memory", {"weights": weights, "plans": rows},
                                                     config=_config(args), machine=machine))


# ----------------------------------------------------------------------------- gpu


def _config(args) -> dict:
    return {k: v for k, v in vars(args).items() if k != "run"}


def _timed(fn, repeats: int) -> float:
    """Best of `repeats` calls after one warm-up (compilation) call, seconds."""
    return harness.time_calls(fn, repeats=repeats).best_s


def _matmul_peak(dtype) -> float:
    n = 8192 if jax.default_backend() == "gpu" else 1024
    a = jnp.ones((n, n), dtype)
    f = jax.jit(lambda a: a @ a)
    s = _timed(lambda: f(a), 10)
    return 2 * n**3 / s


def _basinlab_run(spec, params, tokens, alphas, perturbation) -> dict:
    from basinlab import Model
    from basinlab.landscape import landscape

    model = Model(spec=spec, params=params, source=spec.name, compute_dtype=params["embed"]["embedding"].dtype)
    bench = token_benchmark(np.asarray(tokens))

    def run():
        ds = landscape(model, bench, directions=1, alphas=alphas, chunk_size=len(alphas), progress=False,
                       perturbation=perturbation)
        return ds

    seconds = _timed(run, 2)
    return {"s_per_eval": seconds / len(alphas), "peak_bytes": harness.device_peak_bytes()}


def _torch_in_place(spec, params, tokens, alphas) -> dict | None:
    """The authors' method on transformers' Llama with the same weights (bf16, cuda when present)."""
    try:
        import torch
        import transformers
    except ImportError as e:
        return {"skipped": f"{e}"}
    from basinlab.models import spec_to_config

    hf = spec_to_config(spec)  # holds vocab_size and tie_word_embeddings too
    config = transformers.AutoConfig.for_model(hf["model_type"], **{k: v for k, v in hf.items()
                                                                    if k not in ("architectures", "model_type")})
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}[jnp.dtype(params["embed"]["embedding"].dtype).name]
    model = transformers.AutoModelForCausalLM.from_config(config).to(device=device, dtype=dtype).eval()
    ids = torch.as_tensor(np.asarray(tokens, np.int64), device=device)
    deltas = [torch.randn_like(p) for p in model.parameters()]
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def sweep():
        with torch.no_grad():
            for a in alphas:
                for p, d in zip(model.parameters(), deltas):
                    p.add_(a * d)
                model(ids, labels=ids).loss.item()
                for p, d in zip(model.parameters(), deltas):
                    p.sub_(a * d)

    seconds = harness.time_calls(sweep, repeats=1, block=lambda x: x).best_s
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else None
    return {"s_per_eval": seconds / len(alphas), "peak_bytes": peak, "device": device}


def gpu(args) -> None:
    shapes = ["smollm2-135m"] if args.quick else args.shapes.split(",")
    batch, seq_len, k = (2, 32, 4) if args.quick else (args.batch, args.seq_len, args.points)
    dtype = jnp.dtype(args.dtype)
    alphas = np.linspace(-0.01, 0.01, k)
    machine = harness.machine_info(("torch", "transformers"))
    report = {"device": str(jax.devices()[0]), "batch": batch, "seq_len": seq_len, "K": k,
              "dtype": dtype.name, "matmul_peak_flops": _matmul_peak(dtype), "runs": {}}
    print(harness.machine_line(machine))
    print(f"device {report['device']}; {dtype.name} matmul peak TFLOP/s: {report['matmul_peak_flops'] / 1e12:.1f}")
    for name in shapes:
        spec = SHAPES[name]
        params = random_params(spec, jax.random.key(0), dtype)
        d = sum(math.prod(x.shape) for x in jax.tree.leaves(params))
        tokens = jax.random.randint(jax.random.key(1), (batch, seq_len), 0, spec.vocab_size)
        plain = _plain_nll(spec, dtype)
        row = {"d": d, "weight_bytes": _weight_bytes(params),
               "plain_s": _timed(lambda p=plain, w=params, t=tokens: p(w, t), 3)}
        for perturbation in ("fused", "materialized"):
            row[perturbation] = _basinlab_run(spec, params, tokens, alphas, perturbation)
        row["authors_in_place"] = _torch_in_place(spec, params, tokens, alphas)
        flops = 2 * d * batch * seq_len
        row["fused_tflops"] = flops / row["fused"]["s_per_eval"] / 1e12
        report["runs"][name] = row
        print(harness.dumps({name: row}))
        del params
    if args.json:
        harness.write_json(args.json, harness.record("scale gpu", report, config=_config(args), machine=machine))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--shape", default="llama2-7b", choices=sorted(SHAPES))
    m.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    m.add_argument("--batch", type=int, default=32)
    m.add_argument("--seq-len", type=int, default=512)
    m.add_argument("--points", type=int, default=16)
    m.add_argument("--quick", action="store_true", help="tiny shape and sizes: checks the code paths anywhere")
    m.add_argument("--json", default=None)
    m.set_defaults(run=memory)
    g = sub.add_parser("gpu")
    g.add_argument("--shapes", default="llama-3.2-1b,llama2-7b")
    g.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    g.add_argument("--batch", type=int, default=32)
    g.add_argument("--seq-len", type=int, default=512)
    g.add_argument("--points", type=int, default=16)
    g.add_argument("--quick", action="store_true", help="tiny shape and sizes: checks the code paths anywhere")
    g.add_argument("--json", default=None)
    g.set_defaults(run=gpu)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
