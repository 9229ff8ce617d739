"""Text corpora by name or path."""

import pytest

from basinlab.data import _corpora as corpora


def test_text(root, tmp_path):
    assert corpora.load_text("tinyshakespeare").startswith("First Citizen:")
    assert len(corpora.load_text("pydoc")) > 100_000
    f = tmp_path / "corpus.txt"
    f.write_text("hello world\n")
    assert corpora.load_text(f) == corpora.load_text(str(f)) == "hello world\n"
    with pytest.raises(FileNotFoundError, match="pydoc"):
        corpora.load_text("no_such_corpus")
