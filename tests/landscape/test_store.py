"""Tests for basinlab.landscape._store: per-block files of a resumable sweep, written atomically."""

import json

import numpy as np
import pytest

from basinlab.landscape._store import BlockStore


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
    # Only finished files (and the lock file) are left: no temporaries.
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [".lock", "block-0.npz", "sweep.json"]


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
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "block-0.npz", "sweep.json"]


def test_truncated_block_is_reported_by_name_and_recomputed(tmp_path):
    st = BlockStore(tmp_path, _Sweep(model="m"))
    st.put("block-0", {"x": np.arange(1000.0)})
    st.close()
    data = (tmp_path / "block-0.npz").read_bytes()
    for cut in (0, 10, len(data) // 2, len(data) - 5):
        (tmp_path / "block-0.npz").write_bytes(data[:cut])
        with BlockStore(tmp_path, _Sweep(model="m")) as again:
            with pytest.warns(UserWarning, match=r"block-0\.npz is unreadable.*recomputing"):
                assert again.get("block-0") is None  # never used, the engine recomputes it
            assert not (tmp_path / "block-0.npz").exists() and (tmp_path / "block-0.npz.corrupt").exists()
            again.put("block-0", {"x": np.arange(3.0)})
        np.testing.assert_array_equal(BlockStore(tmp_path, _Sweep(model="m")).get("block-0")["x"], np.arange(3.0))


def test_flipped_byte_in_a_block_fails_its_checksum(tmp_path):
    st = BlockStore(tmp_path, _Sweep(model="m"))
    st.put("block-0", {"x": np.arange(1000.0)})
    st.close()
    data = bytearray((tmp_path / "block-0.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the array's bytes: only the zip CRC can tell
    (tmp_path / "block-0.npz").write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="block-0.npz"):
        assert BlockStore(tmp_path, _Sweep(model="m")).get("block-0") is None


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe", b"[1, 2]"])
def test_corrupt_sweep_json_names_the_file(tmp_path, content):
    (tmp_path / "sweep.json").write_bytes(content)
    with pytest.raises(ValueError, match=r"sweep\.json is corrupt"):
        BlockStore(tmp_path, _Sweep(model="m"))


def test_blocks_without_sweep_json_are_refused(tmp_path):
    BlockStore(tmp_path, _Sweep(model="m")).put("block-0", {"x": np.zeros(1)})
    (tmp_path / "sweep.json").unlink()
    with pytest.raises(ValueError, match=r"block-0\.npz.*no sweep\.json"):
        BlockStore(tmp_path, _Sweep(model="m"))


def test_a_file_as_store_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        BlockStore(tmp_path / "f", _Sweep(model="m"))


def test_stale_temporaries_of_a_killed_write_are_removed(tmp_path):
    BlockStore(tmp_path, _Sweep(model="m")).close()
    (tmp_path / ".block-0.tmp-123-abcdef.npz").write_bytes(b"PK half")
    BlockStore(tmp_path, _Sweep(model="m")).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "sweep.json"]


HOLDER = """
import json, sys, time
sys.path.insert(0, {root!r})
from basinlab.landscape._store import BlockStore
class S:
    def to_json(self):
        return json.dumps({{"model": "m"}})
st = BlockStore({store!r}, S())
print("LOCKED", flush=True)
sys.stdin.readline()   # hold the store until the test says so
st.put("block-1", {{}})
"""


def test_two_processes_cannot_sweep_into_one_store(tmp_path):
    """A real second process holds the lock: this one is refused with the store and the holder's pid."""
    import pathlib
    import subprocess
    import sys

    from basinlab.landscape._store import StoreLocked

    root = str(pathlib.Path(__file__).resolve().parents[2])
    code = HOLDER.format(root=root, store=str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "LOCKED"
        with pytest.raises(StoreLocked, match=rf"store {tmp_path} is in use by another process \(pid {holder.pid}\)"):
            BlockStore(tmp_path, _Sweep(model="m"))
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=60) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    with BlockStore(tmp_path, _Sweep(model="m")) as st:  # free again once the holder has exited
        assert st.get("block-1") == {}
