"""Certificates from basin size: how much can fine-tuning cost a capability? (PAPER.md section 4)

The smoothed score E_eps S(theta + eps), eps ~ N(0, sigma^2 I), is estimated with n noise draws
through the landscape engine: draw i is the unnormalized Gaussian direction of seed first_seed + i
at alpha = sigma. Theorem 4.3 then bounds the smoothed score of any theta_sft within distance r of
theta0 by Phi(Phi^-1(p_A) - r / sigma), with p_A a one-sided lower confidence bound at `confidence`
(as in randomized smoothing, so the certificate holds with the stated confidence): exact
Clopper-Pearson when every draw scores 0 or 1, a betting bound (:func:`basinlab.stats.
mean_lower_bound`) when the draws are item means in [0, 1]; ``SmoothedScore.method`` names it.

sigma is a positive number, or the basin size measured by :func:`basinlab.basin_size` /
``ds.basin.size`` / :func:`basinlab.basin_size_on_grid` (a Dataset over benchmark): each benchmark
is then certified at its own point estimate sigma* (see :func:`certificates` for why, and for
censored and unresolved sizes). The theorem holds at any sigma fixed before the noise for p_A is
drawn, so those draws use seeds after the directions the size was measured on.

The bound is only useful while r / sigma is small: Phi^-1(p_A) is a few units at most (2.3 at
p_A = 0.99), so at r / sigma of ten or more the certified value is 0 to many digits. A certificate
says so (``vacuous``) and gives the largest r the same p_A does certify (``max_radius``).
:func:`certificates` certifies several fine-tuned models (e.g. the three runs of
:mod:`basinlab.training._sft`) against one p_A per benchmark, as a Dataset.
"""

from __future__ import annotations

import dataclasses
import json
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
from basinlab.stats import MEAN_BOUNDS
from basinlab.theory._bounds import certified_radius, strong_bound, weak_bound
from basinlab.theory._smoothing import SmoothedScore, smoothed_interval

__all__ = ["VACUOUS", "Certificate", "certificates", "certify", "smoothed_score"]

VACUOUS = 1e-3  # a certified lower bound below this says nothing a score >= 0 does not
# SweepOptions fields the certificates set themselves: Theorem 4.3 needs N(0, sigma^2 I) over every parameter
_RESERVED = ("store", "normalization", "include", "exclude")
# the variables a basin-size Dataset (basin_size, ds.basin.size, basin_size_on_grid) has over benchmark
_SIZE_VARS = ("sigma", "sigma_lo", "sigma_hi", "censored")


def smoothed_score(
    model: Model, benchmark: Benchmark, sigma: float, n: int, confidence: float = 0.95,
    params: dict[str, Any] | None = None, store: os.PathLike[str] | str | None = None, progress: bool = False,
    options: SweepOptions | None = None, *, method: str | None = None, first_seed: int = 0,
) -> SmoothedScore:
    """E_eps S(params + eps) from n noise draws (the landscape engine at alpha = sigma) with one-sided
    confidence bounds at `confidence` (:func:`basinlab.theory.smoothed_interval` with sided="one"):
    ``lower`` is a one-sided lower confidence bound, ``method`` names it.

    method: a key of :data:`basinlab.stats.MEAN_BOUNDS`; None: "clopper-pearson" (exact) when every
      draw scores 0 or 1, else "betting" (a draw's score is an item mean in [0, 1], not a Bernoulli
      draw: Clopper-Pearson would not hold for it).
    first_seed: draw i is the Gaussian direction of seed first_seed + i (default 0..n-1).
    options: a :class:`basinlab.landscape.SweepOptions` for the engine (mesh, chunk_size, ...); the
    draws are isotropic Gaussian noise, so its normalization/include/exclude, like its store, must be
    left alone (ValueError), and its progress is replaced by this function's."""
    options = as_options(options, "smoothed_score").reserve("smoothed_score", _RESERVED)
    sigma = float(validate.positive("sigma", sigma))
    n = validate.positive_int("n", n)
    validate.confidence("confidence", confidence)
    if method is not None:
        validate.choice("method", method, tuple(MEAN_BOUNDS))
    first_seed = validate.nonnegative_int("first_seed", first_seed)
    target = model if params is None else model.with_params(params)
    directions: Any = n if first_seed == 0 else [options.recipe(first_seed + i) for i in range(n)]
    ds = landscape(target, benchmark, directions=directions, alphas=[sigma],
                   options=options.replace(store=store, progress=progress))
    scores = ds["score"].sel(benchmark=benchmark.name).values[:, 0]
    if not benchmark.higher_is_better:
        scores = 1.0 - scores  # certify the "good" direction (e.g. safety = 1 - harmful rate)
    return smoothed_interval(np.nan_to_num(scores, nan=0.0), confidence, sided="one", method=method)


@dataclasses.dataclass(frozen=True)
class Certificate:
    """Theorem 4.3 for one benchmark: `bound` is a lower bound on E S(theta_sft + eps) that holds
    with probability >= confidence over the noise draws used for p_A (p_a.lower: one-sided, its
    method in p_a.method). sigma_source: where sigma came from ("given", or the basin size it was
    measured as, with its interval)."""

    benchmark: str
    sigma: float
    r: float
    p_a: SmoothedScore
    bound: float
    weak_bound: float
    measured: SmoothedScore | None
    sigma_source: str = "given"

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
        p = self.p_a
        lines = [
            f"certificate for {self.benchmark!r} at sigma = {self.sigma:g} ({self.sigma_source}), "
            f"r = ||theta_sft - theta0|| = {self.r:.4g} (r / sigma = {self.r / self.sigma:.3g})",
            f"  p_A = E S(theta0 + eps): {p.mean:.4f}, lower bound {p.lower:.4f} at {p.confidence:.0%} "
            f"({p.description}) from n = {p.n} draws",
            f"  certified: E S(theta_sft + eps) >= {self.bound:.4g} (Thm 4.3 at the lower p_A; "
            f"Thm 4.2 gives {self.weak_bound:.4g})",
        ]
        if self.vacuous:
            lines.append(f"  VACUOUS: at r / sigma = {self.r_over_sigma:.3g} the bound is {self.bound:.2g}, "
                         f"it certifies nothing")
        q = 0.5 * p.lower
        lines.append(f"  the largest r this p_A certifies to keep E S >= {q:.4f} (half its lower bound): "
                     f"{self.max_radius():.4g} (r / sigma = {self.max_radius() / self.sigma:.3g})")
        if self.measured is not None:
            m = self.measured
            lines.append(f"  measured:  E S(theta_sft + eps) = {m.mean:.4f}, one-sided {m.confidence:.0%} bounds "
                         f"[{m.lower:.4f}, {m.upper:.4f}]")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class _Sigmas:
    """sigma per benchmark and where it came from (see :func:`_resolve_sigma`)."""

    value: np.ndarray  # [B]
    lo: np.ndarray  # [B], NaN for a given sigma
    hi: np.ndarray
    censored: np.ndarray  # [B] bool
    source: list[str]  # [B] text for Certificate.sigma_source
    first_seed: int
    attrs: dict[str, Any]  # for the certificates Dataset
    spec: Any  # for its provenance


def _size_seeds(size: xr.Dataset) -> list[int]:
    try:
        seeds = json.loads(str(size.attrs.get("seeds", "[]")))
    except json.JSONDecodeError:
        return []
    return [int(x) for x in seeds if isinstance(x, (int, np.integer))] if isinstance(seeds, list) else []


def _resolve_sigma(sigma: Any, names: Sequence[str], first_seed: int | None) -> _Sigmas:
    """A positive float for every benchmark, or each benchmark's sigma* of a basin-size Dataset."""
    b = len(names)
    if not isinstance(sigma, xr.Dataset):
        if not _is_numeric(sigma) or np.ndim(sigma) != 0:
            raise ValueError(f"sigma must be a positive float or a basin-size Dataset (from bl.basin_size, "
                             f"ds.basin.size or bl.basin_size_on_grid), got {type(sigma).__name__} {sigma!r:.80}")
        value = float(validate.positive("sigma", sigma))
        seed = 0 if first_seed is None else validate.nonnegative_int("first_seed", first_seed)
        return _Sigmas(np.full(b, value), np.full(b, np.nan), np.full(b, np.nan), np.zeros(b, bool),
                       ["given"] * b, seed, {"sigma": value, "sigma_source": "given"}, value)
    missing_vars = [v for v in _SIZE_VARS if v not in sigma.data_vars or sigma[v].dims != ("benchmark",)]
    if missing_vars:
        raise ValueError(f"sigma as a Dataset must be a basin size (bl.basin_size, ds.basin.size or "
                         f"bl.basin_size_on_grid) with {', '.join(_SIZE_VARS)} over benchmark; this one lacks "
                         f"{missing_vars} (variables: {sorted(map(str, sigma.data_vars))}, dims {dict(sigma.sizes)})")
    available = [str(x) for x in sigma["benchmark"].values]
    absent = [name for name in names if name not in available]
    if absent:
        raise ValueError(f"benchmark {absent[0]!r} is not in the basin-size Dataset given as sigma; it has "
                         f"{available}")
    sel = sigma.sel(benchmark=list(names))
    value = np.asarray(sel["sigma"].values, np.float64)
    for name, v in zip(names, value, strict=True):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"the basin size of benchmark {name!r} is sigma = {float(v)!r}; a certificate needs a "
                             f"positive finite sigma")
    if "unresolved" in sel:
        for name, u in zip(names, np.asarray(sel["unresolved"].values, bool), strict=True):
            if u:
                raise ValueError(f"the basin size of benchmark {name!r} is unresolved (the search's budget ran out: "
                                 f"{sigma.attrs.get('stopped', '')}); give basin_size a larger budget, or pass a "
                                 f"float sigma you chose yourself")
    size_seeds = _size_seeds(sigma)
    if first_seed is None:
        if not size_seeds:
            raise ValueError("the basin-size Dataset records no direction seeds (attrs 'seeds'), so the noise draws "
                             "for p_A cannot be chosen apart from them: pass first_seed= beyond those seeds")
        first_seed = max(size_seeds) + 1
    first_seed = validate.nonnegative_int("first_seed", first_seed)
    if size_seeds and first_seed <= max(size_seeds):
        raise ValueError(f"first_seed={first_seed} would reuse the basin size's direction seeds (up to "
                         f"{max(size_seeds)}): sigma was chosen on those draws, so p_A must be estimated on "
                         f"others; use first_seed >= {max(size_seeds) + 1} or None")
    lo, hi = np.asarray(sel["sigma_lo"].values, np.float64), np.asarray(sel["sigma_hi"].values, np.float64)
    censored = np.asarray(sel["censored"].values, bool)
    tol, conf, method = sigma.attrs.get("tol"), sigma.attrs.get("confidence"), sigma.attrs.get("method")
    conf_text = f"{float(conf):.0%}" if conf is not None else "?"
    source = [f"basin size sigma* at tol {tol}" + (" (censored: a lower bound)" if c else
                                                   f", {conf_text} interval [{lo_:.3g}, {hi_:.3g}]")
              for lo_, hi_, c in zip(lo, hi, censored, strict=True)]
    attrs = {"sigma_source": (f"basin size: each benchmark's point estimate sigma* (Def. 4.1, tol {tol}); its "
                              f"{conf_text} interval ({method}) in sigma_lo/sigma_hi"),
             "size_tol": tol if tol is not None else "", "size_confidence": conf if conf is not None else "",
             "size_method": method if method is not None else "", "size_created_at": sigma.attrs.get("created_at", "")}
    spec = {"basin_size": {"tol": tol, "confidence": conf, "method": method,
                           "sigma": dict(zip(names, value.tolist(), strict=True))}}
    return _Sigmas(value, lo, hi, censored, source, first_seed, attrs, spec)


def _is_numeric(x: Any) -> bool:
    """A real number (Python, numpy scalar or 0-d array; not a bool)."""
    return isinstance(x, (int, float, np.number, np.ndarray)) and not isinstance(x, (bool, np.bool_))


def certify(
    model: Model, theta_sft: dict[str, Any], benchmark: Benchmark, sigma: float | xr.Dataset, n: int,
    confidence: float = 0.99, measure: bool = True, store: os.PathLike[str] | str | None = None,
    progress: bool = False, options: SweepOptions | None = None, *, method: str | None = None,
    first_seed: int | None = None,
) -> Certificate:
    """Certified lower bound on the smoothed score of the fine-tuned params `theta_sft` from the
    basin of `model` (theta0): p_A's one-sided lower confidence bound and r = ||theta_sft - theta0||_2.

    sigma: a positive float, or a basin-size Dataset (bl.basin_size, ds.basin.size): this benchmark's
      sigma* is used, as in :func:`certificates`.
    measure=True also estimates theta_sft's own smoothed score (same noise draws) to show beside it.
    method, first_seed: p_A's bound and noise seeds, as in :func:`certificates`.
    options: the engine's :class:`basinlab.landscape.SweepOptions`, as for :func:`smoothed_score`."""
    check_compatible(model.params, theta_sft)
    sig = _resolve_sigma(sigma, [benchmark.name], first_seed)
    s = float(sig.value[0])
    r = float(distance(model.params, theta_sft))
    sub = (lambda name: None) if store is None else (lambda name: os.path.join(os.fspath(store), name))
    def score(params: dict[str, Any] | None, where: str) -> SmoothedScore:
        return smoothed_score(model, benchmark, s, n, confidence, params=params, store=sub(where), progress=progress,
                              options=options, method=method, first_seed=sig.first_seed)

    p_a = score(None, "theta0")
    measured = score(theta_sft, "theta_sft") if measure else None
    return Certificate(
        benchmark=benchmark.name, sigma=s, r=r, p_a=p_a,
        bound=float(strong_bound(p_a.lower, r, s)), weak_bound=float(weak_bound(p_a.lower, r, s)),
        measured=measured, sigma_source=sig.source[0],
    )


def certificates(
    model: Model, runs: Mapping[str, dict[str, Any]], benchmarks: Benchmark | Sequence[Benchmark],
    sigma: float | xr.Dataset, n: int, confidence: float = 0.99, measure: bool = True,
    store: os.PathLike[str] | str | None = None, progress: bool = False, options: SweepOptions | None = None, *,
    method: str | None = None, first_seed: int | None = None,
) -> xr.Dataset:
    """:func:`certify` of several fine-tuned models ({run name: theta_sft params}) on each benchmark,
    with one p_A per benchmark (the same noise draws around theta0 serve every run).

    sigma: a positive float (every benchmark), or the measured basin size: a Dataset from
      :func:`basinlab.basin_size`, ``ds.basin.size(tol)`` or :func:`basinlab.basin_size_on_grid`.
      Each benchmark is then certified at its point estimate sigma* (sigma_lo and sigma_hi are kept
      beside it). Why the point estimate and not sigma_lo: Theorem 4.3 holds at any sigma fixed
      before p_A's noise is drawn, so no end of the interval is "safer"; sigma* is the basin the
      certificate is about (where the mean score has dropped by tol). A smaller sigma gives a larger
      p_A but a larger r / sigma; the certificate is valid either way. A censored size (no crossing
      up to max_sigma: sigma is a lower bound of sigma*) is used as it is and flagged
      (sigma_censored); an unresolved one (the search's budget ran out) is a ValueError, as is a
      benchmark missing from it (naming the ones it has) or a sigma that is not positive.
    n: noise draws for each p_A; confidence: of p_A's one-sided lower bound (each certificate holds
      with this probability on its own; for all B benchmarks at once use 1 - (1 - confidence) / B).
    method: p_A's one-sided bound (a key of :data:`basinlab.stats.MEAN_BOUNDS`); None: exact
      Clopper-Pearson when every draw scores 0 or 1, else a betting bound (draws are item means).
    first_seed: p_A's draw i is the Gaussian direction of seed first_seed + i. None: 0 for a float
      sigma; for a basin-size Dataset, one past the largest direction seed it was measured on (its
      attrs 'seeds'), so that sigma was not chosen on the draws that estimate p_A (a first_seed that
      reuses them is a ValueError).

    Returns a Dataset, dims (run, benchmark): sigma, sigma_lo, sigma_hi (NaN for a float sigma),
    sigma_censored [benchmark], r [run], r_over_sigma [run, benchmark], p_a_mean, p_a_lower (one-sided
    lower bound), p_a_upper (one-sided upper bound), p_a_method (its method) [benchmark], bound,
    weak_bound, vacuous (bound < VACUOUS), max_radius (the largest r that p_A's lower bound certifies
    to keep half of itself; ``Certificate.max_radius``), measured_mean/lower/upper (theta_sft's own
    smoothed score; NaN with measure=False); attrs n, confidence, first_seed, sigma_source (where sigma
    came from), sigma (a float sigma only) or size_tol/size_confidence/size_method (a basin size).
    options: the engine's :class:`basinlab.landscape.SweepOptions`, as for :func:`smoothed_score`.
    """
    if not runs:
        raise ValueError("runs is empty: give {name: theta_sft params}")
    benchmarks = [benchmarks] if isinstance(benchmarks, Benchmark) else list(benchmarks)
    names = [b.name for b in benchmarks]
    sig = _resolve_sigma(sigma, names, first_seed)
    n = validate.positive_int("n", n)
    validate.confidence("confidence", confidence)
    if method is not None:
        validate.choice("method", method, tuple(MEAN_BOUNDS))
    sub = (lambda *names: None) if store is None else (lambda *names: os.path.join(os.fspath(store), *names))
    run_names = list(runs)
    fields = ("bound", "weak_bound", "vacuous", "max_radius", "measured_mean", "measured_lower", "measured_upper")
    table = {f: np.full((len(run_names), len(benchmarks)), np.nan) for f in fields}
    r = np.empty(len(run_names))
    for i, name in enumerate(run_names):
        check_compatible(model.params, runs[name])
        r[i] = float(distance(model.params, runs[name]))
    p_mean, p_lower, p_upper = (np.empty(len(benchmarks)) for _ in range(3))
    p_method = []
    def score(bench: Benchmark, s: float, params: dict[str, Any] | None, where: str) -> SmoothedScore:
        return smoothed_score(model, bench, s, n, confidence, params=params, store=sub(bench.name, where),
                              progress=progress, options=options, method=method, first_seed=sig.first_seed)

    for j, bench in enumerate(benchmarks):
        s = float(sig.value[j])
        p_a = score(bench, s, None, "theta0")
        p_mean[j], p_lower[j], p_upper[j] = p_a.mean, p_a.lower, p_a.upper
        p_method.append(p_a.method)
        for i, name in enumerate(run_names):
            measured = score(bench, s, runs[name], name) if measure else None
            cert = Certificate(benchmark=bench.name, sigma=s, r=r[i], p_a=p_a,
                               bound=float(strong_bound(p_a.lower, r[i], s)),
                               weak_bound=float(weak_bound(p_a.lower, r[i], s)), measured=measured,
                               sigma_source=sig.source[j])
            row = {"bound": cert.bound, "weak_bound": cert.weak_bound, "vacuous": cert.vacuous,
                   "max_radius": cert.max_radius()}
            if measured is not None:
                row |= {"measured_mean": measured.mean, "measured_lower": measured.lower,
                        "measured_upper": measured.upper}
            for f, v in row.items():
                table[f][i, j] = v
    dims = ("run", "benchmark")
    data = {f: (dims, table[f].astype(bool) if f == "vacuous" else table[f]) for f in fields}
    pct = f"{confidence:.0%}"
    seeds = list(range(sig.first_seed, sig.first_seed + n))  # draw i: the Gaussian direction of seed first_seed + i
    return xr.Dataset(
        {"sigma": ("benchmark", sig.value, {"long_name": "sigma of the certificate (noise std)",
                                            "source": sig.attrs["sigma_source"]}),
         "sigma_lo": ("benchmark", sig.lo, {"long_name": "lower end of the basin size's interval (NaN: given)"}),
         "sigma_hi": ("benchmark", sig.hi, {"long_name": "upper end of the basin size's interval (NaN: given)"}),
         "sigma_censored": ("benchmark", sig.censored, {"long_name": "the basin size was censored: sigma is a "
                                                                     "lower bound of sigma*"}),
         "r": ("run", r, {"long_name": "||theta_sft - theta0||_2"}),
         "r_over_sigma": (dims, r[:, None] / sig.value[None, :]), "p_a_mean": ("benchmark", p_mean),
         "p_a_lower": ("benchmark", p_lower, {"long_name": f"one-sided {pct} lower confidence bound of p_A"}),
         "p_a_upper": ("benchmark", p_upper, {"long_name": f"one-sided {pct} upper confidence bound of p_A"}),
         "p_a_method": ("benchmark", p_method, {"long_name": "method of p_A's bounds (basinlab.stats.MEAN_BOUNDS)"}),
         **data},
        coords={"run": run_names, "benchmark": names},
        attrs={**provenance("certificates", {"runs": run_names, "benchmarks": [b.attrs() for b in benchmarks],
                                             "sigma": sig.spec, "n": n, "confidence": confidence, "measure": measure,
                                             "method": method, "first_seed": sig.first_seed},
                            model=model, seeds=seeds),
               **sig.attrs, "n": n, "confidence": confidence, "first_seed": sig.first_seed,
               "p_a_bound": "one-sided lower confidence bound at confidence (method per benchmark: p_a_method)",
               "vacuous_below": VACUOUS},
    )
