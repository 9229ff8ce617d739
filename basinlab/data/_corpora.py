"""Text corpora for the text capabilities and pre-training: by name, or any text file.

- "tinyshakespeare": tiny-shakespeare, 1.1 MB, public domain text: Karpathy's char-rnn
  `data/tinyshakespeare/input.txt`, read from tinyshakespeare/input.txt under the data root.
- "pydoc": CPython's pydoc topic help, PSF license: `pydoc_data.topics`, ships with Python.
"""

from __future__ import annotations

import pathlib

from basinlab.data._paths import PathLike, local_file, not_found

__all__ = ["TEXT_CORPORA", "load_text"]

TEXT_CORPORA = ("pydoc", "tinyshakespeare")


def load_text(name_or_path: PathLike) -> str:
    """A text corpus: "tinyshakespeare" (alias "shakespeare") from the data root's
    tinyshakespeare/input.txt, "pydoc" (CPython's pydoc topics, sorted by topic, joined by blank
    lines), or the contents of any text file path. No hub fallback."""
    if isinstance(name_or_path, str) and name_or_path in ("tinyshakespeare", "shakespeare"):
        relative = "tinyshakespeare/input.txt"
        file = local_file(None, [], relative)
        if file is None:
            raise not_found("tiny-shakespeare", relative, None)
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
