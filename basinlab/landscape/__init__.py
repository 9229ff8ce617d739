"""Loss landscapes: direction recipes, tree maths, the compiled sweep, resumable block store, results.

    from basinlab.landscape import landscape, DirectionRecipe
    ds = landscape(model, benchmarks, directions=8, alphas=np.arange(-0.01, 0.01, 5e-4))
    ds.basin.width(tol=0.1)

Modules: directions (recipes, draws, filters, normalizations), treemath (norms, dot, perturb,
between, plane), engine (the sweep), program (its compiled block), fused (the perturbation formed
layer by layer inside the forward pass), mesh (points x model device meshes), store (per-block files
of a resumable sweep), results (Dataset schema, NetCDF), accessor (`ds.basin`: basin widths, strict
fractions, bands).
"""

from basinlab.landscape import accessor as accessor
from basinlab.landscape import directions as directions
from basinlab.landscape import engine as engine
from basinlab.landscape import fused as fused
from basinlab.landscape import mesh as mesh
from basinlab.landscape import program as program
from basinlab.landscape import results as results
from basinlab.landscape import store as store
from basinlab.landscape import treemath as treemath
from basinlab.landscape.directions import DirectionRecipe as DirectionRecipe
from basinlab.landscape.engine import Sweep as Sweep
from basinlab.landscape.engine import landscape as landscape
from basinlab.landscape.engine import parse_grid as parse_grid
from basinlab.landscape.results import open_dataset as open_dataset
from basinlab.landscape.results import save as save

__all__ = ["DirectionRecipe", "Sweep", "accessor", "directions", "engine", "fused", "landscape", "mesh",
           "open_dataset", "parse_grid", "program", "results", "save", "store", "treemath"]
