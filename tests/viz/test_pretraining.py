"""viz/pretraining.py: the GO and pre-training figures (Figure 5 a/b/c, scatter) on small Datasets of
the schema of training.pretrain.curves and training.basins.forgetting_dataset, and on ds1 (conftest.py)."""

import numpy as np
import pytest
import xarray as xr

from basinlab.viz import _pretraining as pretraining
from basinlab.viz import _style as style

RUNS = ["AdamW", "GO", "step 4"]


@pytest.fixture(scope="module")
def curves():
    steps, evals = np.arange(1, 9), np.array([4, 8])
    train = np.stack([np.arange(8.0) * (k + 1) for k in range(3)])  # run k: 0, k+1, 2(k+1), ...
    return xr.Dataset({"train_loss": (("run", "step"), train), "val_loss": (("run", "eval_step"), train[:, [3, 7]])},
                      coords={"run": RUNS, "step": steps, "eval_step": evals})


@pytest.fixture(scope="module")
def forget():
    old = np.array([[3.0, 3.5, 4.0], [3.0, 3.1, 3.2], [2.0, 2.5, 2.9]])
    return xr.Dataset({"old_nll": (("run", "ft_step"), old), "new_nll": (("run", "ft_step"), 6.0 - old)},
                      coords={"run": RUNS, "ft_step": [0, 2, 4]})


def by_run(fig):
    return {(t.name, t.xaxis): t for t in fig.data}


def test_loss_curves_smooth_the_train_loss_and_keep_a_colour_per_run(curves):
    fig = pretraining.loss_curves(curves, smooth=3)
    traces = by_run(fig)
    assert len(fig.data) == 6
    # Trailing moving average over 3 steps; the first two steps average what exists so far.
    np.testing.assert_allclose(traces["GO", "x"].y, [0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0])
    np.testing.assert_allclose(traces["GO", "x2"].y, [6.0, 14.0])
    np.testing.assert_array_equal(traces["GO", "x2"].x, [4, 8])
    np.testing.assert_allclose(pretraining.loss_curves(curves, smooth=1).data[0].y, curves.train_loss[0])
    want = style.run_colours(RUNS)
    assert want == {"AdamW": style.BLUE, "GO": style.RED, "step 4": style.ORANGE}
    for (run, _), t in traces.items():
        assert t.line.color == want[run]
    assert fig.layout.template.layout.colorway == style.PALETTE


def test_forgetting_curves_one_legend_entry_per_run(forget):
    fig = pretraining.forgetting_curves(forget)
    traces = by_run(fig)
    np.testing.assert_allclose(traces["GO", "x"].y, [3.0, 3.1, 3.2])
    np.testing.assert_allclose(traces["GO", "x2"].y, [3.0, 2.9, 2.8])
    assert [t.name for t in fig.data if t.showlegend] == RUNS
    assert {t.line.color for t in fig.data if t.name == "AdamW"} == {style.BLUE}


def test_landscapes_mark_the_interpolated_median_width_per_model(ds1):
    tol = 0.02
    lands = {"AdamW": ds1, "GO": ds1.isel(direction=[0, 1])}
    fig = pretraining.landscapes(lands, tol=tol)
    for label, ds in lands.items():
        w = ds.basin.width(tol, "score", interpolate=True).sel(benchmark="text")
        (mean,) = [t for t in fig.data if t.legendgroup == label and t.showlegend is not False]
        assert mean.meta["width"] == pytest.approx(float(w["width"].median()))
        np.testing.assert_allclose(mean.y, ds.score.sel(benchmark="text").mean("direction"), rtol=1e-6)
        assert len([t for t in fig.data if t.legendgroup == label]) == ds.sizes["direction"] + 1
        edges = sorted(s.x0 for s in fig.layout.shapes if s.line.color == mean.line.color)
        assert edges == pytest.approx(sorted(float(w[side].median()) for side in ("left", "right")))
    assert [t.line.color for t in fig.data if t.showlegend is not False] == [style.BLUE, style.RED]


def test_scatter_draws_highlighted_points_as_red_diamonds():
    fig = pretraining.scatter([1, 10, 100], [0.1, 0.2, 0.3], ["a", "b", "ref"], highlight=[False, False, True],
                              xaxis_title="d", yaxis_title="width", log_x=True)
    plain, ref = fig.data
    assert list(plain.text) == ["a", "b"] and plain.marker.color == style.PALETTE[0]
    assert list(ref.text) == ["ref"] and ref.marker.color == style.HIGHLIGHT and ref.marker.symbol == "diamond"
    assert fig.layout.xaxis.type == "log"
    assert len(pretraining.scatter([1], [2], ["x"], xaxis_title="", yaxis_title="").data) == 1
