"""Training: optimizers (GO, SAM, continuous dropout) with the one train step, the fine-tuning loop,
the paper's fine-tuning runs (sft), pre-training from scratch and the worst-case direction search.

Modules load on first use: `from basinlab.training import sft, pretrain`.
"""
