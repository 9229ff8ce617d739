#!/usr/bin/env python
"""Where one point of basinlab's landscape sweep spends its time: regenerating the direction, forming
theta0 + alpha * delta and one forward pass + NLL, each jitted and timed alone (best of 3 after a warm-up).

    python bench/landscape_breakdown.py --quick
    python bench/landscape_breakdown.py --json bench/landscape_breakdown.json
"""

from __future__ import annotations

import sys

import harness
import landscape_common as lc

import basinlab as bl

REPEATS = 3


def worker_breakdown(args) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    model = bl.load(args.model)
    tokens = jnp.asarray(np.load(args.tokens))
    mask = jnp.ones_like(tokens)

    def best(f):
        return harness.time_calls(f, repeats=REPEATS).best_s

    regen = jax.jit(lambda s, p: bl.regenerate(bl.DirectionRecipe(seed=s), p))
    regen_s = best(lambda: regen(jnp.int32(0), model.params))
    delta = regen(jnp.int32(0), model.params)
    axpy = jax.jit(lambda p, d, a: jax.tree.map(lambda x, y: x + a * y, p, d))
    axpy_s = best(lambda: axpy(model.params, delta, jnp.float32(0.01)))
    delta = None  # free the direction before timing the forward pass
    fwd_s = best(lambda: bl.models.token_nll(model.spec, model.params, tokens, mask, model.compute_dtype))
    nll = bl.models.token_nll(model.spec, model.params, tokens, mask)[0]
    harness.emit({"regenerate_s": regen_s, "perturb_s": axpy_s, "forward_s": fwd_s,
                  "nll_theta0": float(np.asarray(nll).mean())})


WORKERS = {"prep": lc.worker_prep, "breakdown": worker_breakdown}


def main(argv=None) -> int:
    p = lc.parser(__doc__, WORKERS)
    args = lc.sizes(p, p.parse_args(argv))
    if args.worker:
        WORKERS[args.worker](args)
        return 0
    machine = harness.machine_info()
    res = lc.with_tokens(__file__, args, lambda data_argv: {
        "breakdown": lc.run_worker(__file__, "breakdown", args, *data_argv)})
    bd, d = res["breakdown"], res["prep"]["d"]
    rec = lc.finish("landscape_breakdown", args, res, machine)
    rec["config"].update(d=d, flops_per_eval=lc.flops_per_eval(d, args), repeats=REPEATS)
    print(f"model {args.model}: d = {d:,}; batch x seq_len = {args.batch} x {args.seq_len}")
    if "forward_s" in bd:
        print(f"regenerate the direction (per block):  {bd['regenerate_s']:.3f} s")
        print(f"theta0 + alpha * delta (per point):    {bd['perturb_s']:.3f} s")
        print(f"forward + NLL at theta0 (per point):   {bd['forward_s']:.3f} s "
              f"({rec['config']['flops_per_eval'] / bd['forward_s'] / 1e9:.1f} GFLOP/s)")
        print(f"NLL at theta0:                         {bd['nll_theta0']:.6f}")
    if args.json:
        harness.write_json(args.json, rec)
    return 0 if "forward_s" in bd else 1


if __name__ == "__main__":
    sys.exit(main())
