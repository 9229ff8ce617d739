"""viz/worstcase.py: the figure of worst-case searches, from WorstCase-like results (duck-typed)."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from basinlab.training._worstcase import WorstCase
from basinlab.viz import _style as style
from basinlab.viz._worstcase import trace_figure


def search(trace=(2.0, 5.0, 4.0), random=(1.0, 1.2)):
    """What trace_figure reads of a WorstCase, and nothing else."""
    return SimpleNamespace(trace=np.array(trace, np.float32), random=np.array(random, np.float32), base=1.1,
                           alpha=1e-4, d=100)


def test_a_worst_case_search_result_has_every_field_the_figure_reads():
    # The stand-in holds only what trace_figure reads (the tests below fail on any other attribute).
    assert set(vars(search())) <= {f.name for f in dataclasses.fields(WorstCase)}


def test_trace_figure_draws_each_search_against_random_and_theta0():
    wc = search()
    fig = trace_figure({"joint": wc, "other": wc})
    kinds = [(t.meta["search"], t.meta["kind"]) for t in fig.data]
    assert kinds == [("joint", "trace"), ("joint", "random"), ("joint", "base"),
                     ("other", "trace"), ("other", "random"), ("other", "base")]
    assert list(fig.data[0].y) == [2.0, 5.0, 4.0] and fig.data[1].y[0] == pytest.approx(1.1)
    assert "alpha = 0.0001" in fig.layout.title.text
    with pytest.raises(ValueError, match="searches is empty"):
        trace_figure({})


def test_each_search_has_its_run_colour_and_no_random_line_without_random_directions():
    fig = trace_figure({"GO": search(), "joint": search(random=())})
    colours = {(t.meta["search"], t.meta["kind"]): t.line.color for t in fig.data}
    assert colours == {("GO", "trace"): style.RED, ("GO", "random"): style.RED, ("GO", "base"): style.RED,
                       ("joint", "trace"): style.BLUE, ("joint", "base"): style.BLUE}
    assert fig.layout.template.layout.colorway == style.PALETTE
