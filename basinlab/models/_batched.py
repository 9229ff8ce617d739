"""Batches of token-id rows of different lengths: padding, the width ladder, and batched generation.

One implementation of each, used by every caller (scoring's oracles, the lm-eval backend, training
data, `Model`):

- `left_pad`: rows of ids padded to one width (on the left by default, so that every row ends at the
  last column and its next token lands in the same cache slot), with the mask of real tokens.
- `pad_width`: a length rounded up on the ladder 16, 24, 32, 48, 64, 96, ... (powers of two and
  1.5x them). Each distinct width is one compiled program; the ladder keeps them to about two per
  doubling of the length while padding at most 1.5x (16 for short rows). Loglikelihood batches (a
  forward pass per width) and generation batches (a decode loop per width) share it.
- Batched generation after a shared prefix (`until_batches` -> `generate_batches`):

  - the token prefix every item shares (a chat template's system turn, few-shot turns) is
    prefilled once, as a batch of one, and its keys and values reused by every row;
  - the items' own suffixes are sorted by length and cut into batches of `batch_size` rows, each
    left-padded to `pad_width` of its longest, so short prompts do not pay for long ones;
  - batches of one shape are stacked and decoded by one `lax.map`, so a task compiles one decode
    loop per shape, not one per batch: 741 MMLU items in 47 batches of distinct widths, each its own
    loop in one program, had not finished compiling after 7 minutes (`bench/many_buckets.py`; 9
    shapes: 52 s). A short last batch keeps its own shape: filling it with copies to join the
    others saves one compile but decodes the copies at every call (28% more rows for 50 GSM8K items);
  - each batch decodes until every row has produced an EOS or a stop string (`models._stops`), or
    the token budget.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from basinlab import _validate as validate
from basinlab.models._generate import Generated, generate_until, prefill
from basinlab.models._spec import ModelSpec

__all__ = ["MIN_WIDTH", "PAD_SIDES", "generate_batches", "item_ids", "left_pad", "pad_width",
           "shared_prefix_length", "until_batches"]

MIN_WIDTH = 16  # the ladder's first rung: shorter rows share one shape
PAD_SIDES = ("left", "right")


def left_pad(ids: Sequence[Sequence[int]], pad_id: int, width: int | None = None, *,
             side: str = "left") -> tuple[np.ndarray, np.ndarray]:
    """Rows of token ids (or any ints, e.g. 0/1 flags) padded with pad_id to `width` (default: the
    longest row). side="left" (default) puts the padding before each row, "right" after it.
    Returns (tokens [B, T], mask [B, T]), int32; mask is 1 on the rows' own entries."""
    validate.choice("side", side, PAD_SIDES)
    longest = max((len(x) for x in ids), default=0)
    width = longest if width is None else int(width)
    if width < longest:
        raise ValueError(f"width={width} is shorter than the longest row ({longest} tokens)")
    tokens = np.full((len(ids), width), pad_id, np.int32)
    mask = np.zeros((len(ids), width), np.int32)
    for i, x in enumerate(ids):
        if len(x):
            cols = slice(width - len(x), width) if side == "left" else slice(0, len(x))
            tokens[i, cols] = x
            mask[i, cols] = 1
    return tokens, mask


def pad_width(n: int, cap: int | None = None) -> int:
    """n rounded up on the ladder 16, 24, 32, 48, 64, 96, ... (powers of two and 1.5x them), but not
    beyond max(n, cap) (cap None: no cap). Few distinct widths, each at most max(16, 1.5 n)."""
    w = MIN_WIDTH
    while w < n:
        w = w * 3 // 2 if w & (w - 1) == 0 else w * 4 // 3
    return w if cap is None else max(n, min(w, cap))


def shared_prefix_length(ids: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix of every row, leaving each row at least one token of its own."""
    if not ids:
        return 0
    first, n = ids[0], min(len(x) for x in ids) - 1
    for row in ids[1:]:
        k = 0
        while k < n and row[k] == first[k]:
            k += 1
        n = k
    return max(n, 0)


def until_batches(ids: Sequence[Sequence[int]], pad_id: int, batch_size: int,
                  share_prefix: bool = True) -> dict[str, Any]:
    """The decode batches of `generate_batches` for contexts `ids` (non-empty token id lists):
    "prefix" [P] int32 (the shared prefix; empty when share_prefix=False), "groups" (a list of
    {"tokens", "mask"} [G, B, T]: the suffixes sorted by length, cut into batches of batch_size
    rows, each left-padded to `pad_width` of its longest, batches of equal shape stacked) and
    "inverse" [n] (rows of the concatenated groups in item order)."""
    p = shared_prefix_length(ids) if share_prefix else 0
    suffixes = [list(x[p:]) for x in ids]
    order = np.argsort([len(s) for s in suffixes], kind="stable")
    longest = max((len(s) for s in suffixes), default=0)
    chunks = [list(order[start: start + batch_size]) for start in range(0, len(ids), batch_size)]
    widths = [pad_width(max(len(suffixes[r]) for r in c), longest) for c in chunks]
    groups: list[dict[str, list[np.ndarray]]] = []
    for chunk, width in zip(chunks, widths, strict=True):
        tokens, mask = left_pad([suffixes[r] for r in chunk], pad_id, width)
        if groups and groups[-1]["tokens"][-1].shape == tokens.shape:  # widths rise: equal shapes are adjacent
            groups[-1]["tokens"].append(tokens)
            groups[-1]["mask"].append(mask)
        else:
            groups.append({"tokens": [tokens], "mask": [mask]})
    return {"prefix": np.asarray(list(ids[0][:p]), np.int32),
            "groups": [{k: np.stack(v) for k, v in g.items()} for g in groups],
            "inverse": np.argsort(order).astype(np.int32)}


def item_ids(data: dict[str, Any]) -> list[list[int]]:
    """Each item's full context ids (in item order) from `until_batches` data: the shared prefix and
    the item's own suffix, padding dropped."""
    rows = [(t, m) for g in data["groups"] for t, m in zip(g["tokens"].reshape(-1, g["tokens"].shape[-1]),
                                                          g["mask"].reshape(-1, g["mask"].shape[-1]), strict=True)]
    prefix = [int(t) for t in data["prefix"]]
    return [prefix + [int(t) for t, k in zip(*rows[i], strict=True) if k] for i in data["inverse"]]


def generate_batches(spec: ModelSpec, params: Any, data: dict[str, Any], *, max_new_tokens: int,
                     eos_ids: Sequence[int], pad_id: int, compute_dtype: Any, temperature: float = 0.0,
                     key: jax.Array | None = None, stacked: bool = True) -> Generated:
    """`generate_until` over `until_batches` data (and its optional "stops" StopTable): the shared
    prefix prefilled once, each batch decoded until its rows stop, the batches of one shape by one
    `lax.map` (one compiled decode loop per shape). Returns Generated(tokens [n, max_new_tokens],
    hit_budget [n]) in item order. Pure and jit-able; the in-graph oracles and the lm-eval backend
    both generate through it, so their tokens agree.
    stacked=False (for eager calls): each batch is its own `generate_until` call (one compiled
    program per shape, cached across calls), so only one batch's cache is live at a time (the
    lm-eval backend: 3.45 GB peak for 50 GSM8K items, against 4.1-5.1 GB through `lax.map`
    programs called eagerly); inside a jit, keep True."""
    max_new_tokens = int(max_new_tokens)
    cache = prefill(spec, params, data["prefix"], compute_dtype) if data["prefix"].shape[0] else None
    eos, pad, temp = tuple(int(e) for e in eos_ids), int(pad_id), float(temperature)
    dtype = None if compute_dtype is None else jnp.dtype(compute_dtype)
    outs: list[Generated] = []
    for i, g in enumerate(data["groups"]):
        keys = None if key is None else jax.random.split(jax.random.fold_in(key, i), g["tokens"].shape[0])
        if stacked:
            out = _decode_group(spec, params, cache, data.get("stops"), g["tokens"], g["mask"], keys,
                                max_new_tokens=max_new_tokens, eos_ids=eos, pad_id=pad, compute_dtype=dtype,
                                temperature=temp)
            outs.append(Generated(out.tokens.reshape(-1, max_new_tokens), out.hit_budget.reshape(-1)))
            continue
        for j in range(g["tokens"].shape[0]):  # generate_until's own jit: one program per shape, cached
            outs.append(generate_until(spec, params, g["tokens"][j], g["mask"][j], prefix_cache=cache,
                                       stops=data.get("stops"), key=None if keys is None else keys[j],
                                       max_new_tokens=max_new_tokens, eos_ids=eos, pad_id=pad, compute_dtype=dtype,
                                       temperature=temp))
    return Generated(jnp.concatenate([o.tokens for o in outs])[data["inverse"]],
                     jnp.concatenate([o.hit_budget for o in outs])[data["inverse"]])


@functools.partial(jax.jit, static_argnames=("spec", "max_new_tokens", "eos_ids", "pad_id", "compute_dtype",
                                             "temperature"))
def _decode_group(spec: ModelSpec, params: Any, prefix_cache: dict | None, stops: Any, tokens: jax.Array,
                  mask: jax.Array, keys: jax.Array | None, *, max_new_tokens: int, eos_ids: tuple[int, ...],
                  pad_id: int, compute_dtype: Any, temperature: float) -> Generated:
    """One shape's batches, tokens and mask [G, B, T] (keys [G] or None): Generated [G, B, ...]. A
    module-level jit, so eager calls compile each shape once, not per call."""
    def one(x: tuple[jax.Array, jax.Array, jax.Array | None]) -> Generated:
        t, m, k = x
        return generate_until(spec, params, t, m, prefix_cache=prefix_cache, stops=stops,
                              max_new_tokens=max_new_tokens, eos_ids=eos_ids, pad_id=pad_id,
                              temperature=temperature, compute_dtype=compute_dtype, key=k)

    return jax.lax.map(one, (tokens, mask, keys))
