"""Benchmarks by name, for the CLI and notebooks: `build("pydoc", model)`."""

from __future__ import annotations

from typing import Callable

from .base import Benchmark
from .paths import data_file
from .text import text_benchmark


def _pydoc_text() -> str:
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


def _pydoc(model, seq_len=128, n_seqs=4) -> Benchmark:
    return text_benchmark(model.tokenizer, _pydoc_text(), seq_len=seq_len, n_seqs=n_seqs, name="pydoc",
                          description="English prose: CPython's pydoc topic help (ships with Python)")


def _shakespeare(model, seq_len=128, n_seqs=4) -> Benchmark:
    text = data_file("tinyshakespeare/input.txt").read_text()
    return text_benchmark(model.tokenizer, text, seq_len=seq_len, n_seqs=n_seqs, name="shakespeare",
                          description="tiny-shakespeare (from $BASINLAB_DATA)")


BUILDERS: dict[str, Callable[..., Benchmark]] = {"pydoc": _pydoc, "shakespeare": _shakespeare}


def available() -> list[str]:
    return sorted(BUILDERS)


def build(name: str, model, **options) -> Benchmark:
    """The benchmark `name` for `model` (its tokenizer); ValueError listing valid names."""
    if name not in BUILDERS:
        raise ValueError(f"unknown benchmark {name!r}; available: {available()}")
    return BUILDERS[name](model, **options)
