"""basinlab's one figure style: the palette, the plotly template, and the colour of each series.

- :data:`PALETTE`   -- ten qualitative colours (Tableau 10 with its grey swapped for indigo: grey is
  kept for reference lines such as chance and marks). Series without a fixed colour take these in order.
- :data:`TEMPLATE`  -- plotly_white with :data:`PALETTE` as its colorway; every basinlab figure uses it.
- :func:`benchmark_colour` -- one colour per benchmark name, the same in every figure: a fixed table
  for the names of ``basinlab.benchmarks._registry`` (all different), the optimizer colours below for
  optimizer names, a stable hash of the name for others.
- :func:`run_colours` -- colours for the runs of one figure (optimizers, checkpoints, searches): the
  optimizers of ``basinlab.training._pretrain`` keep a fixed colour, other runs take the free colours in order.
- Accents: :data:`CURRENT` (the slider's point), :data:`REFERENCE` (chance, marks), :data:`BASE`
  (theta0 on subplots), :data:`HIGHLIGHT` (a reference model), :data:`SEQUENTIAL` (heatmaps, surfaces).

Plain data and plotly only: this module imports no other basinlab module (the name tables are literals).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import plotly.graph_objects as go
import plotly.io as pio

__all__ = [
    "BASE", "BENCHMARK_COLOURS", "CURRENT", "HIGHLIGHT", "OPTIMIZER_COLOURS", "PALETTE", "REFERENCE",
    "SEQUENTIAL", "TEMPLATE", "benchmark_colour", "palette_colour", "rgba", "run_colours",
]

BLUE, ORANGE, GREEN, RED, PURPLE = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"
BROWN, PINK, CYAN, OLIVE, INDIGO = "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79"
PALETTE: tuple[str, ...] = (BLUE, ORANGE, GREEN, RED, PURPLE, BROWN, PINK, CYAN, OLIVE, INDIGO)

CURRENT = "crimson"
REFERENCE = "grey"
BASE = "black"
HIGHLIGHT = RED
SEQUENTIAL = "Viridis"

TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
TEMPLATE.layout.colorway = PALETTE  # pyright: ignore[reportAttributeAccessIssue, reportOptionalMemberAccess]  (plotly's layout property is untyped)

# basinlab.benchmarks._registry's names; related benchmarks get related hues (mmlu-letter-likelihood
# purple / mmlu-letter-first-token indigo, advbench red / advbench-target pink).
BENCHMARK_COLOURS: dict[str, str] = {
    "pydoc": BLUE, "gsm8k-zeroshot": ORANGE, "synthetic-addition": GREEN, "advbench": RED,
    "mmlu-letter-likelihood": PURPLE, "shakespeare": BROWN, "advbench-target": PINK, "synthetic-capitals": CYAN,
    "humaneval-code-only": OLIVE, "mmlu-letter-first-token": INDIGO,
    # lm-eval's definitions of the same capabilities (benchmarks.lmeval_tasks) share their colour.
    "gsm8k_cot_llama": ORANGE, "mmlu_generative": PURPLE, "humaneval_instruct": OLIVE,
    # the same items with the answer format demonstrated: the same capability, the same colour
    "synthetic-addition-fewshot": GREEN,
}
# basinlab.training._pretrain.OPTIMIZERS; a run label matches case-insensitively ("AdamW" -> "adamw").
OPTIMIZER_COLOURS: dict[str, str] = {"adamw": BLUE, "go": RED, "sam": GREEN, "continuous_dropout": PURPLE}


def palette_colour(i: int) -> str:
    """The i-th palette colour, cycling."""
    return PALETTE[i % len(PALETTE)]


def _optimizer(label: str) -> str:
    return label.strip().lower().replace(" ", "_").replace("-", "_")


def benchmark_colour(name: object) -> str:
    """Hex colour of benchmark `name` (str(name) is used): the table for registry names; an optimizer's
    colour for an optimizer name (notebooks put one landscape per optimizer on the benchmark axis);
    else a colour picked by the CRC-32 of the name, stable across runs and machines (unlike hash())."""
    name = str(name)
    if name in BENCHMARK_COLOURS:
        return BENCHMARK_COLOURS[name]
    if _optimizer(name) in OPTIMIZER_COLOURS:
        return OPTIMIZER_COLOURS[_optimizer(name)]
    return palette_colour(zlib.crc32(name.encode("utf-8")))


def run_colours(labels: Iterable[object]) -> dict[str, str]:
    """{str(label): hex colour} for the runs of one figure, in the order given. Labels naming an
    optimizer get its fixed colour; the others take the palette in order, skipping colours already
    used in this figure until the palette runs out."""
    labels = [str(label) for label in labels]
    out = {lab: OPTIMIZER_COLOURS[_optimizer(lab)] for lab in labels if _optimizer(lab) in OPTIMIZER_COLOURS}
    free = [c for c in PALETTE if c not in out.values()]
    k = 0
    for lab in labels:
        if lab not in out:
            out[lab] = free[k] if k < len(free) else palette_colour(k - len(free))
            k += 1
    return {lab: out[lab] for lab in labels}


def rgba(colour: str, alpha: float) -> str:
    """'rgba(r,g,b,alpha)' of a '#rrggbb' colour (plotly fills need the alpha in the colour)."""
    h = colour.lstrip("#")
    r, g, b = (int(h[i: i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
