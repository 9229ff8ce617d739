"""The live explorer's HTML: its status line with counters, the answers side by side, the per-item table.

Pure functions of their inputs (strings and xarray objects in, HTML out): the widget in
:mod:`basinlab._live` sets them as ``widgets.HTML`` values. Class names and ``data-`` attributes are
what the browser test reads.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import xarray as xr

__all__ = ["answers", "items", "status"]

_PRE = "<pre style='white-space:pre-wrap;margin:0'>{}</pre>"
_COLOURS = {"error": "#b00020", "busy": "#555"}


def status(text: str, kind: str, counts: Mapping[str, int]) -> str:
    """The status line (kind "idle" | "busy" | "error", its colour) and the counters, each also a
    ``data-<name>`` attribute of the ``live-counts`` span."""
    data = " ".join(f"data-{k}='{int(v)}'" for k, v in counts.items())
    said = ", ".join(f"{int(v)} {k.replace('-', ' ')}" for k, v in counts.items())
    return (f"<span class='live-status' data-state='{kind}' style='color:{_COLOURS.get(kind, 'inherit')}'>"
            f"{html.escape(text)}</span><span class='live-counts' {data} style='color:#777;font-size:85%'>"
            f" · {said}</span>")


def answers(prompt: str, base: str, moved: str | None, where: str) -> str:
    """theta0's answer and the perturbed model's (at `where`; None: not yet) side by side."""
    cell = lambda t: _PRE.format(html.escape(t) if t is not None else "—")  # noqa: E731
    return (f"<div class='live-answers'><b>{html.escape(prompt)}</b><table style='width:100%;table-layout:fixed' "
            f"border='1' cellpadding='4'><tr><th>θ0</th><th>{html.escape(where)}</th></tr><tr>"
            f"<td class='answer-base'>{cell(base)}</td><td class='answer-moved'>{cell(moved)}</td></tr></table></div>")


def items(ds: xr.Dataset, base: xr.DataArray, here: xr.DataArray, where: str) -> str:
    """Per benchmark of `ds`, every item's score at theta0 (`base` [benchmark, item]) and at the point
    (`here` [benchmark, item], labelled `where`); items whose score changed are marked."""
    changed, parts = " class='changed' style='background:#fde8e8'", []
    for b in [str(x) for x in ds["benchmark"].values]:
        n = int(ds["n_items"].sel(benchmark=b))
        now, then = here.sel(benchmark=b).values[:n], base.sel(benchmark=b).values[:n]
        rows = "".join(f"<tr{changed if np.isfinite(t) and v != t else ''}><td>{k}</td><td>{t:.4g}</td>"
                       f"<td>{v:.4g}</td></tr>" for k, (t, v) in enumerate(zip(then, now, strict=True)))
        parts.append(f"<details open><summary>{html.escape(b)}: {n} items</summary><table border='1' cellpadding='3'>"
                     f"<tr><th>item</th><th>θ0</th><th>{html.escape(where)}</th></tr>{rows}</table></details>")
    return f"<div class='live-items' style='font-size:90%'>{''.join(parts)}</div>"
