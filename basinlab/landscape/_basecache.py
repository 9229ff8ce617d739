"""theta0's scores kept across many small sweeps of one model and benchmark set (:class:`BaseScores`).

``basin_edges`` runs one small sweep per round and direction; each would evaluate theta0 again.
A :class:`BaseScores` handed to every call (``landscape(..., base_cache=cache)``) keeps the first
call's theta0 scores under a :class:`BenchmarkSetKey` (the model's name, size and weights'
fingerprint, the benchmarks and their data's fingerprints, the compute dtype): every later call
with the same key reads them instead of evaluating theta0; a call with another key evaluates its
own and replaces them (one entry: a cache follows one model and benchmark set at a time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from basinlab.landscape._results import BlockScores

__all__ = ["BaseScores", "BenchmarkSetKey"]


@dataclasses.dataclass(frozen=True)
class BenchmarkSetKey:
    """What theta0's scores depend on: the fields of a sweep that no direction or grid enters."""

    model: str
    d: int
    benchmarks: tuple[str, ...]  # each benchmark's attrs as sorted JSON (Sweep.benchmarks)
    compute_dtype: str
    params: str                  # fingerprint of theta0
    data: tuple[str, ...]        # fingerprint of each benchmark's data


class BaseScores:
    """A one-entry cache of theta0's scores ({benchmark name: BlockScores over one point})."""

    def __init__(self) -> None:
        self._key: BenchmarkSetKey | None = None
        self._scores: Mapping[str, BlockScores] | None = None

    def get(self, key: BenchmarkSetKey) -> Mapping[str, BlockScores] | None:
        """The scores kept under `key`, or None (nothing kept, or kept for another key)."""
        return self._scores if key == self._key else None

    def put(self, key: BenchmarkSetKey, scores: Mapping[str, BlockScores]) -> None:
        """Keep `scores` under `key`, replacing what was kept."""
        self._key, self._scores = key, scores

    @property
    def key(self) -> BenchmarkSetKey | None:
        """The key of the scores kept (None: empty)."""
        return self._key

    def __repr__(self) -> str:
        return "BaseScores(empty)" if self._key is None else f"BaseScores({self._key.model!r}, " \
            f"{len(self._key.benchmarks)} benchmarks)"
