"""Analysis: Dataset in, Dataset out (and the measurements that run landscapes to get one).

Modules (load on first use: `from basinlab.analysis import collapse`): collapse (worst-case collapse
vs the random basin edge), capability (`capability_change` of a fine-tuned model), alignment (an
update against a direction), basins (`basin_width`, `widths_around`), curves (`training_curves`,
`forgetting_dataset`).
"""
