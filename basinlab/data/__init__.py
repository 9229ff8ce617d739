"""Benchmark data: GSM8K, MMLU, AdvBench, HumanEval and text corpora, read from a local folder
(`BASINLAB_DATA`), a packaged copy, or the Hugging Face hub, as typed records.

    items = basinlab.data.load_gsm8k(n=50, seed=0)       # list[GSM8KItem]
"""

from basinlab.data._corpora import TEXT_CORPORA, load_text
from basinlab.data._hub import hub_reachable, hub_rows, parquet_missing
from basinlab.data._loaders import (
    MMLU_SUBJECTS,
    load_advbench,
    load_gsm8k,
    load_humaneval,
    load_mmlu,
    mmlu_dev,
    mmlu_subjects,
)
from basinlab.data._paths import ENV, data_root
from basinlab.data._records import AdvBenchItem, GSM8KItem, HumanEvalItem, MMLUItem, normalize_number

__all__ = [
    "ENV", "MMLU_SUBJECTS", "TEXT_CORPORA", "AdvBenchItem", "GSM8KItem", "HumanEvalItem", "MMLUItem",
    "data_root", "hub_reachable", "hub_rows", "load_advbench", "load_gsm8k", "load_humaneval", "load_mmlu",
    "load_text", "mmlu_dev", "mmlu_subjects", "normalize_number", "parquet_missing",
]
