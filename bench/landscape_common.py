"""What the landscape_* benchmarks share: their options, the tokens and alphas every method
evaluates, basinlab's sweep as a child-process worker, and transformers' PyTorch model of the same file.

Each landscape_* script runs its measurements as workers in fresh child processes (itself with
`--worker NAME`), so that each peak RSS is that method's own; see bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable

import harness

import basinlab as bl

ALPHA_MAX = 0.01  # alphas = linspace(-ALPHA_MAX, ALPHA_MAX, K)
Worker = Callable[[argparse.Namespace], None]


def alphas(k: int):
    import numpy as np

    return np.linspace(-ALPHA_MAX, ALPHA_MAX, k)


def parser(doc: str, workers: dict[str, Worker]) -> argparse.ArgumentParser:
    """The options every landscape_* script takes (sizes default to None: see `sizes`)."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct", help="anything basinlab.load accepts")
    p.add_argument("--k", type=int, default=None, help="grid points per sweep (default 16; --quick: 4)")
    p.add_argument("--seq-len", type=int, default=None, help="tokens per sequence (default 128; --quick: 32)")
    p.add_argument("--batch", type=int, default=None, help="sequences per evaluation (default 4; --quick: 1)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the script end to end")
    p.add_argument("--json", default=None, help="write the record (harness.record) to this file")
    # internal: worker mode
    p.add_argument("--worker", choices=sorted(workers), help=argparse.SUPPRESS)
    p.add_argument("--tokens", help=argparse.SUPPRESS)
    p.add_argument("--source", help=argparse.SUPPRESS)
    p.add_argument("--calls", type=int, default=2, help=argparse.SUPPRESS)
    return p


def sizes(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """Fill the sizes left at None with the default or --quick values; errors name the bad value."""
    args.k = args.k or (4 if args.quick else 16)
    args.seq_len = args.seq_len or (32 if args.quick else 128)
    args.batch = args.batch or (1 if args.quick else 4)
    if args.k < 1 or args.seq_len < 2 or args.batch < 1:
        p.error(f"need k >= 1, seq_len >= 2, batch >= 1; got k={args.k}, seq_len={args.seq_len}, "
                f"batch={args.batch}")
    return args


def size_argv(args: argparse.Namespace, k: int | None = None) -> list[str]:
    return ["--model", args.model, "--k", str(k or args.k), "--seq-len", str(args.seq_len),
            "--batch", str(args.batch)]


def run_worker(script: str, name: str, args: argparse.Namespace, *extra: str, k: int | None = None) -> dict:
    """Worker `name` of `script` in a fresh process (harness.run_child), with this run's sizes."""
    return harness.run_child(f"{os.path.basename(script)} {name}" + (f" K={k}" if k else ""),
                             [os.path.abspath(script), "--worker", name, *size_argv(args, k), *extra])


def with_tokens(script: str, args: argparse.Namespace, measure: Callable[[list[str]], dict]) -> dict:
    """Run the prep worker (load with basinlab, tokenize), then `measure(extra worker argv)`; the
    results by worker name, "prep" included. Exits if prep fails."""
    with tempfile.TemporaryDirectory(prefix="landscape_bench_") as tmp:
        tokens = os.path.join(tmp, "tokens.npy")
        prep = run_worker(script, "prep", args, "--tokens", tokens)
        if "error" in prep:
            sys.exit("prep (load and tokenize) failed; nothing to measure")
        return {"prep": prep, **measure(["--tokens", tokens, "--source", prep["source"]])}


def finish(name: str, args: argparse.Namespace, results: dict, machine: dict) -> dict:
    """The harness record of a landscape_* run (config: the model and sizes; `machine` taken at the
    start, for its load average); prints the machine line."""
    config = {"model": args.model, "batch": args.batch, "seq_len": args.seq_len, "quick": args.quick}
    rec = harness.record(name, results, config=config, machine=machine)
    print(harness.machine_line(rec["machine"]))
    return rec


def flops_per_eval(d: int, args: argparse.Namespace) -> float:
    """2 * d * tokens: the matmul FLOPs of one evaluation (attention's own not counted)."""
    return 2.0 * d * args.batch * args.seq_len


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
    np.save(args.tokens, np.asarray(ids[:need], np.int32).reshape(args.batch, args.seq_len))
    harness.emit({"source": model.source, "d": model.n_params, "load_s": load_s, "text_tokens": len(ids),
                  "dtype": str(model.dtype)})


def worker_basinlab(args) -> None:
    """`--calls` timed basinlab.landscape calls in one process, with the compile seconds JAX reports."""
    import jax
    import numpy as np

    compile_s = [0.0]

    def on_duration(event, duration, **kw):
        if event.startswith("/jax/core/compile/"):
            compile_s[0] += duration

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    model = bl.load(args.model)
    bench = bl.token_benchmark(np.load(args.tokens))
    grid = alphas(args.k)
    calls, ds = [], None
    reset_ok = harness.reset_peak_rss()
    for _ in range(args.calls):
        compile_s[0] = 0.0
        t = time.perf_counter()
        ds = bl.landscape(model, bench, directions=1, alphas=grid, chunk_size=args.k, progress=False)
        calls.append({"wall_s": time.perf_counter() - t, "compile_s": compile_s[0]})
    harness.emit({"calls": calls, "forwards_per_call": count_forwards(model, bench, grid, args.k),
                  "sweep_peak_rss_mb": harness.rss_high_water_mb() if reset_ok else None,
                  "base_nll": float(ds["base_nll"].values[0]), "nll": ds["nll"].values[0, :, 0].tolist()})


def count_forwards(model, bench, grid, k: int) -> int:
    """Forward passes one landscape() call executes (theta0 and any padding points included): an
    untimed extra call on 2 tokens whose score function bumps a host counter."""
    import jax

    count = [0]

    def bump():
        count[0] += 1

    tiny = bl.token_benchmark(bench.data["tokens"][:1, :2])

    def counting_score(spec, params, data, compute_dtype):
        jax.debug.callback(bump)
        return tiny.score_fn(spec, params, data, compute_dtype)

    bl.landscape(model, dataclasses.replace(tiny, score_fn=counting_score), directions=1, alphas=grid,
                 chunk_size=k, progress=False)
    jax.effects_barrier()
    return count[0]


# ------------------------------------------------------------------------------------------- torch


def torch_model(source: str):
    """transformers' PyTorch model from the same file basinlab loaded (GGUF or HF folder), float32."""
    import torch
    from transformers import AutoModelForCausalLM

    if source.lower().endswith(".gguf"):
        folder, name = os.path.split(source)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    else:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    model.config.use_cache = False  # one forward pass per evaluation
    return model.eval()


def torch_nll(tokens):
    """(model -> mean NLL, output+targets -> NLL, input ids, targets): one formula for the torch peers."""
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


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()
