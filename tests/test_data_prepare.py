"""data/prepare.py: corpora written in the load_corpus layout, atomically, without any network.

The fetch functions are replaced by stand-ins serving bytes or text rows; one test drives the real
hub path with a stand-in hf_hub_download that returns a parquet file written here."""

import os
import pathlib
import subprocess
import sys
import urllib.error

import pytest
from scripts import load_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "data" / "prepare.py"


prep = load_script("data/prepare.py", "basinlab_data_prepare")
SHAKESPEARE = "First Citizen:\nBefore we proceed any further, hear me speak.\n\n" * 40
WIKI_ROWS = ["", " = Valkyria Chronicles III = \n", "", " Senjō no Valkyria 3 is a game . \n"]


@pytest.fixture
def no_net(monkeypatch):
    """Any real network call fails the test; HF_HUB_OFFLINE is cleared so tests set it themselves."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def boom(*a, **k):
        raise AssertionError("network used in a test")

    monkeypatch.setattr(prep.urllib.request, "urlopen", boom)
    monkeypatch.setattr(prep, "fetch_parquet_texts", boom)


def _serve_url(monkeypatch, data: bytes, calls=None):
    def fake(url):
        assert url == prep.CORPORA["tinyshakespeare"].url
        if calls is not None:
            calls.append(url)
        return data

    monkeypatch.setattr(prep, "fetch_url", fake)


def _serve_rows(monkeypatch, calls=None, fail_on=None):
    def fake(repo, filename, revision=None):
        if calls is not None:
            calls.append((repo, filename, revision))
        if fail_on and fail_on in filename:
            raise prep.PrepareError(f"could not download hf://datasets/{repo}/{filename} (test)")
        return [f"[{filename.split('/')[-1]}]\n"] + WIKI_ROWS

    monkeypatch.setattr(prep, "fetch_parquet_texts", fake)


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in pathlib.Path(folder).rglob("*") if p.is_file())


def test_tinyshakespeare_layout_readable_by_load_text(tmp_path, monkeypatch, no_net, capsys):
    _serve_url(monkeypatch, ("\ufeff" + SHAKESPEARE.replace("\n", "\r\n")).encode())
    [path] = prep.prepare("tinyshakespeare", tmp_path)
    assert path == tmp_path / "tinyshakespeare" / "input.txt"
    assert path.read_text(encoding="utf-8") == SHAKESPEARE  # BOM dropped, CRLF -> LF
    assert f"wrote {path} ({len(SHAKESPEARE):,} characters)" in capsys.readouterr().out
    from basinlab.data._loaders import load_text

    monkeypatch.setenv("BASINLAB_DATA", str(tmp_path))
    assert load_text("tinyshakespeare") == SHAKESPEARE


def test_wikitext_splits_and_shards(tmp_path, monkeypatch, no_net):
    calls = []
    _serve_rows(monkeypatch, calls)
    paths = prep.prepare("wikitext-103", tmp_path)
    assert _files(tmp_path) == ["wikitext-103/test.txt", "wikitext-103/train.txt", "wikitext-103/validation.txt"]
    assert [p.name for p in paths] == ["train.txt", "validation.txt", "test.txt"]
    assert {c[0] for c in calls} == {"Salesforce/wikitext"} and all(c[2] is None for c in calls)
    train = (tmp_path / "wikitext-103" / "train.txt").read_text(encoding="utf-8")
    one = "\n = Valkyria Chronicles III = \n\n Senjō no Valkyria 3 is a game . \n"  # rows are lines
    assert train == "[train-00000-of-00002.parquet]\n" + one + "[train-00001-of-00002.parquet]\n" + one
    prep.prepare("wikitext-2", tmp_path, split="validation")
    assert _files(tmp_path / "wikitext-2") == ["validation.txt"]
    assert calls[-1][1] == "wikitext-2-raw-v1/validation-00000-of-00001.parquet"


def test_failing_fetch_writes_nothing(tmp_path, monkeypatch, no_net):
    _serve_rows(monkeypatch, fail_on="train-00001")  # the second train shard fails
    with pytest.raises(prep.PrepareError, match="train-00001-of-00002"):
        prep.prepare("wikitext-103", tmp_path)
    assert _files(tmp_path) == []  # no train.txt, no temp file

    def fail(url):
        raise prep.PrepareError("could not download (test)")

    monkeypatch.setattr(prep, "fetch_url", fail)
    with pytest.raises(prep.PrepareError):
        prep.prepare("tinyshakespeare", tmp_path)
    assert _files(tmp_path) == []


def test_interrupted_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "c" / "input.txt"
    prep.write_atomic(path, "old\n")

    def broken_replace(src, dst):
        raise OSError("disk full (test)")

    monkeypatch.setattr(prep.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        prep.write_atomic(path, "new\n")
    assert path.read_text() == "old\n" and _files(tmp_path) == ["c/input.txt"]


def test_skip_existing_unless_force(tmp_path, monkeypatch, no_net, capsys):
    calls = []
    _serve_url(monkeypatch, SHAKESPEARE.encode(), calls)
    path = tmp_path / "tinyshakespeare" / "input.txt"
    path.parent.mkdir()
    path.write_text("mine\n")
    assert prep.main(["tinyshakespeare", "--out", str(tmp_path)]) == 0
    assert calls == [] and path.read_text() == "mine\n" and "kept" in capsys.readouterr().out
    assert prep.main(["tinyshakespeare", "--out", str(tmp_path), "--force"]) == 0
    assert calls and path.read_text() == SHAKESPEARE


def test_offline_errors_name_the_source(tmp_path, monkeypatch, capsys):
    url = prep.CORPORA["tinyshakespeare"].url

    def offline(*a, **k):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(prep.urllib.request, "urlopen", offline)
    assert prep.main(["tinyshakespeare", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert url in err and "Name or service not known" in err and "offline" in err and "--from" in err

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(prep.PrepareError, match="hf://datasets/Salesforce/wikitext/wikitext-2-raw-v1/"
                                                 "train-00000-of-00001.parquet: HF_HUB_OFFLINE is set"):
        prep.prepare("wikitext-2", tmp_path)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub = prep.hub_helpers()
    monkeypatch.setattr(hub, "parquet_missing", lambda: "neither pyarrow nor fastparquet is installed")
    with pytest.raises(prep.PrepareError, match="pyarrow"):
        prep.prepare("wikitext-2", tmp_path)
    monkeypatch.setattr(hub, "parquet_missing", lambda: None)
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    with pytest.raises(prep.PrepareError, match="Salesforce/wikitext.*unreachable"):
        prep.prepare("wikitext-2", tmp_path)
    assert _files(tmp_path) == []


def test_real_hub_path_with_stand_in_download(tmp_path, monkeypatch):
    """fetch_parquet_texts end to end: hf_hub_download (stood in) -> parquet -> text column."""
    pd = pytest.importorskip("pandas")
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub = prep.hub_helpers()
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    docs = ["Doc one.\n", "Doc two."]
    shard = tmp_path / "shard.parquet"
    if hub.parquet_missing():  # no parquet engine: stand in for the reader instead
        monkeypatch.setattr(hub, "parquet_missing", lambda: None)
        monkeypatch.setattr(prep, "read_parquet", lambda path, column="text": list(docs))
    else:
        pd.DataFrame({"text": docs, "meta": [1, 2]}).to_parquet(shard)
    seen = {}

    def fake_download(**kw):
        seen.update(kw)
        return str(shard)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    [path] = prep.prepare("openwebtext-sample", tmp_path / "out")
    assert seen == {"repo_id": "stas/openwebtext-10k", "filename": "plain_text/train/0000.parquet",
                    "repo_type": "dataset", "revision": "refs/convert/parquet"}
    assert path.read_text(encoding="utf-8") == "Doc one.\n\nDoc two.\n"  # documents split by a blank line


def test_unknown_name_lists_valid_names(capsys):
    with pytest.raises(SystemExit) as e:
        prep.main(["wikitext-3"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert all(name in err for name in prep.CORPORA)
    with pytest.raises(ValueError, match="valid names: tinyshakespeare, wikitext-2, wikitext-103"):
        prep.prepare("wikitext-3")
    with pytest.raises(ValueError, match="splits"):
        prep.prepare("wikitext-2", split="dev")


def test_from_local_files(tmp_path, no_net, capsys):
    txt = tmp_path / "in.txt"
    txt.write_bytes(b"\xef\xbb\xbfline one\r\nline two\r")
    assert prep.main(["wikitext-2", "--from", str(txt), "--split", "validation", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "wikitext-2" / "validation.txt").read_text(encoding="utf-8") == "line one\nline two\n"
    assert _files(tmp_path / "wikitext-2") == ["validation.txt"]
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"caf\xe9\n")
    assert prep.main(["tinyshakespeare", "--from", str(bad), "--out", str(tmp_path)]) == 1
    assert prep.main(["tinyshakespeare", "--from", str(tmp_path / "missing.txt"), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "not UTF-8" in err and "no such file" in err
    assert not (tmp_path / "tinyshakespeare").exists()


def test_from_parquet_shards(tmp_path, monkeypatch, no_net):
    def fake_read(path, column="text"):
        return [pathlib.Path(path).name + "\n"] + WIKI_ROWS

    monkeypatch.setattr(prep, "read_parquet", fake_read)
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    a.touch()
    b.touch()
    [path] = prep.prepare("wikitext-103", tmp_path / "out", source=[a, b])
    text = path.read_text(encoding="utf-8")
    assert path.name == "train.txt" and text.startswith("a.parquet\n\n = Valkyria") and "\nb.parquet\n" in text


def test_cli_from_and_load_corpus(tmp_path):
    """The script runs as `python data/prepare.py`, and load_corpus(path) reads what it wrote."""
    src = tmp_path / "input.txt"
    src.write_text(SHAKESPEARE, encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, str(SCRIPT), "tinyshakespeare", "--from", str(src), "--out",
                        str(tmp_path / "data")], capture_output=True, text=True, env=env, timeout=120)
    out = tmp_path / "data" / "tinyshakespeare" / "input.txt"
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"wrote {out} ({len(SHAKESPEARE):,} characters)"
    from basinlab.training._corpus import load_corpus

    corpus = load_corpus(out)
    assert corpus.name == "input.txt"
    assert len(corpus.train) + len(corpus.val) == len(SHAKESPEARE.encode())  # byte tokens
    assert corpus.val_text == SHAKESPEARE[int(len(SHAKESPEARE) * 0.9):]
