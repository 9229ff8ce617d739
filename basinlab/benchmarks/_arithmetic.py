"""Bare-text addition ("12+7=") scored 0/1 by greedy generation: the oracle of small byte-level GPTs.

    bench = arithmetic.inline_addition_benchmark(model, heldout)    # heldout: [n, 2] int pairs
    measure(model, bench).score                                     # fraction answered exactly

The GPTs of `basinlab.training._gpt` learn the task from lines "a+b=c\\n" mixed into their pre-training
text (`basinlab.training._mixture`, which holds these pairs out). Item i is scored 1 iff greedy
decoding after the prompt ``prefix + "a+b="`` writes exactly ``"c\\n"`` (the sum, then the line's
end): the exact-match oracle of `basinlab.scoring._oracles` (teacher forcing, one forward pass,
the same answer as token-by-token greedy generation).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from basinlab.benchmarks._items import inline_addition_line
from basinlab.models._model import Model
from basinlab.scoring._base import Benchmark
from basinlab.scoring._oracles import exact_match_benchmark

__all__ = ["inline_addition_benchmark", "inline_addition_items"]


def inline_addition_items(pairs: npt.ArrayLike, prefix: str = "\n\n") -> tuple[list[str], list[str]]:
    """(prompts, references) of pairs [n, 2] (non-negative ints): prompt = prefix + "a+b=",
    reference = "c\\n" (the rest of :func:`basinlab.benchmarks._items.inline_addition_line`)."""
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0:
        raise ValueError(f"pairs must be a non-empty [n, 2] array of operands, got shape {pairs.shape}")
    if not np.issubdtype(pairs.dtype, np.integer) or (pairs < 0).any():
        raise ValueError(f"pairs must be non-negative integers, got dtype {pairs.dtype} and min {pairs.min()}")
    lines = [inline_addition_line(a, b) for a, b in pairs]
    cut = [line.index("=") + 1 for line in lines]
    return [prefix + line[:k] for line, k in zip(lines, cut, strict=True)], [line[k:] for line, k in
                                                                             zip(lines, cut, strict=True)]


def inline_addition_benchmark(model: Model, pairs: npt.ArrayLike, *, prefix: str = "\n\n",
                              name: str = "inline-addition") -> Benchmark:
    """0/1 exact match of the greedy answer to each "a+b=" of pairs [n, 2] (no chat template, no stop
    token: the line's "\\n" ends the answer). Chance 0."""
    prompts, references = inline_addition_items(pairs, prefix)
    return exact_match_benchmark(model, prompts, references, name=name, chat=False, stop=False,
                                 metric="exact match of the greedy sum and its line end", chance=0.0,
                                 synthetic=True, description=f"{len(prompts)} bare-text sums a+b= "
                                                             f"(operands up to {int(np.max(pairs))})")
