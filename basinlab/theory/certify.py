"""Certificates from basin size: how much can fine-tuning cost a capability? (PAPER.md section 4)

The smoothed score E_eps S(theta + eps), eps ~ N(0, sigma^2 I), is estimated with n noise draws
through the landscape engine: draw i is the unnormalized Gaussian direction of seed i at
alpha = sigma. Theorem 4.3 then bounds the smoothed score of any theta_sft within distance r of
theta0 by Phi(Phi^-1(p_A) - r / sigma), with p_A the lower confidence bound (as in randomized
smoothing, so the certificate holds with the stated confidence).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from basinlab import validate
from basinlab.benchmarks.base import Benchmark
from basinlab.landscape.directions import check_compatible
from basinlab.landscape.engine import landscape
from basinlab.landscape.treemath import distance
from basinlab.models.model import Model
from basinlab.theory.bounds import strong_bound, weak_bound
from basinlab.theory.smoothing import SmoothedScore, smoothed_interval

__all__ = ["Certificate", "certify", "smoothed_score"]


def smoothed_score(
    model: Model, benchmark: Benchmark, sigma: float, n: int, confidence: float = 0.95,
    params: dict | None = None, store: os.PathLike | None = None, progress: bool = False,
) -> SmoothedScore:
    """E_eps S(params + eps) from n noise draws (the landscape engine at alpha = sigma), with a
    Clopper-Pearson (0/1 scores) or Hoeffding (fractional scores) interval over draws."""
    sigma = float(validate.positive("sigma", sigma))
    n = validate.positive_int("n", n)
    validate.confidence("confidence", confidence)
    target = model if params is None else model.with_params(params)
    ds = landscape(target, benchmark, directions=n, alphas=[sigma], store=store, progress=progress)
    scores = ds["score"].sel(benchmark=benchmark.name).values[:, 0]
    if not benchmark.higher_is_better:
        scores = 1.0 - scores  # certify the "good" direction (e.g. safety = 1 - harmful rate)
    return smoothed_interval(np.nan_to_num(scores, nan=0.0), confidence)


@dataclasses.dataclass(frozen=True)
class Certificate:
    """Theorem 4.3 for one benchmark: `bound` is a lower bound on E S(theta_sft + eps) that holds
    with probability >= confidence over the noise draws used for p_A."""

    benchmark: str
    sigma: float
    r: float
    p_a: SmoothedScore
    bound: float
    weak_bound: float
    measured: SmoothedScore | None

    @property
    def consistent(self) -> bool | None:
        """False if the measured smoothed score of theta_sft is surely below the bound (its upper
        confidence limit under it): that would contradict the theorem or its assumptions."""
        return None if self.measured is None else bool(self.measured.upper >= self.bound)

    def __str__(self) -> str:
        lines = [
            f"certificate for {self.benchmark!r} at sigma = {self.sigma:g}, r = ||theta_sft - theta0|| = {self.r:.4g}"
            f" (r / sigma = {self.r / self.sigma:.3g})",
            f"  p_A = E S(theta0 + eps): {self.p_a.mean:.4f}, {self.p_a.confidence:.0%} interval "
            f"[{self.p_a.lower:.4f}, {self.p_a.upper:.4f}] from n = {self.p_a.n} draws",
            f"  certified: E S(theta_sft + eps) >= {self.bound:.4f} (Thm 4.3 at the lower p_A; "
            f"Thm 4.2 gives {self.weak_bound:.4f})",
        ]
        if self.measured is not None:
            m = self.measured
            lines.append(f"  measured:  E S(theta_sft + eps) = {m.mean:.4f}, interval [{m.lower:.4f}, {m.upper:.4f}]")
        return "\n".join(lines)


def certify(
    model: Model, theta_sft: dict, benchmark: Benchmark, sigma: float, n: int,
    confidence: float = 0.99, measure: bool = True, store: os.PathLike | None = None,
    progress: bool = False,
) -> Certificate:
    """Certified lower bound on the smoothed score of the fine-tuned params `theta_sft` from the
    basin of `model` (theta0): p_A's lower confidence bound and r = ||theta_sft - theta0||_2.
    measure=True also estimates theta_sft's own smoothed score (same noise draws) to show beside it."""
    check_compatible(model.params, theta_sft)
    sigma = float(validate.positive("sigma", sigma))
    r = float(distance(model.params, theta_sft))
    sub = (lambda name: None) if store is None else (lambda name: os.path.join(os.fspath(store), name))
    p_a = smoothed_score(model, benchmark, sigma, n, confidence, store=sub("theta0"), progress=progress)
    measured = (smoothed_score(model, benchmark, sigma, n, confidence, params=theta_sft, store=sub("theta_sft"),
                               progress=progress) if measure else None)
    return Certificate(
        benchmark=benchmark.name, sigma=sigma, r=r, p_a=p_a,
        bound=float(strong_bound(p_a.lower, r, sigma)), weak_bound=float(weak_bound(p_a.lower, r, sigma)),
        measured=measured,
    )
