"""The generate-until oracle: lm-eval's `generate_until` request as an in-graph score function.

Each item's context (already rendered text) is encoded once on the host. Inside the compiled sweep,
at every grid point:

- the token prefix every item shares (the chat template's system turn, the few-shot turns) is
  prefilled once, as a batch of one, and its keys and values reused by every item;
- items are sorted by the length of their own suffix and run in batches of `batch_size` rows, each
  left-padded to a width on a ladder (16, 24, 32, 48, 64, ...: at most 1.5x its longest suffix,
  or 16), so short prompts do not pay for long ones;
- batches of one shape are stacked and decoded by one `lax.map`, so a task compiles one decode
  loop per shape (about two per doubling of the suffix length), not one per batch: 741 MMLU items
  in 47 batches of distinct widths, each its own loop in one program, had not finished compiling
  after 7 minutes (`bench/many_buckets.py`; 9 shapes: 52 s). A short last batch keeps its own
  shape: filling it with copies to join the others saves one compile but decodes the copies at
  every grid point (28% more rows for 50 GSM8K items);
- each batch decodes greedily until every row has produced an EOS or one of the task's stop strings
  (detected in the loop by `basinlab.models._stops`), or `max_new_tokens`.

Scores carry the tokens and, per item, whether it hit the token budget. The host judge decodes each
row as lm-eval does (special tokens skipped), cuts it at the stop strings, and grades it; an item
that hit the budget has its reason marked (`base.BUDGET_REASON`), which the Dataset counts per grid
point (`budget_hits`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from basinlab import _validate as validate
from basinlab.models._generate import Generated, generate_until, prefill
from basinlab.models._model import left_pad, strip_after_eos
from basinlab.models._stops import cut_at_stops, stop_table
from basinlab.scoring._base import Benchmark, Grades, Judged, Scores

__all__ = ["bucket_width", "generate_batches", "generate_until_benchmark", "item_ids", "shared_prefix_length",
           "until_batches"]

MIN_WIDTH = 16


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


def bucket_width(n: int, cap: int) -> int:
    """n rounded up on the ladder 16, 24, 32, 48, 64, 96, ... (powers of two and 1.5x them), but not
    beyond max(n, cap): few distinct shapes, each at most max(16, 1.5 n)."""
    w = MIN_WIDTH
    while w < n:
        w = w * 3 // 2 if w & (w - 1) == 0 else w * 4 // 3
    return max(n, min(w, cap))


def until_batches(ids: Sequence[Sequence[int]], pad_id: int, batch_size: int, share_prefix: bool = True) -> dict:
    """The decode batches of `generate_batches` for contexts `ids` (non-empty token id lists):
    "prefix" [P] int32 (the shared prefix; empty when share_prefix=False), "groups" (a list of
    {"tokens", "mask"} [G, B, T]: the suffixes sorted by length, cut into batches of batch_size
    rows, each left-padded to `bucket_width` of its longest, batches of equal shape stacked) and
    "inverse" [n] (rows of the concatenated groups in item order)."""
    p = shared_prefix_length(ids) if share_prefix else 0
    suffixes = [list(x[p:]) for x in ids]
    order = np.argsort([len(s) for s in suffixes], kind="stable")
    longest = max((len(s) for s in suffixes), default=0)
    chunks = [list(order[start: start + batch_size]) for start in range(0, len(ids), batch_size)]
    widths = [bucket_width(max(len(suffixes[r]) for r in c), longest) for c in chunks]
    groups: list[dict] = []
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


def item_ids(data: dict) -> list[list[int]]:
    """Each item's full context ids (in item order) from `until_batches` data: the shared prefix and
    the item's own suffix, padding dropped."""
    rows = [(t, m) for g in data["groups"] for t, m in zip(g["tokens"].reshape(-1, g["tokens"].shape[-1]),
                                                          g["mask"].reshape(-1, g["mask"].shape[-1]), strict=True)]
    prefix = [int(t) for t in data["prefix"]]
    return [prefix + [int(t) for t, k in zip(*rows[i], strict=True) if k] for i in data["inverse"]]


def generate_batches(spec, params, data: dict, *, max_new_tokens: int, eos_ids, pad_id: int, compute_dtype,
                     temperature: float = 0.0, key=None, stacked: bool = True) -> Generated:
    """`generate_until` over `until_batches` data (and its optional "stops" StopTable): the shared
    prefix prefilled once, each batch decoded until its rows stop, the batches of one shape by one
    `lax.map` (one compiled decode loop per shape). Returns Generated(tokens [n, max_new_tokens],
    hit_budget [n]) in item order. Pure and jit-able; the in-graph oracle and
    `integrations.lmeval.BasinlabLM` both generate through it, so their tokens agree.
    stacked=False (for eager calls): each batch is its own `generate_until` call (one compiled
    program per shape, cached across calls), so only one batch's cache is live at a time (the
    lm-eval backend: 3.45 GB peak for 50 GSM8K items, against 4.1-5.1 GB through `lax.map`
    programs called eagerly); inside a jit, keep True."""
    cache = prefill(spec, params, data["prefix"], compute_dtype) if data["prefix"].shape[0] else None
    static = dict(max_new_tokens=int(max_new_tokens), eos_ids=tuple(int(e) for e in eos_ids), pad_id=int(pad_id),
                  compute_dtype=None if compute_dtype is None else jnp.dtype(compute_dtype),
                  temperature=float(temperature))
    outs = []
    for i, g in enumerate(data["groups"]):
        keys = None if key is None else jax.random.split(jax.random.fold_in(key, i), g["tokens"].shape[0])
        if stacked:
            out = _decode_group(spec, params, cache, data.get("stops"), g["tokens"], g["mask"], keys, **static)
            outs.append(Generated(out.tokens.reshape(-1, max_new_tokens), out.hit_budget.reshape(-1)))
            continue
        for j in range(g["tokens"].shape[0]):  # generate_until's own jit: one program per shape, cached
            outs.append(generate_until(spec, params, g["tokens"][j], g["mask"][j], prefix_cache=cache,
                                       stops=data.get("stops"), key=None if keys is None else keys[j], **static))
    return Generated(jnp.concatenate([o.tokens for o in outs])[data["inverse"]],
                     jnp.concatenate([o.hit_budget for o in outs])[data["inverse"]])


@functools.partial(jax.jit, static_argnames=("spec", "max_new_tokens", "eos_ids", "pad_id", "compute_dtype",
                                             "temperature"))
def _decode_group(spec, params, prefix_cache, stops, tokens, mask, keys, *, max_new_tokens, eos_ids, pad_id,
                  compute_dtype, temperature) -> Generated:
    """One shape's batches, tokens and mask [G, B, T] (keys [G] or None): Generated [G, B, ...]. A
    module-level jit, so eager calls compile each shape once, not per call."""
    def one(x):
        t, m, k = x
        return generate_until(spec, params, t, m, prefix_cache=prefix_cache, stops=stops,
                              max_new_tokens=max_new_tokens, eos_ids=eos_ids, pad_id=pad_id,
                              temperature=temperature, compute_dtype=compute_dtype, key=k)

    return jax.lax.map(one, (tokens, mask, keys))


def generate_until_benchmark(
    model, context_ids: Sequence[Sequence[int]], grader: Callable, *, name: str, until: Sequence[str],
    max_new_tokens: int, metric: str, chance: float | None = None, batch_size: int = 16,
    share_prefix: bool = True, n_examples: int = 3, description: str = "",
) -> Benchmark:
    """Greedy generation after each context until EOS, a stop string of `until` or max_new_tokens
    (module docstring), graded by `grader(texts, item_ids, hit_budget=...) -> Grades` on the texts
    cut at the stop strings. batch_size: rows per decode batch (memory: the prefix's cache slots once,
    plus batch_size x (padded suffix width + max_new_tokens) slots); share_prefix=False prefills
    every row in full."""
    max_new_tokens = validate.positive_int("max_new_tokens", max_new_tokens)
    batch_size = validate.positive_int("batch_size", batch_size)
    ids = [list(x) for x in context_ids]
    if not ids or any(not x for x in ids):
        raise ValueError("every item needs a non-empty context")
    longest = max(len(x) for x in ids) + max_new_tokens
    if longest > model.spec.max_seq_len:
        raise ValueError(f"{name}: the longest context plus max_new_tokens is {longest} tokens, more than the "
                         f"model's max_seq_len {model.spec.max_seq_len}")
    tok = model.require_tokenizer()
    eos, pad = tuple(model.eos_ids), int(model.pad_id)
    until = tuple(until)
    data = until_batches(ids, pad, batch_size, share_prefix)
    data["stops"] = stop_table(tok, until, model.spec.vocab_size) if until else None

    def score_fn(spec, params, data, compute_dtype) -> Scores:
        out = generate_batches(spec, params, data, max_new_tokens=max_new_tokens, eos_ids=eos, pad_id=pad,
                               compute_dtype=compute_dtype)
        return Scores(tokens=out.tokens, budget_hit=out.hit_budget)

    def host_judge(outputs: Scores) -> Judged:
        rows = np.asarray(outputs.tokens)
        full = [tok.decode(strip_after_eos(r, eos), skip_special_tokens=True) for r in rows]
        texts = [cut_at_stops(t, until) for t in full]
        # A stop string the in-loop automaton missed (it cannot: tests check it) would still end the answer.
        hit = [bool(h) and c == t for h, c, t in zip(np.asarray(outputs.budget_hit), texts, full)]
        try:
            graded = grader(texts, list(range(len(texts))), hit_budget=hit)
            scores, reasons = graded if isinstance(graded, Grades) else Grades(*graded)
            scores = np.asarray(scores, np.float32)
            if scores.shape != (len(texts),):
                raise ValueError(f"grader returned {scores.shape} scores for {len(texts)} items")
        except Exception as e:  # a grader bug costs the items, never the sweep
            scores = np.zeros(len(texts), np.float32)
            reasons = [f"judge error: {type(e).__name__}: {e}"] * len(texts)
        return Judged(score=scores, reason=np.asarray(list(reasons), dtype=str),
                      example=np.asarray(texts[:n_examples], dtype=str))

    return Benchmark(name=name, data=data, score_fn=score_fn, n_items=len(ids), metric=metric, chance=chance,
                     judge=host_judge, description=description)
