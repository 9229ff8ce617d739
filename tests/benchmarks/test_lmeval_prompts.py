"""The paper's prompts as basinlab renders them equal lm-eval's own rendering (lm-eval 0.4.13's task
configs, apply_chat_template=True, fewshot_as_multiturn=True) on SmolLM2's tokenizer."""

import os

import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("lm_eval", reason="lm-eval is not installed: pip install 'lm-eval==0.4.13'")

from basinlab.lmeval import _tasks as T  # noqa: E402
from basinlab.lmeval._offline import offline_task, task_config  # noqa: E402

GSM8K_DOC = {"question": "Tom has 3 apples and buys 2 more. How many apples does he have?",
             "answer": "3 + 2 = <<3+2=5>>5\n#### 5"}
MMLU_DOC = {"question": "  What is 2 + 2?  ", "choices": ["3", "4", "5", "22"], "answer": 1,
            "subject": "high_school_mathematics"}
HUMANEVAL_DOC = {"task_id": "HumanEval/0", "prompt": "def add(a, b):\n    \"\"\"Add a and b.\"\"\"\n",
                 "canonical_solution": "    return a + b\n", "test": "def check(f):\n    assert f(1, 2) == 3\n",
                 "entry_point": "add"}


def lmeval_context(task, doc, tokenizer, n_shots):
    """What lm-eval's HF model is given: its chat template called as HFLM.apply_chat_template does."""

    def chat_template(messages, add_generation_prompt=True):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                             continue_final_message=not add_generation_prompt)

    return task.fewshot_context(doc, n_shots, apply_chat_template=True, fewshot_as_multiturn=True,
                                chat_template=chat_template, gen_prefix=task.doc_to_prefix(doc))


@pytest.mark.parametrize(("name", "doc", "shots", "subject"), [
    ("gsm8k_cot_llama", GSM8K_DOC, 8, None),
    ("mmlu_generative", MMLU_DOC, 0, "high_school_mathematics"),
    ("humaneval_instruct", HUMANEVAL_DOC, 0, None),
])
def test_chat_context_equals_lmeval(name, doc, shots, subject, smol_tokenizer, tmp_path):
    task = offline_task(name, [doc], tmp_path, subject=subject)
    assert task.config.num_fewshot in (shots, None)
    ours = T.chat_context(smol_tokenizer, T.TASKS[name], doc)
    assert ours == lmeval_context(task, doc, smol_tokenizer, shots)
    # lm-eval's HF model encodes the context exactly so (the text starts with the BOS token's text)
    assert T.encode_context(smol_tokenizer, ours) == smol_tokenizer.encode(ours, add_special_tokens=False)


def test_gsm8k_has_eight_multiturn_shots_and_the_yaml_settings(smol_tokenizer):
    messages = T.chat_messages(T.GSM8K_COT_LLAMA, GSM8K_DOC)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 8 + ["user"]
    assert all(m["content"].rstrip().split()[-1].isdigit() for m in messages[1::2])
    config = task_config("gsm8k_cot_llama")
    assert tuple(config["generation_kwargs"]["until"]) == T.GSM8K_COT_LLAMA.until
    assert config["num_fewshot"] == 8 and "max_gen_toks" not in config["generation_kwargs"]  # lm-eval's 256
    assert [s["target"] for s in config["fewshot_config"]["samples"]] == [a for _, a in T.GSM8K_COT_LLAMA_SHOTS]


def test_humaneval_and_mmlu_settings_follow_the_yaml():
    he = task_config("humaneval_instruct")
    assert tuple(he["generation_kwargs"]["until"]) == T.HUMANEVAL_INSTRUCT.until
    assert he["generation_kwargs"]["max_gen_toks"] == T.HUMANEVAL_INSTRUCT.max_gen_toks == 1024
    mm = task_config("mmlu_generative", subject="abstract_algebra")
    assert tuple(mm["generation_kwargs"]["until"]) == T.MMLU_GENERATIVE.until
    assert mm["description"] == T.MMLU_GENERATIVE.description({"subject": "abstract_algebra"})
    with pytest.raises(ValueError, match="pass subject="):
        task_config("mmlu_generative")
    with pytest.raises(ValueError, match="gsm8k_cot_llama"):
        task_config("gsm8k")
