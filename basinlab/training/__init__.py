"""Training: the GO / SAM / continuous-dropout optimizers with the one train step, the fine-tuning
loop and the paper's fine-tuning runs, pre-training from scratch (GPT-2 shapes, byte tokenizer),
forgetting, and the worst-case direction search.

    run = basinlab.training.finetune_run(model, "normal", steps=200)          # an SFTRun
    wc = basinlab.worst_case(model, "synthetic-addition", steps=20)            # a WorstCase
    result = basinlab.training.pretrain(basinlab.training.GPTConfig(**basinlab.training.SIZES["tiny"]), ...)
"""

from basinlab.training._corpus import Corpus, load_corpus, windows
from basinlab.training._data import sft_examples
from basinlab.training._forgetting import Forgetting, forgetting
from basinlab.training._gpt import SIZES, GPTConfig, byte_tokenizer, init_model
from basinlab.training._loop import FinetuneResult, TrainingDiverged, finetune
from basinlab.training._loss import evaluate_nll, masked_nll, micro_batches, token_loss
from basinlab.training._matched import (
    Matched,
    common_learning,
    forgetting_at,
    forgetting_per_learned,
    pretrain_matched,
)
from basinlab.training._mixture import AdditionMix, addition_corpus, addition_pairs, mix_addition
from basinlab.training._optim import PerturbSpec, continuous_dropout, go, perturb, sam
from basinlab.training._pretrain import OPTIMIZERS, PretrainResult, make_optimizer, pretrain
from basinlab.training._sft import RECIPES, RUNS, Recipe, SFTRun, finetune_run, sft_alphas
from basinlab.training._step import cached_step, train_step
from basinlab.training._worstcase import ONE_SIDED, WorstCase, worst_case

__all__ = [
    "ONE_SIDED", "OPTIMIZERS", "RECIPES", "RUNS", "SIZES", "AdditionMix", "Corpus", "FinetuneResult", "Forgetting",
    "GPTConfig", "Matched", "PerturbSpec", "PretrainResult", "Recipe", "SFTRun", "TrainingDiverged", "WorstCase",
    "addition_corpus", "addition_pairs", "byte_tokenizer", "cached_step", "common_learning", "continuous_dropout",
    "evaluate_nll", "finetune", "finetune_run", "forgetting", "forgetting_at", "forgetting_per_learned", "go",
    "init_model", "load_corpus", "make_optimizer", "masked_nll", "micro_batches", "mix_addition", "perturb",
    "pretrain", "pretrain_matched", "sam", "sft_alphas", "sft_examples", "token_loss", "train_step", "windows",
    "worst_case",
]
