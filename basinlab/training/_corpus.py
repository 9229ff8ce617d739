"""Text corpora for pre-training: a tokenized train/val split and windows of consecutive tokens.

    corpus = corpus.load_corpus("tinyshakespeare", model.tokenizer)   # 90% / 10% train / val split
    val = corpus.windows(corpus.val, 64, 64, seed=None)               # fixed evaluation windows
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from basinlab import _validate as validate
from basinlab.data._loaders import load_text
from basinlab.training._gpt import byte_tokenizer

__all__ = ["Corpus", "load_corpus", "windows"]


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A tokenized text split in two: train = the first (1 - val_fraction) of the tokens, val = the
    rest (contiguous, so no val window overlaps training text). train, val: [N] int32 token ids."""

    name: str
    train: np.ndarray
    val: np.ndarray
    val_text: str


def load_corpus(source: str | os.PathLike[str], tokenizer: Any = None, val_fraction: float = 0.1,
                max_chars: int | None = None) -> Corpus:
    """Tokenize a corpus: "tinyshakespeare" (from $BASINLAB_DATA), "pydoc" (ships with Python), or
    the path of any UTF-8 text file. max_chars: keep only the first that many characters."""
    validate.open_unit("val_fraction", val_fraction)
    text = load_text(source)
    if max_chars is not None:
        text = text[:int(max_chars)]
    cut = int(len(text) * (1 - val_fraction))
    tokenizer = byte_tokenizer() if tokenizer is None else tokenizer
    enc = lambda s: np.asarray(tokenizer(s, add_special_tokens=False, verbose=False)["input_ids"],  # noqa: E731
                               np.int32)
    train_ids, val_ids = enc(text[:cut]), enc(text[cut:])
    if len(val_ids) < 2 or len(train_ids) < 2:
        raise ValueError(f"corpus {str(source)!r} is too short ({len(text)} characters) to split")
    return Corpus(os.path.basename(str(source)), train_ids, val_ids, text[cut:])


def windows(ids: np.ndarray, n: int, seq_len: int, seed: int | None = 0) -> np.ndarray:
    """n windows of seq_len consecutive tokens of ids: [n, seq_len] int32. seed=None: consecutive
    non-overlapping windows from the start (a fixed evaluation set); else uniform random offsets."""
    ids = np.asarray(ids, np.int32)
    if len(ids) < seq_len:
        raise ValueError(f"{len(ids)} tokens are fewer than seq_len={seq_len}")
    if seed is None:
        n = min(n, len(ids) // seq_len)
        return ids[:n * seq_len].reshape(n, seq_len)
    starts = np.random.RandomState(seed).randint(0, len(ids) - seq_len + 1, size=n)
    return ids[starts[:, None] + np.arange(seq_len)[None, :]]
