"""Stored summaries (basinlab.results.write_summary / read_summary): what every quoted number comes from."""

import json

import numpy as np
import pytest

import basinlab as bl
from basinlab.results import SUMMARY_FORMAT, code_version


def test_write_then_read_keeps_results_and_provenance(tmp_path):
    path = bl.write_summary(tmp_path / "sub" / "s.json", "basin size of a test", {"sigma": np.float32(0.25),
                            "widths": np.array([0.1, 0.2])}, spec={"tol": 0.1, "directions": 2}, model="tiny",
                            seeds=[0, 1], command="python make_it.py --tol 0.1")
    s = bl.read_summary(path)
    assert s["format"] == SUMMARY_FORMAT and s["what"] == "basin size of a test"
    assert s["results"] == {"sigma": 0.25, "widths": [0.1, 0.2]}
    p = s["provenance"]
    assert p["model"] == "tiny" and p["seeds"] == [0, 1] and p["command"] == "python make_it.py --tol 0.1"
    assert p["spec"] == {"function": "write_summary", "tol": 0.1, "directions": 2}
    assert p["basinlab_version"] == bl.__version__ and "CPUs" in p["machine"]
    assert p["code_version"] == code_version()  # this checkout's commit (or "unknown" outside git)


def test_code_version_is_a_commit_or_unknown(tmp_path):
    here = code_version()
    assert here == "unknown" or len(here.split("+")[0]) == 40
    assert code_version(tmp_path) == "unknown"  # not a git checkout


def test_bad_summaries_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="what must be a non-empty line"):
        bl.write_summary(tmp_path / "a.json", " ", {})
    with pytest.raises(TypeError, match="results must be a mapping"):
        bl.write_summary(tmp_path / "a.json", "x", [1, 2])
    assert not (tmp_path / "a.json").exists()
    (tmp_path / "b.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"b.json is not a JSON file"):
        bl.read_summary(tmp_path / "b.json")
    (tmp_path / "c.json").write_text(json.dumps({"what": "x"}))
    with pytest.raises(ValueError, match=r"c.json is not a basinlab summary"):
        bl.read_summary(tmp_path / "c.json")
    (tmp_path / "d.json").write_text(json.dumps({"format": "basinlab-summary/9"}))
    with pytest.raises(ValueError, match=r"'basinlab-summary/9' summary; this basinlab reads 'basinlab-summary/1'"):
        bl.read_summary(tmp_path / "d.json")


def test_tables_and_datasets_become_records(tmp_path):
    import pandas as pd
    import xarray as xr

    frame = pd.DataFrame({"score": [0.5, 0.25]}, index=pd.Index(["a", "b"], name="benchmark"))
    ds = xr.Dataset({"width": ("direction", np.array([0.1, 0.2]))}, coords={"direction": [0, 1]})
    path = bl.write_summary(tmp_path / "t.json", "tables", {"frame": frame, "series": frame["score"], "ds": ds,
                                                             "nested": {"list": [frame["score"]]}})
    r = bl.read_summary(path)["results"]
    assert r["frame"] == [{"benchmark": "a", "score": 0.5}, {"benchmark": "b", "score": 0.25}]
    assert r["series"] == {"a": 0.5, "b": 0.25} and r["nested"]["list"] == [{"a": 0.5, "b": 0.25}]
    assert r["ds"] == [{"direction": 0, "width": 0.1}, {"direction": 1, "width": 0.2}]
