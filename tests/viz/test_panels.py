"""viz.panels: panel grids without empty half-rows, wrapped titles, labels with their meaning, and
curves laid out with them (one panel per capability, legend below, long metrics on their own lines)."""

import pytest

from basinlab.viz import _panels as panels
from basinlab.viz import _plots as plots


@pytest.mark.parametrize("n, shape", [(1, (1, 1)), (2, (1, 2)), (4, (1, 4)), (5, (2, 3)), (6, (2, 3)),
                                      (7, (2, 4)), (8, (2, 4)), (9, (3, 3)), (10, (3, 4))])
def test_grid_shape_fills_rows(n, shape):
    rows, cols = panels.grid_shape(n)
    assert (rows, cols) == shape
    assert rows * cols - n < rows  # at most one empty cell per row: never half a row empty


def test_grid_shape_rejects_nonsense():
    with pytest.raises(ValueError, match="n >= 1"):
        panels.grid_shape(0)


def test_wrap_and_panel_title():
    text = "exact final number (synthetic single-digit addition)"
    wrapped = panels.wrap(text, 20)
    assert wrapped.replace("<br>", " ") == text
    assert all(len(line) <= 20 for line in wrapped.split("<br>"))
    title = panels.panel_title("synthetic-addition", text, cols=4)
    assert title.startswith("<span style='font-size:14px'><b>synthetic-addition</b></span><br>")
    # every description line fits a quarter of a 1000 px figure
    for line in title.split("<br>")[1:]:
        assert len(line.replace("<span style='color:#555'>", "").replace("</span>", "")) <= panels.panel_chars(4)
    assert panels.panel_title("pydoc", None, 4) == "<span style='font-size:14px'><b>pydoc</b></span>"


def test_axis_labels_spell_out_alpha(ds1):
    assert panels.axis_label(ds1["alpha"]) == "alpha (per-coordinate noise std)"
    assert panels.axis_label(ds1["score"]) == "benchmark score [fraction]"


def test_curves_one_row_of_panels_legend_below_metrics_in_titles_and_hover(ds1):
    ds = ds1.assign_coords(metric=("benchmark", ["exact final number (synthetic single-digit addition)",
                                                 "next-token accuracy"]))
    fig = plots.curves(ds, tol=0.05)
    assert {t.yaxis for t in fig.data} == {"y", "y2"} and fig.layout.xaxis2.domain[1] == pytest.approx(1.0)
    titles = [a.text for a in fig.layout.annotations]
    # the whole metric under the name (wrapped only where a panel is too narrow for it), never cut
    assert any(t.startswith("<span style='font-size:14px'><b>text</b>") and
               "exact final number (synthetic single-digit addition)" in t.replace("<br>", " ") for t in titles)
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.yref == "container"
    assert fig.layout.legend.y == 0 and fig.layout.margin.b >= 70  # below the plots, in the bottom margin
    assert "alpha (per-coordinate noise std)" in titles  # the shared x title, once
    assert titles.count("benchmark score [fraction]") == 1
    mean = [t for t in fig.data if t.meta["kind"] == "mean" and t.meta["benchmark"] == "text"][0]
    assert "single-digit addition" in mean.hovertemplate
    assert fig.layout.width is None  # fills the output's width


def test_legend_rows_grow_with_the_entries(ds1):
    one = plots.curves(ds1)  # four short entries: one row under a 1000 px figure
    assert panels.legend_rows(one) == 1
    overlaid = plots.curves(ds1, subplots=False, tol=0.05)  # every entry once per benchmark
    assert panels.legend_rows(overlaid) >= 2
    assert overlaid.layout.margin.b > one.layout.margin.b  # the legend gets its room below the plots
