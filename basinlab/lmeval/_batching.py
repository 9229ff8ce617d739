"""Left-padded, length-bucketed batches of token ids, scored or continued by a basinlab Model: the
compute behind `lmeval.BasinlabLM`, free of lm-eval itself.

Scoring (`loglikelihoods`): requests are sorted longest first and cut into batches of `batch_size`
rows (fewer for long rows, so one batch's logits stay under `max_logits` float32 values); lengths
are rounded up on the width ladder (`models._batched.pad_width`: 16, 24, 32, 48, ...) and a short
last batch is filled with copies of its last row, so a task compiles one program per width, not one
per request. Generation (`continuations`) goes through the in-graph oracles' batched generation
(`models._batched.generate_batches`), so lm-eval's answers equal the sweep's. The programs take the
params as an argument, so they are reused across models of one spec (e.g. along an alpha sweep).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from basinlab.models._batched import generate_batches, left_pad, pad_width, until_batches
from basinlab.models._generate import Generated
from basinlab.models._logprobs import token_logprobs
from basinlab.models._model import Model
from basinlab.models._spec import ModelSpec
from basinlab.models._stops import stop_table
from basinlab.models._transformer import forward

__all__ = ["DEFAULT_LOGITS_BUDGET", "continuations", "loglikelihoods", "pow2_floor", "rows_for", "score"]

# Default cap on one batch's logits (batch x length x vocab float32 values): 2**28 values = 1 GiB.
DEFAULT_LOGITS_BUDGET = 2**28


@functools.partial(jax.jit, static_argnames=("spec", "compute_dtype"))
def score(spec: ModelSpec, params: Any, inputs: jax.Array, mask: jax.Array, targets: jax.Array,
          compute_dtype: Any) -> tuple[jax.Array, jax.Array]:
    """Per-position log p(target) (nats) and whether target is the argmax. All [B, T]."""
    logits = forward(spec, params, inputs, attention_mask=mask, compute_dtype=compute_dtype)
    return token_logprobs(logits, targets), jnp.argmax(logits, axis=-1) == targets


def pow2_floor(n: int) -> int:
    """The largest power of two <= max(n, 1)."""
    return 1 << (max(1, n).bit_length() - 1)


def rows_for(length: int, batch_size: int, vocab_size: int, max_logits: int) -> int:
    """Batch rows for a padded length: batch_size, fewer (a power of two, >= 1) when the batch's
    logits (rows x length x vocab_size) would exceed max_logits."""
    fit = max_logits // max(1, length * vocab_size)
    return max(1, min(batch_size, pow2_floor(max(1, fit))))


def loglikelihoods(model: Model, pairs: Sequence[tuple[Sequence[int], Sequence[int]]], *, batch_size: int,
                   max_length: int, max_logits: int = DEFAULT_LOGITS_BUDGET) -> list[tuple[float, bool]]:
    """(log p(continuation | context) in nats, whether every continuation token is greedy) per
    (context ids, continuation ids) pair, at model.params. context + continuation is truncated from
    the left to max_length + 1 tokens; ValueError for an empty side or a continuation > max_length."""
    rows = []  # (input ids, target ids, continuation length)
    for ctx, cont in pairs:
        if not ctx or not cont:
            raise ValueError("each loglikelihood request needs a non-empty context and continuation (tokens)")
        if len(cont) > max_length:
            raise ValueError(f"continuation of {len(cont)} tokens exceeds max_length={max_length}")
        seq = (list(ctx) + list(cont))[-(max_length + 1):]
        rows.append((seq[:-1], seq[1:], len(cont)))
    n = len(rows)
    order = sorted(range(n), key=lambda i: -len(rows[i][0]))
    out: list[tuple[float, bool]] = [(0.0, False)] * n
    pos = 0
    while pos < n:
        width = pad_width(len(rows[order[pos]][0]), max_length)
        bsz = rows_for(width, batch_size, model.spec.vocab_size, max_logits)
        idx = order[pos:pos + bsz]
        pos += len(idx)
        filled = [rows[idx[min(r, len(idx) - 1)]] for r in range(bsz)]  # a short last batch is filled up:
        inputs, mask = left_pad([inp for inp, _, _ in filled], model.pad_id, width)  # same shape, no new compile
        targets, _ = left_pad([tgt for _, tgt, _ in filled], 0, width)
        logp, greedy = score(model.spec, model.params, jnp.asarray(inputs), jnp.asarray(mask),
                             jnp.asarray(targets), model.compute_dtype)
        logp, greedy = np.asarray(logp, np.float64), np.asarray(greedy)
        for r, i in enumerate(idx):
            c = rows[i][2]
            out[i] = (float(logp[r, -c:].sum()), bool(greedy[r, -c:].all()))
    return out


def continuations(model: Model, prompts: Mapping[int, Sequence[int]], *, batch_size: int, max_new_tokens: int,
                  eos_ids: Sequence[int], prefix_token_id: int, until: Sequence[str] = (), temperature: float = 0.0,
                  next_key: Callable[[], jax.Array] | None = None) -> dict[int, Generated]:
    """Generated ids [max_new_tokens] (EOS kept, then pad) and whether the budget was hit, per prompt
    (id -> token ids), through the in-graph oracle's path (`models._batched.generate_batches`): the
    prompts' shared prefix prefilled once, suffixes in length-sorted batches of batch_size rows,
    rows ending at an EOS or a stop string of `until`. An empty prompt is conditioned on
    prefix_token_id. With temperature > 0, next_key() gives the call's sampling key."""
    if not prompts:
        return {}
    keys = list(prompts)
    ids = [list(prompts[i]) or [int(prefix_token_id)] for i in keys]
    data = until_batches(ids, model.pad_id, batch_size)
    until = tuple(s for s in until if s)
    if until:
        data["stops"] = stop_table(model.require_tokenizer(), until, model.spec.vocab_size)
    if temperature > 0 and next_key is None:
        raise ValueError(f"temperature={temperature} samples tokens: pass next_key, a callable giving a PRNG key")
    key = next_key() if temperature > 0 and next_key is not None else None
    # Run eagerly, batch by batch (stacked=False): the prefill and each batch shape are their own
    # compiled programs (cached across calls), so only one batch's cache and activations are live at
    # a time (fused into one program, XLA kept about twice that: 1.9 against 0.96 GB for 8-shot GSM8K
    # on SmolLM2; eager lax.map programs over a shape's batches raised the peak to 4.1-5.1 GB).
    out = generate_batches(model.spec, model.params, data, max_new_tokens=int(max_new_tokens),
                            eos_ids=tuple(int(e) for e in eos_ids), pad_id=int(model.pad_id),
                            compute_dtype=jnp.dtype(model.compute_dtype or model.dtype),
                            temperature=float(temperature), key=key, stacked=False)
    tokens, hit = np.asarray(out.tokens), np.asarray(out.hit_budget)
    return {i: Generated(tokens[r], hit[r]) for r, i in enumerate(keys)}

