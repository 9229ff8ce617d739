"""plots.py and widgets.py on real landscapes of a tiny random SmolLM2: traces, labels, shapes, errors,
and the SigmaExplorer driven without a browser."""

import re

import ipywidgets as widgets
import numpy as np
import pytest


from basinlab.viz import plots
from basinlab.benchmarks import token_benchmark
from basinlab.landscape.directions import DirectionRecipe
from basinlab.landscape import landscape
from basinlab.landscape.results import open_dataset, save
from basinlab.viz.widgets import MARKER, RunExplorer, SigmaExplorer

ALPHAS = np.linspace(-0.3, 0.3, 13)


@pytest.fixture(scope="module")
def model(tiny_smol):
    return tiny_smol


@pytest.fixture(scope="module")
def ds1(model):
    """1-D sweep: 4 directions x 13 alphas x 2 benchmarks of different sizes."""
    rs = np.random.RandomState(0)
    benches = [token_benchmark(rs.randint(3, 160, size=(4, 24)), name="text"),
               token_benchmark(rs.randint(3, 160, size=(3, 16)), name="short")]
    return landscape(model, benches, directions=4, alphas=ALPHAS, progress=False)


@pytest.fixture(scope="module")
def ds2(model):
    """2-D sweep: one plane, 5 alphas x 4 betas."""
    tokens = np.random.RandomState(0).randint(3, 160, size=(4, 24))
    return landscape(model, [token_benchmark(tokens, name="text")],
                     directions=[(DirectionRecipe(seed=0), DirectionRecipe(seed=1))],
                     alphas=np.linspace(-0.3, 0.3, 5), betas=np.linspace(-0.2, 0.2, 4), progress=False)


def kinds(fig, benchmark=None):
    return [t.meta["kind"] for t in fig.data if benchmark is None or t.meta.get("benchmark") == benchmark]


def trace(fig, kind, benchmark):
    (t,) = [t for t in fig.data if t.meta["kind"] == kind and t.meta["benchmark"] == benchmark]
    return t


def all_titles(fig) -> str:
    """Axis titles, shared subplot titles (annotations) and the figure title, as one string."""
    texts = [fig.layout.title.text]
    texts += [fig.layout[k].title.text for k in fig.layout if re.fullmatch(r"[xy]axis\d*", k)]
    texts += [a.text for a in fig.layout.annotations]
    return " | ".join(t for t in texts if t)


def table_value(ex, benchmark, var="score", cls="mean") -> float:
    row = re.search(rf'<tr data-benchmark="{benchmark}">(.*?)</tr>', ex.table.value).group(1)
    return float(re.search(rf'class="{cls}" data-var="{var}" data-value="([^"]+)"', row).group(1))


# ----------------------------------------------------------------------------- curves


def test_curves_one_trace_per_direction_plus_band_mean_and_base(ds1):
    fig = plots.curves(ds1)
    n_dir = ds1.sizes["direction"]
    for b in ["text", "short"]:
        k = kinds(fig, b)
        assert k.count("direction") == n_dir
        assert k.count("band") == 1 and k.count("mean") == 1 and k.count("base") == 1
        assert "chance" not in k  # token benchmarks have no chance level
        lines = [t for t in fig.data if t.meta["kind"] == "direction" and t.meta["benchmark"] == b]
        for t in lines:
            np.testing.assert_allclose(t.y, ds1.score.sel(benchmark=b, direction=t.meta["direction"]), rtol=1e-6)
        assert sorted(t.meta["direction"] for t in lines) == list(range(n_dir))
        expected = ds1.score.sel(benchmark=b).mean("direction").values
        np.testing.assert_allclose(trace(fig, "mean", b).y, expected, rtol=1e-6)
        np.testing.assert_allclose(trace(fig, "base", b).y, float(ds1.base_score.sel(benchmark=b)), rtol=1e-6)
        band = trace(fig, "band", b)
        assert np.all(np.asarray(band.y[:13]) >= np.asarray(expected) - 1e-9)  # upper edge above the mean
    assert len(fig.data) == 2 * (n_dir + 3)
    # One subplot per benchmark.
    assert {t.xaxis for t in fig.data} == {"x", "x2"}


def test_curves_options(ds1):
    assert "direction" not in kinds(plots.curves(ds1, show_directions=False))
    assert "band" not in kinds(plots.curves(ds1, band=False))
    overlaid = plots.curves(ds1, subplots=False)
    assert {t.xaxis for t in overlaid.data} == {"x"}
    loss = plots.curves(ds1, "loss")
    for b in ["text", "short"]:
        # The base line in loss units is T(base score): the stored loss wherever the score equals it.
        at_base = ds1.loss.sel(benchmark=b).where(np.abs(ds1.score - ds1.base_score).sel(benchmark=b) < 1e-7)
        assert at_base.count() > 0
        assert trace(loss, "base", b).y[0] == pytest.approx(float(at_base.max()), abs=1e-6)
        assert float(at_base.min()) == pytest.approx(float(at_base.max()), abs=1e-6)
    nll = plots.curves(ds1, "nll")
    np.testing.assert_allclose(trace(nll, "mean", "text").y, ds1.nll.sel(benchmark="text").mean("direction"), rtol=1e-6)


def test_curves_chance_only_where_the_benchmark_has_one(ds1):
    ds = ds1.assign_coords(chance=("benchmark", [0.25, np.nan]))
    fig = plots.curves(ds)
    assert kinds(fig, "text").count("chance") == 1 and "chance" not in kinds(fig, "short")
    assert trace(fig, "chance", "text").y[0] == 0.25
    assert "chance" not in kinds(plots.curves(ds, "nll"))


def test_curves_labels_come_from_attrs(ds1):
    ds = ds1.copy()
    ds["score"] = ds1.score.copy()
    ds["score"].attrs.update(long_name="fraction solved", units="percent-ish")
    ds["alpha"] = ds1.alpha.copy()
    ds["alpha"].attrs.update(long_name="noise std sigma", units="1")
    ds.attrs.update(model="/path/to/weights", model_label="org/my-model", d=123456)
    text = all_titles(plots.curves(ds))
    assert "fraction solved [percent-ish]" in text
    assert "noise std sigma" in text and "noise std sigma [1]" not in text  # dimensionless units left out
    assert "org/my-model" in text and "123,456" in text
    single = plots.curves(ds.sel(benchmark=["text"]))  # one subplot: the labels are real axis titles
    assert single.layout.xaxis.title.text == "noise std sigma"
    assert single.layout.yaxis.title.text == "fraction solved [percent-ish]"


def test_curves_basin_edges_are_median_over_directions(ds1):
    tol = 0.02
    fig = plots.curves(ds1, tol=tol)
    edges = [s for s in fig.layout.shapes if "basin edge" in (s.name or "")]
    assert len(edges) == 4  # left and right on each of the 2 subplots
    w = ds1.basin.width(tol)
    expected = sorted(float(w[side].sel(benchmark=b).median()) for b in ["text", "short"] for side in ["left", "right"])
    assert sorted(s.x0 for s in edges) == pytest.approx(expected)
    assert not [s for s in plots.curves(ds1).layout.shapes if "basin edge" in (s.name or "")]


def test_curves_cut_a_2d_sweep_at_beta(ds2):
    fig = plots.curves(ds2, beta=0.2)
    assert "beta = 0.2" in fig.layout.title.text
    expected = ds2.score.sel(beta=0.2, benchmark="text").mean("direction").values
    np.testing.assert_allclose(trace(fig, "mean", "text").y, expected, rtol=1e-6)


def test_plots_after_netcdf_round_trip(ds1, tmp_path):
    save(ds1, tmp_path / "l.nc")
    back = open_dataset(tmp_path / "l.nc")
    assert len(plots.curves(back, tol=0.05).data) == len(plots.curves(ds1, tol=0.05).data)


# ----------------------------------------------------------------------------- 2-D and widths


def test_heatmap_and_surface_shape_match_the_grid(ds2):
    n_a, n_b = ds2.sizes["alpha"], ds2.sizes["beta"]
    for make in (plots.heatmap, plots.surface):
        fig = make(ds2)
        grid = fig.data[0]
        assert np.shape(grid.z) == (n_b, n_a)  # plotly's z[y][x]: rows beta, columns alpha
        np.testing.assert_allclose(grid.x, ds2.alpha.values)
        np.testing.assert_allclose(grid.y, ds2.beta.values)
        np.testing.assert_allclose(grid.z, ds2.loss.sel(direction=0, benchmark="text").transpose("beta", "alpha"))
    fig = plots.heatmap(ds2, benchmark="text", variable="score")
    assert fig.layout.xaxis.title.text.startswith(ds2.alpha.attrs["long_name"])
    assert fig.layout.yaxis.title.text.startswith(ds2.beta.attrs["long_name"])


def test_widths_for_two_models(ds1):
    small = ds1.isel(direction=[0, 1]).assign_attrs(model="small", d=1000)
    big = ds1.assign_attrs(model="big", d=10**6)
    fig = plots.widths({"small": small, "big": big}, tol=0.02)
    assert [t.meta["benchmark"] for t in fig.data] == ["text", "short"]
    box = fig.data[0]
    assert list(box.x) == ["small"] * 2 + ["big"] * 4
    expected = np.concatenate([small.basin.width(0.02).width.sel(benchmark="text").values,
                               big.basin.width(0.02).width.sel(benchmark="text").values])
    np.testing.assert_allclose(box.y, expected)
    by_d = plots.widths([small, big], tol=0.02, benchmark="text", x="d", log_x=True)
    assert by_d.layout.xaxis.type == "log"
    median = [t for t in by_d.data if t.meta["kind"] == "median"][0]
    assert list(median.x) == [1000.0, 1e6]


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("call", [
    lambda ds1, ds2: plots.curves(ds1, "accuracy"),
    lambda ds1, ds2: plots.heatmap(ds2, variable="accuracy"),
    lambda ds1, ds2: SigmaExplorer(ds1, variable="accuracy"),
])
def test_unknown_variable_lists_the_choices(ds1, ds2, call):
    with pytest.raises(ValueError, match=r"'accuracy'.*\['score', 'loss', 'nll'\]"):
        call(ds1, ds2)


@pytest.mark.parametrize("call", [
    lambda ds1, ds2: plots.heatmap(ds2, benchmark="gsm8k"),
    lambda ds1, ds2: plots.widths([ds1], benchmark="gsm8k"),
])
def test_unknown_benchmark_lists_the_choices(ds1, ds2, call):
    with pytest.raises(ValueError, match=r"'gsm8k'.*\['text'"):
        call(ds1, ds2)


@pytest.mark.parametrize("make", [plots.heatmap, plots.surface])
def test_plane_plots_need_a_beta_dim(ds1, make):
    with pytest.raises(ValueError, match=r"2-D sweep.*\['direction', 'alpha', 'benchmark', 'item'\]"):
        make(ds1)


def test_other_bad_input(ds1, ds2):
    with pytest.raises(ValueError, match=r"direction 7.*\[0\]"):
        plots.heatmap(ds2, direction=7)
    with pytest.raises(ValueError, match="2-D sweep"):
        plots.widths([ds2])
    with pytest.raises(ValueError, match="log_x"):
        plots.widths([ds1], log_x=True)
    with pytest.raises(ValueError, match="no beta dim"):
        plots.curves(ds1, beta=0.1)


# ----------------------------------------------------------------------------- SigmaExplorer


def test_explorer_set_alpha_moves_marker_and_table(ds1):
    ex = SigmaExplorer(ds1)
    markers = [s for s in ex.figure.layout.shapes if s.name == MARKER]
    assert len(markers) == 2  # one per subplot
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
    assert f'<td class="reach">{low}/4</td>' in re.search(r'data-benchmark="text">(.*?)</tr>', flipped.table.value).group(1)
    with pytest.raises(ValueError, match="alpha must be finite"):
        ex.set_alpha(float("nan"))


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
    assert ex.children[0] is ex.figure and ex.children[-1] is ex.table


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
    with pytest.raises(ValueError, match=r"unknown run 'c'; choose one of \['a', 'b'\]"):
        ex.select("c")
    with pytest.raises(ValueError, match=r"marks for unknown runs \['z'\]"):
        RunExplorer(runs, marks={"z": {}})
    with pytest.raises(ValueError, match="runs is empty"):
        RunExplorer({})
    with pytest.raises(ValueError, match=r"log_x names unknown runs \['q'\]"):
        RunExplorer(runs, log_x=["q"])
    logged = RunExplorer({"pos": ds1.isel(alpha=[6, 7, 12])}, log_x=["pos"])  # alpha 0, 0.05, 0.3
    assert logged.explorer.figure.layout.xaxis.type == "log"
