"""Stop sequences detected inside the compiled decode loop, as a token-level automaton.

lm-eval stops a generation at the first occurrence of any of its `until` strings in the decoded
continuation (and cuts the text there). Inside the compiled loop there is no text, so the strings
are compiled on the host into an Aho-Corasick automaton over characters whose states are the
prefixes of the stop strings, lifted to whole tokens: from state q, token t leads to state
next(q, t) and completes a stop string iff hit(q, t). A row is done at its first hit.

Most tokens act the same from every state (their text resets the automaton), so the tables are a
per-token row for state 0 plus the few (state, token) pairs that differ, looked up by binary
search in the loop: O(vocab + exceptions) memory instead of O(states x vocab).

Token texts are decoded as lm-eval decodes a continuation (special tokens skipped, so they leave
the state unchanged) and measured after an anchor token, so that tokenizers that drop a leading
space when decoding one token alone (SentencePiece) give the text the token adds in context.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["StopTable", "cut_at_stops", "stop_step", "stop_table", "stop_table_from_texts", "token_texts"]


class StopTable(NamedTuple):
    """Arrays of the token-level automaton (module docstring). V: vocabulary, E: exceptions (>= 1).

    base_next [V] int32, base_hit [V] bool: next state and hit from state 0; keep [V] bool: tokens
    with empty text (state unchanged, never a hit); exc_key [E] int32 sorted (state * V + token;
    -1 pads), exc_next [E] int32, exc_hit [E] bool: the pairs that differ from the state-0 row.
    """

    base_next: np.ndarray
    base_hit: np.ndarray
    keep: np.ndarray
    exc_key: np.ndarray
    exc_next: np.ndarray
    exc_hit: np.ndarray


class _Automaton:
    """Character-level automaton of `stops`: state i is the prefix prefixes[i] (0 = "")."""

    def __init__(self, stops: Sequence[str]):
        self.stops = tuple(s for s in dict.fromkeys(stops) if s)
        prefixes = {""}
        for s in self.stops:
            prefixes.update(s[:i] for i in range(1, len(s)))
        self.prefixes = sorted(prefixes, key=lambda p: (len(p), p))
        self.index = {p: i for i, p in enumerate(self.prefixes)}
        self.memo: dict[tuple[int, str], tuple[int, bool]] = {}

    def char(self, q: int, c: str) -> tuple[int, bool]:
        key = (q, c)
        if key not in self.memo:
            text = self.prefixes[q] + c
            hit = any(text.endswith(s) for s in self.stops)
            while text not in self.index:
                text = text[1:]
            self.memo[key] = (self.index[text], hit)
        return self.memo[key]

    def run(self, q: int, text: str) -> tuple[int, bool]:
        hit = False
        for c in text:
            q, h = self.char(q, c)
            hit |= h
        return q, hit


def token_texts(tokenizer, vocab_size: int) -> list[str]:
    """The text each token id adds to a decoded continuation (special tokens: ""), for ids beyond
    the tokenizer's vocabulary too (""). Measured after an anchor token (module docstring)."""
    n = min(vocab_size, len(tokenizer))
    anchor = tokenizer.encode("a", add_special_tokens=False)[-1:] or [0]
    base = tokenizer.decode(anchor, skip_special_tokens=True)
    pairs = tokenizer.batch_decode([anchor + [t] for t in range(n)], skip_special_tokens=True)
    texts = [p[len(base):] if p.startswith(base) else p for p in pairs]
    return texts + [""] * (vocab_size - n)


def stop_table_from_texts(texts: Sequence[str], stops: Sequence[str]) -> StopTable:
    """The StopTable of `stops` over tokens whose decoded texts are `texts` (index = token id)."""
    auto = _Automaton(stops)
    v = len(texts)
    base_next = np.zeros(v, np.int32)
    base_hit = np.zeros(v, bool)
    keep = np.asarray([t == "" for t in texts], bool)
    # States whose first-character transition differs from state 0's: only tokens starting with
    # such a character can behave differently from a non-zero state.
    alphabet = {c for s in auto.stops for c in s}
    differs: dict[str, list[int]] = {}
    for c in alphabet:
        q0 = auto.char(0, c)
        differs[c] = [q for q in range(1, len(auto.prefixes)) if auto.char(q, c) != q0]
    keys, nexts, hits = [], [], []
    for t, text in enumerate(texts):
        if not text:
            continue
        base_next[t], base_hit[t] = auto.run(0, text)
        for q in differs.get(text[0], ()):
            nq, h = auto.run(q, text)
            if (nq, h) != (base_next[t], base_hit[t]):
                keys.append(q * v + t), nexts.append(nq), hits.append(h)
    order = np.argsort(np.asarray(keys, np.int64), kind="stable")
    if len(auto.prefixes) * v >= 2**31:
        raise ValueError(f"{len(auto.prefixes)} stop-string states x vocabulary {v} overflow int32 keys")
    exc_key = np.asarray(keys, np.int32)[order] if keys else np.full(1, -1, np.int32)
    exc_next = np.asarray(nexts, np.int32)[order] if keys else np.zeros(1, np.int32)
    exc_hit = np.asarray(hits, bool)[order] if keys else np.zeros(1, bool)
    return StopTable(base_next, base_hit, keep, exc_key, exc_next, exc_hit)


def stop_table(tokenizer, stops: Sequence[str], vocab_size: int | None = None) -> StopTable:
    """The StopTable of the strings `stops` for `tokenizer` (vocab_size: the model's, >= the
    tokenizer's; default len(tokenizer)). ValueError for an empty list or a non-string stop."""
    stops = list(stops)
    bad = [s for s in stops if not isinstance(s, str) or not s]
    if not stops or bad:
        raise ValueError(f"stop sequences must be a non-empty list of non-empty strings, got {stops!r}")
    return stop_table_from_texts(token_texts(tokenizer, vocab_size or len(tokenizer)), stops)


def stop_step(table: StopTable, state: jax.Array, token: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(next state [B], hit [B] bool) after `token` [B] from `state` [B] (in-graph)."""
    v = table.base_next.shape[0]
    key = state * v + token
    pos = jnp.clip(jnp.searchsorted(table.exc_key, key), 0, table.exc_key.shape[0] - 1)
    found = table.exc_key[pos] == key
    nxt = jnp.where(found, table.exc_next[pos], table.base_next[token])
    hit = jnp.where(found, table.exc_hit[pos], table.base_hit[token])
    keep = table.keep[token]
    return jnp.where(keep, state, nxt), hit & ~keep


def cut_at_stops(text: str, until: Sequence[str]) -> str:
    """`text` cut before the first occurrence of each stop string, in order (empty ones ignored):
    lm-eval's cut of a generation, which the stop table's in-graph stop agrees with."""
    for term in until:
        if term:
            text = text.split(term)[0]
    return text
