"""Page geometry shared by basinlab's figures: panel grids, wrapped titles, axis labels, legend placement.

A figure is read at 100% zoom in a 1000-1500 px wide notebook output or saved for a paper; the helpers
here keep every title clear of its neighbours at the narrow end of that range:

- :func:`grid_shape`   -- rows x columns for n panels: one row up to ``max_cols`` (the paper's Figure 1),
  then rows as full as possible (5 -> 3 + 2, 8 -> 4 + 4, never a row with one panel and empty space).
- :func:`wrap`         -- break a long label into lines at word boundaries (plotly's ``<br>``).
- :func:`panel_title`  -- a panel's name in bold with its long description (a metric) in small type
  below, wrapped to the panel's width.
- :func:`axis_label`   -- "long_name [units]" of a coordinate or variable; the landscape's alpha and
  beta get their meaning spelled out ("alpha (per-coordinate noise std)").
- :func:`finish`       -- height, margins, title and a horizontal legend below the plots (it takes
  height, never width from the panels), sized for the number of rows and title lines.

Plain plotly only; no other basinlab module is imported.
"""

from __future__ import annotations

import math
import textwrap

import plotly.graph_objects as go
import xarray as xr

__all__ = ["MIN_WIDTH", "PANEL_HEIGHT", "axis_label", "finish", "grid_shape", "legend_rows", "panel_title", "wrap"]

MIN_WIDTH = 1000      # px: the narrowest output the figures are laid out for
PANEL_HEIGHT = 300    # px of plot area per row of panels
_CHAR_PX = 6.2        # mean glyph width of the 11 px description font
_LINE_PX = 15         # one line of a title or legend
# Default long_names of the landscape grid (basinlab.landscape._results) -> what they mean.
GRID_LABELS = {"alpha": "alpha (per-coordinate noise std)", "beta": "beta (per-coordinate std, second direction)"}


def grid_shape(n: int, max_cols: int = 4) -> tuple[int, int]:
    """(rows, cols) for n panels: a single row while n <= max_cols, else ceil(n / max_cols) rows
    with the columns spread evenly, so no row is more than one panel short of the others."""
    n, max_cols = int(n), int(max_cols)
    if n < 1 or max_cols < 1:
        raise ValueError(f"grid_shape needs n >= 1 and max_cols >= 1, got n={n}, max_cols={max_cols}")
    rows = math.ceil(n / max_cols)
    return rows, math.ceil(n / rows)


def wrap(text: str, width: int) -> str:
    """`text` broken at spaces (never at hyphens) into lines of at most `width` characters (longer
    words stay whole), joined with plotly's ``<br>``."""
    parts = textwrap.wrap(str(text), max(8, int(width)), break_long_words=False, break_on_hyphens=False)
    return "<br>".join(parts) or str(text)


def panel_chars(cols: int, width_px: int = MIN_WIDTH) -> int:
    """Characters of the small description font that fit one panel of `cols` in a `width_px` figure."""
    panel = (width_px - 140) / max(1, cols) - 20
    return max(16, int(panel / _CHAR_PX))


def panel_title(name: str, description: str | None, cols: int) -> str:
    """'<b>name</b>' with `description` in small grey type below, wrapped to one panel of `cols`
    (the annotation's own font is the small one, 11 px, so the lines are spaced for it)."""
    head = f"<span style='font-size:14px'><b>{name}</b></span>"
    if not description:
        return head
    small = wrap(description, panel_chars(cols))
    return f"{head}<br><span style='color:#555'>{small}</span>"


def lines(text: str | None) -> int:
    """Number of lines plotly draws for `text`."""
    return 0 if not text else str(text).count("<br>") + 1


def legend_rows(fig: go.Figure, width_px: int = MIN_WIDTH) -> int:
    """Rows a horizontal legend of `fig`'s entries (traces and shapes shown in the legend) takes in a
    `width_px` wide figure, from the length of their names (12 px font, about 7 px a character, plus
    the symbol and the gap)."""
    # plotly's inferred type for fig.data is its property names, not the traces
    names = [t.name or "" for t in fig.data if t.showlegend is not False and (t.showlegend or t.name)]  # pyright: ignore[reportAttributeAccessIssue]
    names += [s.name or "" for s in fig.layout.shapes if s.showlegend]
    if not names:
        return 0
    return max(1, math.ceil(sum(7 * len(n) + 50 for n in names) / (width_px - 120)))


def axis_label(da: xr.DataArray, fallback: str = "") -> str:
    """'long_name [units]' from a DataArray's attrs; dimensionless units ('1') are left out, and the
    grid's default names ("alpha", "beta") become their meaning."""
    name = da.attrs.get("long_name") or fallback or str(da.name)
    name = GRID_LABELS.get(name, name)
    units = da.attrs.get("units")
    return f"{name} [{units}]" if units and units != "1" else name


def finish(fig: go.Figure, title: str, *, rows: int = 1, subtitle_lines: int = 0, legend_rows: int = 1,
           x_title: bool = True, template=None, panel_height: int = PANEL_HEIGHT,
           subtitle: str | None = None) -> go.Figure:
    """Lay out `fig` for a page: the title at the top, in small type under it the `subtitle` (one
    line: plotly's title subtitle, which a ``<br>`` in a top-anchored title would push off the
    page), subplot titles of `subtitle_lines` lines under them, `rows` rows of PANEL_HEIGHT px, then
    the x axis title and a horizontal legend of about `legend_rows` rows at the bottom, centred. The
    width is left to the container (autosize). panel_height: px of plot area per row (a figure with
    a single plot takes more, e.g. 420)."""
    top = 16 + _LINE_PX * 1.3 * lines(title) + (_LINE_PX * subtitle_lines + 8 if subtitle_lines else 0)
    top += 2 * _LINE_PX if subtitle else 0
    bottom = (50 if x_title else 30) + (_LINE_PX + 6) * legend_rows + 10
    gaps = (rows - 1) * (_LINE_PX * max(subtitle_lines, 1) + 40)
    fig.update_layout(
        template=template, height=int(panel_height * rows + top + bottom + gaps),
        title=dict(text=title, x=0.0, xanchor="left", xref="paper", y=1.0, yref="container", yanchor="top",
                   pad=dict(t=10), font=dict(size=16),
                   subtitle=dict(text=subtitle, font=dict(size=11)) if subtitle else None),
        margin=dict(t=int(top), b=int(bottom), l=80, r=24),
        legend=dict(orientation="h", yref="container", y=0.0, yanchor="bottom", x=0.5, xanchor="center",
                    font=dict(size=12), tracegroupgap=4),
    )
    return fig
