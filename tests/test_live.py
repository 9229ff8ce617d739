"""The live explorer (`bl.LiveExplorer`), driven through its methods and widgets without a browser
(tests/test_browser.py drives it in Chromium): points on demand through one compiled program, kept
in memory and in the store, read back by a new explorer (a restarted kernel), answers that follow
sigma, and bad input shown in the widget."""

import html
import time

import numpy as np
import pytest

pytest.importorskip("ipywidgets", reason="the live explorer needs the notebook extra: pip install '.[notebook]'")

import basinlab as bl  # noqa: E402
from basinlab.benchmarks import _registry as registry  # noqa: E402
from basinlab.landscape import _program as program  # noqa: E402
from basinlab.scoring._base import Benchmark, Judged  # noqa: E402


def said(ex) -> str:
    """The status line's text as the page shows it (escapes undone)."""
    return html.unescape(ex.status.value)


@pytest.fixture(scope="module")
def benches(tiny_chat):
    return [registry.build("synthetic-addition", tiny_chat, n=3, max_new_tokens=3),
            registry.build("pydoc", tiny_chat, n=2, shared={"seq_len": 16})]


def test_points_on_demand_one_program_memory_and_store(tiny_chat, benches, tmp_path):
    store = tmp_path / "live"
    ex = bl.LiveExplorer(tiny_chat, benches, directions=2, tol=0.1, store=store, background=False)
    assert ex.dataset is None and ex.sigma is None and ex.evaluations == 0
    ex.evaluate(0.01)
    assert ex.evaluations == 3  # theta0 once, then each direction at the point
    misses = program.chunk_program.cache_info().misses
    ex.evaluate(0.0123456)  # a value no grid holds; kept at 3 significant digits
    ex.slider.value = 0.02  # the slider's release, as a browser sends it
    assert ex.sigmas == [0.01, 0.0123, 0.02] and ex.sigma == 0.02
    assert ex.evaluations == 3 + 2 + 2  # theta0 is not evaluated again
    assert program.chunk_program.cache_info().misses == misses  # the same compiled program for every sigma
    ds = ex.dataset
    assert ds is not None and ds["alpha"].values.tolist() == [0.0, 0.01, 0.0123, 0.02]  # theta0 at alpha 0
    assert ds.sizes["direction"] == 2 and set(ds["benchmark"].values) == {b.name for b in benches}
    # The same numbers as one landscape() sweep over those alphas (which evaluates alpha = 0 too).
    ref = bl.landscape(tiny_chat, benches, directions=2, alphas=[0.0, 0.01, 0.0123, 0.02], progress=False)
    for v in ("score", "item_score", "nll"):
        np.testing.assert_allclose(ds[v].values, ref[v].values, rtol=0, atol=1e-6, err_msg=v)
    assert (ds["example_output"].values == ref["example_output"].values).all()
    size = ex.size
    assert size is not None and list(size["benchmark"].values) == list(ds["benchmark"].values)
    assert "basin size" in said(ex) and "table" in ex._view.table.value  # noqa: SLF001

    ex.evaluate(0.01)  # revisited: nothing runs
    assert (ex.evaluations, ex.cache_hits) == (7, 1) and ex.sigma == 0.01
    assert abs(ex.slider.value - 0.01) < 1e-12  # the slider follows a point set from code

    again = bl.LiveExplorer(tiny_chat, benches, directions=2, tol=0.1, store=store, background=False)
    assert again.sigmas == [0.01, 0.0123, 0.02] and again.evaluations == 0 and again.store_reads == 3
    assert again.dataset["alpha"].values.tolist() == [0.0, 0.01, 0.0123, 0.02]
    again.evaluate(0.0123)
    assert again.evaluations == 0 and again.cache_hits == 1
    np.testing.assert_array_equal(again.dataset["score"].values, ds["score"].values)

    other = bl.LiveExplorer(tiny_chat, benches[:1], directions=2, store=store, background=False)
    assert other.sigmas == [] and "another model's or benchmarks'" in said(other)


def test_answers_follow_sigma_and_items_are_one_click_away(tiny_chat, benches):
    ex = bl.LiveExplorer(tiny_chat, benches, directions=2, background=False, max_new_tokens=4)
    with pytest.raises(ValueError, match="the prompt is empty"):
        ex.ask("  ")
    base, moved = ex.ask("What is 2 + 2?")
    assert isinstance(base, str) and moved is None and ex.generations == 1
    ex.slider.value = 0.04  # a release on the slider (whose range, (1e-4, 0.05) by default, clamps values)
    assert ex.generations == 2 and ex.answers.value.count("<pre") == 2
    base2, moved2 = ex.ask()
    assert base2 == base and ex.generations == 2  # both answers kept per (prompt, direction, sigma)
    assert ex.sigma == 0.04
    theta = bl.directions.perturbed(tiny_chat.params, ex.recipes[0], 0.04)
    assert moved2 == tiny_chat.generate_text(["What is 2 + 2?"], 4, chat=True, params=theta)[0]
    ex.direction.value = 1
    assert ex.generations == 3
    assert ex.items.value == ""
    ex.items_button.value = True
    assert "synthetic-addition: 3 items" in ex.items.value and "pydoc" in ex.items.value


def test_bad_input_shows_in_the_widget_and_the_explorer_stays_usable(tiny_chat, benches):
    judged = {"calls": 0}

    def judge(out):
        judged["calls"] += 1
        if judged["calls"] > 1:
            raise RuntimeError("the grader crashed")
        return Judged(score=np.ones(3, np.float32))

    add = benches[0]
    flaky = Benchmark(name="flaky", data=add.data, score_fn=add.score_fn, n_items=3, metric="m", judge=judge)
    ex = bl.LiveExplorer(tiny_chat, [benches[1], flaky], directions=2, background=False, max_new_tokens=4)
    ex.request(-1.0)
    assert "sigma must be finite and > 0" in said(ex) and "-1.0" in said(ex) and ex.sigmas == []
    ex.sigma_box.value = "-0.01"  # typed into the box
    assert "sigma must be finite and > 0" in said(ex) and "-0.01" in said(ex) and ex.sigmas == []
    ex.sigma_box.value = "abc"
    assert "σ must be a number, got 'abc'" in said(ex)
    ex.request(0.01)  # theta0's block judges once; the point's block crashes
    assert "RuntimeError: the grader crashed" in said(ex) and ex.sigmas == []
    judged["calls"] = -10
    ex.sigma_box.value = "0.01"
    assert ex.sigmas == [0.01] and "error" not in said(ex).lower()
    ex.prompt.value = "word " * 5000
    ex.ask_button.click()
    assert "over the model's context" in said(ex)
    ex.evaluate(0.02)  # still usable
    assert ex.sigmas == [0.01, 0.02]
    with pytest.raises(ValueError, match="0 < low < high"):
        bl.LiveExplorer(tiny_chat, benches, sigma_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="'log', 'linear'"):
        bl.LiveExplorer(tiny_chat, benches, scale="cubic")
    with pytest.raises(ValueError, match="a count or a list of DirectionRecipe"):
        bl.LiveExplorer(tiny_chat, benches, directions=[tiny_chat.params])
    with pytest.raises(ValueError, match="'store' is set by LiveExplorer"):
        bl.LiveExplorer(tiny_chat, benches, options=bl.SweepOptions(store="x"))


def test_a_new_request_supersedes_the_pending_one(tiny_chat, benches):
    ex = bl.LiveExplorer(tiny_chat, benches[1:], directions=2)  # the worker thread
    with ex._lock:  # noqa: SLF001 - hold the engine: the worker takes 0.01 and waits for it
        ex.request(0.01)
        deadline = time.monotonic() + 30
        while not ex._busy and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.01)
        ex.request(0.02)
        ex.request(0.03)  # replaces 0.02, which never runs
    assert ex.wait(timeout=120)
    assert ex.sigmas == [0.01, 0.03] and ex.sigma == 0.03
    ex.scale.value = "linear"  # the slider is rebuilt on a linear scale at the current point
    assert type(ex.slider).__name__ == "FloatSlider" and abs(ex.slider.value - 0.03) < 1e-12
