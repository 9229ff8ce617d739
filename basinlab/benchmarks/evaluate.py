"""Scores of a model on a benchmark at its own weights (no perturbation), with an interval."""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax
import numpy as np

from basinlab.stats import clopper_pearson
from basinlab.benchmarks.base import Benchmark


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """score: mean over n items; lower/upper: Clopper-Pearson interval when items are 0/1 (else None);
    near_chance: the interval contains the chance level (a landscape of it would show nothing)."""

    benchmark: str
    score: float
    n: int
    lower: Optional[float]
    upper: Optional[float]
    chance: Optional[float]
    near_chance: Optional[bool]
    nll: Optional[float]
    item_scores: np.ndarray
    reasons: Optional[list]
    examples: Optional[list]


def evaluate(model, benchmark: Benchmark, params=None, confidence: float = 0.95) -> Evaluation:
    """Run `benchmark` once at `params` (default: the model's), judge included."""
    params = model.params if params is None else params
    fn = jax.jit(benchmark.score_fn, static_argnums=(0, 3))
    out = {k: np.asarray(v) for k, v in fn(model.spec, params, benchmark.data, model.compute_dtype).items()}
    if benchmark.judge is not None:
        out.update({k: np.asarray(v) for k, v in benchmark.judge(out).items()})
    scores = out["score"].astype(np.float64)
    if not benchmark.higher_is_better:
        scores = 1.0 - scores
    binary = bool(np.all((scores == 0) | (scores == 1)))
    lo = hi = None
    if binary:
        lo, hi = (float(x) for x in clopper_pearson(int(scores.sum()), scores.size, confidence))
    near = None
    if benchmark.chance is not None and lo is not None:
        near = bool(lo <= benchmark.chance <= hi) or float(scores.mean()) <= benchmark.chance
    return Evaluation(
        benchmark=benchmark.name, score=float(scores.mean()), n=int(scores.size), lower=lo, upper=hi,
        chance=benchmark.chance, near_chance=near,
        nll=float(out["nll"].mean()) if "nll" in out else None, item_scores=scores,
        reasons=list(out["reason"]) if "reason" in out else None,
        examples=list(out["example"]) if "example" in out else None,
    )
