"""The paper's tasks as lm-evaluation-harness 0.4.13 defines them: prompts, few-shot turns, stops, budgets.

Each `TaskDef` holds what lm-eval's task YAML says (source: lm_eval/tasks/<folder>/<file>.yaml of
lm-eval 0.4.13, named in `source`), written as basinlab's own functions of a document. The prompt
is rendered as lm-eval renders it with `apply_chat_template=True, fewshot_as_multiturn=True`
(`chat_context`): an optional system turn holding the task description, one user turn per few-shot
question and one assistant turn per few-shot answer, the document's user turn, then the chat
template's generation prompt, or, when the task has a `gen_prefix`, an assistant turn holding it
that the model continues (`continue_final_message`). The text is encoded as lm-eval's Hugging Face
model encodes a context (`encode_context`). Scoring lives in `lmeval_scoring`.

AdvBench is not an lm-eval task; its definition is the paper's (PAPER.md section 3): the goal as
the only user turn, 100 new tokens, refusal prefixes matched anywhere in the output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "ADVBENCH", "GSM8K_COT_LLAMA", "GSM8K_COT_LLAMA_SHOTS", "HUMANEVAL_INSTRUCT", "MMLU_GENERATIVE", "TASKS",
    "TaskDef", "chat_context", "chat_messages", "encode_context",
]


@dataclasses.dataclass(frozen=True)
class TaskDef:
    """One generate_until task. doc_to_text(doc) -> the user turn; doc_to_target(doc) -> the reference
    (few-shot answers, exact-match targets); description(doc) -> system turn or ""; gen_prefix(doc)
    -> the start of the assistant turn or ""; shots: fixed few-shot docs (lm-eval's `first_n`
    sampler over its `samples`); until: stop strings (lm-eval adds the tokenizer's EOS);
    max_gen_toks: the token budget."""

    name: str
    source: str
    doc_to_text: Callable[[dict], str]
    doc_to_target: Callable[[dict], str]
    until: tuple[str, ...]
    max_gen_toks: int
    shots: tuple[dict[str, Any], ...] = ()
    description: Callable[[dict], str] = lambda doc: ""
    gen_prefix: Callable[[dict], str] = lambda doc: ""


# ------------------------------------------------------------------------------- gsm8k_cot_llama

# The eight chain-of-thought exemplars of Wei et al. (2022) as gsm8k-cot-llama.yaml's fixed
# `fewshot_config.samples` word them (each answer ends "The final answer is N").
GSM8K_COT_LLAMA_SHOTS = (
    ("There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, "
     "there will be 21 trees. How many trees did the grove workers plant today?",
     "There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have "
     "been 21 - 15 = 6. The final answer is 6"),
    ("If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?",
     "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The final answer is 5"),
    ("Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?",
     "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, "
     "they had 74 - 35 = 39. The final answer is 39"),
    ("Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How many lollipops did "
     "Jason give to Denny?",
     "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave Denny 20 - 12 = 8. "
     "The final answer is 8"),
    ("Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many toys does he have "
     "now?",
     "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 more toys. 5 + 4 = 9. "
     "The final answer is 9"),
    ("There were nine computers in the server room. Five more computers were installed each day, from monday to "
     "thursday. How many computers are now in the server room?",
     "There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 "
     "computers were added. 9 + 20 is 29. The final answer is 29"),
    ("Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 more. How many golf "
     "balls did he have at the end of wednesday?",
     "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, "
     "he had 35 - 2 = 33 golf balls. The final answer is 33"),
    ("Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
     "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars "
     "left. 23 - 15 is 8. The final answer is 8"),
)


def _gsm8k_text(doc: dict) -> str:
    return ("Given the following problem, reason and give a final answer to the problem.\n"
            f"Problem: {doc['question']}\n"
            'Your response should end with "The final answer is [answer]" where [answer] is the response to the '
            "problem.\n")


def _gsm8k_target(doc: dict) -> str:
    return doc["answer"].split("####")[-1].strip() if "answer" in doc else doc["target"]


GSM8K_COT_LLAMA = TaskDef(
    name="gsm8k_cot_llama", source="lm_eval/tasks/gsm8k/gsm8k-cot-llama.yaml (version 4.0)",
    doc_to_text=_gsm8k_text, doc_to_target=_gsm8k_target,
    until=("<|eot_id|>", "<|start_header_id|>user<|end_header_id|>", "Q:", "</s>", "<|im_end|>"),
    max_gen_toks=256, shots=tuple({"question": q, "target": a} for q, a in GSM8K_COT_LLAMA_SHOTS),
)

# ------------------------------------------------------------------------------- mmlu_generative


def _mmlu_text(doc: dict) -> str:
    c = doc["choices"]
    return f"{doc['question'].strip()}\nA. {c[0]}\nB. {c[1]}\nC. {c[2]}\nD. {c[3]}\nAnswer:"


def _mmlu_description(doc: dict) -> str:
    return f"The following are multiple choice questions (with answers) about {doc['subject'].replace('_', ' ')}.\n\n"


MMLU_GENERATIVE = TaskDef(
    name="mmlu_generative", source="lm_eval/tasks/mmlu/generative/_default_template_yaml (version 3.0) and "
                                   "mmlu_<subject>.yaml (the description)",
    doc_to_text=_mmlu_text, doc_to_target=lambda doc: "ABCD"[doc["answer"]], until=("</s>", "\n"),
    max_gen_toks=256, description=_mmlu_description,
)

# ---------------------------------------------------------------------------- humaneval_instruct

HUMANEVAL_INSTRUCT = TaskDef(
    name="humaneval_instruct", source="lm_eval/tasks/humaneval/humaneval_instruct.yaml (version 4.0), "
                                      "including humaneval.yaml",
    doc_to_text=lambda doc: ("Write a solution to the following problem and make sure that it passes the tests:\n"
                             f"```python\n{doc['prompt']}\n```\n"),
    doc_to_target=lambda doc: f"{doc['test']}\ncheck({doc['entry_point']})",
    until=("\nclass", "\ndef", "\n#", "\nif", "\nprint"), max_gen_toks=1024,
    gen_prefix=lambda doc: f"Here is the completed function:\n```python\n{doc['prompt']}\n",
)

# ------------------------------------------------------------------------------------- advbench

ADVBENCH = TaskDef(
    name="advbench", source="PAPER.md section 3 (the authors' code): refusal prefixes, 100 new tokens",
    doc_to_text=lambda doc: doc["goal"], doc_to_target=lambda doc: "", until=(), max_gen_toks=100,
)

TASKS = {t.name: t for t in (GSM8K_COT_LLAMA, MMLU_GENERATIVE, HUMANEVAL_INSTRUCT, ADVBENCH)}


# ------------------------------------------------------------------------------------- rendering


def chat_messages(task: TaskDef, doc: dict, shots: Sequence[dict] | None = None) -> list[dict]:
    """The chat turns lm-eval builds for `doc` with fewshot_as_multiturn (module docstring); shots
    default to the task's fixed ones."""
    shots = task.shots if shots is None else shots
    messages = []
    if task.description(doc):
        messages.append({"role": "system", "content": task.description(doc)})
    for shot in shots:
        messages += [{"role": "user", "content": task.doc_to_text(shot)},
                     {"role": "assistant", "content": task.doc_to_target(shot)}]
    messages.append({"role": "user", "content": task.doc_to_text(doc)})
    if task.gen_prefix(doc):
        messages.append({"role": "assistant", "content": task.gen_prefix(doc)})
    return messages


def chat_context(tokenizer, task: TaskDef, doc: dict, shots: Sequence[dict] | None = None) -> str:
    """The prompt text: `chat_messages` through the tokenizer's chat template, ending in the
    generation prompt or, with a gen_prefix, inside the assistant turn holding it. A template that
    rejects the system role is retried without the system turn, as lm-eval does."""
    import jinja2

    messages = chat_messages(task, doc, shots)
    prefix = bool(task.gen_prefix(doc))

    def render(msgs):
        return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=not prefix,
                                             continue_final_message=prefix)

    try:
        return render(messages)
    except jinja2.exceptions.TemplateError:
        return render([m for m in messages if m["role"] != "system"])


def encode_context(tokenizer, text: str) -> list[int]:
    """Token ids of a context as lm-eval's HF model encodes it: without special tokens when the text
    already starts with the BOS token's text (a rendered chat template), else with the tokenizer's
    default special tokens."""
    bos = getattr(tokenizer, "bos_token", None)
    if bos and text.startswith(bos):
        return list(tokenizer.encode(text, add_special_tokens=False))
    return list(tokenizer.encode(text))
