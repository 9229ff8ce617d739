"""A pre-training text with a learnable 0/1 skill mixed in: bare-text addition lines between paragraphs.

    mix = mixture.addition_corpus("tinyshakespeare", fraction=0.2, max_operand=100, n_heldout=200)
    pretrain.pretrain(model, mix.corpus, ...)                      # trains on text + "a+b=c\\n" lines
    arithmetic.inline_addition_benchmark(model, mix.heldout)       # scored on sums never trained on
    mix.plain_val_text                                             # the val split without additions

The text is split into train / val first (the last ``val_fraction`` of its characters is val, as in
:func:`basinlab.training._corpus.load_corpus`); each part then gets blocks of ``block`` addition lines
(:func:`basinlab.benchmarks._items.inline_addition_line`) after randomly chosen paragraph ends
("\\n\\n"), until about ``fraction`` of its characters are additions. The held-out pairs, in either
order, never appear in either part.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import numpy.typing as npt

from basinlab import _validate as validate
from basinlab.benchmarks._items import inline_addition_line
from basinlab.data._loaders import load_text
from basinlab.training._corpus import Corpus
from basinlab.training._gpt import byte_tokenizer

__all__ = ["AdditionMix", "addition_corpus", "addition_pairs", "mix_addition"]


def addition_pairs(max_operand: int = 100, n_heldout: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train [m, 2], heldout [n_heldout, 2]) int pairs with operands in [0, max_operand): held-out
    pairs are drawn with RandomState(seed); train is every other pair that is not a held-out pair in
    either order (a trained 7+12 would give away 12+7)."""
    max_operand = validate.positive_int("max_operand", max_operand)
    n_heldout = validate.positive_int("n_heldout", n_heldout)
    a, b = np.meshgrid(np.arange(max_operand), np.arange(max_operand), indexing="ij")
    every = np.stack([a.ravel(), b.ravel()], 1)
    if n_heldout > len(every) // 4:
        raise ValueError(f"n_heldout={n_heldout} is more than a quarter of the {len(every)} pairs with "
                         f"max_operand={max_operand}; lower it or raise max_operand")
    heldout = every[np.random.RandomState(seed).choice(len(every), n_heldout, replace=False)]
    out = np.zeros((max_operand, max_operand), bool)
    out[heldout[:, 0], heldout[:, 1]] = out[heldout[:, 1], heldout[:, 0]] = True
    return every[~out[every[:, 0], every[:, 1]]], heldout


def mix_addition(text: str, pairs: npt.ArrayLike, fraction: float = 0.2, block: int = 4, seed: int = 0) -> str:
    """``text`` with blocks of ``block`` addition lines of ``pairs`` [m, 2] (drawn with replacement,
    RandomState(seed)) inserted after random paragraph ends, until about ``fraction`` (in (0, 1)) of the
    characters are additions. A text without a blank line gets its blocks at line ends."""
    fraction = float(validate.open_unit("fraction", fraction))
    block = validate.positive_int("block", block)
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0:
        raise ValueError(f"pairs must be a non-empty [m, 2] array, got shape {pairs.shape}")
    sep = "\n\n" if "\n\n" in text else "\n"
    parts = text.split(sep)
    rs = np.random.RandomState(seed)
    mean_line = np.mean([len(inline_addition_line(a, b)) for a, b in pairs[:1000]])
    n_blocks = int(round(fraction / (1 - fraction) * len(text) / (mean_line * block)))
    where = np.bincount(rs.randint(0, max(len(parts) - 1, 1), size=n_blocks), minlength=len(parts))
    drawn = iter(pairs[rs.randint(0, len(pairs), size=n_blocks * block)])
    out = []
    for part, k in zip(parts, where, strict=True):
        lines = "".join(inline_addition_line(*next(drawn)) for _ in range(k * block))
        out.append(part + (sep + lines.rstrip("\n") if k else ""))
    return sep.join(out)


@dataclasses.dataclass(frozen=True)
class AdditionMix:
    """corpus: the mixed train / val splits (tokenized; name records the mixing settings);
    heldout: [n, 2] int pairs absent from both splits; plain_val_text: the val split before mixing."""

    corpus: Corpus
    heldout: np.ndarray
    plain_val_text: str


def addition_corpus(source: str | os.PathLike[str] = "tinyshakespeare", tokenizer: Any = None, *,
                    val_fraction: float = 0.1, fraction: float = 0.2, block: int = 4, max_operand: int = 100,
                    n_heldout: int = 200, seed: int = 0) -> AdditionMix:
    """A text corpus (as :func:`basinlab.training._corpus.load_corpus` reads it) split train / val, with
    additions mixed into each split (:func:`mix_addition`, seeds ``seed`` and ``seed + 1``) from the
    training pairs of :func:`addition_pairs`."""
    validate.open_unit("val_fraction", val_fraction)
    text = load_text(source)
    cut = int(len(text) * (1 - val_fraction))
    train_pairs, heldout = addition_pairs(max_operand, n_heldout, seed)
    tokenizer = byte_tokenizer() if tokenizer is None else tokenizer
    enc = lambda s: np.asarray(tokenizer(s, add_special_tokens=False, verbose=False)["input_ids"],  # noqa: E731
                               np.int32)
    train_text = mix_addition(text[:cut], train_pairs, fraction, block, seed)
    val_text = mix_addition(text[cut:], train_pairs, fraction, block, seed + 1)
    name = (f"{os.path.basename(str(source))}+addition(fraction={fraction:g},block={block},"
            f"max_operand={max_operand},n_heldout={n_heldout},seed={seed})")
    return AdditionMix(Corpus(name, enc(train_text), enc(val_text), val_text), heldout, text[cut:])
