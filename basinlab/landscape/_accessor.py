"""The `ds.basin` accessor: basin edges and widths, strict-basin fractions, bootstrap bands.

Registered on xarray Datasets by `import basinlab` (or importing this module).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from basinlab import _validate as validate
from basinlab.landscape._results import loss_T, provenance, quiet_nan_warnings
from basinlab.landscape._size import basin_size_on_grid
from basinlab.stats import bootstrap_band, clopper_pearson, clopper_pearson_lower, directions_needed

__all__ = ["DEFINITION", "SIDED", "BasinAccessor", "better_is_higher", "describe", "distance"]


SIDED = ("one", "two")
# In words, for titles, tables and printed widths: which basin definition a width used.
DEFINITION = {"one": "one-sided, per direction: in the basin while the score drops by <= tol",
              "two": "two-sided: in the basin while |score - base| <= tol"}


def describe(sided: str, tol: float) -> str:
    """A short label of the basin definition, e.g. "one-sided, tol 0.1" (figure titles, tables)."""
    return f"{validate.choice('sided', sided, SIDED)}-sided, tol {tol:g}"


def distance(vals: npt.ArrayLike, base: float | np.ndarray, higher_is_better: bool, sided: str) -> np.ndarray:
    """How far `vals` are outside theta0's value `base`: for sided="one" the drop in the
    benchmark's better direction (base - vals when higher is better; negative when it rose), for
    "two" the absolute change. A point is in the basin while distance <= tol (NaN: outside)."""
    vals = np.asarray(vals, np.float64)
    if sided == "two":
        return np.abs(vals - base)
    return base - vals if higher_is_better else vals - base


def _edge(alphas, dist, tol, i0, step, interpolate):
    """(edge alpha, censored) walking from index i0 by step (+1/-1) while dist <= tol (NaN is
    outside): the last alpha inside, or with `interpolate` the alpha where dist reaches tol between
    the last point inside and the first outside (that point when dist there is not finite).
    censored: the walk reached the end of the grid."""
    i = i0
    while 0 <= i + step < len(alphas):
        j = i + step
        dj = dist[j]
        if not dj <= tol:
            if not interpolate:
                return alphas[i], False
            di = dist[i]
            if not np.isfinite(dj) or dj == di:
                return alphas[j], False
            return alphas[i] + (tol - di) / (dj - di) * (alphas[j] - alphas[i]), False
        i = j
    return alphas[i], True


def better_is_higher(ds: xr.Dataset, variable: str) -> np.ndarray:
    """[benchmark] bool: whether a higher `variable` is better (score: the benchmark's
    higher_is_better, True when absent; nll and loss: lower is better)."""
    n_b = ds.sizes["benchmark"]
    if variable != "score":
        return np.zeros(n_b, bool)
    if "higher_is_better" in ds:
        return np.asarray(ds["higher_is_better"].values, bool).reshape(n_b)
    return np.ones(n_b, bool)


@xr.register_dataset_accessor("basin")
class BasinAccessor:
    """Basin statistics of a landscape Dataset: `ds.basin.width(tol)`, `.strict_fraction(alpha)`, `.band()`."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def loss(self) -> xr.DataArray:
        """T recomputed on this (possibly subset) Dataset."""
        return loss_T(self._ds)

    def width(self, tol: float = 0.05, variable: str = "score", *, interpolate: bool = False,
              sided: str = "one") -> xr.Dataset:
        """Basin edges per direction and benchmark of a 1-D landscape, in alpha units.

        Walking out from alpha = 0 on each side, a point is in the basin while `variable` has not
        got worse than its value at theta0 (``base_<variable>``) by more than `tol` (absolute, in the
        variable's units; >= 0): ``sided="one"`` (the default: one-sided, a score that rises never
        ends the basin; "worse" follows higher_is_better, and for nll/loss a rise),
        or ``sided="two"``: |value - base| <= tol, so a rise ends it too. The edge is the last grid
        alpha inside, so widths snap to the grid step; with ``interpolate=True`` it is the alpha
        where the distance reaches `tol`, linearly interpolated between that point and the first one
        outside. NaN counts as outside. The alpha grid must contain 0 or straddle it.

        Returns a Dataset with left, right, width = right - left ([direction, benchmark]) and
        censored (bool: an edge is the end of the grid, so the basin is at least that wide); attrs
        tol, variable, interpolated, sided and definition (in words).
        """
        ds = self._ds
        if "beta" in ds.dims:
            raise ValueError("basin width is defined along one direction: select a beta first, e.g. ds.sel(beta=0)")
        # a curve per direction and benchmark with a value at theta0: score, nll, loss in a landscape
        valid = [str(v) for v in ds.data_vars if f"base_{v}" in ds.data_vars and ds[v].dtype.kind in "fiu"
                 and set(ds[v].dims) == {"direction", "alpha", "benchmark"}]
        if variable not in valid:
            raise ValueError(f"variable={variable!r} is not supported; valid: {valid}")
        tol = validate.nonnegative_scalar("tol", tol)
        validate.choice("sided", sided, SIDED)
        alphas = ds["alpha"].values
        if not alphas.min() <= 0 <= alphas.max():
            raise ValueError(f"the alpha grid must contain 0 (or straddle it), "
                             f"got [{alphas.min():g}, {alphas.max():g}]")
        order = np.argsort(alphas)
        alphas = alphas[order]
        vals = ds[variable].transpose("direction", "alpha", "benchmark").values[:, order]
        base = ds[f"base_{variable}"].values
        higher = better_is_higher(ds, variable)
        i0 = int(np.argmin(np.abs(alphas)))
        n_dir, n_a, n_b = vals.shape
        left = np.empty((n_dir, n_b))
        right = np.empty((n_dir, n_b))
        censored = np.zeros((n_dir, n_b), bool)
        for i in range(n_dir):
            for b in range(n_b):
                dist = distance(vals[i, :, b], base[b], higher[b], sided)
                right[i, b], cr = _edge(alphas, dist, tol, i0, +1, interpolate)
                left[i, b], cl = _edge(alphas, dist, tol, i0, -1, interpolate)
                censored[i, b] = cr or cl
        dims = ("direction", "benchmark")
        label = describe(sided, tol)
        out = xr.Dataset(
            {
                "left": (dims, left, {"long_name": f"left basin edge ({label})", "units": "1"}),
                "right": (dims, right, {"long_name": f"right basin edge ({label})", "units": "1"}),
                "width": (dims, right - left, {"long_name": f"basin width ({label})", "units": "1"}),
                "censored": (dims, censored, {"long_name": "edge at the end of the grid"}),
            },
            coords={"direction": ds["direction"], "benchmark": ds["benchmark"]},
            attrs={**provenance("basin.width", {"tol": tol, "variable": variable, "interpolate": interpolate,
                                                "sided": sided}, sources=[ds]),
                   "tol": tol, "variable": variable, "interpolated": int(interpolate), "sided": sided,
                   "definition": DEFINITION[sided]},
        )
        return out

    def size(self, tol: float, confidence: float = 0.95, **options: Any) -> xr.Dataset:
        """Definition 4.1's basin size sigma* per benchmark with its interval (the mean score over
        directions and signs against sigma): :func:`basinlab.landscape.basin_size_on_grid`."""
        return basin_size_on_grid(self._ds, tol, confidence, **options)

    def strict_fraction(self, alpha: float, tol: float = 0.0, confidence: float = 0.99,
                        fraction: float = 0.9, sided: str = "one") -> xr.Dataset:
        """Fraction of directions that are strict basins at `alpha` (score >= base score - tol in
        the benchmark's better direction; tol = 0 is PAPER.md's T = 0), with a Clopper-Pearson bound
        over directions.

        The claim "with `confidence`, more than `fraction` of directions are strict basins" is
        one-sided: ``sided="one"`` (default) gives the one-sided lower bound
        (:func:`basinlab.stats.clopper_pearson_lower`; upper = 1); ``sided="two"`` the two-sided
        interval. `holds`: lower > fraction. attrs["n_needed"]: how many directions, all passing,
        the claim needs (:func:`basinlab.stats.directions_needed`: 44 one-sided, 51 two-sided at
        99% / 90%). `alpha` must be on the grid (within 1e-9 relative): otherwise ValueError naming
        the nearest grid values (never a silent snap to the nearest one).
        """
        ds = self._ds
        confidence = validate.confidence("confidence", confidence)
        validate.choice("sided", sided, SIDED)
        fraction = float(validate.open_unit("fraction", fraction))
        tol = validate.nonnegative_scalar("tol", tol)
        alpha = validate.finite("alpha", alpha)
        grid = np.asarray(ds["alpha"].values, np.float64)
        hit = np.flatnonzero(np.isclose(grid, alpha, rtol=1e-9, atol=1e-15))
        if hit.size == 0:
            below, above = grid[grid < alpha], grid[grid > alpha]
            near = ([f"{below.max():g}"] if below.size else []) + ([f"{above.min():g}"] if above.size else [])
            raise ValueError(f"alpha={alpha:g} is not on the landscape's grid (nearest grid values: "
                             f"{', '.join(near)}); run the landscape with alphas that include {alpha:g}")
        at = ds.isel(alpha=int(hit[0]))
        higher = xr.DataArray(better_is_higher(ds, "score"), dims="benchmark")
        # "still at the unperturbed score", in the benchmark's better direction
        gap = (at["score"] - ds["base_score"]).where(higher, ds["base_score"] - at["score"])
        ok = (gap >= -tol - 1e-7) & at["score"].notnull()
        k = ok.sum("direction").values.astype(int)
        n = int(ds.sizes["direction"])
        if sided == "one":
            lo, hi = np.asarray(clopper_pearson_lower(k, n, confidence)), np.ones(k.shape)
        else:
            lo, hi = (np.asarray(x) for x in clopper_pearson(k, n, confidence))
        return xr.Dataset(
            {"fraction": ("benchmark", k / n), "lower": ("benchmark", lo), "upper": ("benchmark", hi),
             "k": ("benchmark", k), "holds": ("benchmark", lo > fraction)},
            coords={"benchmark": ds["benchmark"]},
            attrs={**provenance("basin.strict_fraction", {"alpha": alpha, "tol": tol, "confidence": confidence,
                                                          "fraction": fraction, "sided": sided}, sources=[ds]),
                   "alpha": float(grid[hit[0]]), "n": n, "confidence": confidence, "tol": tol, "sided": sided,
                   "fraction_claimed": fraction, "n_needed": directions_needed(fraction, confidence, sided)},
        )

    def band(self, variable: str = "score", confidence: float = 0.95, n_boot: int = 1000, seed: int = 0) -> xr.Dataset:
        """Mean across directions with a percentile-bootstrap band of that mean."""
        da = self._ds[variable]
        axis = da.dims.index("direction")
        lo, hi = bootstrap_band(da.values, axis=axis, confidence=confidence, n_boot=n_boot, seed=seed)
        dims = [d for d in da.dims if d != "direction"]
        coords = {d: da[d] for d in dims}
        with quiet_nan_warnings():
            mean = np.nanmean(da.values, axis=axis)
        return xr.Dataset(
            {"mean": (dims, mean), "lower": (dims, lo), "upper": (dims, hi)},
            coords=coords, attrs={**provenance("basin.band", {"variable": variable, "confidence": confidence,
                                                              "n_boot": n_boot, "seed": seed}, sources=[self._ds]),
                                  "confidence": confidence, "n_boot": n_boot, "variable": variable},
        )
