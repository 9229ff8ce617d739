"""Exact match by teacher forcing (one forward pass) against real greedy generation: seconds to
score the same items both ways, and the ratio (first call and best of --repeats; bench/README.md).

    python bench/exact_match_speed.py [--n 32] [--ref-tokens 32] [--json PATH]
    python bench/exact_match_speed.py --quick
"""

from __future__ import annotations

import argparse

import harness
import jax
import numpy as np

import basinlab as bl
from basinlab import generate
from basinlab.data import load_text
from basinlab.models import left_pad
from basinlab.scoring import exact_match_benchmark


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=None, help="items (default 32; --quick: 4)")
    ap.add_argument("--ref-tokens", type=int, default=None, help="reference tokens (default 32; --quick: 4)")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls after the first")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks the script end to end")
    ap.add_argument("--json", default=None, help="write the record (harness.record) to this file")
    args = ap.parse_args(argv)
    args.n = args.n or (4 if args.quick else 32)
    args.ref_tokens = args.ref_tokens or (4 if args.quick else 32)
    machine = harness.machine_info()
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
    tf = harness.time_calls(lambda: score(model.spec, model.params, bench.data, None).score, repeats=args.repeats)
    gen = harness.time_calls(lambda: generate(model.spec, model.params, tokens, mask, max_new_tokens=ref_len,
                                              eos_ids=model.eos_ids, pad_id=model.pad_id), repeats=args.repeats)
    rows = [{"method": "teacher forcing (1 forward pass)", "first": tf.first_s, "best": tf.best_s},
            {"method": "greedy generation (KV cache)", "first": gen.first_s, "best": gen.best_s}]
    results = {"prompt_tokens": int(tokens.shape[1]), "checked_tokens": ref_len, "rows": rows,
               "speedup_teacher_forcing": gen.best_s / tf.best_s}
    rec = harness.record("exact_match_speed", results, config=vars(args), machine=machine)
    print(harness.machine_line(machine))
    print(f"{args.n} items; references {args.ref_tokens} tokens (+ stop); prompts padded to {tokens.shape[1]} tokens")
    print(harness.table(rows, [("method", "method", ""), ("first call s", "first", ".3f"),
                               (f"best of {args.repeats} s", "best", ".3f")]))
    print(f"speed-up of teacher forcing: {results['speedup_teacher_forcing']:.1f}x")
    if args.json:
        harness.write_json(args.json, rec)
    return rec


if __name__ == "__main__":
    main()
