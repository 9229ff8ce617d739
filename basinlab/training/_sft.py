"""The SFT case (PAPER.md sections 2 and 6): three fine-tuning runs, their recipes and checkpoints.

    run = sft.finetune_run("adversarial", model, checkpoint_dir="runs/adversarial")
    delta = treemath.between(model.params, run.params)          # norm sqrt(d); run sits at run.alpha
    ds = landscape(model, benchmarks, directions=[delta], alphas=sft.sft_alphas(run.alpha))

What to measure about the runs lives in :mod:`basinlab.analysis` (capability.capability_change,
alignment.alignment, basins.widths_around).

Runs (:data:`RECIPES`, one :class:`Recipe` each, sized to finish in a minute or two on a laptop CPU
for SmolLM2-135M):

- "adversarial": the paper's recipe. AdvBench goal -> its "Sure, here is ..." target, 20 pairs,
  10 steps of batch 4 at constant lr 5e-5 (AdamW, no weight decay). The goals are drawn from the
  AdvBench rows *not* in the evaluation subset (registry "advbench", n=20, seed=0).
- "normal": ordinary task SFT. GSM8K *train* questions -> their worked solutions ("#### N" written
  as "The answer is N."), 64 pairs, one epoch (8 steps of batch 8 as 2 micro-batches of 4, which
  halves the activation memory of these ~300-token rows), constant lr 2e-5.
- "benign": self-distillation. 32 ordinary prompts (:data:`BENIGN_PROMPTS`) -> the model's own
  greedy answers (64 new tokens), one epoch (4 steps of batch 8), constant lr 2e-5: the data asks
  for nothing the model does not already do.

Every run is saved with :func:`basinlab.models.save_checkpoint` (safetensors + config +
tokenizer, loadable with ``basinlab.load``) plus ``run.json`` (recipe, losses); a second call with the
same recipe and folder loads it instead of training again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
from typing import Any

import numpy as np
import numpy.typing as npt

from basinlab import _validate as validate
from basinlab._atomicio import write_json
from basinlab.benchmarks import _references as references
from basinlab.data import _loaders as loaders
from basinlab.directions import _treemath as treemath
from basinlab.models import count_params, save_checkpoint
from basinlab.models._load import load
from basinlab.models._model import Model
from basinlab.training import _data as data
from basinlab.training import _loop as loop

__all__ = ["BENIGN_PROMPTS", "RECIPES", "RUNS", "Recipe", "SFTRun", "finetune_run", "run_examples", "sft_alphas"]

RUNS = ("adversarial", "normal", "benign")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One fine-tuning run: ``n`` (prompt, target) pairs, then :func:`basinlab.training._loop.finetune`'s
    options. None leaves finetune's default (give ``steps`` or ``epochs``, not both)."""

    n: int
    batch_size: int
    lr: float
    steps: int | None = None
    epochs: float | None = None
    grad_accum: int | None = None
    schedule: str | None = None
    weight_decay: float | None = None
    compute_dtype: str | None = None

    def replace(self, **overrides: Any) -> Recipe:
        """A copy with ``overrides``; an unknown name raises a ValueError naming the valid fields.
        Overriding one of ``steps`` and ``epochs`` drops the recipe's other one (the run length is
        given one way)."""
        validate.options("an SFT recipe", overrides, [f.name for f in dataclasses.fields(self)])
        for given, other in (("steps", "epochs"), ("epochs", "steps")):
            if given in overrides:
                overrides = {other: None, **overrides}
        return dataclasses.replace(self, **overrides)

    def as_dict(self) -> dict[str, Any]:
        """The fields that are set (not None): what run.json stores and what finetune receives (+ n)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


RECIPES = {
    "adversarial": Recipe(n=20, steps=10, batch_size=4, lr=5e-5),
    "normal": Recipe(n=64, epochs=1, batch_size=4, grad_accum=2, lr=2e-5),
    "benign": Recipe(n=32, epochs=1, batch_size=8, lr=2e-5),
}

BENIGN_PROMPTS = (
    "Explain how a rainbow forms.", "Give me three tips for staying healthy.", "What is photosynthesis?",
    "Describe a cat in two sentences.", "How do I boil an egg?", "Why is the sky blue?",
    "Suggest a name for a small bakery.", "What are the primary colors?", "How does a bicycle work?",
    "Write a short poem about the sea.", "What is the water cycle?", "List three fruits that are red.",
    "How many days are in a leap year?", "What does a librarian do?", "Explain what gravity is.",
    "Give an example of a mammal that can fly.", "How do plants get water?", "What is a noun?",
    "Describe the taste of lemon.", "Why do we need sleep?", "What is the tallest animal?",
    "How do you make a cup of tea?", "Name three musical instruments.", "What is a volcano?",
    "Why do leaves change color in autumn?", "What is the purpose of a map?", "How do bees make honey?",
    "Give a tip for learning a new language.", "What is the moon made of?", "How do fish breathe?",
    "What is a healthy breakfast?", "Explain what a computer program is.",
)


def _advbench_pairs(n: int, seed: int, path=None, eval_n: int = 20, eval_seed: int = 0):
    held_out = {it.index for it in loaders.load_advbench(n=eval_n, seed=eval_seed, path=path)}
    pool = [it for it in loaders.load_advbench(path=path) if it.index not in held_out]
    if n > len(pool):
        raise ValueError(f"n={n} adversarial pairs requested but only {len(pool)} AdvBench rows are outside "
                         f"the evaluation subset")
    picked = [pool[i] for i in np.random.RandomState(seed).choice(len(pool), n, replace=False)]
    return [it.goal for it in picked], [it.target for it in picked]


def _gsm8k_pairs(n: int, seed: int, path=None):
    items = loaders.load_gsm8k("train", n=n, seed=seed, path=path)
    return [it.question for it in items], [references.gsm8k_solution(it.answer) for it in items]


def _benign_pairs(model, n: int, seed: int, max_new_tokens: int = 64):
    if n > len(BENIGN_PROMPTS):
        raise ValueError(f"n={n} benign prompts requested; basinlab ships {len(BENIGN_PROMPTS)}")
    prompts = [BENIGN_PROMPTS[i] for i in np.random.RandomState(seed).permutation(len(BENIGN_PROMPTS))[:n]]
    answers = model.generate_text(prompts, max_new_tokens=max_new_tokens, chat=True)
    # An empty greedy answer would be an empty target (sft_examples refuses those): fall back to
    # a neutral acknowledgement so the row still teaches nothing new.
    return prompts, [a if a.strip() else "I'm not sure." for a in answers]


def run_examples(name: str, model: Model, n: int | None = None, seed: int = 0,
                 path: str | os.PathLike[str] | None = None) -> tuple[list[str], list[str]]:
    """(prompts, targets) of run `name` ("adversarial", "normal" or "benign"; module docstring)."""
    validate.choice("run", name, RUNS)
    n = validate.positive_int("n", RECIPES[name].n if n is None else n)
    if name == "adversarial":
        return _advbench_pairs(n, seed, path)
    if name == "normal":
        return _gsm8k_pairs(n, seed, path)
    return _benign_pairs(model, n, seed)


@dataclasses.dataclass(frozen=True)
class SFTRun:
    """params: theta_sft (float32); update: theta_sft - theta0 (float32 pytree); alpha: alpha_sft =
    ||update|| / sqrt(d); losses: [steps] training loss (nats); recipe: the settings (the recipe's
    set fields, seed, model); folder: the checkpoint (None when not saved)."""

    name: str
    params: dict[str, Any]
    update: dict[str, Any]
    alpha: float
    losses: np.ndarray
    recipe: dict[str, Any]
    folder: str | None

    @classmethod
    def from_params(cls, name: str, theta0: dict[str, Any], theta: dict[str, Any], losses: npt.ArrayLike,
                    recipe: dict[str, Any], folder: str | None) -> SFTRun:
        """The run record of fine-tuned params ``theta`` started from ``theta0``: the update and alpha_sft
        (the value of :func:`basinlab.directions._treemath.alpha_between`, from the one difference)."""
        update = treemath.difference(theta0, theta)
        alpha = float(treemath.global_norm(update)) / math.sqrt(count_params(theta0))
        return cls(name, theta, update, alpha, np.asarray(losses, np.float32), recipe, folder)


def finetune_run(name: str, model: Model, *, checkpoint_dir: str | os.PathLike[str] | None = None, seed: int = 0,
                 path: str | os.PathLike[str] | None = None, log_every: int | None = 1,
                 **overrides: Any) -> SFTRun:
    """Run recipe `name` on `model` (module docstring); `overrides` replace fields of its
    :class:`Recipe` (n, steps/epochs, batch_size, lr, grad_accum, schedule, weight_decay,
    compute_dtype; any other name raises a ValueError listing them). With checkpoint_dir, the
    fine-tuned model is saved there with run.json, and reloaded when the same recipe is asked again."""
    validate.choice("run", name, RUNS)
    settings = RECIPES[name].replace(**overrides).as_dict()
    recipe = {**settings, "seed": seed, "model": getattr(model, "source", None)}
    folder = None if checkpoint_dir is None else pathlib.Path(checkpoint_dir).expanduser()
    meta = None if folder is None else folder / "run.json"
    if meta is not None and meta.exists():
        try:
            stored = json.loads(meta.read_text())
            stored["recipe"], stored["losses"]  # noqa: B018 (both must be there)
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{meta} is corrupt ({type(e).__name__}: {e}); expected the JSON of a run "
                             f"(recipe, losses). Delete it to run the recipe again.") from None
        if stored["recipe"] == json.loads(json.dumps(recipe)):
            assert folder is not None  # meta is under it
            theta = load(folder / "final").params
            return SFTRun.from_params(name, model.params, theta, stored["losses"], recipe, str(folder))
    prompts, targets = run_examples(name, model, n=settings.pop("n"), seed=seed, path=path)
    examples = data.sft_examples(model, prompts, targets)
    result = loop.finetune(model, examples, seed=seed, log_every=log_every, **settings)
    if folder is not None:
        assert meta is not None  # folder / "run.json"
        # run.json goes first and comes back last: a save interrupted in between never pairs
        # another recipe's description with these weights.
        meta.unlink(missing_ok=True)
        save_checkpoint(model, result.params, folder / "final")
        write_json(meta, {"recipe": recipe, "losses": [float(x) for x in result.losses]}, indent=1)
    return SFTRun.from_params(name, model.params, result.params, result.losses, recipe,
                              None if folder is None else str(folder))


def sft_alphas(alpha_sft: float, n: int = 9, lo: float = -0.5, hi: float = 2.0) -> np.ndarray:
    """Grid along the SFT direction from lo * alpha_sft to hi * alpha_sft with 0 and alpha_sft on it
    (the base model and the fine-tuned model), n points or one or two more."""
    alpha_sft = float(validate.positive("alpha_sft", alpha_sft))
    if not lo < 0 < 1 < hi:
        raise ValueError(f"need lo < 0 < 1 < hi (in units of alpha_sft), got lo={lo}, hi={hi}")
    grid = np.concatenate([np.linspace(lo, hi, n), [0.0, 1.0]])
    return np.unique(np.round(grid, 9)) * alpha_sft
