"""Seconds per training step: GO and SAM against AdamW, same model, same batch, same run.

The step is the one `basinlab.training.pretrain` runs (`basinlab.training.cached_step`
on `basinlab.training.token_loss`, basinlab's only training step: gradient at
`optim.perturb(params, opt_state)`, update applied to theta). GO adds drawing eps (one Gaussian per
parameter, regenerated from the key) and adding it; SAM adds a second forward/backward pass.
Each step function is compiled first (compile time reported apart); then the three are timed in
round-robin rounds, so that load from other processes hits them alike, and the median per step is
reported with the ratios GO/AdamW and SAM/AdamW (target for GO: <= 1.3x).

    python bench/go_step.py [--size small] [--batch 32] [--seq-len 64] [--rounds 7] [--steps 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

import basinlab as bl
from basinlab.training import cached_step, micro_batches, token_loss


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="small", choices=list(bl.training.SIZES))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=10, help="steps per timed call")
    p.add_argument("--sigma", type=float, default=0.01)
    args = p.parse_args(argv)

    model = bl.training.init_model(args.size, seed=0)
    tokens = np.random.RandomState(0).randint(0, 256, size=(args.batch, args.seq_len)).astype(np.int32)
    ones = np.ones_like(tokens)
    micro = tuple(jnp.asarray(x) for x in micro_batches(tokens, ones, ones, grad_accum=1))
    params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), model.params)
    names = ("adamw", "go", "sam")
    runs, compile_s = {}, {}
    for name in names:
        opt = bl.training.make_optimizer(name, 1e-3, 1000, 0, args.sigma, 0.05, 0)
        step = cached_step(token_loss(model.spec, jnp.dtype("float32")), opt, micro_batches=True)
        state = opt.init(params)
        t0 = time.perf_counter()
        jax.block_until_ready(step(params, state, micro))
        compile_s[name] = time.perf_counter() - t0
        runs[name] = (step, state)

    def timed(name):
        step, state = runs[name]
        x, s = params, state
        t0 = time.perf_counter()
        for _ in range(args.steps):
            x, s, m = step(x, s, micro)
        jax.block_until_ready(x)
        return (time.perf_counter() - t0) / args.steps

    per = {n: [] for n in names}
    for _ in range(args.rounds):
        for n in names:
            per[n].append(timed(n))
    med = {n: float(np.median(v)) for n, v in per.items()}
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, jax {jax.__version__} "
          f"on {jax.devices()[0].platform}")
    print(f"model: {args.size} GPT ({model.n_params:,} parameters), batch {args.batch} x "
          f"{args.seq_len} tokens, sigma {args.sigma}, {args.rounds} rounds x {args.steps} steps")
    for n in names:
        print(f"  {n:6s} {1e3 * med[n]:8.1f} ms/step (median; range {1e3 * min(per[n]):.1f}-"
              f"{1e3 * max(per[n]):.1f})  compile+first {compile_s[n]:.1f} s")
    print(f"GO / AdamW  = {med['go'] / med['adamw']:.2f}x   (target <= 1.3x)")
    print(f"SAM / AdamW = {med['sam'] / med['adamw']:.2f}x")
    return med


if __name__ == "__main__":
    main()
