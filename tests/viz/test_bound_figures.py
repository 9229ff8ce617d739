"""Figure 4 plots (viz/bounds.py) show the theory's numbers."""

import numpy as np
import pytest

from basinlab import theory
from basinlab.viz import _bounds as bound_plots
from basinlab.viz import _style as style


def test_bound_vs_pa_traces_are_the_theorems():
    fig = bound_plots.bound_vs_pa(0.003, rs=(0.003,))
    strong = next(t for t in fig.data if t.meta["kind"] == "strong")
    weak = next(t for t in fig.data if t.meta["kind"] == "weak")
    i = int(np.argmin(np.abs(np.asarray(strong.x) - 0.9)))
    p = strong.x[i]
    assert strong.y[i] == pytest.approx(theory.strong_bound(p, 0.003, 0.003))
    assert weak.y[i] == pytest.approx(theory.weak_bound(p, 0.003, 0.003))
    assert np.all(np.asarray(weak.y) <= np.asarray(strong.y) + 1e-12)


def test_bound_vs_sigma_increases_with_sigma():
    fig = bound_plots.bound_vs_sigma(0.9, rs=(0.003,), weak=False)
    (trace,) = [t for t in fig.data if t.meta["kind"] == "strong"]
    assert np.all(np.diff(np.asarray(trace.y)) >= -1e-12)
    assert fig.layout.xaxis.type == "log"


def test_embedding_histogram_has_both_distance_kinds():
    W = np.random.RandomState(0).normal(size=(200, 16))
    dist = theory.embedding_distances(W, n_pairs=500, n_queries=50)
    fig = bound_plots.embedding_histogram(dist)
    assert len(fig.data) == 2 and len(fig.data[0].x) == 500 and len(fig.data[1].x) == 50


def test_each_r_has_its_palette_colour_on_both_theorems():
    rs = tuple(0.001 * (k + 1) for k in range(len(style.PALETTE) + 1))  # one more r than colours: cycles
    fig = bound_plots.bound_vs_pa(0.003, rs=rs)
    for kind in ("strong", "weak"):
        traces = [t for t in fig.data if t.meta["kind"] == kind]
        assert [t.meta["r"] for t in traces] == list(rs)  # every r is drawn
        assert [t.line.color for t in traces] == [style.PALETTE[k % len(style.PALETTE)] for k in range(len(rs))]
    assert fig.layout.template.layout.colorway == style.PALETTE
