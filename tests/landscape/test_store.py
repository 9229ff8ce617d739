"""Tests for basinlab.landscape.store: per-block files of a resumable sweep, written atomically."""

import json

import numpy as np
import pytest

from basinlab.landscape.store import BlockStore


class _Sweep:
    def __init__(self, **spec):
        self.spec = spec

    def to_json(self):
        return json.dumps(self.spec, sort_keys=True)


def test_blocks_round_trip_and_resume_from_disk(tmp_path):
    sweep = _Sweep(model="m", alphas=[0.0, 0.1])
    st = BlockStore(tmp_path / "s", sweep)
    assert json.loads((tmp_path / "s" / "sweep.json").read_text()) == sweep.spec
    assert st.get("block-0") is None
    block = {"text|score": np.arange(3, dtype=np.float32), "text|reason": np.array(["a", "bc", ""])}
    st.put("block-0", block)
    assert st.get("block-0") is block  # served from memory in the same run
    # A new store on the same folder (a resumed run) reads the block back from disk, exactly.
    again = BlockStore(tmp_path / "s", _Sweep(model="m", alphas=[0.0, 0.1]))
    got = again.get("block-0")
    assert set(got) == set(block)
    for k, v in block.items():
        assert got[k].dtype == v.dtype
        np.testing.assert_array_equal(got[k], v)
    # Only finished files are left: no temporaries.
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["block-0.npz", "sweep.json"]


def test_another_sweep_in_the_folder_raises(tmp_path):
    BlockStore(tmp_path, _Sweep(model="m", alphas=[0.0]))
    with pytest.raises(ValueError, match="holds blocks of a different sweep"):
        BlockStore(tmp_path, _Sweep(model="m", alphas=[0.0, 0.5]))


def test_memory_only_store_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    st = BlockStore(None, _Sweep(model="m"))
    st.put("base", {"x": np.ones(2)})
    np.testing.assert_array_equal(st.get("base")["x"], np.ones(2))
    assert list(tmp_path.iterdir()) == []


def test_a_write_killed_part_way_leaves_the_previous_block_and_no_temporary(tmp_path, monkeypatch):
    st = BlockStore(tmp_path, _Sweep(model="m"))
    st.put("block-0", {"x": np.zeros(2)})

    def dies_half_way(file, **arrays):  # half a file on disk, then the process "dies"
        with open(file, "wb") as f:
            f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        st.put("block-0", {"x": np.ones(2)})
    monkeypatch.undo()
    np.testing.assert_array_equal(BlockStore(tmp_path, _Sweep(model="m")).get("block-0")["x"], np.zeros(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["block-0.npz", "sweep.json"]
