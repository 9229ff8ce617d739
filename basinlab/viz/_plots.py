"""Plotly figures of landscape Datasets: Dataset in, ``plotly.graph_objects.Figure`` out.

Nothing here runs a model (ArviZ style): every function reads a Dataset made by
``basinlab.landscape`` (schema in ``basinlab.landscape._results``), takes axis titles from the variables'
``long_name``/``units`` attrs and the figure title from the Dataset attrs (model, d).

- :func:`curves`  -- score / loss / NLL against alpha, one subplot per benchmark, per-direction
  lines, the mean with a bootstrap band, the base score, chance and basin edges.
- :func:`heatmap`, :func:`surface` -- one plane of a 2-D (alpha, beta) sweep.
- :func:`widths`  -- basin widths across several models (box/strip per model).

(Definition 4.1's basin size against sigma: :func:`basinlab.viz._size.size_curves`.)

Traces carry ``meta={"kind": ..., "benchmark": ...}`` so widgets and tests can find them
without relying on trace order; basin-edge shapes have "basin edge" in their name. A benchmark is
drawn in its ``style.benchmark_colour`` in every figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from basinlab import _validate as validate
from basinlab.landscape._results import loss_T
from basinlab.viz import _panels as panels
from basinlab.viz import _style as style
from basinlab.viz._checks import base_values, check_benchmark, check_direction, check_variable

__all__ = ["curves", "heatmap", "surface", "widths"]


# ----------------------------------------------------------------------------- labels


def _label(da: xr.DataArray, fallback: str = "") -> str:
    """'long_name [units]' from attrs; dimensionless units ('1') are left out (panels.axis_label)."""
    return panels.axis_label(da, fallback)


def _model_title(ds: xr.Dataset) -> str:
    model = ds.attrs.get("model_label") or ds.attrs.get("model", "unknown model")
    d = ds.attrs.get("d")
    return f"{model} (d = {int(d):,})" if d is not None else str(model)


# ----------------------------------------------------------------------------- derived values


def _chance(ds: xr.Dataset, variable: str) -> xr.DataArray | None:
    """Chance level per benchmark (NaN where none); NLL has no chance level in the schema."""
    if "chance" not in ds.coords or variable == "nll":
        return None
    chance = ds["chance"].astype(float)
    return loss_T(ds, chance) if variable == "loss" else chance


def _slice_beta(ds: xr.Dataset, beta):
    """A 2-D sweep is cut at the grid beta nearest `beta` (default 0: the slice through theta0)."""
    if "beta" not in ds.dims:
        if beta is not None:
            raise ValueError(f"beta={beta!r} given but the Dataset has no beta dim (dims: {dict(ds.sizes)})")
        return ds, None
    cut = ds.sel(beta=0.0 if beta is None else float(beta), method="nearest")
    return cut, float(cut["beta"])


# ----------------------------------------------------------------------------- curves


def curves(
    ds: xr.Dataset,
    variable: str = "score",
    band: bool = True,
    show_directions: bool = True,
    tol: float | None = None,
    *,
    beta: float | None = None,
    subplots: bool = True,
    confidence: float = 0.95,
) -> go.Figure:
    """Landscape slices L(alpha) per benchmark.

    Per benchmark: a thin line per direction, the mean across directions with a percentile-bootstrap
    band (``ds.basin.band``), a dashed line at the base (theta0) value, a dotted chance line where the
    benchmark has one, and, when ``tol`` is given, the median basin edges across directions as vertical
    dash-dot lines (``ds.basin.width(tol)``; tol in the units of ``variable``).

    variable: "score" | "loss" | "nll". subplots: one subplot per benchmark (else all benchmarks on
    shared axes); each benchmark in its ``style.benchmark_colour``. beta: for a 2-D sweep, the grid
    beta to cut at (nearest; default 0).

    Legend entries have the colour of every line they stand for (and hide): with one panel per
    benchmark, an entry per benchmark (its mean line; its directions, band and edges go with it) plus
    theta0 and chance, the kinds of line named under the title; with one benchmark, or overlaid, an
    entry per kind of line (per benchmark when overlaid).
    """
    check_variable(ds, variable)
    # Base and chance from the whole Dataset: in loss units they must share its T normalization,
    # which spans every beta of a 2-D sweep, not only the cut drawn here.
    base = base_values(ds, variable)
    chance = _chance(ds, variable)
    ds, beta_cut = _slice_beta(ds.sortby("alpha"), beta)
    benches = [str(b) for b in ds["benchmark"].values]
    n_dir = ds.sizes["direction"]
    alphas = ds["alpha"].values
    stats = ds.basin.band(variable, confidence=confidence)  # the mean is drawn even without the band
    # Per-direction basin edges in the plotted variable (tol in its units).
    edges = ds.basin.width(tol, variable) if tol is not None else None

    xlabel, ylabel = _label(ds["alpha"]), _label(ds[variable])
    metrics = {b: str(ds["metric"].sel(benchmark=b).item()) if "metric" in ds.coords else "" for b in benches}
    subtitle_lines = 0
    if subplots and len(benches) > 1:
        # One panel per benchmark as the paper's Figure 1: a single row up to 4, then full rows.
        rows, cols = panels.grid_shape(len(benches))
        # Name in bold, the (long) metric wrapped to the panel's width in small type below it.
        titles = [panels.panel_title(b, metrics[b], cols) for b in benches]
        subtitle_lines = max(panels.lines(t) for t in titles)
        # Scores share one axis (fractions): tick labels on the left column only, panels closer together.
        share_y = variable == "score"
        plot_px = panels.PANEL_HEIGHT * rows + (rows - 1) * (15 * subtitle_lines + 40)
        fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, shared_xaxes=True, shared_yaxes=share_y,
                            horizontal_spacing=0.025 if share_y else 0.06,
                            vertical_spacing=(15 * subtitle_lines + 40) / plot_px if rows > 1 else 0.0,
                            x_title=xlabel, y_title=ylabel)
        for a in fig.layout.annotations[: len(titles)]:
            a.update(yanchor="bottom", yshift=2, font=dict(size=11))
        fig.update_xaxes(showticklabels=True)  # shared x: every panel keeps its alpha ticks
        cell = {b: (i // cols + 1, i % cols + 1) for i, b in enumerate(benches)}
    else:
        rows = 1
        fig = make_subplots(rows=1, cols=1)
        fig.update_layout(xaxis_title=xlabel, yaxis_title=ylabel)
        cell = {b: (1, 1) for b in benches}

    da = ds[variable].transpose("direction", "alpha", "benchmark")
    # A legend entry is drawn in its trace's colour and stands for its group, so every line of a group
    # has the entry's colour. Panels of several benchmarks (one colour each): one entry per benchmark,
    # its mean line, grouping all its coloured lines, and theta0 and chance (black and grey in every
    # panel) once; what the coloured lines are goes under the title. One benchmark, or overlaid
    # benchmarks: an entry per kind of line (per benchmark when overlaid).
    by_benchmark = subplots and len(benches) > 1  # then theta0 and chance rank after the benchmarks
    chance_entry = True  # the first chance line drawn carries the entry (not every benchmark has one)
    for k, b in enumerate(benches):
        row, col = cell[b]
        # A benchmark has the same colour in every figure (style.benchmark_colour), subplots or overlaid.
        colour = style.benchmark_colour(b)
        first = (k == 0 or not subplots) and not by_benchmark  # per-kind entries: once, or per benchmark
        tag = "" if subplots else f"{b}: "
        group = b if by_benchmark else "all" if subplots else b

        def add(trace, kind, b=b, row=row, col=col, **meta):  # defaults bind this benchmark's b, row, col
            trace.meta = {"kind": kind, "benchmark": b, **meta}
            fig.add_trace(trace, row=row, col=col)

        if show_directions:
            for i in range(n_dir):
                direction = int(ds["direction"].values[i])
                add(go.Scatter(
                    x=alphas, y=da.values[i, :, k], mode="lines", line=dict(color=colour, width=0.8),
                    opacity=0.35, name=f"{tag}directions (n = {n_dir})",
                    legendgroup=group if by_benchmark else f"{group}-dirs", showlegend=first and i == 0,
                    hovertemplate=f"{b}, direction {direction}<br>alpha=%{{x:.4g}}<br>"
                                  f"{variable}=%{{y:.4g}}<extra></extra>",
                ), "direction", direction=direction)
        mean = stats["mean"].sel(benchmark=b).values
        if band:
            lo, hi = stats["lower"].sel(benchmark=b).values, stats["upper"].sel(benchmark=b).values
            ok = np.isfinite(lo) & np.isfinite(hi)  # a NaN would break the closed polygon
            add(go.Scatter(
                x=np.concatenate([alphas[ok], alphas[ok][::-1]]), y=np.concatenate([hi[ok], lo[ok][::-1]]),
                mode="lines", fill="toself", fillcolor=style.rgba(colour, 0.2), line=dict(width=0), hoverinfo="skip",
                name=f"{tag}{confidence:.0%} band of the mean (bootstrap)",
                legendgroup=group if by_benchmark else f"{group}-band", showlegend=first,
            ), "band")
        add(go.Scatter(
            x=alphas, y=mean, mode="lines+markers", line=dict(color=colour, width=2.5), marker=dict(size=4),
            name=b if by_benchmark else f"{tag}mean over directions",
            legendgroup=group if by_benchmark else f"{group}-mean", showlegend=first or by_benchmark,
            hovertemplate=f"{b} mean{' (' + metrics[b] + ')' if metrics[b] else ''}<br>alpha=%{{x:.4g}}<br>"
                          f"{variable}=%{{y:.4g}}<extra></extra>",
        ), "mean")
        base_b = float(base.sel(benchmark=b))
        add(go.Scatter(
            x=[alphas[0], alphas[-1]], y=[base_b, base_b], mode="lines",
            line=dict(color=style.BASE if subplots else colour, dash="dash", width=1.2),
            name=f"{tag}theta0", legendgroup="all-base" if by_benchmark else f"{group}-base",
            showlegend=first or (by_benchmark and k == 0), legendrank=1001 if by_benchmark else 1000,
            hovertemplate=f"{b} at theta0: %{{y:.4g}}<extra></extra>",
        ), "base")
        if chance is not None and np.isfinite(c := float(chance.sel(benchmark=b))):
            # In loss units chance can land far outside [0, 1] and would squash the plot.
            if variable != "loss" or 0.0 <= c <= 1.0:
                add(go.Scatter(
                    x=[alphas[0], alphas[-1]], y=[c, c], mode="lines", line=dict(color=style.REFERENCE, dash="dot"),
                    name=f"{tag}chance", legendgroup="all-chance" if subplots else f"{b}-chance",
                    showlegend=chance_entry if subplots else True, legendrank=1001 if by_benchmark else 1000,
                    hovertemplate=f"{b} chance: %{{y:.4g}}<extra></extra>",
                ), "chance")
                chance_entry = False
        if edges is not None:
            for side in ("left", "right"):
                # Shapes have no hover, so the legend entry (shown once) explains the line.
                fig.add_vline(  # plotly annotates row/col as str, but takes a subplot's int index too
                    x=float(edges[side].sel(benchmark=b).median("direction")), row=row, col=col,  # pyright: ignore[reportArgumentType]
                    line=dict(color=colour, dash="dashdot", width=1.5),
                    name=f"{tag}median basin edge (one-sided, tol = {tol:g})",
                    showlegend=first and side == "left", legendgroup=group if by_benchmark else f"{group}-edge",
                )

    title = f"{variable} landscape of {_model_title(ds)}, {n_dir} direction{'s' * (n_dir != 1)}"
    if beta_cut is not None:
        title += f", beta = {beta_cut:.4g}"
    subtitle = None
    if by_benchmark:  # the legend names the benchmarks: what their lines are
        kinds = [f"thin lines: the {n_dir} directions"] if show_directions else []
        kinds.append(("thick: their mean" if show_directions else "lines: the mean over directions")
                     + (f", shaded: its {confidence:.0%} bootstrap band" if band else ""))
        if edges is not None:
            kinds.append(f"dash-dot: median basin edge (one-sided, tol = {tol:g})")
        subtitle = "; ".join(kinds)
    if len(benches) == 1:  # no subplot title to name it
        metric = f" ({metrics[benches[0]]})" if metrics[benches[0]] else ""
        subtitle = f"{benches[0]}{metric}"
    return panels.finish(fig, title, rows=rows, subtitle_lines=subtitle_lines, template=style.TEMPLATE,
                         legend_rows=panels.legend_rows(fig), subtitle=subtitle)


# ----------------------------------------------------------------------------- 2-D sweeps


def _plane(ds: xr.Dataset, benchmark, direction, variable, caller) -> tuple[xr.DataArray, str]:
    """One (alpha, beta) plane of a 2-D sweep, checked."""
    if "beta" not in ds.dims:
        raise ValueError(
            f"{caller} needs a 2-D sweep with an (alpha, beta) grid, but this Dataset has dims "
            f"{list(ds.sizes)}; run landscape(..., directions=[(recipe1, recipe2)], betas=...)"
        )
    check_variable(ds, variable)
    bench = check_benchmark(ds, benchmark)
    direction = check_direction(ds, direction)
    plane = ds[variable].sel(benchmark=bench, direction=direction).sortby("alpha").sortby("beta")
    return plane.transpose("beta", "alpha"), bench  # plotly wants z[y][x]: rows are beta


def _plane_title(ds, variable, bench, direction) -> str:
    return f"{ds[variable].attrs.get('long_name', variable)}: {bench}, plane {direction}, {_model_title(ds)}"


def heatmap(ds: xr.Dataset, benchmark: str | None = None, direction: int = 0, variable: str = "loss") -> go.Figure:
    """Heatmap of `variable` over the (alpha, beta) plane of one direction pair; alpha on x, beta on y,
    z has shape (n_beta, n_alpha). theta0 is marked with a cross. benchmark None -> the first one."""
    plane, bench = _plane(ds, benchmark, direction, variable, "heatmap")
    fig = go.Figure(go.Heatmap(
        x=plane["alpha"].values, y=plane["beta"].values, z=plane.values, colorscale=style.SEQUENTIAL,
        colorbar=dict(title=dict(text=_label(ds[variable]), side="right")),
        hovertemplate="alpha=%{x:.4g}<br>beta=%{y:.4g}<br>" + variable + "=%{z:.4g}<extra></extra>",
        meta={"kind": "heatmap", "benchmark": bench},
    ))
    a, b = plane["alpha"].values, plane["beta"].values
    if a.min() <= 0 <= a.max() and b.min() <= 0 <= b.max():  # a cross outside the grid would stretch the axes
        fig.add_trace(go.Scatter(
            x=[0.0], y=[0.0], mode="markers", name="theta0", showlegend=False, meta={"kind": "theta0"},
            marker=dict(symbol="x", color="white", size=10, line=dict(color=style.BASE, width=1)),
        ))
    fig.update_layout(template=style.TEMPLATE, title=_plane_title(ds, variable, bench, direction),
                      xaxis_title=_label(ds["alpha"]), yaxis_title=_label(ds["beta"]))
    return fig


def surface(ds: xr.Dataset, benchmark: str | None = None, direction: int = 0, variable: str = "loss") -> go.Figure:
    """3-D surface of `variable` over the (alpha, beta) plane of one direction pair (see heatmap)."""
    plane, bench = _plane(ds, benchmark, direction, variable, "surface")
    fig = go.Figure(go.Surface(
        x=plane["alpha"].values, y=plane["beta"].values, z=plane.values, colorscale=style.SEQUENTIAL,
        colorbar=dict(title=dict(text=_label(ds[variable]), side="right")),
        meta={"kind": "surface", "benchmark": bench},
    ))
    fig.update_layout(template=style.TEMPLATE, title=_plane_title(ds, variable, bench, direction),
                      scene=dict(xaxis_title="alpha", yaxis_title="beta", zaxis_title=_label(ds[variable])))
    return fig


# ----------------------------------------------------------------------------- widths across models


def _labelled(datasets) -> list[tuple[str, xr.Dataset]]:
    """dict label -> Dataset, or a list labelled by attrs['model'] (duplicates numbered)."""
    if isinstance(datasets, xr.Dataset):
        datasets = [datasets]
    if isinstance(datasets, Mapping):
        items = [(str(k), v) for k, v in datasets.items()]
    else:
        items, seen = [], {}
        for ds in datasets:
            name = str(ds.attrs.get("model_label") or ds.attrs.get("model", "model"))
            seen[name] = seen.get(name, 0) + 1
            items.append((name if seen[name] == 1 else f"{name} ({seen[name]})", ds))
    if not items:
        raise ValueError("widths needs at least one Dataset")
    for label, ds in items:
        if not isinstance(ds, xr.Dataset):
            raise ValueError(f"{label!r} is a {type(ds).__name__}, not an xarray Dataset")
    return items


def widths(
    datasets: Mapping[str, xr.Dataset] | Sequence[xr.Dataset],
    tol: float = 0.05,
    benchmark: str | None = None,
    *,
    x: str = "label",
    log_x: bool = False,
    variable: str = "score",
) -> go.Figure:
    """Basin widths (``ds.basin.width(tol)``, one value per direction) across models.

    datasets: {label: Dataset} or a list (labels from attrs['model']); 1-D sweeps.
    x: "label" -> a box with all points per model; "d" -> a strip at the parameter count d (attrs),
    with the median marked, optionally on a log axis (log_x). benchmark None -> every benchmark, one
    colour each. Censored widths (an edge at the end of the grid: the basin is at least that wide)
    are drawn as open triangles / flagged in the hover text.
    """
    validate.choice("x", x, ("label", "d"))
    if log_x and x != "d":
        raise ValueError("log_x needs a numeric axis: use x='d'")
    items = _labelled(datasets)
    rows = []  # (label, d, benchmark, widths[direction], censored[direction], directions)
    for label, ds in items:
        check_variable(ds, variable, ("score", "nll"))
        if "beta" in ds.dims:
            raise ValueError(f"{label!r} is a 2-D sweep (dims {list(ds.sizes)}); "
                             "select a beta first, e.g. ds.sel(beta=0)")
        if x == "d" and ds.attrs.get("d") is None:
            raise ValueError(f"{label!r} has no 'd' attr; use x='label'")
        if benchmark is None:
            names = [str(b) for b in ds["benchmark"].values]
        else:
            names = [check_benchmark(ds, benchmark, f"Dataset {label!r}")]
        w = ds.basin.width(tol, variable)
        for b in names:
            rows.append((label, ds.attrs.get("d"), b, w["width"].sel(benchmark=b).values,
                         w["censored"].sel(benchmark=b).values, w["direction"].values))

    benches = list(dict.fromkeys(r[2] for r in rows))
    fig = go.Figure()
    for k, b in enumerate(benches):
        colour = style.benchmark_colour(b)
        mine = [r for r in rows if r[2] == b]
        hover = [f"{r[0]}, direction {int(dd)}" + (" (censored: at least this wide)" if c else "")
                 for r in mine for dd, c in zip(r[5], r[4], strict=True)]
        ys = np.concatenate([r[3] for r in mine])
        cens = np.concatenate([r[4] for r in mine])
        if x == "label":
            fig.add_trace(go.Box(
                x=[r[0] for r in mine for _ in r[3]], y=ys, name=b, boxpoints="all", jitter=0.4, pointpos=0,
                marker=dict(color=colour, size=5), line=dict(color=colour), hovertext=hover, offsetgroup=b,
                meta={"kind": "widths", "benchmark": b},
            ))
        else:
            # Multiplicative jitter keeps points of one model apart on a log axis too.
            rng = np.random.default_rng(k)
            xs = np.concatenate([np.full(len(r[3]), float(r[1])) for r in mine])
            xs = xs * 10 ** rng.uniform(-0.02, 0.02, xs.size)
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="markers", name=b, hovertext=hover, legendgroup=b,
                marker=dict(color=colour, size=6, symbol=np.where(cens, "triangle-up-open", "circle")),
                meta={"kind": "widths", "benchmark": b},
            ))
            fig.add_trace(go.Scatter(
                x=[float(r[1]) for r in mine], y=[float(np.nanmedian(r[3])) for r in mine], mode="markers",
                marker=dict(color=colour, symbol="line-ew-open", size=24, line=dict(width=3)),
                name=f"{b} median", legendgroup=b, hovertext=[r[0] for r in mine],
                meta={"kind": "median", "benchmark": b},
            ))
    first = items[0][1]
    ylabel = f"basin width in {_label(first['alpha'])} (one-sided, tol = {tol:g} in {variable})"
    fig.update_layout(
        yaxis_title=ylabel, xaxis_title="model" if x == "label" else "parameter count d", boxmode="group",
        xaxis_type="log" if log_x else None,
    )
    return panels.finish(fig, f"Basin width across models (one-sided basins, tol = {tol:g})", template=style.TEMPLATE,
                         legend_rows=panels.legend_rows(fig), panel_height=420)

