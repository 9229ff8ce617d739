"""Exact match by teacher forcing (one forward pass) against real greedy generation.

Same model, same items, 32-token references: the seconds to score a batch both ways, and the ratio.
Both are jit-compiled; the timed calls are second calls (compilation excluded, reported apart).

    python bench/exact_match_speed.py [--n 32] [--ref-tokens 32]
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import numpy as np

import basinlab as bl
from basinlab import generate
from basinlab.data import load_text
from basinlab.models import left_pad
from basinlab.scoring import exact_match_benchmark


def timed(fn, repeats=3):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    best = min(_once(fn) for _ in range(repeats))
    return first, best


def _once(fn):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--ref-tokens", type=int, default=32)
    args = ap.parse_args(argv)
    model = bl.load(args.model)
    text = load_text("pydoc").split()
    rs = np.random.RandomState(0)
    prompts = ["Continue this text: " + " ".join(text[i: i + 12]) for i in rs.randint(0, len(text) - 12, args.n)]
    # references: the model's own greedy continuations, cut to exactly ref_tokens tokens
    ids = model.tokenizer([model.chat_prompt(p) for p in prompts], add_special_tokens=False)["input_ids"]
    tokens, mask = left_pad(ids, model.pad_id)
    own = np.asarray(generate(model.spec, model.params, tokens, mask, max_new_tokens=args.ref_tokens, eos_ids=()))
    refs = [model.tokenizer.decode(r) for r in own]
    bench = exact_match_benchmark(model, prompts, refs, name="own")
    ref_len = int(bench.data["checked"].sum(1).max())
    score = jax.jit(bench.score_fn, static_argnums=(0, 3))
    tf_first, tf = timed(lambda: score(model.spec, model.params, bench.data, None).score)
    gen_first, gen = timed(lambda: generate(model.spec, model.params, tokens, mask, max_new_tokens=ref_len,
                                            eos_ids=model.eos_ids, pad_id=model.pad_id))
    print(f"machine: {platform.processor() or platform.machine()}, {jax.device_count()} JAX device(s), "
          f"jax {jax.__version__}")
    print(f"{args.n} items, references of {args.ref_tokens} tokens (+ stop), "
          f"prompts padded to {tokens.shape[1]} tokens")
    print(f"{'method':<34} {'first call s':>12} {'best of 3 s':>12}")
    print(f"{'teacher forcing (1 forward pass)':<34} {tf_first:>12.3f} {tf:>12.3f}")
    print(f"{'greedy generation (KV cache)':<34} {gen_first:>12.3f} {gen:>12.3f}")
    print(f"speed-up of teacher forcing: {gen / tf:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
