"""Every figure and widget: Datasets (or numbers) in, plotly Figures and ipywidgets out.

Nothing here runs a model or a trainer. Needs the `notebook` extra (plotly, ipywidgets, anywidget).

    basinlab.viz.curves(ds, tol=0.1)          # landscape curves, one panel per benchmark
    basinlab.viz.size_curves(size)            # E S against sigma, sigma* marked (bl.basin_size's Dataset)
    basinlab.SigmaExplorer(ds)                # the sigma slider
    basinlab.viz.save_figure(fig, "fig.pdf")  # html | png | svg | pdf | json, from the suffix
"""

from basinlab.viz._bounds import bound_vs_pa, bound_vs_sigma, embedding_histogram
from basinlab.viz._export import batch, save_figure
from basinlab.viz._plots import curves, heatmap, surface, widths
from basinlab.viz._pretraining import forgetting_curves, landscapes, loss_curves, scatter
from basinlab.viz._size import size_curves
from basinlab.viz._style import PALETTE, benchmark_colour
from basinlab.viz._widgets import BoundExplorer, RunExplorer, SigmaExplorer
from basinlab.viz._worstcase import trace_figure

__all__ = [
    "PALETTE", "BoundExplorer", "RunExplorer", "SigmaExplorer", "batch", "benchmark_colour", "bound_vs_pa",
    "bound_vs_sigma", "curves", "embedding_histogram", "forgetting_curves", "heatmap", "landscapes",
    "loss_curves", "save_figure", "scatter", "size_curves", "surface", "trace_figure", "widths",
]
