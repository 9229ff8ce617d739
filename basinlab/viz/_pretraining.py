"""Figures of the GO and pre-training notebooks (Figure 5 a/b/c, basin growth, basins and scale).

Datasets in (from :func:`basinlab.analysis._curves.training_curves`, :func:`basinlab.landscape.landscape`,
:func:`basinlab.analysis._curves.forgetting_dataset`), plotly Figures out; nothing here runs a model
or imports a trainer. Runs keep their colour across these figures (``style.run_colours``).

- :func:`loss_curves`       -- Fig. 5(a): train and validation NLL per pre-training step, per run.
- :func:`landscapes`        -- Fig. 5(b): most-case slices of several models with their basin edges.
- :func:`forgetting_curves` -- Fig. 5(c): old- and new-capability NLL per fine-tuning step, per run.
- :func:`scatter`           -- a labelled scatter (width against step, size or forgetting).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from basinlab.viz import _panels as panels
from basinlab.viz import _style as style

__all__ = ["forgetting_curves", "landscapes", "loss_curves", "scatter"]


def _smooth(y: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(y) < k:
        return y
    c = np.cumsum(np.insert(np.asarray(y, float), 0, 0.0))
    head = c[1:k] / np.arange(1, k)
    return np.concatenate([head, (c[k:] - c[:-k]) / k])


def loss_curves(ds: xr.Dataset, smooth: int = 20) -> go.Figure:
    """Fig. 5(a): train NLL (moving average over ``smooth`` steps, at the point the gradient was
    taken: theta + eps for GO) and validation NLL at theta, per run."""
    fig = make_subplots(1, 2, subplot_titles=("train loss (at the gradient's point)",
                                              "validation loss (at θ)"))
    colours = style.run_colours(ds["run"].values)
    for run in ds["run"].values:
        colour = colours[str(run)]
        fig.add_scatter(x=ds["step"].values, y=_smooth(ds["train_loss"].sel(run=run).values, smooth),
                        name=str(run), line=dict(color=colour), legendgroup=str(run), row=1, col=1)
        fig.add_scatter(x=ds["eval_step"].values, y=ds["val_loss"].sel(run=run).values, mode="lines+markers",
                        name=str(run), line=dict(color=colour), legendgroup=str(run), showlegend=False,
                        row=1, col=2)
    fig.update_xaxes(title_text="pre-training step")
    fig.update_yaxes(title_text="NLL (nats/token)")
    return panels.finish(fig, "Pre-training loss", template=style.TEMPLATE, subtitle_lines=1, panel_height=360)


def landscapes(datasets: Mapping[str, xr.Dataset], tol: float = 0.05, variable: str = "score") -> go.Figure:
    """Fig. 5(b): most-case slices of several models on one axis: a thin line per direction, the mean
    across directions, and the median interpolated basin edges (``ds.basin.width(interpolate=True)``)
    as dotted verticals; the legend gives each model's median width."""
    fig = go.Figure()
    colours = style.run_colours(datasets)
    for label, ds in datasets.items():
        colour = colours[str(label)]
        bench = ds["benchmark"].values[0]
        vals = ds[variable].sel(benchmark=bench).transpose("direction", "alpha")
        alphas = ds["alpha"].values
        for d in vals["direction"].values:
            fig.add_scatter(x=alphas, y=vals.sel(direction=d).values, mode="lines", opacity=0.25,
                            line=dict(color=colour, width=1), legendgroup=label, showlegend=False,
                            hoverinfo="skip")
        w = ds.basin.width(tol, variable, interpolate=True).sel(benchmark=bench)
        med = float(w["width"].median())
        fig.add_scatter(x=alphas, y=vals.mean("direction").values, mode="lines",
                        line=dict(color=colour, width=3), legendgroup=label,
                        name=f"{label}: width {med:.4g}", meta={"width": med})
        for edge in ("left", "right"):
            fig.add_vline(x=float(w[edge].median()), line=dict(color=colour, dash="dot"))
    first = next(iter(datasets.values()))
    unit = "next-token accuracy" if variable == "score" else "NLL (nats/token)"
    fig.update_layout(xaxis_title="α (per-coordinate noise std of θ0 + αδ, δ ~ N(0, I))", yaxis_title=unit)
    title = (f"Most-case landscapes, one-sided basin edge at a drop of {tol:g} "
             f"({first['direction'].size} directions)")
    return panels.finish(fig, title, template=style.TEMPLATE, panel_height=420)


def forgetting_curves(ds: xr.Dataset) -> go.Figure:
    """Fig. 5(c): old-capability NLL (pre-training text) and new-capability NLL (fine-tuning text)
    per fine-tuning step, per run."""
    fig = make_subplots(1, 2, subplot_titles=("old capability: pre-training val NLL",
                                              "new capability: fine-tuning val NLL"))
    colours = style.run_colours(ds["run"].values)
    for run in ds["run"].values:
        colour = colours[str(run)]
        for col, var in ((1, "old_nll"), (2, "new_nll")):
            fig.add_scatter(x=ds["ft_step"].values, y=ds[var].sel(run=run).values, mode="lines+markers",
                            name=str(run), line=dict(color=colour), legendgroup=str(run),
                            showlegend=col == 1, row=1, col=col)
    fig.update_xaxes(title_text="fine-tuning step")
    fig.update_yaxes(title_text="NLL (nats/token)")
    return panels.finish(fig, "Forgetting during fine-tuning on a new corpus", template=style.TEMPLATE,
                         subtitle_lines=1, panel_height=360)


def scatter(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, labels: Sequence[str], *,
            xaxis_title: str, yaxis_title: str, title: str = "", log_x: bool = False, lines: bool = False,
            highlight: Sequence[bool] | None = None) -> go.Figure:
    """A labelled scatter (basin width against checkpoint step or parameter count d; forgetting
    against width). ``highlight``: points drawn as red diamonds (a reference model, ``style.HIGHLIGHT``)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    hl = np.zeros(len(x), bool) if highlight is None else np.asarray(highlight, bool)
    fig = go.Figure()
    fig.add_scatter(x=x[~hl], y=y[~hl], text=[lab for lab, h in zip(labels, hl, strict=False) if not h],
                    mode="lines+markers+text" if lines else "markers+text", textposition="top center",
                    marker=dict(size=10, color=style.PALETTE[0]), name="")
    if hl.any():
        fig.add_scatter(x=x[hl], y=y[hl], text=[lab for lab, h in zip(labels, hl, strict=False) if h],
                        mode="markers+text", textposition="top center",
                        marker=dict(size=12, color=style.HIGHLIGHT, symbol="diamond"), name="reference")
    fig.update_layout(template=style.TEMPLATE, xaxis_title=xaxis_title, yaxis_title=yaxis_title, title=title,
                      xaxis_type="log" if log_x else None, showlegend=False)
    return fig
