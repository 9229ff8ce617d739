"""Every figure and widget: Datasets (or numbers) in, plotly Figures and ipywidgets out.

Nothing here runs a model or a trainer, and nothing imports basinlab.models or basinlab.training.
Needs the `notebook` extra (plotly, ipywidgets, anywidget). Modules load on first use:
`from basinlab.viz import plots, widgets`.

- style        the one palette and template; a fixed colour per benchmark, colours per run
- checks       checked access to a landscape Dataset (variable, benchmark, direction; theta0 values)
- plots        landscape figures: curves, heatmap, surface, widths
- widgets      SigmaExplorer, RunExplorer, BoundExplorer
- bounds       Figure 4: certified bounds against p_A and sigma, embedding distances
- pretraining  Figure 5: pre-training loss, landscapes of several models, forgetting, scatter
- worstcase    the ascent of worst-case direction searches
"""
