"""The basin size of Definition 4.1 (PAPER.md section 2) read off an evaluated landscape: sigma* with
its confidence interval, per benchmark.

    size = ds.basin.size(tol=0.1)               # or basin_size_on_grid(ds, tol=0.1)
    size["sigma"], size[["sigma_lo", "sigma_hi"]], size["label"]

f(sigma) = E_delta S(theta0 + sigma * delta), delta ~ N(0, I): +sigma*delta and -sigma*delta are
draws of the same Gaussian, so each direction's two signs are averaged first (an antithetic pair:
g_i(sigma), i.i.d. over directions) and f is estimated by the mean of g_i over the N directions.
The drop D(sigma) = S(theta0) - f(sigma) (in the benchmark's better direction: a score that rises
never ends the basin) starts at D(0) = 0, and

    sigma* = the first sigma, walking out from 0, where D(sigma) > tol.

Which crossing, when D is not monotone: the first. Every sigma below it is inside the basin, so a
certificate stated at sigma* holds for every smaller radius too; a later crossing (the sup of
Definition 4.1 taken literally) would count sigmas where the mean score had already dropped by
more than tol, and at large sigma a benchmark whose theta0 score is near chance can wander back
inside, which would make the sup the grid's end. Between grid points D is interpolated linearly
(``interpolate=False``: sigma is the last grid sigma inside, sigma_lo likewise, sigma_hi the first
grid sigma outside its band end).

The interval inverts a pointwise band of D (first crossings of its two ends):
  method="t" (default): D_hat +- t_{N-1} * sd(g) / sqrt(N), Student t over the N directions;
  method="bootstrap": percentile band of D over replicates that resample directions (both signs of
    a direction stay together) and, with ``items=True``, also the benchmark's items (one item
    resample shared by every direction of a replicate: items are crossed with directions, not
    nested in them), for a basin of the item population rather than of these items.
The randomness covered is the directions' (plus items' with items=True); never the grid's step.
Why: sigma_lo > sigma* needs the band's upper end to miss D at sigma* itself, a pointwise event of
probability <= (1 - confidence)/2; sigma_hi < sigma* needs the lower end to miss D somewhere below
sigma* (the band errors at neighbouring sigmas share the same directions, so this is close to
pointwise; tests/landscape/test_size.py measures the coverage on a probit model with known f).
The percentile bootstrap undercovers with few directions (about 0.90 at a nominal 0.95 with 8):
its band uses the normal quantile and the plug-in variance; "t" corrects both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from basinlab import _validate as validate
from basinlab.landscape._results import provenance
from basinlab.stats import bootstrap_band, t_interval

__all__ = ["SIZE_METHODS", "basin_size_on_grid", "drop_band", "first_crossing", "size_dataset"]

SIZE_METHODS = ("t", "bootstrap")
_SOURCE_ATTRS = ("model", "model_label", "d", "seeds", "directions", "sweep_key", "compute_dtype")


def first_crossing(sigmas: np.ndarray, drops: np.ndarray, tol: float) -> tuple[float, float, float, bool]:
    """The first crossing of ``drops > tol`` walking out from (sigma 0, drop 0).

    sigmas: [S] ascending, > 0; drops: [S] (NaN counts as outside). Returns (inside, outside,
    crossing, censored): the last sigma inside before the first one outside (0.0 when the first
    is outside), that first sigma outside (NaN when censored), the sigma where the straight line
    between them reaches tol (the last sigma when censored), and censored (no sigma left the basin).
    """
    out = np.flatnonzero(~(np.asarray(drops) <= tol))
    if out.size == 0:
        return float(sigmas[-1]), float("nan"), float(sigmas[-1]), True
    j = int(out[0])
    s_in, d_in = (0.0, 0.0) if j == 0 else (float(sigmas[j - 1]), float(drops[j - 1]))
    s_out, d_out = float(sigmas[j]), float(drops[j])
    frac = (tol - d_in) / (d_out - d_in) if np.isfinite(d_out) and d_out > d_in else 1.0
    return s_in, s_out, s_in + min(max(frac, 0.0), 1.0) * (s_out - s_in), False


def drop_band(g: np.ndarray, base: float, method: str = "t", confidence: float = 0.95, *, n_boot: int = 2000,
              seed: int = 0, items: tuple[np.ndarray, np.ndarray] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(drop, lower, upper) [S]: D_hat = base - mean_i g_i and its central band at `confidence`.

    g: [N, S] each direction's mean score over its signs, in the better-is-higher orientation;
    base: the score at theta0. items: (h [N, S, I], base_items [I]) per-item scores for the
    two-way bootstrap (method "bootstrap" only; g is then unused). See the module docstring."""
    tail = (1.0 - confidence) / 2.0
    if items is not None:
        h, b_items = items
        rng = np.random.default_rng(seed)
        n, m = h.shape[0], h.shape[2]
        cd = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)  # [B, N] direction counts
        ci = rng.multinomial(m, np.full(m, 1.0 / m), size=n_boot).astype(np.float64)  # [B, I] item counts
        reps = (ci @ b_items)[:, None] / m - np.einsum("bk,ksi,bi->bs", cd, h, ci) / (n * m)  # [B, S]
        drop = base - g.mean(0)
        return drop, np.quantile(reps, tail, axis=0), np.quantile(reps, 1.0 - tail, axis=0)
    mean = g.mean(0)
    if method == "t":
        _, t_lo, t_hi = t_interval(g, confidence, axis=0)
        return base - mean, base - np.asarray(t_hi), base - np.asarray(t_lo)
    lo, hi = bootstrap_band(g, axis=0, confidence=confidence, n_boot=n_boot, seed=seed)
    return base - mean, base - np.asarray(hi), base - np.asarray(lo)


def _sigma_groups(alphas: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct sigma = |alpha| > 0 (equal within 1e-9 relative: a symmetric np.arange grid
    differs by an ulp between its signs) and, per sigma, the grid indices of its alphas."""
    idx = np.flatnonzero(alphas != 0)
    idx = idx[np.argsort(np.abs(alphas[idx]), kind="stable")]
    groups: list[list[int]] = []
    for j in idx:
        if groups and np.isclose(abs(alphas[j]), abs(alphas[groups[-1][0]]), rtol=1e-9, atol=0.0):
            groups[-1].append(int(j))
        else:
            groups.append([int(j)])
    sigmas = np.asarray([np.abs(alphas[g]).mean() for g in groups], np.float64)
    return sigmas, [np.asarray(g) for g in groups]


def _base(ds: xr.Dataset, alphas: np.ndarray) -> np.ndarray:
    """[benchmark] theta0's score: base_score, else the mean of the alpha = 0 column."""
    if "base_score" in ds:
        return np.asarray(ds["base_score"].values, np.float64).reshape(-1)
    if not np.any(alphas == 0):
        raise ValueError(f"the Dataset has no theta0 point: no 'base_score' variable and no alpha = 0 on its grid "
                         f"(alphas {alphas.min():g}..{alphas.max():g}); evaluate theta0 (landscape() does)")
    return ds["score"].isel(alpha=int(np.flatnonzero(alphas == 0)[0])).mean("direction").values.astype(np.float64)


def _item_scores(ds: xr.Dataset, alphas: np.ndarray, groups: list[np.ndarray], b: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(h [N, S, I], base_items [I]) of benchmark b for the item bootstrap (padding items dropped)."""
    if "item_score" not in ds:
        raise ValueError("items=True needs per-item scores ('item_score'); this Dataset has only "
                         f"{sorted(map(str, ds.data_vars))}")
    x = ds["item_score"].isel(benchmark=b).transpose("direction", "alpha", "item").values.astype(np.float64)
    if "base_item_score" in ds:
        b_items = np.asarray(ds["base_item_score"].isel(benchmark=b).values, np.float64)
    elif np.any(alphas == 0):
        b_items = x[:, int(np.flatnonzero(alphas == 0)[0])].mean(0)
    else:
        raise ValueError("items=True needs theta0's per-item scores: a 'base_item_score' variable or alpha = 0 "
                         "on the grid; this Dataset has neither")
    keep = np.isfinite(b_items)
    h = np.stack([x[:, g][..., keep].mean(1) for g in groups], axis=1)
    if not np.isfinite(h).all():
        raise ValueError("item_score has NaN among the benchmark's items; drop those alphas or directions first")
    return h, b_items[keep]


def size_dataset(*, names: Sequence[str], higher: np.ndarray, base: np.ndarray, sigmas: np.ndarray,
                 g: np.ndarray, bands: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], tol: float,
                 confidence: float, method: str, interpolate: bool, covers: str, end: str,
                 attrs: dict) -> xr.Dataset:
    """The basin-size Dataset from per-benchmark drop bands over sigmas (shared by the grid
    estimator and the search in basinlab.analysis).

    g: [N, S, B] per-direction scores (native orientation); bands[b]: drop_band's (drop, lower,
    upper) [S]; end: how to name the largest sigma in censored labels ("max sigma", "max_sigma")."""
    n_b = len(names)
    sig, lo, hi = np.zeros(n_b), np.zeros(n_b), np.zeros(n_b)
    cens, cens_hi = np.zeros(n_b, bool), np.zeros(n_b, bool)
    labels = []
    for b, (drop, dlo, dhi) in enumerate(bands):
        s_in, _, s_x, cens[b] = first_crossing(sigmas, drop, tol)
        lo_in, _, lo_x, _ = first_crossing(sigmas, dhi, tol)  # pessimistic end: leaves first
        _, hi_out, hi_x, cens_hi[b] = first_crossing(sigmas, dlo, tol)
        if interpolate:
            sig[b], lo[b], hi[b] = s_x, lo_x, hi_x
        else:
            sig[b], lo[b], hi[b] = s_in, lo_in, (sigmas[-1] if cens_hi[b] else hi_out)
        lo[b], hi[b] = min(lo[b], sig[b]), max(hi[b], sig[b])  # a percentile band need not hold its mean
        top = f"{sigmas[-1]:.3g}"
        labels.append(f">= {sig[b]:.3g} (beyond {end} = {top})" if cens[b] else
                      f"{sig[b]:.3g} [{lo[b]:.3g}, beyond {end} = {top}]" if cens_hi[b] else
                      f"{sig[b]:.3g} [{lo[b]:.3g}, {hi[b]:.3g}]")
    drops = np.stack([np.stack(x, -1) for x in bands], -1)  # [S, 3, B]
    sign = np.where(higher, 1.0, -1.0)
    bdims, gdims = ("benchmark",), ("sigma_grid", "benchmark")
    pct = f"{confidence:.0%}"
    out = xr.Dataset(
        {"sigma": (bdims, sig, {"long_name": f"basin size sigma* (Def. 4.1, tol {tol:g})", "units": "1"}),
         "sigma_lo": (bdims, lo, {"long_name": f"lower end of the {pct} interval of sigma*", "units": "1"}),
         "sigma_hi": (bdims, hi, {"long_name": f"upper end of the {pct} interval of sigma*", "units": "1"}),
         "censored": (bdims, cens, {"long_name": f"no crossing up to the {end}: sigma is a lower bound"}),
         "censored_hi": (bdims, cens_hi, {"long_name": f"the band's far end did not cross by the {end}: "
                                                       f"sigma_hi is a lower bound"}),
         "n_directions": (bdims, np.full(n_b, g.shape[0]), {"long_name": "directions (each with its signs)"}),
         "label": (bdims, labels),
         "base_score": (bdims, base, {"long_name": "score at theta0", "units": "fraction"}),
         "mean_score": (gdims, base[None] - sign * drops[:, 0], {"long_name": "E S(theta0 + sigma delta), "
                                                                 "mean over directions and signs"}),
         "mean_lo": (gdims, base[None] - sign * np.where(higher, drops[:, 2], drops[:, 1]),
                     {"long_name": f"{pct} band of the mean score: lower end"}),
         "mean_hi": (gdims, base[None] - sign * np.where(higher, drops[:, 1], drops[:, 2]),
                     {"long_name": f"{pct} band of the mean score: upper end"}),
         "direction_score": (("direction", *gdims), g, {"long_name": "score per direction, mean over its signs"})},
        coords={"benchmark": list(names), "sigma_grid": sigmas, "direction": np.arange(g.shape[0]),
                "higher_is_better": ("benchmark", np.asarray(higher, bool))},
    )
    out["sigma_grid"].attrs.update(long_name="sigma (per-coordinate noise std)", units="1")
    out.attrs.update(_attrs(attrs, tol=tol, confidence=confidence, method=method, interpolated=int(interpolate),
                                covers=covers, definition="Def. 4.1: first sigma where S(theta0) - E S(theta0 + "
                                f"sigma delta) > tol, walking out from 0 (one-sided), tol {tol:g}"))
    return out


def _attrs(source: Mapping[str, Any], **attrs: Any) -> dict:
    """Provenance (the one function, with the source landscape's model and seeds), the source's sweep
    attrs that describe the directions, and `attrs` (the estimator's settings)."""
    described = {k: source[k] for k in _SOURCE_ATTRS if k in source and k not in ("model", "seeds")}
    return {**provenance("basin_size", attrs, sources=[xr.Dataset(attrs=dict(source))]), **described, **attrs}


def basin_size_on_grid(ds: xr.Dataset, tol: float, confidence: float = 0.95, *, method: str = "t",
                       interpolate: bool = True, items: bool = False, n_boot: int = 2000, seed: int = 0
                       ) -> xr.Dataset:
    """Definition 4.1's basin size sigma* per benchmark with a confidence interval, read off an
    evaluated 1-D landscape (module docstring: estimator, crossing, interval).

    ds: score [direction, alpha, benchmark] (N >= 2 directions, no NaN), base_score [benchmark] (or
      alpha = 0 on the grid), optional higher_is_better [benchmark]. Every |alpha| > 0 on the grid is
      a sigma; where only one sign of it is on the grid its mean uses that sign (attrs one_sign).
    tol: the allowed drop of the mean score below theta0's (> 0, score units).
    confidence: of the interval [sigma_lo, sigma_hi] (two-sided, in (0, 1)).
    method: "t" or "bootstrap"; items: resample items too (bootstrap; needs item_score).
    interpolate: linear between grid points (default) or at grid resolution.

    Returns a Dataset over benchmark: sigma, sigma_lo, sigma_hi (units of alpha), censored (no
    crossing on the grid: sigma is its largest sigma, a lower bound), censored_hi, n_directions,
    label (text, e.g. "0.0042 [0.0035, 0.0051]"), base_score; over sigma_grid: mean_score and its
    band mean_lo/mean_hi, direction_score [direction, sigma_grid, benchmark]; attrs tol,
    confidence, method, covers (the randomness), one_sign, provenance.
    """
    tol = validate.nonnegative_scalar("tol", tol)
    if tol <= 0:
        raise ValueError(f"tol must be > 0 (the allowed drop of the mean score), got {tol!r}")
    confidence = validate.confidence("confidence", confidence)
    validate.choice("method", method, SIZE_METHODS)
    n_boot = validate.positive_int("n_boot", n_boot)
    if items and method != "bootstrap":
        raise ValueError(f"items=True resamples items, which only method='bootstrap' does; got method={method!r}")
    if "score" not in ds or not {"direction", "alpha", "benchmark"} <= set(ds["score"].dims) or "beta" in ds.dims:
        raise ValueError(f"ds must be a 1-D landscape with score [direction, alpha, benchmark] (no beta); got "
                         f"dims {dict(ds.sizes)} and variables {sorted(map(str, ds.data_vars))}")
    n_dir = int(ds.sizes["direction"])
    if n_dir < 2:
        raise ValueError(f"the basin size's interval needs at least 2 directions, got {n_dir}")
    alphas = np.asarray(ds["alpha"].values, np.float64)
    sigmas, groups = _sigma_groups(alphas)
    if sigmas.size == 0:
        raise ValueError(f"the alpha grid has no alpha != 0 to read a sigma from: {alphas.tolist()}")
    base = _base(ds, alphas)
    scores = ds["score"].transpose("direction", "alpha", "benchmark").values.astype(np.float64)
    names = [str(b) for b in ds["benchmark"].values]
    bad = np.argwhere(~np.isfinite(scores))
    if bad.size:
        i, a, b = bad[0]
        raise ValueError(f"score is NaN at direction {i}, alpha {alphas[a]:g}, benchmark {names[b]!r} "
                         f"({len(bad)} such points): drop them, e.g. ds.sel(alpha=...), before the basin size")
    if not np.isfinite(base).all():
        b = int(np.flatnonzero(~np.isfinite(base))[0])
        raise ValueError(f"base_score (theta0's score) is {base[b]} for benchmark {names[b]!r}")
    higher = (np.asarray(ds["higher_is_better"].values, bool).reshape(-1) if "higher_is_better" in ds
              else np.ones(len(names), bool))
    g = np.stack([scores[:, grp].mean(1) for grp in groups], axis=1)  # [N, S, B]
    one_sign = [f"{s:g}" for s, grp in zip(sigmas, groups, strict=True) if len(grp) == 1]
    bands = []
    for b in range(len(names)):
        sign = 1.0 if higher[b] else -1.0
        it = None
        if items:
            h, b_items = _item_scores(ds, alphas, groups, b)
            it = (sign * h, sign * b_items)
        bands.append(drop_band(sign * g[..., b], sign * base[b], method, confidence, n_boot=n_boot, seed=seed,
                               items=it))
    covers = "directions and items (two-way bootstrap)" if items else "directions"
    out = size_dataset(names=names, higher=higher, base=base, sigmas=sigmas, g=g, bands=bands, tol=tol,
                       confidence=confidence, method=method, interpolate=interpolate, covers=covers,
                       end="max sigma", attrs=dict(ds.attrs))
    out.attrs["one_sign"] = ("none: both signs at every sigma" if not one_sign else
                             f"only one sign on the grid at sigma {', '.join(one_sign)} (mean of that sign only)")
    if method == "bootstrap":
        out.attrs.update(n_boot=n_boot, seed=seed)
    return out
