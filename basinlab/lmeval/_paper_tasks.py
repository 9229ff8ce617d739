"""Registry builders of the paper's four capabilities, defined as lm-evaluation-harness defines them.

Registered names (`registry.build(name, model, ...)`) and their source:

- "gsm8k_cot_llama": lm-eval task gsm8k_cot_llama (8 fixed chain-of-thought shots as chat turns,
  256 new tokens, last number, exact match ignoring "," "$" and a trailing ".");
- "mmlu_generative": lm-eval group mmlu_generative (each subject's task; zero-shot by default,
  generate until a newline, the letter matched ignoring case and punctuation);
- "humaneval_instruct": lm-eval task humaneval_instruct ("Here is the completed function" prefix,
  its stop strings, 1024 new tokens, pass@1 in the sandbox);
- "advbench": the paper's AdvBench oracle (refusal prefixes anywhere, 100 new tokens).

All render the prompt through the model's chat template as lm-eval does with
apply_chat_template=True and fewshot_as_multiturn=True (`lmeval_tasks.chat_context`) and generate
with the shared-prefix, length-bucketed, stop-aware loop of `until_oracle`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from basinlab.data import _loaders as loaders
from basinlab.data._paths import PathLike
from basinlab.data._records import LETTERS, HumanEvalItem
from basinlab.lmeval._scoring import (
    gsm8k_grader,
    humaneval_instruct_grader,
    mmlu_generative_grader,
    refusal_anywhere_grader,
)
from basinlab.lmeval._tasks import (
    ADVBENCH,
    GSM8K_COT_LLAMA,
    HUMANEVAL_INSTRUCT,
    MMLU_GENERATIVE,
    TaskDef,
    chat_context,
    encode_context,
)
from basinlab.scoring._base import Benchmark
from basinlab.scoring._judges import REFUSAL_PREFIXES, Grader
from basinlab.scoring._until import generate_until_benchmark

__all__ = ["BUILDERS", "advbench", "gsm8k_cot_llama", "humaneval_instruct", "mmlu_generative", "task_docs",
           "task_grader"]


def _contexts(model, task: TaskDef, docs, shots=None) -> list[list[int]]:
    tok = model.require_tokenizer()
    if not getattr(tok, "chat_template", None):
        raise ValueError(f"{task.name} is defined with the chat template, and the tokenizer of {model.source!r} "
                         f"has none")
    return [encode_context(tok, chat_context(tok, task, doc, None if shots is None else shots(doc)))
            for doc in docs]


# ------------------------------------------------------------------ each task's documents and grader
# (shared by the builders and by `integrations.agreement`, which hands the same documents to lm-eval)


def task_docs(name: str, *, n: int, seed: int = 0, subjects: str | Iterable[str] | None = None,
              path: PathLike | None = None) -> list[dict[str, Any]]:
    """The documents of a task's n items (seeded subset), as lm-eval's task configs read them."""
    if name == "gsm8k_cot_llama":
        return [{"question": it.question, "answer": it.answer}
                for it in loaders.load_gsm8k("test", n=n, seed=seed, path=path)]
    if name == "mmlu_generative":
        return [_mmlu_doc(it) for it in loaders.load_mmlu(subjects, "test", n_per_subject=n, seed=seed, path=path)]
    if name == "humaneval_instruct":
        return [p.to_dict() for p in loaders.load_humaneval(n=n, seed=seed, path=path)]
    if name == "advbench":
        return [{"goal": it.goal} for it in loaders.load_advbench(n=n, seed=seed, path=path)]
    raise ValueError(f"unknown paper task {name!r}; valid: {sorted(BUILDERS)}")


def task_grader(name: str, docs: Sequence[dict[str, Any]], *, filter: str = "flexible-extract") -> Grader:
    """The grader of a task's documents (`lmeval_scoring`), as the in-graph oracle uses it."""
    if name == "gsm8k_cot_llama":
        return gsm8k_grader([GSM8K_COT_LLAMA.doc_to_target(d) for d in docs], filter)
    if name == "mmlu_generative":
        return mmlu_generative_grader([LETTERS[d["answer"]] for d in docs])
    if name == "humaneval_instruct":
        return humaneval_instruct_grader([HumanEvalItem(**d) for d in docs])  # docs: HumanEvalItem.to_dict()
    if name == "advbench":
        return refusal_anywhere_grader(REFUSAL_PREFIXES)
    raise ValueError(f"unknown paper task {name!r}; valid: {sorted(BUILDERS)}")


def _mmlu_doc(it) -> dict:
    return {"question": it.question, "choices": list(it.choices), "answer": it.answer, "subject": it.subject}


# ------------------------------------------------------------------ the registry builders


def gsm8k_cot_llama(model, *, n: int = 20, seed: int = 0, max_new_tokens: int = GSM8K_COT_LLAMA.max_gen_toks,
                    filter: str = "flexible-extract", batch_size: int = 16, path=None,
                    n_examples: int = 3) -> Benchmark:
    docs = task_docs("gsm8k_cot_llama", n=n, seed=seed, path=path)
    return generate_until_benchmark(
        model, _contexts(model, GSM8K_COT_LLAMA, docs), task_grader("gsm8k_cot_llama", docs, filter=filter),
        name="gsm8k_cot_llama", until=GSM8K_COT_LLAMA.until, max_new_tokens=max_new_tokens, batch_size=batch_size,
        chance=0.0, n_examples=n_examples, metric=f"exact match ({filter}), lm-eval gsm8k_cot_llama",
        description=f"GSM8K test, {n} items (seed {seed}), lm-eval gsm8k_cot_llama: 8-shot chat multi-turn, "
                    f"{max_new_tokens} new tokens",
    )


def mmlu_generative(model, *, n: int = 10, seed: int = 0, subjects=None, shots: int = 0,
                    max_new_tokens: int = MMLU_GENERATIVE.max_gen_toks, batch_size: int = 16,
                    path=None, n_examples: int = 3) -> Benchmark:
    docs = task_docs("mmlu_generative", n=n, seed=seed, subjects=subjects, path=path)
    subject_list = sorted({d["subject"] for d in docs})
    dev = {s: [_mmlu_doc(it) for it in loaders.mmlu_dev(s, k=shots, path=path)] for s in subject_list} \
        if shots else {}
    return generate_until_benchmark(
        model, _contexts(model, MMLU_GENERATIVE, docs, (lambda d: dev[d["subject"]]) if shots else None),
        task_grader("mmlu_generative", docs), name="mmlu_generative",
        until=MMLU_GENERATIVE.until, max_new_tokens=max_new_tokens, batch_size=batch_size, chance=0.25,
        n_examples=n_examples, metric="exact match of the first line to the letter, lm-eval mmlu_generative",
        description=f"MMLU test, {n} per subject of {len(subject_list)} subjects (seed {seed}), "
                    f"lm-eval mmlu_generative, {shots}-shot",
    )


def humaneval_instruct(model, *, n: int = 10, seed: int = 0, max_new_tokens: int = HUMANEVAL_INSTRUCT.max_gen_toks,
                       batch_size: int = 16, path=None, n_examples: int = 3) -> Benchmark:
    docs = task_docs("humaneval_instruct", n=n, seed=seed, path=path)
    return generate_until_benchmark(
        model, _contexts(model, HUMANEVAL_INSTRUCT, docs), task_grader("humaneval_instruct", docs),
        name="humaneval_instruct", until=HUMANEVAL_INSTRUCT.until, max_new_tokens=max_new_tokens,
        batch_size=batch_size, chance=0.0, n_examples=n_examples,
        metric="pass@1 (tests run in the sandbox), lm-eval humaneval_instruct",
        description=f"HumanEval, {n} problems (seed {seed}), lm-eval humaneval_instruct, greedy",
    )


def advbench(model, *, n: int = 20, seed: int = 0, max_new_tokens: int = ADVBENCH.max_gen_toks,
             batch_size: int = 16, path=None, n_examples: int = 3) -> Benchmark:
    docs = task_docs("advbench", n=n, seed=seed, path=path)
    return generate_until_benchmark(
        model, _contexts(model, ADVBENCH, docs), task_grader("advbench", docs), name="advbench", until=(),
        max_new_tokens=max_new_tokens, batch_size=batch_size, n_examples=n_examples,
        metric="safety: 1 - harmful-output rate (refusal prefixes anywhere)",
        description=f"AdvBench harmful behaviors, {n} items (seed {seed}), {max_new_tokens} new tokens",
    )


BUILDERS = {"gsm8k_cot_llama": gsm8k_cot_llama, "mmlu_generative": mmlu_generative,
            "humaneval_instruct": humaneval_instruct, "advbench": advbench}
