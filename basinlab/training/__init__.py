"""Training: optimizers (GO, SAM, continuous dropout) with the one train step, the fine-tuning loop,
the paper's fine-tuning runs, pre-training from scratch, forgetting and the worst-case direction search.

Modules (load on first use: `from basinlab.training import sft, pretrain`):
optim (GO/SAM/dropout and `perturb`), step (`train_step`, `cached_step`: the one training step),
loss (masked NLL, the step's token loss), data (`sft_examples`), loop (`finetune`), sft (recipes
and runs), gpt (GPT-2 configs, init, byte tokenizer), corpus (train/val split, windows), pretrain
(`pretrain`), forgetting (`forgetting`), matched (`pretrain_matched`: theta at a target val loss;
`forgetting_at`: forgetting at matched learning), worstcase (`worst_case`).
"""
