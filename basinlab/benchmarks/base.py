"""The Benchmark interface the landscape engine evaluates at every perturbed point.

A Benchmark is items (a pytree of arrays with a leading item axis) plus a pure JAX function that
scores them under given params, returning per-item arrays: "score" in [0, 1] (0/1 for oracles) and,
where meaningful, "nll". Judges that must run Python (code execution, regex extraction on generated
text) go in `judge`, which the engine calls on the host after each compiled chunk.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional


@dataclasses.dataclass(frozen=True, eq=False)
class Benchmark:
    """name: short id ("text-nll", "gsm8k", ...); data: pytree, leaves [n_items, ...];
    score_fn(spec, params, data, compute_dtype) -> {"score": [n_items], "nll": [n_items], ...};
    judge(outputs: dict of numpy) -> {"score": [n_items] float, "reason": list[str]} (optional)."""

    name: str
    data: Any
    score_fn: Callable
    n_items: int
    metric: str
    units: str = "fraction"
    chance: Optional[float] = None
    higher_is_better: bool = True
    synthetic: bool = False
    judge: Optional[Callable] = None
    description: str = ""

    def attrs(self) -> dict:
        """Plain-JSON description for Dataset provenance."""
        return {
            "name": self.name, "metric": self.metric, "units": self.units, "n_items": self.n_items,
            "chance": self.chance, "higher_is_better": self.higher_is_better,
            "synthetic": self.synthetic, "description": self.description,
        }
