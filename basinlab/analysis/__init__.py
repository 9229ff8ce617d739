"""Analysis: Dataset in, Dataset out (and the measurements that run landscapes to get one).

Modules (load on first use: `from basinlab.analysis import collapse`): collapse (worst-case collapse
vs the random basin edge), capability (`capability_change` of a fine-tuned model: a paired test),
alignment (an update against a direction), basins (`basin_width`, `widths_around`), edges
(`basin_edges`: every edge bracketed to a given precision by a walk and bisection; also
`basinlab.analysis.basin_edges`; `edges_on_grid`: the same walk read off an evaluated grid), curves
(`training_curves`, `forgetting_dataset`), growth (widths with a
tolerance relative to a checkpoint's own score, checkpoints matched at validation loss).
"""

import importlib

__all__ = ["basin_edges"]


def __getattr__(name):
    if name == "basin_edges":  # loads the landscape engine on first use only
        return importlib.import_module("basinlab.analysis.edges").basin_edges
    raise AttributeError(f"module 'basinlab.analysis' has no attribute {name!r}")
