"""Benchmark data loaders: real data through the data root, seeded subsets, malformed files, and the
offline error that says how to point at local files (the hub fallback is in test_hub.py)."""

import gzip
import json
import time

import pytest

from basinlab.data import _loaders as L

# ------------------------------------------------------------------------------ real data, counts


def test_gsm8k_counts_and_targets(root):
    test, train = L.load_gsm8k("test"), L.load_gsm8k("train")
    assert len(test) == 1319 and len(train) == 7473
    assert test[0].question.startswith("Janet")
    assert test[0].answer.rstrip().endswith("#### 18") and test[0].target == "18"
    assert "#### 2,125" in test[146].answer and test[146].target == "2125"  # thousands separator
    assert "#### -7" in train[5715].answer and train[5715].target == "-7"
    assert [it.index for it in test] == list(range(1319))


def test_advbench(root):
    items = L.load_advbench()
    assert len(items) == 520
    assert items[0].goal.startswith("Write a script that can exploit vulnerabilities")
    assert all(it.target.startswith("Sure, here") for it in items)


def test_mmlu_subjects_counts_and_rows(root):
    subjects = L.mmlu_subjects()
    assert len(subjects) == 57 and subjects == sorted(subjects) and subjects == sorted(L.MMLU_SUBJECTS)
    t0 = time.perf_counter()
    items = L.load_mmlu()
    assert time.perf_counter() - t0 < 2.0
    assert len(items) == 14042
    assert {it.subject for it in items} == set(subjects)
    aa = L.load_mmlu("abstract_algebra")
    assert aa[0].question.startswith("Find the degree for the given field extension")
    assert aa[0].choices == ("0", "4", "2", "6") and aa[0].answer == 1 and aa[0].answer_letter == "B"
    assert aa[2].choices == ("0", "1", "0,1", "0,4") and aa[2].answer_letter == "D"  # quoted commas
    for s in subjects:
        dev = L.mmlu_dev(s)
        assert len(dev) == 5 and all(it.subject == s for it in dev)
    assert len(L.load_mmlu(split="dev")) == 57 * 5
    assert len(L.mmlu_dev("anatomy", k=2)) == 2
    with pytest.raises(ValueError, match="k=6.*5"):
        L.mmlu_dev("anatomy", k=6)
    # k=None used to pass the check and fail later as a TypeError comparing None with an int
    with pytest.raises(ValueError, match="k must be an integer >= 0, got None"):
        L.mmlu_dev("anatomy", k=None)


def test_mmlu_unknown_subject_lists_all(root):
    with pytest.raises(ValueError, match="abstract_algebra") as e:
        L.load_mmlu(["anatomy", "underwater_basket_weaving"])
    assert "underwater_basket_weaving" in str(e.value)
    assert all(s in str(e.value) for s in L.mmlu_subjects())
    with pytest.raises(ValueError, match="world_religions"):
        L.mmlu_dev("nope")


def test_humaneval():
    items = L.load_humaneval()
    assert len(items) == 164
    assert items[0].task_id == "HumanEval/0" and items[0].entry_point == "has_close_elements"
    assert "def check(candidate)" in items[0].test
    ns = {}
    exec(items[0].prompt + items[0].canonical_solution + "\n" + items[0].test, ns)
    ns["check"](ns[items[0].entry_point])


# ----------------------------------------------------------------------------------------- subsets


def test_subsets_are_seeded_and_stable(root):
    full = L.load_gsm8k()
    a, b, c = L.load_gsm8k(n=50, seed=0), L.load_gsm8k(n=50, seed=0), L.load_gsm8k(n=50, seed=1)
    assert a == b and a != c and len(a) == 50
    idx = [it.index for it in a]
    assert idx == sorted(idx) and len(set(idx)) == 50
    assert all(full[it.index] == it for it in a)
    assert L.load_advbench(n=10, seed=3) == L.load_advbench(n=10, seed=3) != L.load_advbench(n=10, seed=4)
    assert L.load_humaneval(n=100, seed=0) != L.load_humaneval(n=100, seed=1)
    assert L.load_gsm8k(n=0) == [] and len(L.load_gsm8k(n=1319)) == 1319


def test_mmlu_subset_per_subject_independent_of_others(root):
    both = L.load_mmlu(["virology", "anatomy"], n_per_subject=10, seed=5)
    assert [it.subject for it in both] == ["virology"] * 10 + ["anatomy"] * 10
    assert both[10:] == L.load_mmlu("anatomy", n_per_subject=10, seed=5)
    assert both[10:] != L.load_mmlu("anatomy", n_per_subject=10, seed=6)
    assert len(L.load_mmlu(n_per_subject=10)) == 570


def test_n_too_large(root):
    with pytest.raises(ValueError, match=r"n=1320.*1319"):
        L.load_gsm8k(n=1320)
    with pytest.raises(ValueError, match=r"n=521.*520"):
        L.load_advbench(n=521)
    with pytest.raises(ValueError, match=r"n=165.*164"):
        L.load_humaneval(n=165)
    with pytest.raises(ValueError, match=r"n=101.*abstract_algebra.*100"):
        L.load_mmlu("abstract_algebra", n_per_subject=101)
    with pytest.raises(ValueError, match=">= 0"):
        L.load_gsm8k(n=-1)


# ------------------------------------------------------------------------------- explicit path=


def test_explicit_path_file_and_folder(root, tmp_path):
    assert len(L.load_gsm8k("train", path=root / "gsm8k")) == 7473
    assert len(L.load_gsm8k(path=root / "gsm8k" / "test.jsonl")) == 1319
    assert len(L.load_gsm8k(path=root)) == 1319
    assert len(L.load_advbench(path=root / "advbench")) == 520
    assert len(L.load_mmlu(path=root / "mmlu")) == 14042
    assert len(L.mmlu_subjects(path=root / "mmlu" / "dev")) == 57
    one = L.load_mmlu(path=root / "mmlu" / "test" / "anatomy_test.csv")
    assert one == L.load_mmlu("anatomy") and L.mmlu_subjects(root / "mmlu" / "test" / "anatomy_test.csv") == ["anatomy"]

    (tmp_path / "mine").mkdir()
    f = tmp_path / "mine" / "test.jsonl"
    f.write_text(json.dumps({"question": "1+1?", "answer": "1+1=2\n#### 2"}) + "\n\n"
                 + json.dumps({"question": "big?", "answer": "#### 1,000.50"}) + "\n")
    items = L.load_gsm8k(path=tmp_path / "mine")
    assert [it.target for it in items] == ["2", "1000.5"]
    assert L.load_gsm8k(path=f) == items
    with pytest.raises(FileNotFoundError, match="train.jsonl"):
        L.load_gsm8k("train", path=tmp_path / "mine")
    with pytest.raises(FileNotFoundError, match="no data file or folder"):
        L.load_gsm8k(path=tmp_path / "missing.jsonl")

    he = tmp_path / "he.jsonl.gz"
    rec = {"task_id": "T/0", "prompt": "def f():\n", "canonical_solution": "    return 1\n",
           "test": "def check(c):\n    assert c() == 1\n", "entry_point": "f"}
    with gzip.open(he, "wt") as g:
        g.write(json.dumps(rec) + "\n")
    assert L.load_humaneval(path=he)[0].to_dict() == {"index": 0, **rec}


def test_benchmark_data_env_var(root, tmp_path, monkeypatch):
    (tmp_path / "advbench").mkdir()
    (tmp_path / "advbench" / "harmful_behaviors.csv").write_text('goal,target\n"Do x, then y","Sure, here is x"\n')
    monkeypatch.setenv("BASINLAB_DATA", str(tmp_path))
    assert [it.to_dict() for it in L.load_advbench()] == [
        {"index": 0, "goal": "Do x, then y", "target": "Sure, here is x"}]


# ------------------------------------------------------------------------------------- malformed


def _jsonl(tmp_path, lines, name="test.jsonl"):
    f = tmp_path / name
    f.write_text("\n".join(lines) + "\n")
    return f


GOOD = json.dumps({"question": "q", "answer": "a\n#### 3"})


def test_malformed_jsonl(tmp_path):
    f = _jsonl(tmp_path, [GOOD, GOOD, "{not json"])
    with pytest.raises(ValueError) as e:
        L.load_gsm8k(path=f)
    assert str(f) in str(e.value) and "line 3" in str(e.value) and "JSON" in str(e.value)

    f = _jsonl(tmp_path, [GOOD, json.dumps({"answer": "#### 1"})])
    with pytest.raises(ValueError, match=r"line 2: missing field 'question'"):
        L.load_gsm8k(path=f)
    f = _jsonl(tmp_path, [GOOD, GOOD, GOOD, json.dumps({"question": "q", "answer": "the answer is 4"})])
    with pytest.raises(ValueError, match=r"line 4: answer has no final \"#### N\""):
        L.load_gsm8k(path=f)
    f = _jsonl(tmp_path, [json.dumps({"question": "q", "answer": "#### four"})])
    with pytest.raises(ValueError, match="line 1.*not a number"):
        L.load_gsm8k(path=f)
    f = _jsonl(tmp_path, [GOOD, "[1, 2]"])
    with pytest.raises(ValueError, match="line 2: expected a JSON object"):
        L.load_gsm8k(path=f)
    f = _jsonl(tmp_path, [json.dumps({"task_id": "T/0", "prompt": "p"})], name="he.jsonl")
    with pytest.raises(ValueError, match=r"he.jsonl, line 1: missing field 'canonical_solution'"):
        L.load_humaneval(path=f)
    f = tmp_path / "empty.jsonl"
    f.write_text("\n")
    with pytest.raises(ValueError, match="no GSM8K items"):
        L.load_gsm8k(path=f)


def test_malformed_csv(tmp_path):
    mmlu = tmp_path / "mmlu" / "test"
    mmlu.mkdir(parents=True)
    header = "question,choice0,choice1,choice2,choice3,answer\n"
    bad = mmlu / "algebra_test.csv"
    bad.write_text(header + "q1,a,b,c,d,0\n" + '"q2\nspans two lines",a,b,c,d,3\n' + "q3,a,b,c,d,4\n")
    with pytest.raises(ValueError) as e:
        L.load_mmlu(path=tmp_path)
    assert str(bad) in str(e.value) and "line 5" in str(e.value) and "0-3" in str(e.value)
    bad.write_text(header + "q1,a,b,c,d,B\n")
    with pytest.raises(ValueError, match="line 2: answer 'B' is not an index in 0-3"):
        L.load_mmlu("algebra", path=tmp_path / "mmlu")
    bad.write_text("q1,a,b,c,d,2\nq2,a,b,c,1\n")  # no header is fine; a short row is not
    with pytest.raises(ValueError, match="line 2: expected 6 columns.*got 5"):
        L.load_mmlu(path=mmlu)
    bad.write_text("q1,a,b,c,d,2\n")
    assert L.load_mmlu(path=bad)[0].answer_letter == "C"

    adv = tmp_path / "harmful_behaviors.csv"
    adv.write_text("goal,target\ng1,Sure\ng2,Sure,extra\n")
    with pytest.raises(ValueError, match=r"harmful_behaviors.csv, line 3: expected 2 columns"):
        L.load_advbench(path=adv)


# --------------------------------------------------------------------------------- offline / hub


def test_offline_error_says_how_to_point_at_data(offline, monkeypatch):
    monkeypatch.setattr(L, "_humaneval_package_file", lambda: None)
    for load, layout in [(L.load_gsm8k, "gsm8k/test.jsonl"), (L.load_advbench, "advbench/harmful_behaviors.csv"),
                         (lambda: L.load_mmlu("anatomy"), "mmlu/test/anatomy_test.csv"),
                         (lambda: L.mmlu_dev("anatomy"), "mmlu/dev/anatomy_dev.csv"),
                         (L.load_humaneval, "humaneval/HumanEval.jsonl.gz"),
                         (lambda: L.load_text("tinyshakespeare"), "tinyshakespeare/input.txt")]:
        with pytest.raises(FileNotFoundError) as e:
            load()
        msg = str(e.value)
        assert "BASINLAB_DATA" in msg and layout in msg and "path=" in msg, msg
    # with no local data the subject list is the canonical one, and still validated
    assert L.mmlu_subjects() == sorted(L.MMLU_SUBJECTS)
    with pytest.raises(ValueError, match="abstract_algebra"):
        L.load_mmlu("nope")
