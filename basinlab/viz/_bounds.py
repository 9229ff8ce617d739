"""Figure 4 of the paper: certified lower bounds against p_A and sigma, embedding distances.

Numbers in, plotly Figures out; the formulas live in basinlab.theory. One palette colour per r.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from basinlab import theory
from basinlab.viz import _panels as panels
from basinlab.viz import _style as style

__all__ = ["bound_vs_pa", "bound_vs_sigma", "embedding_histogram"]


def _bound_traces(x, args, rs, weak, label) -> go.Figure:
    """One colour per r: Thm 4.3 solid, Thm 4.2 dotted; args(r) -> (p_a, r, sigma) for the theorems."""
    fig = go.Figure()
    for i, r in enumerate(rs):
        colour = style.palette_colour(i)
        fig.add_scatter(x=x, y=theory.strong_bound(*args(r)), mode="lines", line=dict(color=colour),
                        name=f"Thm 4.3, {label(r)}", meta={"kind": "strong", "r": r})
        if weak:
            fig.add_scatter(x=x, y=theory.weak_bound(*args(r)), mode="lines", line=dict(color=colour, dash="dot"),
                            name=f"Thm 4.2, {label(r)}", meta={"kind": "weak", "r": r})
    return fig


def bound_vs_pa(sigma: float = 0.003, rs: Sequence[float] = (0.0003, 0.0015, 0.003, 0.006),
                weak: bool = True, n: int = 400) -> go.Figure:
    """Fig. 4(a): lower bound on E S(theta_sft + eps) against p_A at fixed sigma, one curve per r."""
    p = np.linspace(0.0, 1.0, n)
    fig = _bound_traces(p, lambda r: (p, r, sigma), rs, weak, lambda r: f"r = {r:g} (r/σ = {r / sigma:.2g})")
    fig.update_layout(xaxis_title="p_A = E S(θ0 + ε)", yaxis_title="lower bound on E S(θ_sft + ε)",
                      yaxis_range=[0, 1.02])
    return panels.finish(fig, f"certified smoothed score after fine-tuning, σ = {sigma:g}", template=style.TEMPLATE,
                         legend_rows=panels.legend_rows(fig), panel_height=420)


def bound_vs_sigma(p_a: float = 0.9, rs: Sequence[float] = (0.0003, 0.0015, 0.003, 0.006),
                   sigmas: np.ndarray | None = None, weak: bool = True) -> go.Figure:
    """Fig. 4(b): the same bound against the basin size sigma at fixed p_A (log x axis)."""
    sigmas = np.geomspace(1e-4, 0.1, 300) if sigmas is None else np.asarray(sigmas)
    fig = _bound_traces(sigmas, lambda r: (p_a, r, sigmas), rs, weak, lambda r: f"r = {r:g}")
    fig.add_hline(y=p_a, line=dict(color=style.REFERENCE, dash="dash"), annotation_text=f"p_A = {p_a:g}")
    fig.update_layout(xaxis_title="basin size σ (per-coordinate noise std)", xaxis_type="log",
                      yaxis_title="lower bound on E S(θ_sft + ε)", yaxis_range=[0, 1.02])
    return panels.finish(fig, f"certified smoothed score against basin size, p_A = {p_a:g}", template=style.TEMPLATE,
                         legend_rows=panels.legend_rows(fig), panel_height=420)


def embedding_histogram(distances: theory.EmbeddingDistances, title: str = "", nbins: int = 80) -> go.Figure:
    """Fig. 4(c): L2 distances between token embeddings (random pairs and nearest neighbours)."""
    fig = go.Figure()
    fig.add_histogram(x=distances.pairwise, nbinsx=nbins, name=f"random pairs (n = {len(distances.pairwise):,})",
                      opacity=0.6, histnorm="probability density")
    if distances.nearest is not None:
        fig.add_histogram(x=distances.nearest, nbinsx=nbins, opacity=0.6, histnorm="probability density",
                          name=f"nearest neighbour (n = {len(distances.nearest):,} tokens)")
    fig.update_layout(barmode="overlay", xaxis_title="‖W e_i − W e_j‖₂", yaxis_title="density")
    return panels.finish(fig, title or "L2 distances between token embeddings", template=style.TEMPLATE,
                         panel_height=420)
