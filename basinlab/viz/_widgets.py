"""Jupyter explorers: ipywidgets + plotly figures over a landscape Dataset (or the bounds).

- :class:`SigmaExplorer` -- the curves of a landscape with an alpha (and beta) slider and a table.
- :class:`RunExplorer`   -- several landscapes behind one run selector.
- :class:`BoundExplorer` -- p_A, sigma and r sliders over Fig. 4(a) with the certified numbers.

Like plots.py, widgets only read a Dataset (no model runs): everything a slider can show is
computed once at construction (bootstrap bands over the whole grid), so moving a slider is a
lookup plus a redraw. Every interaction is also a method (``set_alpha``, ``set_beta``), so tests
and scripts drive the widgets without a browser.

    ex = SigmaExplorer(ds)   # display(ex) in JupyterLab
    ex.set_alpha(0.01)       # moves the marker on every subplot and refreshes ex.table
"""

from __future__ import annotations

import contextlib
import html
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import xarray as xr

from basinlab import _validate as validate
from basinlab.viz import _plots as plots
from basinlab.viz import _style as style
from basinlab.viz._checks import base_values, check_variable

__all__ = ["BoundExplorer", "RunExplorer", "SigmaExplorer"]

MARKER = "alpha-marker"  # name of the vertical marker shapes in SigmaExplorer.figure
MARK = "mark"  # name prefix of the labelled vertical lines (`marks=`), e.g. the fine-tuned model


def _nearest(grid: np.ndarray, value: float) -> float:
    return float(grid[int(np.argmin(np.abs(grid - value)))])


def _slider(name: str, grid: np.ndarray, value: float) -> widgets.SelectionSlider | widgets.FloatSlider:
    """A FloatSlider over a sorted grid: step = the grid spacing, readout with enough decimals; a
    SelectionSlider of the grid values when the grid is far from uniform (e.g. logarithmic)."""
    gaps = np.diff(grid)
    if grid.size > 2 and gaps.max() > 3 * gaps.min():
        return widgets.SelectionSlider(
            options=[(f"{a:.3g}", float(a)) for a in grid], value=value, description=name,
            continuous_update=True, layout=widgets.Layout(width="min(100%, 42em)"))
    # Median spacing: a nearly uniform grid (arange/linspace rounding) still gets one clean step;
    # values between grid points are snapped to the nearest grid point by the explorer.
    step = float(np.median(np.diff(grid))) if grid.size > 1 else 1.0
    step = float(f"{step:.10g}")
    decimals = next((n for n in range(12) if abs(round(step, n) - step) <= 1e-9 * abs(step)), 12)
    return widgets.FloatSlider(
        value=value, min=float(grid[0]), max=float(grid[-1]) if grid.size > 1 else float(grid[0]) + step,
        step=step, description=name, readout=True, readout_format=f".{decimals}f", continuous_update=True,
        layout=widgets.Layout(width="min(100%, 42em)"),
    )


def _fmt(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:.4g}"


class SigmaExplorer(widgets.VBox):
    """Curves of a landscape with a slider over alpha (the noise scale sigma of a Gaussian direction).

    Children: ``output`` (an ipywidgets Output showing ``figure``, the plotly Figure of
    ``plots.curves(ds, variable)`` with a vertical marker at the current alpha on every subplot), the
    sliders (``slider`` for alpha; ``beta_slider`` for 2-D sweeps, which re-cuts the curves at that
    beta), and ``table`` (HTML: per benchmark the mean score across directions at the current point
    with its bootstrap band, the base score, how many directions still reach the base score, and the
    ``example_output`` strings if the Dataset has them). With `tol`, on a 1-D sweep of two or more
    directions, the table also shows each benchmark's basin size sigma* with its interval
    (Definition 4.1 read off the grid: ``size``, ``ds.basin.size(tol)``, computed once).

    ds: a landscape Dataset (1-D or 2-D). variable: "score" | "loss" | "nll" for the curves (the table
    always shows the score, plus `variable` when it differs). tol: basin edges on the curves, and the
    basin size's tol (score units).
    max_chars: example outputs are cut to this many characters. marks: {label: alpha} labelled
    dashed vertical lines (e.g. {"fine-tuned model": alpha_sft}). log_x: a logarithmic alpha axis
    (for one-sided worst-case grids; alpha = 0 is then off the axis but still in the slider).

    The figure is drawn by JupyterLab's plotly renderer (the same as a figure returned by a cell) and
    redrawn after each change, not through a plotly FigureWidget: a FigureWidget is laid out before
    JupyterLab attaches it and stays at plotly's default 700 px, squeezing the panels into part of
    the output; the renderer's figure fills the output's width and follows it when resized.
    """

    variable: str
    figure: go.Figure
    output: widgets.Output
    slider: widgets.SelectionSlider | widgets.FloatSlider
    beta_slider: widgets.SelectionSlider | widgets.FloatSlider | None
    example_direction: widgets.Dropdown | None
    table: widgets.HTML
    size: xr.Dataset | None
    children: Sequence[widgets.Widget]

    def __init__(self, ds: xr.Dataset, variable: str = "score", *, tol: float | None = None,
                 max_chars: int = 400, marks: Mapping[str, float] | None = None, log_x: bool = False) -> None:
        super().__init__()
        check_variable(ds, variable)
        ds = ds.sortby("alpha")
        if "beta" in ds.dims:
            ds = ds.sortby("beta")
        self._ds, self.variable, self._tol, self._max_chars = ds, variable, tol, max_chars
        self._alphas = ds["alpha"].values.astype(float)
        self._betas = ds["beta"].values.astype(float) if "beta" in ds.dims else None
        self._alpha = _nearest(self._alphas, 0.0)
        self._beta = None if self._betas is None else _nearest(self._betas, 0.0)
        self._syncing = False

        # The table is a lookup into bands over the whole grid, computed once here.
        self._table_vars = ["score"] + ([variable] if variable != "score" else [])
        self._bands = {v: ds.basin.band(v) for v in self._table_vars}
        self._bases = {v: base_values(ds, v) for v in self._table_vars}
        # Definition 4.1's basin size (one radius per benchmark, the grid's |alpha| as sigma), once.
        self.size, self._size_note = None, ""
        if tol is not None and "beta" not in ds.dims:
            try:
                self.size = ds.basin.size(tol)
            except ValueError as e:  # one direction, NaN scores, tol <= 0: said under the table
                self._size_note = f"no basin size: {e}"

        self._log_x = bool(log_x)
        if self._log_x and not np.any(self._alphas > 0):
            raise ValueError("log_x needs alphas > 0; this grid has none")
        fig = plots.curves(ds, variable, tol=tol, beta=self._beta)
        for label, x in (marks or {}).items():
            x = self._axis_x(validate.finite(f"mark {label!r}", x))
            fig.add_vline(x=x, row="all", col="all", name=f"{MARK}:{label}",
                          line=dict(color=style.REFERENCE, width=1.5, dash="dash"))
            # Inside the first panel's top edge: above it sit the panel titles.
            fig.add_annotation(x=x, y=1.0, xref="x", yref="y domain", text=html.escape(str(label)),
                               showarrow=False, yanchor="top", xanchor="left", xshift=3,
                               font=dict(size=11, color=style.REFERENCE))
        if self._log_x:
            # The grid's alpha = 0 (and the band's edge there) would stretch a log axis to 1e-30:
            # the axis spans the positive grid, with a tenth of a decade to spare.
            positive = self._alphas[self._alphas > 0]
            fig.update_xaxes(type="log", range=[math.log10(positive.min()) - 0.1, math.log10(positive.max()) + 0.1])
        fig.add_vline(x=self._axis_x(self._alpha), row="all", col="all", name=MARKER, showlegend=False,
                      line=dict(color=style.CURRENT, width=2))
        self.figure = fig
        self.output = widgets.Output(layout=widgets.Layout(width="100%"))
        self._markers = [i for i, s in enumerate(self.figure.layout.shapes) if s.name == MARKER]

        self.slider = _slider("alpha", self._alphas, self._alpha)
        self.slider.observe(lambda change: self._from_widget(self.set_alpha, change), names="value")
        self.beta_slider = None
        if self._betas is not None:
            assert self._beta is not None  # set with self._betas
            self.beta_slider = _slider("beta", self._betas, self._beta)
            self.beta_slider.observe(lambda change: self._from_widget(self.set_beta, change), names="value")
        self.example_direction = None
        if "example_output" in ds.data_vars and "direction" in ds["example_output"].dims:
            self.example_direction = widgets.Dropdown(
                options=[int(d) for d in ds["direction"].values], description="examples of direction",
                style={"description_width": "initial"}, layout=widgets.Layout(width="16em"))
            self.example_direction.observe(lambda _: self._render_table(), names="value")

        self.table = widgets.HTML()
        controls = [w for w in (self.slider, self.beta_slider, self.example_direction) if w is not None]
        self.children = [self.output, widgets.HBox(controls), self.table]
        self._draw()
        self._render_table()

    # ------------------------------------------------------------------ public API

    @property
    def alpha(self) -> float:
        """The current grid alpha."""
        return self._alpha

    @property
    def beta(self) -> float | None:
        """The current grid beta (None for a 1-D sweep)."""
        return self._beta

    def set_alpha(self, alpha: float) -> float:
        """Move to the grid alpha nearest `alpha`: slider, marker on every subplot, table. Returns it."""
        self._alpha = _nearest(self._alphas, validate.finite("alpha", alpha))
        with self._quiet_sliders():
            self.slider.value = self._alpha
        with self.figure.batch_update():
            for i in self._markers:
                x = self._axis_x(self._alpha)
                self.figure.layout.shapes[i].update(x0=x, x1=x)
        self._draw()
        self._render_table()
        return self._alpha

    def set_beta(self, beta: float) -> float:
        """2-D sweeps: re-cut the curves at the grid beta nearest `beta` and refresh the table."""
        if self._betas is None:
            raise ValueError(f"set_beta needs a 2-D sweep; this Dataset has dims {list(self._ds.sizes)}")
        self._beta = _nearest(self._betas, validate.finite("beta", beta))
        assert self.beta_slider is not None  # made with self._betas
        with self._quiet_sliders():
            self.beta_slider.value = self._beta
        # Same Dataset and options -> the same traces and shapes in the same order, only data differ.
        cut = plots.curves(self._ds, self.variable, tol=self._tol, beta=self._beta)
        with self.figure.batch_update():
            # plotly's inferred type for Figure.data is its property names, not the traces
            for old, new in zip(self.figure.data, cut.data, strict=True):
                old.update(x=new.x, y=new.y)  # pyright: ignore[reportAttributeAccessIssue]
            # The figure has more shapes (marks, the alpha marker) after those of the curves.
            for old, new in zip(self.figure.layout.shapes, cut.layout.shapes, strict=False):
                old.update(x0=new.x0, x1=new.x1)
            self.figure.layout.title.text = cut.layout.title.text
        self._draw()
        self._render_table()
        return self._beta

    # ------------------------------------------------------------------ internals

    def _draw(self) -> None:
        """Show the figure in ``output`` as a plotly mime bundle (one output replacing the last)."""
        bundle = pio.renderers["plotly_mimetype"].to_mimebundle(self.figure.to_dict())
        bundle["text/plain"] = f"SigmaExplorer figure at {self._point()}"
        self.output.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)

    def _axis_x(self, alpha: float) -> float:
        """Shape/annotation x for `alpha`: plotly wants log10 of the value on a log axis; alpha <= 0
        sits at the smallest positive grid alpha there."""
        if not self._log_x:
            return alpha
        return math.log10(alpha if alpha > 0 else float(self._alphas[self._alphas > 0].min()))

    @contextlib.contextmanager
    def _quiet_sliders(self) -> Iterator[None]:
        """Setting a slider from code must not call back into set_alpha/set_beta."""
        self._syncing, before = True, self._syncing
        try:
            yield
        finally:
            self._syncing = before

    def _from_widget(self, setter: Callable[[float], float], change: Mapping[str, Any]) -> None:
        if not self._syncing:
            setter(change["new"])

    def _point(self) -> dict[str, float]:
        return {"alpha": self._alpha} if self._beta is None else {"alpha": self._alpha, "beta": self._beta}

    def _render_table(self) -> None:
        ds, point = self._ds, self._point()
        n_dir = ds.sizes["direction"]
        score_now = ds["score"].sel(point)
        # "At base score" = as good as theta0 (PAPER.md's strict basin, T = 0), in the benchmark's own sense.
        as_good = xr.where(ds["higher_is_better"], score_now >= ds["base_score"] - 1e-7,
                           score_now <= ds["base_score"] + 1e-7)
        reach = (as_good & score_now.notnull()).sum("direction")
        examples = self._examples()

        head = ["benchmark", "metric"]
        for v in self._table_vars:
            head += [f"{v}: mean over {n_dir} directions", f"{v}: {self._bands[v].attrs['confidence']:.0%} band",
                     f"{v} at theta0"]
        head.append("directions at base score")
        if self.size is not None:
            head.append(f"basin size sigma* (Def. 4.1, tol {float(self.size.attrs['tol']):g}), "
                        f"{float(self.size.attrs['confidence']):.0%} interval")
        if examples is not None:  # example outputs without a direction axis have no selector
            head.append("example outputs" if self.example_direction is None
                        else f"example outputs (direction {self.example_direction.value})")
        rows = []
        for b in [str(x) for x in ds["benchmark"].values]:
            metric = str(ds["metric"].sel(benchmark=b).item()) if "metric" in ds.coords else ""
            cells = [f"<td>{html.escape(b)}</td>", f"<td>{html.escape(metric)}</td>"]
            for v in self._table_vars:
                band = self._bands[v].sel(point).sel(benchmark=b)
                mean, lo, hi = (float(band[k]) for k in ("mean", "lower", "upper"))
                base = float(self._bases[v].sel(benchmark=b))
                # data-value keeps the full-precision number for tests and copy-paste.
                cells += [f'<td class="mean" data-var="{v}" data-value="{mean!r}">{_fmt(mean)}</td>',
                          f'<td class="band" data-var="{v}">[{_fmt(lo)}, {_fmt(hi)}]</td>',
                          f'<td class="base" data-var="{v}" data-value="{base!r}">{_fmt(base)}</td>']
            cells.append(f'<td class="reach">{int(reach.sel(benchmark=b))}/{n_dir}</td>')
            if self.size is not None:
                sigma = float(self.size["sigma"].sel(benchmark=b))
                label = str(self.size["label"].sel(benchmark=b).item())
                cells.append(f'<td class="sigma" data-value="{sigma!r}">{html.escape(label)}</td>')
            if examples is not None:
                cells.append(f'<td class="examples">{examples.get(b, "—")}</td>')
            rows.append(f'<tr data-benchmark="{html.escape(b)}">{"".join(cells)}</tr>')
        where = ", ".join(f"{k} = {v:.6g}" for k, v in point.items())
        self.table.value = (
            f"<div style='font-size:90%'><b>{where}</b>"
            "<table style='border-collapse:collapse' border='1' cellpadding='4'>"
            f"<thead><tr>{''.join(f'<th>{html.escape(h)}</th>' for h in head)}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            + (f"<i>{html.escape(self._size_note)}</i>" if self._size_note else "") + "</div>"
        )

    def _examples(self) -> dict[str, str] | None:
        """benchmark -> HTML list of the example outputs at the current point, or None if the
        Dataset has no `example_output` (dims direction, alpha[, beta], benchmark, example)."""
        if "example_output" not in self._ds.data_vars:
            return None
        ex = self._ds["example_output"]
        sel: dict[str, Any] = {k: v for k, v in self._point().items() if k in ex.dims}
        if self.example_direction is not None:
            sel["direction"] = self.example_direction.value
        ex = ex.sel(sel)
        out = {}
        for b in [str(x) for x in ex["benchmark"].values] if "benchmark" in ex.dims else []:
            texts = [t for t in np.ravel(ex.sel(benchmark=b).values) if isinstance(t, str) and t]
            if texts:
                items = "".join(f"<li><pre style='white-space:pre-wrap;margin:0'>{html.escape(self._cut(t))}</pre></li>"
                                for t in texts)
                out[b] = f"<ol style='margin:0;padding-left:1.5em'>{items}</ol>"
        return out

    def _cut(self, text: str) -> str:
        return text if len(text) <= self._max_chars else text[: self._max_chars] + " …"


class BoundExplorer(widgets.VBox):
    """Sliders for p_A, sigma and r over Fig. 4(a): the certified bound on E S(theta_sft + eps)
    (Thm 4.3, and Thm 4.2 for comparison), the certified radius and the local slope.

    ex = BoundExplorer(); ex.set(p_a=0.9, sigma=0.003, r=0.003); ex.values -> dict
    """

    q: float
    p_a: widgets.FloatSlider
    sigma: widgets.FloatLogSlider
    r: widgets.FloatSlider
    figure: go.FigureWidget
    table: widgets.HTML

    def __init__(self, p_a: float = 0.9, sigma: float = 0.003, r: float = 0.003, q: float = 0.5) -> None:
        from basinlab import theory
        from basinlab.viz import _bounds as bounds

        # ipywidgets would clamp a value outside a slider's range without a word: refuse it instead.
        for name, value, lo, hi in (("p_a", p_a, 0.5, 0.999), ("sigma", sigma, 1e-4, 1e-1), ("r", r, 0.0, 0.02)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not lo <= value <= hi:
                raise ValueError(f"BoundExplorer {name}={value!r} is outside its slider's range [{lo:g}, {hi:g}]")
        validate.open_unit("q", q)
        self._theory, self.q = theory, q
        self.p_a = widgets.FloatSlider(value=p_a, min=0.5, max=0.999, step=0.001, description="p_A",
                                       readout_format=".3f", continuous_update=True)
        self.sigma = widgets.FloatLogSlider(value=sigma, base=10, min=-4, max=-1, step=0.01,
                                            description="σ", readout_format=".2e")
        self.r = widgets.FloatSlider(value=r, min=0.0, max=0.02, step=0.0001, description="r",
                                     readout_format=".4f")
        self.figure = go.FigureWidget(bounds.bound_vs_pa(sigma, rs=(r,)))
        self.figure.add_scatter(x=[p_a], y=[0.0], mode="markers", marker=dict(size=11, color=style.CURRENT),
                                name="(p_A, certified bound)", meta={"kind": "marker"})
        self.table = widgets.HTML()
        for w in (self.p_a, self.sigma, self.r):
            w.observe(lambda change: self._update(), names="value")
        super().__init__([widgets.HBox([self.p_a, self.sigma, self.r]), self.figure, self.table])
        self._update()

    @property
    def values(self) -> dict[str, float]:
        t, p, s, r = self._theory, self.p_a.value, self.sigma.value, self.r.value
        return {
            "strong_bound": float(t.strong_bound(p, r, s)), "weak_bound": float(t.weak_bound(p, r, s)),
            "certified_radius": float(t.certified_radius(p, s, self.q)), "local_slope": float(t.local_slope(p, s)),
        }

    def set(self, p_a: float | None = None, sigma: float | None = None, r: float | None = None) -> dict[str, float]:
        """Move the sliders given (None: keep), redraw, and return :attr:`values`."""
        for slider, value in ((self.p_a, p_a), (self.sigma, sigma), (self.r, r)):
            if value is not None:
                slider.value = value
        self._update()
        return self.values

    def _update(self) -> None:
        t, p, s, r = self._theory, self.p_a.value, self.sigma.value, self.r.value
        grid = np.linspace(0.0, 1.0, 400)
        v = self.values
        with self.figure.batch_update():
            for trace in cast("tuple[Any, ...]", self.figure.data):  # plotly infers property names here
                kind = (trace.meta or {}).get("kind")
                if kind == "strong":
                    trace.y, trace.name = t.strong_bound(grid, r, s), f"Thm 4.3, r/σ = {r / s:.3g}"
                elif kind == "weak":
                    trace.y, trace.name = t.weak_bound(grid, r, s), f"Thm 4.2, r/σ = {r / s:.3g}"
                elif kind == "marker":
                    trace.x, trace.y = [p], [v["strong_bound"]]
            self.figure.layout.title.text = f"certified smoothed score after fine-tuning, σ = {s:.3g}, r = {r:.3g}"
        self.table.value = (
            f"<table><tr><td>certified E S(θ_sft + ε) ≥ (Thm 4.3)</td><td><b>{_fmt(v['strong_bound'])}</b></td></tr>"
            f"<tr><td>weak bound (Thm 4.2)</td><td>{_fmt(v['weak_bound'])}</td></tr>"
            f"<tr><td>radius keeping the smoothed score ≥ {self.q:g}</td><td>{_fmt(v['certified_radius'])}</td></tr>"
            f"<tr><td>local slope bound φ(Φ⁻¹(p_A))/σ</td><td>{_fmt(v['local_slope'])}</td></tr></table>"
        )


class RunExplorer(widgets.VBox):
    """Several landscapes behind one run selector: a Dropdown of run labels above the
    :class:`SigmaExplorer` of the selected run (built on first selection, then kept).

    runs: {label: landscape Dataset}; marks: {label: {mark label: alpha}} per run (e.g. alpha_sft);
    log_x: the labels of runs drawn on a logarithmic alpha axis (one-sided worst-case grids); the
    other keyword options go to every SigmaExplorer. ``select(label)`` switches runs (what the
    Dropdown does) and keeps the alpha when the new grid allows; ``explorer`` is the current one.
    """

    selector: widgets.Dropdown
    children: Sequence[widgets.Widget]

    def __init__(self, runs: Mapping[str, xr.Dataset], marks: Mapping[str, Mapping[str, float]] | None = None,
                 log_x: Iterable[str] = (), **explorer_options: Any) -> None:
        super().__init__()
        if not runs:
            raise ValueError("runs is empty: give {label: landscape Dataset}")
        unknown = sorted(set(marks or {}) - set(runs))
        if unknown:
            raise ValueError(f"marks for unknown runs {unknown}; runs: {list(runs)}")
        unknown = sorted(set(log_x) - set(runs))
        if unknown:
            raise ValueError(f"log_x names unknown runs {unknown}; runs: {list(runs)}")
        self._runs, self._marks, self._options = dict(runs), dict(marks or {}), explorer_options
        self._log_x = set(log_x)
        self._explorers: dict[Any, SigmaExplorer] = {}
        self.selector = widgets.Dropdown(options=list(self._runs), description="run")
        self.selector.observe(lambda change: self.select(change["new"]), names="value")
        self.select(cast(str, self.selector.value))  # a label: runs is not empty

    @property
    def explorer(self) -> SigmaExplorer:
        return self._explorers[self._current]

    def select(self, label: str) -> SigmaExplorer:
        """Show run `label` (its explorer is built on first use), at the current alpha where its grid allows."""
        validate.choice("run", label, self._runs)
        before = self._explorers.get(getattr(self, "_current", None))
        self._current = label
        if label not in self._explorers:
            self._explorers[label] = SigmaExplorer(self._runs[label], marks=self._marks.get(label),
                                                   log_x=label in self._log_x, **self._options)
        if self.selector.value != label:
            self.selector.value = label  # calls back into select once, harmlessly
        ex = self._explorers[label]
        if before is not None and before is not ex:
            ex.set_alpha(before.alpha)  # nearest alpha on the new run's grid
        self.children = [self.selector, ex]
        return ex
