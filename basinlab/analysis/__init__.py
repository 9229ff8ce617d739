"""Analysis: Dataset in, Dataset out (collapse ratios, capability change, widths, forgetting)."""
