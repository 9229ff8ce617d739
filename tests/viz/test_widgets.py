"""widgets.py driven without a browser: SigmaExplorer and RunExplorer on landscapes of a tiny random
SmolLM2 (fixtures ds1, ds2 in conftest.py), BoundExplorer on the theory's numbers."""

import html
import re

import ipywidgets as widgets
import numpy as np
import pytest

from basinlab import theory
from basinlab.viz import _style as style
from basinlab.viz._widgets import MARKER, BoundExplorer, RunExplorer, SigmaExplorer


def trace(fig, kind, benchmark):
    (t,) = [t for t in fig.data if t.meta["kind"] == kind and t.meta["benchmark"] == benchmark]
    return t


def table_value(ex, benchmark, var="score", cls="mean") -> float:
    row = re.search(rf'<tr data-benchmark="{benchmark}">(.*?)</tr>', ex.table.value).group(1)
    return float(re.search(rf'class="{cls}" data-var="{var}" data-value="([^"]+)"', row).group(1))


def test_explorer_rejects_an_unknown_variable(ds1):
    with pytest.raises(ValueError, match=r"unknown variable 'accuracy'; valid choices: 'score', 'loss', 'nll'$"):
        SigmaExplorer(ds1, variable="accuracy")


# ----------------------------------------------------------------------------- SigmaExplorer


def test_explorer_set_alpha_moves_marker_and_table(ds1):
    ex = SigmaExplorer(ds1)
    markers = [s for s in ex.figure.layout.shapes if s.name == MARKER]
    assert len(markers) == 2  # one per subplot
    assert all(s.line.color == style.CURRENT for s in markers)
    assert ex.alpha == pytest.approx(0.0) and all(s.x0 == pytest.approx(0.0) for s in markers)
    got = ex.set_alpha(0.07)  # between grid points 0.05 and 0.1 -> nearest is 0.05
    nearest = float(ds1.alpha.values[np.argmin(np.abs(ds1.alpha.values - 0.07))])
    assert got == nearest == ex.alpha
    assert ex.slider.value == nearest
    for s in (s for s in ex.figure.layout.shapes if s.name == MARKER):
        assert s.x0 == s.x1 == nearest
    for b in ["text", "short"]:
        expected = float(ds1.score.sel(alpha=nearest, benchmark=b).mean("direction"))
        assert table_value(ex, b) == pytest.approx(expected, abs=1e-7)
        assert table_value(ex, b, cls="base") == pytest.approx(float(ds1.base_score.sel(benchmark=b)))
    assert f"alpha = {nearest:.6g}" in ex.table.value
    now = ds1.score.sel(alpha=nearest, benchmark="text")
    reach = int((now >= ds1.base_score.sel(benchmark="text") - 1e-7).sum())
    assert f'<td class="reach">{reach}/4</td>' in ex.table.value
    # Lower-is-better benchmarks count directions at or below the base score.
    flipped = SigmaExplorer(ds1.assign_coords(higher_is_better=("benchmark", [False, False])))
    flipped.set_alpha(nearest)
    low = int((now <= ds1.base_score.sel(benchmark="text") + 1e-7).sum())
    row = re.search(r'data-benchmark="text">(.*?)</tr>', flipped.table.value).group(1)
    assert f'<td class="reach">{low}/4</td>' in row
    with pytest.raises(ValueError, match="alpha must be finite"):
        ex.set_alpha(float("nan"))


def test_explorer_with_tol_shows_the_basin_size(ds1, ds2):
    """With tol, the table gives Definition 4.1's sigma* and its interval per benchmark (ds.basin.size)."""
    ex = SigmaExplorer(ds1, tol=0.05)
    size = ds1.basin.size(0.05)
    assert ex.size is not None and "basin size sigma* (Def. 4.1, tol 0.05), 95% interval" in ex.table.value
    for b in ["text", "short"]:
        row = re.search(rf'<tr data-benchmark="{b}">(.*?)</tr>', ex.table.value).group(1)
        cell = re.search(r'class="sigma" data-value="([^"]+)">([^<]*)</td>', row)
        assert float(cell.group(1)) == pytest.approx(float(size["sigma"].sel(benchmark=b)))
        assert html.unescape(cell.group(2)) == size["label"].sel(benchmark=b).item()
    ex.set_alpha(0.1)  # the column stays: sigma* does not depend on the slider
    assert ex.table.value.count('class="sigma"') == 2
    # without tol, on a 2-D sweep: no column; one direction: said under the table
    assert SigmaExplorer(ds1).size is None and 'class="sigma"' not in SigmaExplorer(ds1).table.value
    assert SigmaExplorer(ds2, tol=0.05).size is None
    one = SigmaExplorer(ds1.isel(direction=[0]), tol=0.05)
    assert one.size is None
    assert "no basin size: the basin size&#x27;s interval needs at least 2 directions" in one.table.value


def test_explorer_slider_is_the_alpha_grid(ds1):
    ex = SigmaExplorer(ds1, variable="loss")
    assert ex.slider.step == pytest.approx(0.05)
    assert (ex.slider.min, ex.slider.max) == (pytest.approx(-0.3), pytest.approx(0.3))
    assert ex.slider.readout_format == ".2f"
    ex.slider.value = -0.26  # what the browser does: the explorer snaps to the grid
    assert ex.alpha == pytest.approx(-0.25)
    expected = float(ds1.loss.sel(alpha=ex.alpha, benchmark="text").mean("direction"))
    assert table_value(ex, "text", var="loss") == pytest.approx(expected, abs=1e-7)
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()
    assert ex.children[0] is ex.output and ex.children[-1] is ex.table
    # The output holds the figure as drawn now: the plotly mime bundle with the marker at the slider's alpha.
    (shown,) = ex.output.outputs
    layout = shown["data"]["application/vnd.plotly.v1+json"]["layout"]
    xs = [s["x0"] for s in layout["shapes"] if s.get("name") == MARKER]
    assert xs and xs == pytest.approx([ex.alpha] * len(xs))


def test_explorer_2d_has_a_beta_slider(ds1, ds2):
    assert SigmaExplorer(ds1).beta_slider is None
    ex = SigmaExplorer(ds2)
    assert ex.beta_slider is not None
    ex.set_alpha(0.15)
    ex.beta_slider.value = -0.19
    assert ex.beta == pytest.approx(-0.2)
    expected = ds2.score.sel(beta=ex.beta, benchmark="text").mean("direction").values
    np.testing.assert_allclose(trace(ex.figure, "mean", "text").y, expected, rtol=1e-6)
    point = ds2.score.sel(alpha=ex.alpha, beta=ex.beta, benchmark="text").mean("direction")
    assert table_value(ex, "text") == pytest.approx(float(point), abs=1e-7)
    with pytest.raises(ValueError, match="2-D sweep"):
        SigmaExplorer(ds1).set_beta(0.1)


def test_explorer_shows_example_outputs_when_present(ds1):
    assert "example" not in SigmaExplorer(ds1).table.value
    dims = ("direction", "alpha", "benchmark", "example")
    text = np.array([[[[f"<d{d} a{a:+.2f} {b} #{e}>" for e in range(2)] for b in ds1.benchmark.values]
                      for a in ds1.alpha.values] for d in ds1.direction.values], dtype=object)
    text[:, :, 1, :] = ""  # a benchmark without examples still renders
    ex = SigmaExplorer(ds1.assign(example_output=(dims, text)))
    ex.set_alpha(0.1)
    ex.example_direction.value = 2
    assert "&lt;d2 a+0.10 text #0&gt;" in ex.table.value  # escaped, at the current alpha and direction
    assert "&lt;d2 a+0.10 text #1&gt;" in ex.table.value
    assert "a+0.05" not in ex.table.value and "&lt;d0" not in ex.table.value
    assert "short #" not in ex.table.value


def test_explorer_shows_example_outputs_without_a_direction_axis(ds1):
    """Example outputs shared by every direction (no direction dim) have no direction selector; the
    table header used to read the missing selector's value (AttributeError on None)."""
    dims = ("alpha", "benchmark", "example")
    text = np.array([[[f"<a{a:+.2f} {b} #{e}>" for e in range(2)] for b in ds1.benchmark.values]
                     for a in ds1.alpha.values], dtype=object)
    ex = SigmaExplorer(ds1.assign(example_output=(dims, text)))
    assert ex.example_direction is None
    ex.set_alpha(0.1)
    assert "example outputs</th>" in ex.table.value and "&lt;a+0.10 text #1&gt;" in ex.table.value


def test_explorer_on_a_log_grid_uses_a_selection_slider_and_log_axis(ds1):
    one_sided = ds1.sel(alpha=[a for a in ds1.alpha.values if a >= 0])
    one_sided = one_sided.assign_coords(alpha=[0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 0.3][: one_sided.sizes["alpha"]])
    ex = SigmaExplorer(one_sided, log_x=True)
    assert isinstance(ex.slider, widgets.SelectionSlider) and ex.slider.value == 0.0
    assert ex.figure.layout.xaxis.type == "log"
    assert ex.set_alpha(2e-4) == pytest.approx(1e-4) and ex.slider.value == pytest.approx(1e-4)
    marker = next(s for s in ex.figure.layout.shapes if s.name == MARKER)
    assert marker.x0 == pytest.approx(-4.0)  # plotly places shapes on a log axis at log10(x)
    ex.slider.value = 1e-3  # the browser
    assert ex.alpha == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="log_x needs alphas > 0"):
        SigmaExplorer(ds1.sel(alpha=[-0.1, 0.0]), log_x=True)


def test_explorer_marks_and_run_selector(ds1):
    runs = {"a": ds1, "b": ds1.sel(alpha=slice(-0.1, 0.1))}
    ex = RunExplorer(runs, marks={"a": {"fine-tuned": 0.1}}, tol=0.1)
    assert ex.selector.options == ("a", "b") and ex.explorer is ex.children[1]
    marks = [s for s in ex.explorer.figure.layout.shapes if (s.name or "").startswith("mark:")]
    assert len(marks) == 2 and marks[0].x0 == pytest.approx(0.1)  # one per subplot
    assert any(a.text == "fine-tuned" for a in ex.explorer.figure.layout.annotations)
    ex.explorer.set_alpha(0.05)
    ex.selector.value = "b"  # the browser's dropdown
    assert ex.children[1] is ex.explorer and ex.explorer.alpha == pytest.approx(0.05)
    assert ex.select("a").alpha == pytest.approx(0.05)
    with pytest.raises(ValueError, match=r"unknown run 'c'; valid choices: 'a', 'b'$"):
        ex.select("c")
    with pytest.raises(ValueError, match=r"marks for unknown runs \['z'\]"):
        RunExplorer(runs, marks={"z": {}})
    with pytest.raises(ValueError, match="runs is empty"):
        RunExplorer({})
    with pytest.raises(ValueError, match=r"log_x names unknown runs \['q'\]"):
        RunExplorer(runs, log_x=["q"])
    logged = RunExplorer({"pos": ds1.isel(alpha=[6, 7, 12])}, log_x=["pos"])  # alpha 0, 0.05, 0.3
    assert logged.explorer.figure.layout.xaxis.type == "log"


# ----------------------------------------------------------------------------- BoundExplorer


def test_bound_explorer_reads_the_sliders():
    ex = BoundExplorer(p_a=0.9, sigma=0.05, r=0.0)
    v = ex.set(p_a=0.9, sigma=0.003, r=0.003)
    assert v["strong_bound"] == pytest.approx(0.610856, abs=1e-6)  # PAPER.md: p_A 0.9, r/sigma 1
    assert v["weak_bound"] == pytest.approx(0.501058, abs=1e-6)
    marker = next(t for t in ex.figure.data if t.meta["kind"] == "marker")
    assert marker.x[0] == pytest.approx(0.9) and marker.y[0] == pytest.approx(0.610856, abs=1e-6)
    assert marker.marker.color == style.CURRENT
    assert v["certified_radius"] == pytest.approx(float(theory.certified_radius(0.9, 0.003, 0.5)))
    assert "0.6109" in ex.table.value


def test_bad_inputs_are_named_errors():
    from basinlab.viz import _plots as plots
    from basinlab.viz._widgets import BoundExplorer

    with pytest.raises(TypeError, match="expected a landscape Dataset .* got str 'x'"):
        plots.curves("x")
    with pytest.raises(ValueError, match=r"p_a=-1 is outside its slider's range \[0.5, 0.999\]"):
        BoundExplorer(p_a=-1)
    with pytest.raises(ValueError, match=r"r=0.5 is outside"):
        BoundExplorer(r=0.5)
