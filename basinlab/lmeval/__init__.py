"""The paper's lm-eval tasks, reproduced in-graph, and basinlab as an lm-evaluation-harness backend.

- Task reproductions (`gsm8k_cot_llama`, `mmlu_generative`, `humaneval_instruct`, `advbench`): lm-eval's
  prompts, filters and metrics as basinlab benchmarks that a landscape sweep evaluates in one program;
  build them by name with `basinlab.benchmark(name, model)`.
- The backend (`BasinlabLM`, `evaluate`, `offline_task`): lm-eval's own harness scores a perturbed
  basinlab model. Needs the `lmeval` extra (`pip install 'basinlab[lmeval]'`), so these load on first use.

    basinlab.lmeval.evaluate(model, ["gsm8k_cot_llama"], direction=basinlab.DirectionRecipe(seed=0), alpha=0.002)
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from basinlab._lazy import lazy
from basinlab.lmeval._paper_tasks import task_docs, task_grader
from basinlab.lmeval._tasks import TASKS, TaskDef

if TYPE_CHECKING:
    from basinlab.lmeval._backend import BasinlabLM, evaluate, perturbed_params
    from basinlab.lmeval._offline import offline_task

__all__ = ["TASKS", "BasinlabLM", "TaskDef", "evaluate", "offline_task", "perturbed_params", "task_docs",
           "task_grader"]
__getattr__: Callable[[str], object] = lazy(__name__, {
    "BasinlabLM": "basinlab.lmeval._backend", "evaluate": "basinlab.lmeval._backend",
    "perturbed_params": "basinlab.lmeval._backend", "offline_task": "basinlab.lmeval._offline"})
