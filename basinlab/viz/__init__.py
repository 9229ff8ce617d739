"""Every figure and widget: Datasets (or numbers) in, plotly Figures and ipywidgets out.

Nothing here runs a model or a trainer. Needs the `notebook` extra (plotly, ipywidgets, anywidget).
Modules load on first use: `from basinlab.viz import plots, widgets`.
"""
