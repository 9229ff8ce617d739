"""Loss landscapes: direction recipes, the compiled sweep, resumable block store, results Datasets.

    from basinlab.landscape import landscape, DirectionRecipe
    ds = landscape(model, benchmarks, directions=8, alphas=np.arange(-0.01, 0.01, 5e-4))
    ds.basin.width(tol=0.1)

Modules: directions (recipes, draws, filters), engine (the sweep), results (Dataset schema, NetCDF),
accessor (`ds.basin`).
"""

from basinlab.landscape import accessor as accessor
from basinlab.landscape import directions as directions
from basinlab.landscape import engine as engine
from basinlab.landscape import results as results
from basinlab.landscape.directions import DirectionRecipe as DirectionRecipe
from basinlab.landscape.engine import Sweep as Sweep
from basinlab.landscape.engine import landscape as landscape
from basinlab.landscape.engine import parse_grid as parse_grid
from basinlab.landscape.results import open_dataset as open_dataset
from basinlab.landscape.results import save as save

__all__ = ["DirectionRecipe", "Sweep", "accessor", "directions", "engine", "landscape", "open_dataset",
           "parse_grid", "results", "save"]
