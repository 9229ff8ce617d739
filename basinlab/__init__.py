"""basinlab: measure, certify and explore the basin-like loss landscapes of language models.

    import basinlab as bl
    model = bl.load("smollm2-135m-instruct")
    ds = bl.landscape(model, [bl.benchmark("pydoc", model)], directions=8)
    ds.basin.size(tol=0.1)                  # Definition 4.1's sigma* and its interval
    bl.save(ds, "results/most_case.nc")

This module is the public API: every name in `__all__`, flat. The subpackages (`bl.models`,
`bl.directions`, `bl.data`, `bl.scoring`, `bl.sandbox`, `bl.benchmarks`, `bl.lmeval`, `bl.theory`,
`bl.training`, `bl.analysis`, `bl.viz`, `bl.stats`) export more in their own `__all__`; their modules are
private (`_name.py`, equinox's layout). Layers, each importing only from those before it:
models -> directions -> sandbox -> data -> scoring -> lmeval -> benchmarks -> landscape -> theory ->
training -> analysis -> viz. The figures and widgets (`bl.viz`, `bl.SigmaExplorer`, ...; `bl.LiveExplorer`,
which runs the model and so sits above viz) need the `notebook` extra and load on first use. Importing
basinlab registers the `ds.basin` accessor.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from basinlab import (
    analysis,
    benchmarks,
    data,
    directions,
    lmeval,
    models,
    sandbox,
    scoring,
    stats,
    theory,
    training,
)
from basinlab._atomicio import write_json
from basinlab._lazy import lazy
from basinlab._version import __version__
from basinlab.analysis import (
    alignment,
    basin_edges,
    basin_size,
    basin_width,
    capability_change,
    capability_scores,
    collapse,
    edges_on_grid,
    widths_around,
)
from basinlab.benchmarks import build as benchmark
from basinlab.benchmarks import measure
from basinlab.directions import DirectionRecipe, distance, perturb, regenerate
from basinlab.landscape import BaseScores, SweepOptions, basin_size_on_grid, landscape, open_dataset, save
from basinlab.models import Model, ModelSpec, forward, generate, load
from basinlab.scoring import Benchmark, text_benchmark, token_benchmark
from basinlab.theory import (
    certificates,
    certified_radius,
    certify,
    concentration_lower_bound,
    log_strong_bound,
    smoothed_score,
    strong_bound,
    weak_bound,
)
from basinlab.training import finetune, finetune_run, forgetting, pretrain, worst_case

if TYPE_CHECKING:
    from basinlab import results, viz, widgets
    from basinlab._live import LiveExplorer
    from basinlab.results import read_summary, write_summary
    from basinlab.viz import BoundExplorer, RunExplorer, SigmaExplorer

# `basinlab.landscape.landscape` (the name the layout issue made public) keeps working: the flat
# `bl.landscape` is the sweep function, which also answers to its old dotted path.
landscape.landscape = landscape  # type: ignore[attr-defined]

__all__ = [
    "BaseScores", "Benchmark", "BoundExplorer", "DirectionRecipe", "LiveExplorer", "Model", "ModelSpec", "RunExplorer",
    "SigmaExplorer",
    "SweepOptions", "__version__", "alignment", "analysis", "basin_edges", "basin_size", "basin_size_on_grid",
    "basin_width", "benchmark", "benchmarks",
    "capability_change", "capability_scores", "certificates", "certified_radius", "certify", "collapse",
    "concentration_lower_bound", "data", "directions", "distance", "edges_on_grid", "finetune", "finetune_run",
    "forgetting", "forward", "generate", "landscape", "lmeval", "load", "log_strong_bound", "measure", "models",
    "open_dataset", "perturb", "pretrain", "regenerate", "results", "sandbox", "save", "scoring", "smoothed_score",
    "stats", "strong_bound", "text_benchmark", "theory", "token_benchmark", "training", "viz", "weak_bound",
    "widgets", "widths_around", "worst_case", "write_json", "write_summary", "read_summary",
]
__getattr__: Callable[[str], object] = lazy(__name__, {
    "SigmaExplorer": "basinlab.viz", "RunExplorer": "basinlab.viz", "BoundExplorer": "basinlab.viz",
    "LiveExplorer": "basinlab._live",
    "viz": "basinlab.viz", "results": "basinlab.results", "widgets": "basinlab.widgets",
    "write_summary": "basinlab.results", "read_summary": "basinlab.results",
})
