"""`make demo`: load the bundled SmolLM2-135M-Instruct, report its size, NLL and a chat reply.

    python -m basinlab.demo [--model SOURCE] [--question TEXT]
"""

from __future__ import annotations

import argparse
import time

from .models import load


def sample_text(n_chars: int = 40_000) -> str:
    """English prose every CPython ships: the pydoc topic help texts."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))[:n_chars]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="alias, .gguf path, HF folder or hub id")
    parser.add_argument("--question", default="What is the capital of France?")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    model = load(args.model)
    print(f"loaded in {time.perf_counter() - t0:.1f} s: {model}")
    s = model.spec
    print(f"architecture: {s.arch} ({s.name}), parameters d = {model.n_params:,}")

    t0 = time.perf_counter()
    nll = model.nll(sample_text(), seq_len=128, batch=8)
    print(f"mean token NLL on 8 x 128 tokens of Python's pydoc text: {nll:.4f} nats "
          f"({time.perf_counter() - t0:.1f} s)")

    t0 = time.perf_counter()
    reply = model.generate_text([args.question], max_new_tokens=48, chat=True)[0]
    print(f"chat, greedy ({time.perf_counter() - t0:.1f} s)\n  user: {args.question}\n  model: {reply.strip()}")


if __name__ == "__main__":
    main()
