"""viz/style.py: one palette and template, a stable colour per benchmark and per run, used by every figure."""

import re
import zlib

import numpy as np
import pytest

from basinlab.benchmarks import _registry as registry
from basinlab.viz import _plots as plots
from basinlab.viz import _style as style
from basinlab.viz._widgets import SigmaExplorer


def test_palette_is_ten_distinct_hex_colours_without_the_reference_grey():
    assert len(style.PALETTE) == len(set(style.PALETTE)) == 10
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in style.PALETTE)
    assert "#7f7f7f" not in style.PALETTE and style.REFERENCE == "grey"
    assert style.TEMPLATE.layout.colorway == style.PALETTE
    assert style.TEMPLATE.layout.plot_bgcolor == "white"  # built on plotly_white


def test_every_registry_benchmark_has_its_own_fixed_colour():
    assert set(style.BENCHMARK_COLOURS) == set(registry.available())
    same = {"gsm8k_cot_llama": "gsm8k-zeroshot", "mmlu_generative": "mmlu-letter-likelihood",
            "humaneval_instruct": "humaneval-code-only",
            "synthetic-addition-fewshot": "synthetic-addition"}
    for variant, family in same.items():  # lm-eval's definition of a capability keeps its colour
        assert style.benchmark_colour(variant) == style.benchmark_colour(family)
    colours = [style.benchmark_colour(name) for name in registry.available() if name not in same]
    assert len(set(colours)) == len(colours) and set(colours) <= set(style.PALETTE)
    assert style.benchmark_colour("pydoc") == style.BLUE and style.benchmark_colour("advbench") == style.RED


def test_an_optimizer_on_the_benchmark_axis_keeps_its_run_colour():
    runs = ["AdamW", "GO", "SAM"]  # notebook 05 concatenates one landscape per optimizer along benchmark
    assert [style.benchmark_colour(r) for r in runs] == list(style.run_colours(runs).values())
    assert style.benchmark_colour("GO") == style.RED != style.benchmark_colour("gsm8k_cot_llama")


def test_other_benchmarks_get_a_stable_hashed_palette_colour():
    # CRC-32 of the UTF-8 name, not Python's salted hash(): the same in every process.
    assert zlib.crc32(b"text") == 999008199
    assert style.benchmark_colour("text") == style.PALETTE[999008199 % 10] == style.INDIGO
    assert style.benchmark_colour(np.str_("text")) == style.benchmark_colour("text")
    names = [f"bench-{k}" for k in range(200)]
    assert {style.benchmark_colour(n) for n in names} == set(style.PALETTE)  # spread over the palette


def test_run_colours_fix_optimizers_and_give_other_runs_the_free_colours_in_order():
    assert style.run_colours(["AdamW", "GO", "SAM"]) == {"AdamW": style.BLUE, "GO": style.RED, "SAM": style.GREEN}
    assert style.run_colours(["go", "continuous dropout"]) == {"go": style.RED, "continuous dropout": style.PURPLE}
    got = style.run_colours(["step 0", "AdamW", "step 4"])
    assert got == {"step 0": style.ORANGE, "AdamW": style.BLUE, "step 4": style.GREEN}
    assert list(got) == ["step 0", "AdamW", "step 4"]  # the order given
    many = style.run_colours([f"run {k}" for k in range(12)])
    assert list(many.values()) == [style.palette_colour(k) for k in range(12)]  # cycles after ten


def test_rgba():
    assert style.rgba("#1f77b4", 0.2) == "rgba(31,119,180,0.2)"


@pytest.fixture(scope="module")
def named(ds1):
    """ds1 with a registry benchmark (fixed colour) and an unknown one (hashed colour)."""
    return ds1.assign_coords(benchmark=["pydoc", "my-text"])


def test_a_benchmark_has_the_same_colour_in_curves_widths_and_widgets(named):
    want = {"pydoc": style.BLUE, "my-text": style.benchmark_colour("my-text")}
    assert want["my-text"] != want["pydoc"]
    figures = {
        "curves": plots.curves(named, tol=0.05),
        "overlaid curves": plots.curves(named, subplots=False),
        "widths": plots.widths({"a": named, "b": named}, tol=0.05),
        "widths by d": plots.widths([named.assign_attrs(d=10)], tol=0.05, x="d"),
        "SigmaExplorer": SigmaExplorer(named).figure,
    }
    for where, fig in figures.items():
        seen = {b: set() for b in want}
        for t in fig.data:
            if t.meta["kind"] in ("direction", "mean", "widths", "median"):
                seen[t.meta["benchmark"]].add(t.line.color if t.meta["kind"] in ("direction", "mean")
                                              else t.marker.color)
        assert seen == {b: {c} for b, c in want.items()}, where
        assert fig.layout.template.layout.colorway == style.PALETTE, where
    edges = [s for s in figures["curves"].layout.shapes if "basin edge" in (s.name or "")]
    assert {s.line.color for s in edges} == set(want.values())
