"""Definition 4.1's basin size as a figure: a basin-size Dataset (``bl.basin_size``, ``ds.basin.size``)
in, a plotly Figure out (nothing here runs a model).

- :func:`size_curves` -- E S(theta0 + sigma delta) against sigma >= 0, one panel per benchmark: the
  per-direction curves, the mean with its band, theta0's score and the threshold, sigma* and its
  interval marked. Traces carry ``meta={"kind": ..., "benchmark": ...}`` as in plots.py.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from basinlab.viz import _panels as panels
from basinlab.viz import _style as style
from basinlab.viz._checks import check_dataset

__all__ = ["size_curves"]

_SIZE_VARIABLES = ("sigma", "sigma_lo", "sigma_hi", "censored", "base_score", "mean_score", "mean_lo", "mean_hi",
                   "direction_score")


def size_curves(size: xr.Dataset, *, show_directions: bool = True, log_x: bool = False) -> go.Figure:
    """Definition 4.1's basin size of every benchmark: E S(theta0 + sigma delta) against sigma >= 0.

    size: a basin-size Dataset (``bl.basin_size``, ``ds.basin.size``, ``basinlab size --out``). One
    panel per benchmark: a thin line per direction (its score averaged over +-sigma), the mean over
    directions (markers at the probed sigmas) with its confidence band, theta0's score (dashed) and
    the basin's threshold S(theta0) - tol (dotted; + tol where lower is better), sigma* as a vertical
    line and its interval [sigma_lo, sigma_hi] shaded. Every curve starts at (0, S(theta0)). A
    censored sigma* (no crossing up to the largest sigma: a lower bound) is drawn dashed and named
    so; an interval whose far end did not cross is shaded to the last probe. Sigmas where a
    benchmark has no value (NaN: Datasets of several searches merged) are left out of its panel.

    log_x: a logarithmic sigma axis (the sigma = 0 point is then left out).
    Traces carry meta kind "direction" | "band" | "mean" | "base" | "threshold" | "interval" | "sigma".
    """
    size = check_dataset(size, "a basin-size Dataset (bl.basin_size or ds.basin.size)")
    missing = [v for v in _SIZE_VARIABLES if v not in size]
    if missing:
        raise ValueError(f"size_curves needs a basin-size Dataset (bl.basin_size, ds.basin.size); this one lacks "
                         f"{missing} (variables: {sorted(map(str, size.data_vars))})")
    tol = float(size.attrs.get("tol", float("nan")))
    conf = float(size.attrs.get("confidence", 0.95))
    method = str(size.attrs.get("method", "t"))
    band_name = f"{conf:.0%} band of the mean ({'Student t' if method == 't' else method} over directions)"
    benches = [str(b) for b in size["benchmark"].values]
    n_dir = int(size.sizes["direction"])
    sig_all = np.asarray(size["sigma_grid"].values, np.float64)
    higher = (np.asarray(size["higher_is_better"].values, bool) if "higher_is_better" in size.coords
              else np.ones(len(benches), bool))
    rows, cols = panels.grid_shape(len(benches))
    labels = {b: str(size["label"].sel(benchmark=b).item()) if "label" in size else "" for b in benches}
    titles = [panels.panel_title(b, f"sigma* {labels[b]}", cols) for b in benches]
    subtitle_lines = max(panels.lines(t) for t in titles)
    plot_px = panels.PANEL_HEIGHT * rows + (rows - 1) * (15 * subtitle_lines + 40)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.06,
                        vertical_spacing=(15 * subtitle_lines + 40) / plot_px if rows > 1 else 0.0,
                        x_title=panels.axis_label(size["sigma_grid"], "sigma"), y_title="mean score E S")
    for a in fig.layout.annotations[: len(titles)]:
        a.update(yanchor="bottom", yshift=2, font=dict(size=11))
    fig.update_xaxes(type="log" if log_x else None, rangemode=None if log_x else "tozero")
    for k, b in enumerate(benches):
        row, col = k // cols + 1, k % cols + 1
        colour = style.benchmark_colour(b)
        one = size.sel(benchmark=b)
        base = float(one["base_score"])
        ok = np.isfinite(np.asarray(one["mean_score"].values, np.float64))
        sig = sig_all[ok]
        x0 = [] if log_x else [0.0]  # every curve starts at theta0: E S(theta0 + 0 delta) = S(theta0)

        def series(values, ok=ok, base=base, x0=x0):
            return np.concatenate([[base] * len(x0), np.asarray(values, np.float64)[..., ok]], axis=-1)

        xs = np.concatenate([x0, sig])

        def add(trace, kind, b=b, row=row, col=col, **meta):
            trace.meta = {"kind": kind, "benchmark": b, **meta}
            fig.add_trace(trace, row=row, col=col)

        ys = [series(one["mean_lo"].values), series(one["mean_hi"].values)]
        if show_directions:
            d_scores = one["direction_score"].transpose("direction", "sigma_grid").values
            for i in range(n_dir):
                direction = int(size["direction"].values[i])
                y = series(d_scores[i])
                ys.append(y)
                add(go.Scatter(x=xs, y=y, mode="lines", line=dict(color=colour, width=0.8), opacity=0.35,
                               name=f"directions (n = {n_dir})", legendgroup=b, showlegend=False,
                               hovertemplate=f"{b}, direction {direction}<br>sigma=%{{x:.4g}}<br>"
                                             f"score (mean of +-sigma)=%{{y:.4g}}<extra></extra>"),
                    "direction", direction=direction)
        lo, hi = ys[0], ys[1]
        add(go.Scatter(x=np.concatenate([xs, xs[::-1]]), y=np.concatenate([hi, lo[::-1]]), mode="lines",
                       fill="toself", fillcolor=style.rgba(colour, 0.2), line=dict(width=0), hoverinfo="skip",
                       name=band_name, legendgroup=b, showlegend=False), "band")
        add(go.Scatter(x=xs, y=series(one["mean_score"].values), mode="lines+markers",
                       line=dict(color=colour, width=2.5), marker=dict(size=5), name=b, legendgroup=b,
                       hovertemplate=f"{b} mean over directions<br>sigma=%{{x:.4g}}<br>E S=%{{y:.4g}}<extra></extra>"),
            "mean")
        threshold = base - tol if higher[k] else base + tol
        ys.append(np.array([base, threshold]))
        x_end = [xs[0] if xs.size else 0.0, xs[-1] if xs.size else 1.0]
        add(go.Scatter(x=x_end, y=[base, base], mode="lines", line=dict(color=style.BASE, dash="dash", width=1.2),
                       name="theta0", legendgroup="all-base", showlegend=k == 0, legendrank=1001,
                       hovertemplate=f"{b} at theta0: %{{y:.4g}}<extra></extra>"), "base")
        if np.isfinite(threshold):
            add(go.Scatter(x=x_end, y=[threshold, threshold], mode="lines",
                           line=dict(color=style.REFERENCE, dash="dot", width=1.2),
                           name=f"theta0 {'-' if higher[k] else '+'} tol (tol = {tol:g})",
                           legendgroup="all-threshold", showlegend=k == 0, legendrank=1001,
                           hovertemplate=f"{b}: basin threshold %{{y:.4g}}<extra></extra>"), "threshold")
        finite = np.concatenate([np.ravel(y)[np.isfinite(np.ravel(y))] for y in ys])
        y0, y1 = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        pad = 0.04 * (y1 - y0 or 1.0)
        y0, y1 = y0 - pad, y1 + pad
        s, s_lo, s_hi = (float(one[v]) for v in ("sigma", "sigma_lo", "sigma_hi"))
        censored = bool(one["censored"])
        censored_hi = bool(one["censored_hi"]) if "censored_hi" in one else censored
        if np.isfinite(s_lo) and np.isfinite(s_hi):
            add(go.Scatter(x=[s_lo, s_hi, s_hi, s_lo, s_lo], y=[y0, y0, y1, y1, y0], mode="lines", fill="toself",
                           fillcolor=style.rgba(colour, 0.12), line=dict(width=0), legendgroup=b, showlegend=False,
                           name=f"{conf:.0%} interval of sigma*" + (" (upper end: beyond the last probe)"
                                                                     if censored_hi else ""),
                           hovertemplate=f"{b}: sigma* {labels[b]}<extra></extra>"), "interval",
                censored=censored_hi)
        if np.isfinite(s):
            add(go.Scatter(x=[s, s], y=[y0, y1], mode="lines",
                           line=dict(color=colour, width=2, dash="dash" if censored else "solid"),
                           name=f"sigma* >= {s:.3g} (censored: no crossing up to the last probe)" if censored
                           else f"sigma* = {s:.3g}", legendgroup=b, showlegend=False,
                           hovertemplate=f"{b}: sigma* {labels[b]}<extra></extra>"), "sigma", censored=censored)

    model = size.attrs.get("model_label") or size.attrs.get("model") or ""
    if model and size.attrs.get("d") is not None:
        model = f"{model} (d = {int(size.attrs['d']):,})"
    title = (f"Basin size sigma* (Definition 4.1, tol = {tol:g}){' of ' + model if model else ''}, "
             f"{n_dir} direction{'s' * (n_dir != 1)}")
    kinds = [f"thin: the {n_dir} directions (mean of +-sigma)"] if show_directions else []
    kinds += [f"thick: their mean E S, shaded: its {conf:.0%} band ({method})",
              f"vertical: sigma* (dashed: censored), shaded: its {conf:.0%} interval"]
    return panels.finish(fig, title, rows=rows, subtitle_lines=subtitle_lines, template=style.TEMPLATE,
                         legend_rows=panels.legend_rows(fig), subtitle="; ".join(kinds))
