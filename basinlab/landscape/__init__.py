"""Loss landscapes: the compiled sweep over (direction, alpha), its resumable block store, the result
Dataset (schema, NetCDF) and the `ds.basin` accessor.

    ds = basinlab.landscape(model, benchmarks, directions=8, alphas=np.arange(-0.01, 0.01, 5e-4))
    ds.basin.size(tol=0.1)      # Definition 4.1's sigma* with its interval
    ds.basin.width(tol=0.1)     # per-direction edges
    basinlab.save(ds, "results/most_case.nc"); basinlab.open_dataset("results/most_case.nc")

A sweep's keyword options also travel as one frozen `SweepOptions` (``options=``), which every
function that runs sweeps for you takes (``basin_edges``, ``widths_around``, ``smoothed_score``, ...).
Importing basinlab registers the accessor.
"""

from basinlab.directions._recipes import DirectionRecipe
from basinlab.landscape._accessor import BasinAccessor
from basinlab.landscape._basecache import BaseScores, BenchmarkSetKey
from basinlab.landscape._engine import DEFAULT_ALPHAS, landscape
from basinlab.landscape._mesh import build_mesh
from basinlab.landscape._options import SweepOptions
from basinlab.landscape._plan import Plan, Sweep, make_plan, parse_grid
from basinlab.landscape._program import chunk_program
from basinlab.landscape._results import open_dataset, save
from basinlab.landscape._size import basin_size_on_grid
from basinlab.landscape._store import BlockStore, CorruptBlockWarning, StoreLocked

__all__ = ["DEFAULT_ALPHAS", "BaseScores", "BasinAccessor", "BenchmarkSetKey", "BlockStore", "CorruptBlockWarning",
           "DirectionRecipe", "Plan", "StoreLocked", "Sweep", "SweepOptions", "basin_size_on_grid", "build_mesh",
           "chunk_program", "landscape", "make_plan", "open_dataset", "parse_grid", "save"]
