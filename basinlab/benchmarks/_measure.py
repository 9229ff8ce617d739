"""A benchmark's score at one set of weights (by default the model's own, unperturbed), with an interval.

`measure` is what `basinlab scores` prints: the mean item score, a Clopper-Pearson interval when
items are 0/1, and whether that interval reaches the chance level (a landscape of a capability at
chance would show nothing). Not to be confused with `basinlab.lmeval._backend.evaluate`, which
runs lm-eval tasks on a perturbed model.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from basinlab.models._model import Model
from basinlab.scoring._base import Benchmark, Judged, Scores, hit_budget_reason
from basinlab.stats import clopper_pearson

__all__ = ["Measurement", "measure"]


@dataclasses.dataclass(frozen=True)
class Measurement:
    """score: mean over n items; lower/upper: Clopper-Pearson interval when items are 0/1 (else None);
    near_chance: the interval contains the chance level (a landscape of it would show nothing);
    nll: mean per-item NLL (nats) where the benchmark has one; item_scores: [n] (flipped to
    higher-is-better); reasons/examples: the judge's, for judged benchmarks; budget_hits: items
    whose generation hit the token budget (generating oracles; None otherwise)."""

    benchmark: str
    score: float
    n: int
    lower: float | None
    upper: float | None
    chance: float | None
    near_chance: bool | None
    nll: float | None
    item_scores: np.ndarray
    reasons: list[str] | None
    examples: list[str] | None
    budget_hits: int | None = None


def measure(model: Model, benchmark: Benchmark, params: dict[str, Any] | None = None,
            confidence: float = 0.95) -> Measurement:
    """Run `benchmark` once at `params` (default: the model's), judge included."""
    params = model.params if params is None else params
    fn = jax.jit(benchmark.score_fn, static_argnums=(0, 3))
    out = jax.tree.map(np.asarray, Scores.of(fn(model.spec, params, benchmark.data, model.compute_dtype)))
    judged = Judged() if benchmark.judge is None else Judged.of(benchmark.judge(out))
    scores = np.asarray(out.score if judged.score is None else judged.score).astype(np.float64)
    if not benchmark.higher_is_better:
        scores = 1.0 - scores
    binary = bool(np.all((scores == 0) | (scores == 1)))
    lo = hi = None
    if binary:
        lo, hi = (float(x) for x in clopper_pearson(int(scores.sum()), scores.size, confidence))
    near = None
    if benchmark.chance is not None and lo is not None and hi is not None:  # lo and hi are set together
        near = bool(lo <= benchmark.chance <= hi) or float(scores.mean()) <= benchmark.chance
    return Measurement(
        benchmark=benchmark.name, score=float(scores.mean()), n=int(scores.size), lower=lo, upper=hi,
        chance=benchmark.chance, near_chance=near,
        nll=None if out.nll is None else float(out.nll.mean()), item_scores=scores,
        reasons=None if judged.reason is None else list(judged.reason),
        examples=None if judged.example is None else list(judged.example),
        budget_hits=None if out.budget_hit is None else (
            int(np.sum(out.budget_hit)) if judged.reason is None else sum(map(hit_budget_reason, judged.reason))),
    )
