"""The figure of a worst-case direction search (``basinlab.training._worstcase.worst_case``).

- :func:`trace_figure` -- surrogate J per ascent step for each search, against random directions
  and theta0.

Reads the search results' attributes only (duck-typed: trace, random, base, alpha, d); nothing here
imports the trainer or runs a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go

from basinlab.viz import _panels as panels
from basinlab.viz import _style as style

__all__ = ["trace_figure"]


def trace_figure(searches: Mapping[str, Any]) -> go.Figure:
    """Plotly figure of the ascent: surrogate J per step for each search ({label: WorstCase}), with
    each search's random-direction values at the same alpha and J(theta0) as reference lines.

    A WorstCase gives trace [steps + 1] and random [n_random] (J in nats), base (J(theta0), nats),
    alpha and d; the title takes alpha and d from the first search. One colour per search.
    """
    if not searches:
        raise ValueError("searches is empty: give {label: WorstCase}")
    colours = style.run_colours(searches)
    fig = go.Figure()
    for label, wc in searches.items():
        colour = colours[str(label)]
        fig.add_scatter(x=np.arange(len(wc.trace)), y=wc.trace, mode="lines+markers", name=f"{label}: worst case",
                        line=dict(color=colour), meta={"kind": "trace", "search": label})
        if len(wc.random):
            fig.add_scatter(x=[0, len(wc.trace) - 1], y=[float(np.mean(wc.random))] * 2, mode="lines",
                            name=f"{label}: random (mean of {len(wc.random)})",
                            line=dict(color=colour, dash="dot"), meta={"kind": "random", "search": label})
        fig.add_scatter(x=[0, len(wc.trace) - 1], y=[wc.base] * 2, mode="lines", name=f"{label}: theta0",
                        line=dict(color=colour, dash="dash", width=1), meta={"kind": "base", "search": label})
    first = next(iter(searches.values()))
    fig.update_layout(xaxis_title="ascent step", yaxis_title="surrogate J: mean reference NLL [nats]")
    return panels.finish(fig, f"Worst-case search at alpha = {first.alpha:g} (norm sqrt(d), d = {first.d:,})",
                         template=style.TEMPLATE, legend_rows=panels.legend_rows(fig), panel_height=400)
