"""Checked access to a landscape Dataset for the figures and widgets of basinlab.viz.

- :func:`check_variable`, :func:`check_benchmark`, :func:`check_direction` -- the name a caller asked
  for, if the Dataset holds it; otherwise a ValueError listing the valid ones (``basinlab._validate.choice``).
- :func:`base_values` -- the value at theta0 per benchmark, in the units of a plotted variable.
"""

from __future__ import annotations

from collections.abc import Sequence

import xarray as xr

from basinlab import _validate as validate

__all__ = ["BASE_VARIABLES", "CURVE_VARIABLES", "base_values", "check_benchmark", "check_dataset",
           "check_direction", "check_variable"]

CURVE_VARIABLES = ("score", "loss", "nll")
# plotted variable -> the Dataset variable holding its value at theta0 (schema in basinlab.landscape._results)
BASE_VARIABLES = {"score": "base_score", "nll": "base_nll", "loss": "base_loss"}


def check_dataset(ds: object, what: str = "a landscape Dataset") -> xr.Dataset:
    """`ds` if it is an xarray Dataset with a benchmark axis; TypeError/ValueError naming what it is."""
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"expected {what} (xarray.Dataset, e.g. from basinlab.landscape.landscape or "
                        f"open_dataset), got {type(ds).__name__} {ds!r:.80}")
    if "benchmark" not in ds.dims:
        raise ValueError(f"expected {what} with a 'benchmark' dimension; this Dataset has dims {dict(ds.sizes)}")
    return ds


def check_variable(ds: xr.Dataset, variable: str, allowed: Sequence[str] = CURVE_VARIABLES) -> str:
    """`variable` if it is one of `allowed` and a data variable of `ds` (a landscape Dataset)."""
    check_dataset(ds)
    return validate.choice("variable", variable, [v for v in allowed if v in ds.data_vars])


def check_benchmark(ds: xr.Dataset, benchmark: str | None, where: str | None = None) -> str:
    """The benchmark name `benchmark` of `ds` as a str; None -> the first one (figure titles name it).
    where: names the Dataset in the error (e.g. "Dataset 'big'") when a figure reads several."""
    names = [str(b) for b in ds["benchmark"].values]
    if benchmark is None:
        return names[0]
    return validate.choice(f"benchmark (in {where})" if where else "benchmark", str(benchmark), names)


def check_direction(ds: xr.Dataset, direction: int) -> int:
    """`direction` as an int if it is a direction index of `ds`."""
    return int(validate.choice("direction", direction, [int(d) for d in ds["direction"].values]))


def base_values(ds: xr.Dataset, variable: str) -> xr.DataArray:
    """[benchmark] the value at theta0, in the units of `variable` ("score" | "loss" | "nll")."""
    return ds[BASE_VARIABLES[validate.choice("variable", variable, BASE_VARIABLES)]]
