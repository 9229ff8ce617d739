"""Figure 4 plots and the bound explorer show the theory's numbers."""

import numpy as np
import pytest

from basinlab.viz import bounds as bound_plots

from basinlab import theory
from basinlab.viz.widgets import BoundExplorer


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


def test_bound_explorer_reads_the_sliders():
    ex = BoundExplorer(p_a=0.9, sigma=1.0, r=0.0)
    v = ex.set(p_a=0.9, sigma=0.003, r=0.003)
    assert v["strong_bound"] == pytest.approx(0.610856, abs=1e-6)  # PAPER.md: p_A 0.9, r/sigma 1
    assert v["weak_bound"] == pytest.approx(0.501058, abs=1e-6)
    marker = next(t for t in ex.figure.data if t.meta["kind"] == "marker")
    assert marker.x[0] == pytest.approx(0.9) and marker.y[0] == pytest.approx(0.610856, abs=1e-6)
    assert "0.6109" in ex.table.value
