"""Greedy generation: decode-step time against the weight + KV streaming bound, tokens/s against HF
generate, and the shared-prefix cache on and off.

    .venv/bin/python bench/generation.py                       # SmolLM2-135M-Instruct, this CPU
    .venv/bin/python bench/generation.py --random 1b --dtype bfloat16 --batch 64 --prompt 64 --new 128   # GPU
    .venv/bin/python bench/generation.py --quick                # tiny sizes: checks the script end to end

Measured per run (each timed call after one warm-up call of the same shapes, so compilation is excluded):

- basinlab `generate` of B prompts x P tokens, N new tokens, no EOS: seconds, tokens/s, and the decode
  step time (time(N) - time(1)) / (N - 1), against the streaming bound: the bytes every step must
  read (weights once + the whole KV cache) divided by `--bandwidth` (GB/s);
- HF transformers `generate` (torch, greedy, same token ids, `min_new_tokens=N`) on the same weights
  (basinlab's own checkpoint writer, so both read identical numbers; skipped with --no-hf);
- `generate_until` with a shared prefix of `--prefix` tokens prefilled once vs the same prompts in full.

Prints the machine line and the results as JSON (`--json PATH` writes the whole record).
"""

from __future__ import annotations

import argparse
import math
import tempfile

import harness
import jax
import jax.numpy as jnp
import numpy as np

import basinlab as bl


def timed(fn, *args, **kw) -> float:
    """Seconds of one call after a warm-up call of the same shapes (compilation excluded)."""
    return harness.time_calls(lambda: fn(*args, **kw), repeats=1).best_s


def random_model(size: str, dtype: str):
    """A random-weight llama of the 1B/7B shapes (Llama-3.2-1B / Llama-2-7B), no tokenizer."""
    from basinlab import Model, ModelSpec

    shapes = {"1b": dict(vocab_size=128256, d_model=2048, n_layers=16, n_heads=32, n_kv_heads=8, d_ff=8192),
              "7b": dict(vocab_size=32000, d_model=4096, n_layers=32, n_heads=32, n_kv_heads=32, d_ff=11008)}[size]
    spec = ModelSpec(arch="llama", head_dim=shapes["d_model"] // shapes["n_heads"], max_seq_len=4096,
                     rotary_dim=shapes["d_model"] // shapes["n_heads"], name=f"random-{size}", **shapes)
    key = jax.random.key(0)
    dt = jnp.dtype(dtype)

    def w(*shape):
        return (0.02 * jax.random.normal(jax.random.fold_in(key, math.prod(shape) + len(shape)), shape)).astype(dt)

    n, d, f, kv = spec.n_layers, spec.d_model, spec.d_ff, spec.n_kv_heads * spec.head_dim
    params = {"embed": {"embedding": w(spec.vocab_size, d)}, "final_norm": {"scale": jnp.ones(d, dt)},
              "lm_head": {"kernel": w(d, spec.vocab_size)},
              "layers": {"attn_norm": {"scale": jnp.ones((n, d), dt)}, "mlp_norm": {"scale": jnp.ones((n, d), dt)},
                         "attn": {"q": {"kernel": w(n, d, d)}, "k": {"kernel": w(n, d, kv)},
                                  "v": {"kernel": w(n, d, kv)}, "o": {"kernel": w(n, d, d)}},
                         "mlp": {"gate": {"kernel": w(n, d, f)}, "up": {"kernel": w(n, d, f)},
                                 "down": {"kernel": w(n, f, d)}}}}
    return Model(spec, params, None, f"random-{size}")


def hf_generate(model, tokens, new):
    import torch
    import transformers

    from basinlab.models import save_checkpoint

    folder = tempfile.mkdtemp()
    save_checkpoint(model, None, folder)
    hf = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = torch.as_tensor(np.asarray(tokens))
    kw = dict(max_new_tokens=new, min_new_tokens=new, do_sample=False, pad_token_id=0)
    with torch.no_grad():
        return harness.time_calls(lambda: hf.generate(ids, **kw), repeats=1, block=lambda x: x).best_s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--random", choices=["1b", "7b"], help="random weights of these shapes instead of --model")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--batch", type=int, default=None, help="prompts (default 4; --quick: 1)")
    ap.add_argument("--prompt", type=int, default=None, help="prompt tokens (default 64; --quick: 8)")
    ap.add_argument("--new", type=int, default=None, help="new tokens (default 32; --quick: 4)")
    ap.add_argument("--prefix", type=int, default=None,
                    help="shared-prefix length for the prefix on/off run (default 512; --quick: 16)")
    ap.add_argument("--bandwidth", type=float, default=20.0, help="memory bandwidth in GB/s for the bound")
    ap.add_argument("--no-hf", action="store_true")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks the script end to end")
    ap.add_argument("--json", default=None, help="write the record (harness.record) to this file")
    args = ap.parse_args(argv)
    for name, full, quick in (("batch", 4, 1), ("prompt", 64, 8), ("new", 32, 4), ("prefix", 512, 16)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    machine = harness.machine_info(() if args.no_hf else ("torch", "transformers"))

    from basinlab import generate
    from basinlab.models import generate_until

    model = random_model(args.random, args.dtype) if args.random else bl.load(args.model, dtype=args.dtype)
    spec, params = model.spec, model.params
    rng = np.random.RandomState(0)
    tokens = rng.randint(10, min(spec.vocab_size, 30000), (args.batch, args.prompt)).astype(np.int32)
    mask = np.ones_like(tokens)
    out = {"model": model.source, "device": str(jax.devices()[0])}
    gen = lambda n: generate(spec, params, tokens, mask, max_new_tokens=n, eos_ids=())  # noqa: E731
    t_n, t_1 = timed(gen, args.new), timed(gen, 1)
    step = (t_n - t_1) / max(args.new - 1, 1)
    weight_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(params))
    kv_bytes = (2 * spec.n_layers * args.batch * (args.prompt + args.new) * spec.n_kv_heads * spec.head_dim
                * jnp.dtype(args.dtype).itemsize)
    bound = (weight_bytes + kv_bytes) / (args.bandwidth * 1e9)
    out.update(basinlab_s=t_n, basinlab_tokens_per_s=args.batch * args.new / t_n, decode_step_s=step,
               stream_bound_s=bound, step_over_bound=step / bound, bandwidth_GBps=args.bandwidth)
    if not args.no_hf:
        t_hf = hf_generate(model, tokens, args.new)
        out.update(hf_s=t_hf, hf_tokens_per_s=args.batch * args.new / t_hf, speedup_vs_hf=t_hf / t_n)
    prefix = rng.randint(10, min(spec.vocab_size, 30000), args.prefix).astype(np.int32)
    full = np.concatenate([np.broadcast_to(prefix, (args.batch, args.prefix)), tokens], 1)
    on = timed(lambda: generate_until(spec, params, tokens, mask, prefix=prefix, max_new_tokens=args.new,
                                      eos_ids=()).tokens)
    off = timed(lambda: generate_until(spec, params, full, np.ones_like(full), max_new_tokens=args.new,
                                       eos_ids=()).tokens)
    out.update(prefix_cache_on_s=on, prefix_cache_off_s=off)
    return harness.report("generation", out, args, machine)


if __name__ == "__main__":
    main()
