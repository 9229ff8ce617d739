"""Text capabilities: mean token NLL and next-token top-1 accuracy on a corpus.

These are likelihood-based and smooth under perturbation (PAPER.md section 2 says why the paper's
basins are drawn on generated-text oracles instead); they are the cheapest capability to sweep.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from basinlab.models._logprobs import token_logprobs
from basinlab.models._transformer import forward
from basinlab.scoring._base import Benchmark, Scores


def _score(spec, params, data, compute_dtype) -> Scores:
    tokens = data["tokens"]
    logits = forward(spec, params, tokens, compute_dtype=compute_dtype)[:, :-1]  # [n, T-1, V]
    targets = tokens[:, 1:]
    nll = -token_logprobs(logits, targets)  # [n, T-1]
    correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
    return Scores(score=correct.mean(axis=-1), nll=nll.mean(axis=-1))


def text_benchmark(
    tokenizer: Any, text: str, *, seq_len: int = 128, n_seqs: int = 8, name: str = "text",
    description: str = "",
) -> Benchmark:
    """Next-token accuracy (score) and mean NLL per sequence on n_seqs x seq_len tokens of `text`.

    Items are the n_seqs consecutive token windows; per item, score = fraction of the seq_len - 1
    next tokens predicted top-1, nll = their mean negative log-likelihood (nats).
    """
    if seq_len < 2 or n_seqs < 1:
        raise ValueError(f"need seq_len >= 2 and n_seqs >= 1, got seq_len={seq_len}, n_seqs={n_seqs}")
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    if len(ids) < seq_len * n_seqs:
        raise ValueError(
            f"text {name!r} has {len(ids)} tokens, fewer than n_seqs x seq_len = {n_seqs * seq_len}"
        )
    tokens = np.asarray(ids[: seq_len * n_seqs], np.int32).reshape(n_seqs, seq_len)
    return token_benchmark(tokens, name=name, description=description or f"{n_seqs} x {seq_len} tokens")


def token_benchmark(tokens: ArrayLike, *, name: str = "text", description: str = "") -> Benchmark:
    """The same scores on already-tokenized sequences. tokens: [n_seqs, seq_len] int."""
    tokens = np.asarray(tokens, np.int32)
    if tokens.ndim != 2 or tokens.shape[1] < 2:
        raise ValueError(f"tokens must be [n_seqs, seq_len >= 2], got shape {tokens.shape}")
    return Benchmark(
        name=name, data={"tokens": tokens}, score_fn=_score, n_items=tokens.shape[0],
        metric="next-token top-1 accuracy", units="fraction", description=description, param_access="forward",
    )
