"""The Hugging Face hub fallback of the loaders: tried only when it can work, its failure reported."""

import huggingface_hub
import pytest

from basinlab.data import _hub as hub
from basinlab.data import _loaders as L


def test_hub_is_tried_and_its_failure_reported(offline, monkeypatch):
    monkeypatch.setattr(hub, "parquet_missing", lambda: None)
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    with pytest.raises(FileNotFoundError) as e:
        L.load_gsm8k("train")
    assert "BASINLAB_DATA" in str(e.value) and "network is unreachable (test)" in str(e.value)
    assert offline == [{"repo_id": "openai/gsm8k", "filename": "main/train-00000-of-00001.parquet",
                        "repo_type": "dataset"}]
    with pytest.raises(FileNotFoundError):
        L.load_mmlu("anatomy", split="dev")
    assert offline[-1]["repo_id"] == "cais/mmlu" and offline[-1]["filename"] == "anatomy/dev-00000-of-00001.parquet"


def test_hub_unavailable_is_reported_without_downloading(offline, monkeypatch):
    monkeypatch.setattr(hub, "parquet_missing", lambda: "pandas is not installed (test)")
    with pytest.raises(FileNotFoundError, match=r"BASINLAB_DATA.*|pandas is not installed \(test\)") as e:
        L.load_advbench()
    assert "pandas is not installed (test)" in str(e.value) and offline == []
    monkeypatch.setattr(hub, "parquet_missing", lambda: None)
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    with pytest.raises(FileNotFoundError, match="unreachable"):
        L.load_advbench()
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE"):
        L.load_advbench()
    assert offline == []


def test_hub_rows_are_parsed_like_local_rows(offline, monkeypatch):
    tables = {
        "openai/gsm8k": [{"question": "q", "answer": "x\n#### 1,234"}, {"question": "r", "answer": "#### -3.50"}],
        "cais/mmlu": [{"question": "q", "subject": "anatomy", "choices": ["a", "b", "c", "d"], "answer": 2}],
        "walledai/AdvBench": [{"prompt": "g", "target": "Sure, here is g"}],
    }
    monkeypatch.setattr(hub, "parquet_missing", lambda: None)
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo_id, filename, repo_type: repo_id)
    monkeypatch.setattr(hub, "_read_parquet", lambda repo_id: tables[repo_id])
    assert [it.target for it in L.load_gsm8k()] == ["1234", "-3.5"]
    (m,) = L.load_mmlu("anatomy")
    assert m.choices == ("a", "b", "c", "d") and m.answer == 2 and m.answer_letter == "C"
    assert L.load_advbench()[0].goal == "g"
    tables["cais/mmlu"][0]["answer"] = 7
    with pytest.raises(ValueError, match=r"hf://datasets/cais/mmlu/anatomy/test-00000-of-00001.parquet, row 1"):
        L.load_mmlu("anatomy")
