"""Every figure's legend shows each entry in the colour its lines have in the plot (issue 12), and a
benchmark's entry is its ``style.benchmark_colour``, checked on the figures' dicts (no browser)."""

import numpy as np
import pytest
import xarray as xr
from legend_colours import entries, mismatches

from basinlab.viz import _bounds as bounds
from basinlab.viz import _plots as plots
from basinlab.viz import _pretraining as pretraining
from basinlab.viz import _style as style
from basinlab.viz._widgets import RunExplorer, SigmaExplorer
from basinlab.viz._worstcase import trace_figure


@pytest.fixture(scope="module")
def ds(ds1):
    """ds1 (benchmarks "text" and "short") with a chance level on the second benchmark only."""
    return ds1.assign_coords(chance=("benchmark", [np.nan, 0.25]))


def test_the_checker_finds_an_entry_of_another_colour_than_its_group():
    import plotly.graph_objects as go

    fig = go.Figure([go.Scatter(y=[1, 2], name="mean", legendgroup="m", line=dict(color="#1f77b4")),
                     go.Scatter(y=[2, 3], name="mean", legendgroup="m", showlegend=False,
                                fill="toself", fillcolor="rgba(255,127,14,0.2)", line=dict(width=0))])
    assert len(mismatches(fig)) == 1 and "#ff7f0e" in mismatches(fig)[0]
    fig.data[1].fillcolor = "rgba(31,119,180,0.2)"  # the same colour, transparent: a match
    assert mismatches(fig) == [] and entries(fig) == {"mean": "#1f77b4"}


def test_panels_per_benchmark_have_an_entry_per_benchmark_in_its_colour(ds):
    fig = plots.curves(ds, tol=0.05)
    assert mismatches(fig) == []
    shown = entries(fig)
    for b in ("text", "short"):
        assert shown[b] == style.benchmark_colour(b)
    assert shown["theta0"] == style.BASE and shown["chance"] == style.REFERENCE  # chance of the 2nd panel only
    assert set(shown) == {"text", "short", "theta0", "chance"}
    ranks = {t.name: t.legendrank or 1000 for t in fig.data if t.showlegend is not False}
    assert ranks["theta0"] == ranks["chance"] > ranks["text"] == ranks["short"]  # drawn after the benchmarks
    # what the lines are is said under the title, since the entries name benchmarks
    kinds = fig.layout.title.subtitle.text
    assert "4 directions" in kinds and "bootstrap band" in kinds and "basin edge" in kinds


@pytest.mark.parametrize("options", [dict(subplots=False, tol=0.05), dict(variable="nll"), dict(variable="loss")],
                         ids=["overlaid", "nll", "loss"])
def test_other_curves_figures_match_their_legends(ds, options):
    assert mismatches(plots.curves(ds, **options)) == []


def test_a_single_benchmark_keeps_an_entry_per_kind_of_line(ds):
    fig = plots.curves(ds.sel(benchmark=["short"]), tol=0.05)
    assert mismatches(fig) == []
    shown = entries(fig)
    colour = style.benchmark_colour("short")
    assert shown["mean over directions"] == shown["directions (n = 4)"] == colour
    assert shown["theta0"] == style.BASE and shown["chance"] == style.REFERENCE
    assert {t.legendrank or 1000 for t in fig.data} == {1000}  # the order drawn: directions, band, mean, theta0, ...


def test_explorers_widths_and_the_other_figures_match_their_legends(ds, ds2):
    runs = RunExplorer({"a": ds, "b": ds.sel(benchmark=["text"])}, tol=0.05, marks={"a": {"tuned": 0.1}})
    curves = xr.Dataset({"train_loss": (("run", "step"), np.ones((2, 3))), "val_loss": (("run", "eval_step"),
                         np.ones((2, 1)))}, coords={"run": ["AdamW", "GO"], "step": [1, 2, 3], "eval_step": [3]})
    forget = xr.Dataset({"old_nll": (("run", "ft_step"), np.ones((2, 2))), "new_nll": (("run", "ft_step"),
                         np.ones((2, 2)))}, coords={"run": ["AdamW", "GO"], "ft_step": [0, 1]})

    class Search:
        trace, random, base, alpha, d = np.array([1.0, 2.0]), np.array([1.0]), 0.5, 1e-4, 10

    figures = {
        "SigmaExplorer": SigmaExplorer(ds, tol=0.05, marks={"tuned": 0.1}).figure,
        "RunExplorer a": runs.explorer.figure, "RunExplorer b": runs.select("b").figure,
        "2-D cut": plots.curves(ds2), "widths": plots.widths({"a": ds, "b": ds}, tol=0.05),
        "widths by d": plots.widths([ds.assign_attrs(d=10)], tol=0.05, x="d"),
        "loss curves": pretraining.loss_curves(curves), "forgetting": pretraining.forgetting_curves(forget),
        "landscapes": pretraining.landscapes({"AdamW": ds.sel(benchmark=["text"]), "GO": ds.sel(benchmark=["text"])}),
        "worst case": trace_figure({"joint": Search(), "addition": Search()}),
        "bounds": bounds.bound_vs_pa(), "bounds sigma": bounds.bound_vs_sigma(),
    }
    for where, fig in figures.items():
        assert mismatches(fig) == [], where
    assert entries(figures["SigmaExplorer"])["text"] == style.benchmark_colour("text")
