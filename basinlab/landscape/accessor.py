"""The `ds.basin` accessor: basin edges and widths, strict-basin fractions, bootstrap bands.

Registered on xarray Datasets by `import basinlab` (or importing this module).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from basinlab import validate
from basinlab.landscape.results import loss_T, quiet_nan_warnings
from basinlab.stats import bootstrap_band, clopper_pearson

__all__ = ["BasinAccessor"]


def _edge(alphas, vals, base, tol, i0, step, interpolate):
    """(edge alpha, censored) walking from index i0 by step (+1/-1) while |vals - base| <= tol (NaN
    is outside): the last alpha inside, or with `interpolate` the alpha where the distance reaches
    tol between the last point inside and the first outside (that point when the distance there is
    not finite). censored: the walk reached the end of the grid."""
    i = i0
    while 0 <= i + step < len(alphas):
        j = i + step
        dj = abs(vals[j] - base)
        if not dj <= tol:
            if not interpolate:
                return alphas[i], False
            di = abs(vals[i] - base)
            if not np.isfinite(dj) or dj == di:
                return alphas[j], False
            return alphas[i] + (tol - di) / (dj - di) * (alphas[j] - alphas[i]), False
        i = j
    return alphas[i], True


@xr.register_dataset_accessor("basin")
class BasinAccessor:
    """Basin statistics of a landscape Dataset: `ds.basin.width(tol)`, `.strict_fraction(alpha)`, `.band()`."""

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    def loss(self) -> xr.DataArray:
        """T recomputed on this (possibly subset) Dataset."""
        return loss_T(self._ds)

    def width(self, tol: float = 0.05, variable: str = "score", *, interpolate: bool = False) -> xr.Dataset:
        """Basin edges per direction and benchmark of a 1-D landscape, in alpha units.

        Walking out from alpha = 0 on each side, the edge is the last grid alpha whose `variable`
        is within `tol` (absolute, in the variable's units; >= 0) of its value at theta0
        (``base_<variable>``), so widths snap to the grid step; with ``interpolate=True`` it is the
        alpha where |value - base| reaches `tol`, linearly interpolated between that point and the
        first one outside. NaN counts as outside. The alpha grid must contain 0 or straddle it.

        Returns a Dataset with left, right, width = right - left ([direction, benchmark]) and
        censored (bool: an edge is the end of the grid, so the basin is at least that wide).
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
        alphas = ds["alpha"].values
        if not alphas.min() <= 0 <= alphas.max():
            raise ValueError(f"the alpha grid must contain 0 (or straddle it), "
                             f"got [{alphas.min():g}, {alphas.max():g}]")
        order = np.argsort(alphas)
        alphas = alphas[order]
        vals = ds[variable].transpose("direction", "alpha", "benchmark").values[:, order]
        base = ds[f"base_{variable}"].values
        i0 = int(np.argmin(np.abs(alphas)))
        n_dir, n_a, n_b = vals.shape
        left = np.empty((n_dir, n_b))
        right = np.empty((n_dir, n_b))
        censored = np.zeros((n_dir, n_b), bool)
        for i in range(n_dir):
            for b in range(n_b):
                right[i, b], cr = _edge(alphas, vals[i, :, b], base[b], tol, i0, +1, interpolate)
                left[i, b], cl = _edge(alphas, vals[i, :, b], base[b], tol, i0, -1, interpolate)
                censored[i, b] = cr or cl
        dims = ("direction", "benchmark")
        out = xr.Dataset(
            {
                "left": (dims, left, {"long_name": "left basin edge", "units": "1"}),
                "right": (dims, right, {"long_name": "right basin edge", "units": "1"}),
                "width": (dims, right - left, {"long_name": f"basin width at tol={tol}", "units": "1"}),
                "censored": (dims, censored, {"long_name": "edge at the end of the grid"}),
            },
            coords={"direction": ds["direction"], "benchmark": ds["benchmark"]},
            attrs={"tol": tol, "variable": variable, "interpolated": int(interpolate)},
        )
        return out

    def strict_fraction(self, alpha: float, tol: float = 0.0, confidence: float = 0.99) -> xr.Dataset:
        """Fraction of directions that are strict basins at `alpha` (score >= base score - tol; tol = 0
        is PAPER.md's T = 0), with a two-sided Clopper-Pearson interval over directions."""
        ds = self._ds
        near = ds.sel(alpha=alpha, method="nearest")
        # "still at the unperturbed score", in the benchmark's better direction
        gap = (near["score"] - ds["base_score"]).where(ds["higher_is_better"], ds["base_score"] - near["score"])
        ok = (gap >= -tol - 1e-7) & near["score"].notnull()
        k = ok.sum("direction").values.astype(int)
        n = int(ds.sizes["direction"])
        lo, hi = clopper_pearson(k, n, confidence)
        coords = {"benchmark": ds["benchmark"]}
        return xr.Dataset(
            {"fraction": ("benchmark", k / n), "lower": ("benchmark", np.asarray(lo)),
             "upper": ("benchmark", np.asarray(hi)), "k": ("benchmark", k)},
            coords=coords,
            attrs={"alpha": float(near["alpha"]), "n": n, "confidence": confidence, "tol": tol},
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
            coords=coords, attrs={"confidence": confidence, "n_boot": n_boot, "variable": variable},
        )
