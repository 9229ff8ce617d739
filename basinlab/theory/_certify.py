"""Certificates from basin size: how much can fine-tuning cost a capability? (PAPER.md section 4)

The smoothed score E_eps S(theta + eps), eps ~ N(0, sigma^2 I), is estimated with n noise draws
through the landscape engine: draw i is the unnormalized Gaussian direction of seed i at
alpha = sigma. Theorem 4.3 then bounds the smoothed score of any theta_sft within distance r of
theta0 by Phi(Phi^-1(p_A) - r / sigma), with p_A the lower confidence bound (as in randomized
smoothing, so the certificate holds with the stated confidence).

The bound is only useful while r / sigma is small: Phi^-1(p_A) is a few units at most (2.3 at
p_A = 0.99), so at r / sigma of ten or more the certified value is 0 to many digits. A certificate
says so (``vacuous``) and gives the largest r the same p_A does certify (``max_radius``).
:func:`certificates` certifies several fine-tuned models (e.g. the three runs of
:mod:`basinlab.training._sft`) against one p_A per benchmark, as a Dataset.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from basinlab import _validate as validate
from basinlab.directions._recipes import check_compatible
from basinlab.directions._treemath import distance
from basinlab.landscape._engine import landscape
from basinlab.landscape._options import SweepOptions, as_options
from basinlab.landscape._results import provenance
from basinlab.models._model import Model
from basinlab.scoring._base import Benchmark
from basinlab.theory._bounds import certified_radius, strong_bound, weak_bound
from basinlab.theory._smoothing import SmoothedScore, smoothed_interval

__all__ = ["VACUOUS", "Certificate", "certificates", "certify", "smoothed_score"]

VACUOUS = 1e-3  # a certified lower bound below this says nothing a score >= 0 does not
# SweepOptions fields the certificates set themselves: Theorem 4.3 needs N(0, sigma^2 I) over every parameter
_RESERVED = ("store", "normalization", "include", "exclude")


def smoothed_score(
    model: Model, benchmark: Benchmark, sigma: float, n: int, confidence: float = 0.95,
    params: dict[str, Any] | None = None, store: os.PathLike[str] | str | None = None, progress: bool = False,
    options: SweepOptions | None = None,
) -> SmoothedScore:
    """E_eps S(params + eps) from n noise draws (the landscape engine at alpha = sigma), with a
    Clopper-Pearson (0/1 scores) or Hoeffding (fractional scores) interval over draws.
    options: a :class:`basinlab.landscape.SweepOptions` for the engine (mesh, chunk_size, ...); the
    draws are isotropic Gaussian noise, so its normalization/include/exclude, like its store, must be
    left alone (ValueError), and its progress is replaced by this function's."""
    options = as_options(options, "smoothed_score").reserve("smoothed_score", _RESERVED)
    sigma = float(validate.positive("sigma", sigma))
    n = validate.positive_int("n", n)
    validate.confidence("confidence", confidence)
    target = model if params is None else model.with_params(params)
    ds = landscape(target, benchmark, directions=n, alphas=[sigma],
                   options=options.replace(store=store, progress=progress))
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
    def r_over_sigma(self) -> float:
        """r / sigma: the step in units of the basin size (the bound is Phi(Phi^-1(p_A) - r / sigma))."""
        return self.r / self.sigma

    @property
    def vacuous(self) -> bool:
        """True when the certified bound is below ``VACUOUS`` (1e-3): it certifies nothing."""
        return bool(self.bound < VACUOUS)

    def max_radius(self, q: float | None = None) -> float:
        """The largest r for which this p_A (its lower confidence bound) certifies E S >= q
        (Thm 4.3, :func:`basinlab.theory.certified_radius`); q defaults to half of that lower
        bound ("keeps at least half of the capability"). 0 when p_A's lower bound is 0."""
        level = 0.5 * self.p_a.lower if q is None else q
        if not level > 0:
            return 0.0
        return float(certified_radius(self.p_a.lower, self.sigma, level))

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
            f"  certified: E S(theta_sft + eps) >= {self.bound:.4g} (Thm 4.3 at the lower p_A; "
            f"Thm 4.2 gives {self.weak_bound:.4g})",
        ]
        if self.vacuous:
            lines.append(f"  VACUOUS: at r / sigma = {self.r_over_sigma:.3g} the bound is {self.bound:.2g}, "
                         f"it certifies nothing")
        q = 0.5 * self.p_a.lower
        lines.append(f"  the largest r this p_A certifies to keep E S >= {q:.4f} (half its lower bound): "
                     f"{self.max_radius():.4g} (r / sigma = {self.max_radius() / self.sigma:.3g})")
        if self.measured is not None:
            m = self.measured
            lines.append(f"  measured:  E S(theta_sft + eps) = {m.mean:.4f}, interval [{m.lower:.4f}, {m.upper:.4f}]")
        return "\n".join(lines)


def certify(
    model: Model, theta_sft: dict[str, Any], benchmark: Benchmark, sigma: float, n: int,
    confidence: float = 0.99, measure: bool = True, store: os.PathLike[str] | str | None = None,
    progress: bool = False, options: SweepOptions | None = None,
) -> Certificate:
    """Certified lower bound on the smoothed score of the fine-tuned params `theta_sft` from the
    basin of `model` (theta0): p_A's lower confidence bound and r = ||theta_sft - theta0||_2.
    measure=True also estimates theta_sft's own smoothed score (same noise draws) to show beside it.
    options: the engine's :class:`basinlab.landscape.SweepOptions`, as for :func:`smoothed_score`."""
    check_compatible(model.params, theta_sft)
    sigma = float(validate.positive("sigma", sigma))
    r = float(distance(model.params, theta_sft))
    sub = (lambda name: None) if store is None else (lambda name: os.path.join(os.fspath(store), name))
    p_a = smoothed_score(model, benchmark, sigma, n, confidence, store=sub("theta0"), progress=progress,
                         options=options)
    measured = (smoothed_score(model, benchmark, sigma, n, confidence, params=theta_sft, store=sub("theta_sft"),
                               progress=progress, options=options) if measure else None)
    return Certificate(
        benchmark=benchmark.name, sigma=sigma, r=r, p_a=p_a,
        bound=float(strong_bound(p_a.lower, r, sigma)), weak_bound=float(weak_bound(p_a.lower, r, sigma)),
        measured=measured,
    )


def certificates(
    model: Model, runs: Mapping[str, dict[str, Any]], benchmarks: Benchmark | Sequence[Benchmark], sigma: float, n: int,
    confidence: float = 0.99, measure: bool = True, store: os.PathLike[str] | str | None = None, progress: bool = False,
    options: SweepOptions | None = None,
) -> xr.Dataset:
    """:func:`certify` of several fine-tuned models ({run name: theta_sft params}) on each benchmark,
    with one p_A per benchmark (the same noise draws around theta0 serve every run).

    Returns a Dataset, dims (run, benchmark): r [run], r_over_sigma [run], p_a_mean/p_a_lower
    [benchmark], bound, weak_bound, vacuous (bound < VACUOUS), max_radius (the largest r that p_A's
    lower bound certifies to keep half of itself; ``Certificate.max_radius``), measured_mean/lower/upper
    (theta_sft's own smoothed score; NaN with measure=False); attrs sigma, n, confidence.
    options: the engine's :class:`basinlab.landscape.SweepOptions`, as for :func:`smoothed_score`.
    """
    if not runs:
        raise ValueError("runs is empty: give {name: theta_sft params}")
    benchmarks = [benchmarks] if isinstance(benchmarks, Benchmark) else list(benchmarks)
    sigma = float(validate.positive("sigma", sigma))
    n = validate.positive_int("n", n)
    validate.confidence("confidence", confidence)
    sub = (lambda *names: None) if store is None else (lambda *names: os.path.join(os.fspath(store), *names))
    names = list(runs)
    fields = ("bound", "weak_bound", "vacuous", "max_radius", "measured_mean", "measured_lower", "measured_upper")
    table = {f: np.full((len(names), len(benchmarks)), np.nan) for f in fields}
    r = np.empty(len(names))
    p_mean, p_lower = np.empty(len(benchmarks)), np.empty(len(benchmarks))
    for j, bench in enumerate(benchmarks):
        p_a = smoothed_score(model, bench, sigma, n, confidence, store=sub(bench.name, "theta0"), progress=progress,
                             options=options)
        p_mean[j], p_lower[j] = p_a.mean, p_a.lower
        for i, name in enumerate(names):
            check_compatible(model.params, runs[name])
            r[i] = float(distance(model.params, runs[name]))
            measured = (smoothed_score(model, bench, sigma, n, confidence, params=runs[name],
                                       store=sub(bench.name, name), progress=progress, options=options)
                        if measure else None)
            cert = Certificate(benchmark=bench.name, sigma=sigma, r=r[i], p_a=p_a,
                               bound=float(strong_bound(p_a.lower, r[i], sigma)),
                               weak_bound=float(weak_bound(p_a.lower, r[i], sigma)), measured=measured)
            row = {"bound": cert.bound, "weak_bound": cert.weak_bound, "vacuous": cert.vacuous,
                   "max_radius": cert.max_radius()}
            if measured is not None:
                row |= {"measured_mean": measured.mean, "measured_lower": measured.lower,
                        "measured_upper": measured.upper}
            for f, v in row.items():
                table[f][i, j] = v
    dims = ("run", "benchmark")
    data = {f: (dims, table[f].astype(bool) if f == "vacuous" else table[f]) for f in fields}
    return xr.Dataset(
        {"r": ("run", r, {"long_name": "||theta_sft - theta0||_2"}),
         "r_over_sigma": ("run", r / sigma), "p_a_mean": ("benchmark", p_mean),
         "p_a_lower": ("benchmark", p_lower, {"long_name": f"lower {confidence:.0%} bound of p_A"}), **data},
        coords={"run": names, "benchmark": [b.name for b in benchmarks]},
        attrs={**provenance("certificates", {"runs": names, "benchmarks": [b.attrs() for b in benchmarks],
                                             "sigma": sigma, "n": n, "confidence": confidence, "measure": measure},
                            model=model,
                            seeds=list(range(n))),  # draw i: the Gaussian direction of seed i (smoothed_score)
               "sigma": sigma, "n": n, "confidence": confidence, "vacuous_below": VACUOUS},
    )
