"""Seconds per training step: GO and SAM against AdamW, same model, same batch, same run.

The step is the one `basinlab.training.pretrain` runs (`cached_step` on `token_loss`). Each step
function is compiled first (compile + first step reported apart); the three are then timed in
round-robin rounds of --steps steps (harness.round_robin) and the medians compared (bench/README.md).

    python bench/go_step.py [--size small] [--batch 32] [--seq-len 64] [--rounds 7] [--steps 10] [--json PATH]
    python bench/go_step.py --quick
"""

from __future__ import annotations

import argparse

import harness
import jax
import jax.numpy as jnp
import numpy as np

import basinlab as bl
from basinlab.training import cached_step, micro_batches, token_loss

NAMES = ("adamw", "go", "sam")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default=None, choices=list(bl.training.SIZES), help="default small; --quick: tiny")
    p.add_argument("--batch", type=int, default=None, help="default 32; --quick: 4")
    p.add_argument("--seq-len", type=int, default=None, help="default 64; --quick: 16")
    p.add_argument("--rounds", type=int, default=None, help="default 7; --quick: 2")
    p.add_argument("--steps", type=int, default=None, help="steps per timed call (default 10; --quick: 2)")
    p.add_argument("--sigma", type=float, default=0.01)
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the script end to end")
    p.add_argument("--json", default=None, help="write the record (harness.record) to this file")
    args = p.parse_args(argv)
    for name, full, quick in (("size", "small", "tiny"), ("batch", 32, 4), ("seq_len", 64, 16), ("rounds", 7, 2),
                              ("steps", 10, 2)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    machine = harness.machine_info()

    model = bl.training.init_model(args.size, seed=0)
    tokens = np.random.RandomState(0).randint(0, 256, size=(args.batch, args.seq_len)).astype(np.int32)
    ones = np.ones_like(tokens)
    micro = tuple(jnp.asarray(x) for x in micro_batches(tokens, ones, ones, grad_accum=1))
    params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), model.params)
    runs, compile_s = {}, {}
    for name in NAMES:
        opt = bl.training.make_optimizer(name, 1e-3, 1000, 0, args.sigma, 0.05, 0)
        step = cached_step(token_loss(model.spec, jnp.dtype("float32")), opt, micro_batches=True)
        state = opt.init(params)
        compile_s[name] = harness.time_calls(lambda f=step, s=state: f(params, s, micro), repeats=1,
                                             warmup=0).best_s
        runs[name] = (step, state)

    def steps(name):
        step, state = runs[name]
        x, s = params, state
        for _ in range(args.steps):
            x, s, _ = step(x, s, micro)
        return x

    per_call = harness.round_robin({n: (lambda n=n: steps(n)) for n in NAMES}, args.rounds)
    per = {n: [t / args.steps for t in v] for n, v in per_call.items()}
    med = {n: float(np.median(v)) for n, v in per.items()}
    rows = [{"optimizer": n, "median_ms": 1e3 * med[n], "min_ms": 1e3 * min(per[n]), "max_ms": 1e3 * max(per[n]),
             "compile_s": compile_s[n]} for n in NAMES]
    results = {"n_params": model.n_params, "rows": rows, "per_step_s": per,
               "go_over_adamw": med["go"] / med["adamw"], "sam_over_adamw": med["sam"] / med["adamw"]}
    rec = harness.record("go_step", results, config=vars(args), machine=machine)
    print(harness.machine_line(machine))
    print(f"model: {args.size} GPT ({model.n_params:,} parameters); batch {args.batch} x {args.seq_len} tokens; "
          f"sigma {args.sigma}; {args.rounds} rounds x {args.steps} steps")
    print(harness.table(rows, [("optimizer", "optimizer", ""), ("ms/step median", "median_ms", ".1f"),
                               ("min", "min_ms", ".1f"), ("max", "max_ms", ".1f"),
                               ("compile+first s", "compile_s", ".1f")]))
    print(f"GO / AdamW  = {results['go_over_adamw']:.2f}x")
    print(f"SAM / AdamW = {results['sam_over_adamw']:.2f}x")
    if args.json:
        harness.write_json(args.json, rec)
    return rec


if __name__ == "__main__":
    main()
