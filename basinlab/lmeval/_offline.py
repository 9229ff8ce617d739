"""lm-eval's own task configs for the paper's tasks, made to read local data (offline copies).

`task_config(task)` reads the task's YAML from the installed lm-eval (`lm_eval/tasks/...`),
resolving `include:` as lm-eval does, and keeps every field that defines the prompt, the few-shot
examples, the stop strings, the budget, the filters and the metric. `offline_task(task, docs, folder)`
points its data set at a JSON-lines file of `docs` written to `folder` and returns lm-eval's
`ConfigurableTask`, so that lm-eval itself renders prompts and scores answers without the hub.

Custom Python hooks (`!function utils....`) are kept only where basinlab can name an equivalent:
humaneval_instruct's prediction builder and pass@k come from a module that loads the `code_eval`
metric from the Hugging Face hub when imported, so its offline copy drops them and keeps the
generation settings (the in-graph oracle's program is compared instead).
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # lm-eval is imported when a task is built, not with this module
    from lm_eval.api.task import ConfigurableTask

__all__ = ["TASK_FILES", "offline_task", "task_config"]

TASK_FILES = {
    "gsm8k_cot_llama": "gsm8k/gsm8k-cot-llama.yaml",
    "humaneval_instruct": "humaneval/humaneval_instruct.yaml",
    "mmlu_generative": "mmlu/generative/mmlu_{subject}.yaml",
}


def _loader() -> type:
    """A yaml SafeLoader that reads lm-eval's `!function` tags as {"!function": "module.name"}."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def function_tag(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> dict[str, str]:
        return {"!function": str(loader.construct_scalar(node))}

    Loader.add_constructor("!function", function_tag)
    return Loader


def _has_function(value) -> bool:
    if isinstance(value, dict):
        return "!function" in value or any(_has_function(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_function(v) for v in value)
    return False


def _read(path: pathlib.Path) -> dict:
    import yaml

    config = yaml.load(path.read_text(), Loader=_loader())  # noqa: S506 - SafeLoader subclass
    include = config.pop("include", None)
    if include:
        base = _read(path.parent / include)
        base.update(config)
        config = base
    return config


def task_config(task: str, subject: str | None = None) -> dict:
    """The installed lm-eval's config of `task` (a key of TASK_FILES; mmlu_generative needs the
    `subject`), includes resolved, with hooks that need the hub removed (module docstring)."""
    from basinlab import _validate as validate

    validate.choice("task", task, TASK_FILES)
    import lm_eval.tasks

    rel = TASK_FILES[task]
    if "{subject}" in rel:
        if not subject:
            raise ValueError(f"{task} is one task per MMLU subject: pass subject=")
        rel = rel.format(subject=subject)
    path = pathlib.Path(lm_eval.tasks.__file__).parent / rel
    if not path.is_file():
        raise FileNotFoundError(f"the installed lm-eval has no {rel}; basinlab's definitions follow lm-eval 0.4.13")
    config = _read(path)
    for key in ("filter_list", "metric_list"):
        if _has_function(config.get(key)):
            config.pop(key)
    return config


def offline_task(task: str, docs: Sequence[dict[str, Any]], folder: str | os.PathLike[str],
                 subject: str | None = None) -> ConfigurableTask:
    """lm-eval's ConfigurableTask of `task` whose test split is `docs` (written to
    folder/<task>.jsonl); few-shot examples stay those of the config (gsm8k_cot_llama's fixed ones)."""
    from lm_eval.api.task import ConfigurableTask

    config = task_config(task, subject)
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{task}{'_' + subject if subject else ''}.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in docs))
    config.update(dataset_path="json", dataset_name=None, test_split="test",
                  dataset_kwargs={"data_files": {"test": str(data)}, "cache_dir": str(folder / "datasets_cache")})
    if config.get("fewshot_split"):  # mmlu: dev examples come with the docs' own file in this copy
        config["fewshot_split"] = "test"
    return ConfigurableTask(config=config)
