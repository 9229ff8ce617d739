"""Analysis: Dataset in, Dataset out, and the measurements that run landscapes to get one.

basin_size (Definition 4.1's sigma* with its interval, by a walk and bisection in sigma over the
mean of N directions); basin_edges (every edge bracketed to a precision by a walk and bisection) and
edges_on_grid (the same walk read off an evaluated grid); basin_width and widths_around (per-direction
edges); collapse (worst-case collapse against the random basin edge); capability_change /
capability_scores (a fine-tuned model, paired tests); alignment (an update against a direction);
training_curves and forgetting_dataset; the growth helpers (widths relative to a checkpoint's own
score, checkpoints matched at validation loss); and lmeval_scores / agreement (the in-graph tasks
against lm-eval's harness).
"""

from basinlab.analysis._alignment import alignment
from basinlab.analysis._basins import basin_width, widths_around
from basinlab.analysis._capability import capability_change, capability_scores
from basinlab.analysis._collapse import collapse
from basinlab.analysis._curves import forgetting_dataset, training_curves
from basinlab.analysis._edges import basin_edges, edges_on_grid
from basinlab.analysis._growth import ORACLES, checkpoint_widths, match_by_loss, relative_widths, width_summary
from basinlab.analysis._lmeval_agreement import agreement, lmeval_scores
from basinlab.analysis._size import basin_size

__all__ = [
    "ORACLES", "agreement", "alignment", "basin_edges", "basin_size", "basin_width", "capability_change",
    "capability_scores",
    "checkpoint_widths", "collapse", "edges_on_grid", "forgetting_dataset", "lmeval_scores", "match_by_loss",
    "relative_widths", "training_curves", "width_summary", "widths_around",
]
