"""plots.py on real landscapes of a tiny random SmolLM2 (fixtures ds1, ds2 in conftest.py): traces,
labels, shapes and errors."""

import re

import numpy as np
import pytest

from basinlab.landscape._results import open_dataset, save
from basinlab.viz import _plots as plots


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
])
def test_unknown_variable_lists_the_choices(ds1, ds2, call):
    with pytest.raises(ValueError, match=r"unknown variable 'accuracy'; valid choices: 'score', 'loss', 'nll'$"):
        call(ds1, ds2)


@pytest.mark.parametrize("call", [
    lambda ds1, ds2: plots.heatmap(ds2, benchmark="gsm8k"),
    lambda ds1, ds2: plots.widths([ds1], benchmark="gsm8k"),
])
def test_unknown_benchmark_lists_the_choices(ds1, ds2, call):
    with pytest.raises(ValueError, match=r"unknown benchmark.* 'gsm8k'; valid choices: 'text'"):
        call(ds1, ds2)


@pytest.mark.parametrize("make", [plots.heatmap, plots.surface])
def test_plane_plots_need_a_beta_dim(ds1, make):
    with pytest.raises(ValueError, match=r"2-D sweep.*\['direction', 'alpha', 'benchmark', 'item'\]"):
        make(ds1)


def test_other_bad_input(ds1, ds2):
    with pytest.raises(ValueError, match=r"unknown direction 7; valid choices: 0$"):
        plots.heatmap(ds2, direction=7)
    with pytest.raises(ValueError, match="2-D sweep"):
        plots.widths([ds2])
    with pytest.raises(ValueError, match="log_x"):
        plots.widths([ds1], log_x=True)
    with pytest.raises(ValueError, match=r"unknown x 'model'; valid choices: 'label', 'd'$"):
        plots.widths([ds1], x="model")
    with pytest.raises(ValueError, match="no beta dim"):
        plots.curves(ds1, beta=0.1)
