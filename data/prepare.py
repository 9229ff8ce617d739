"""Fetch a small text corpus into data/<name>/ as plain UTF-8 text, for basinlab.training.corpus.load_corpus.

    python data/prepare.py tinyshakespeare             # -> data/tinyshakespeare/input.txt
    python data/prepare.py wikitext-2 --out /data      # -> /data/wikitext-2/{train,validation,test}.txt
    python data/prepare.py tinyshakespeare --from ~/Downloads/input.txt   # offline: import a local file

Plain text is the one format every basinlab loader reads (`load_corpus(path)` tokenizes any UTF-8
file), so each corpus is turned into one text file per split here, once, rather than parsed at
training time. tinyshakespeare/input.txt is the data-root layout `load_text("tinyshakespeare")`
reads, so `BASINLAB_DATA=data` (or `--out $BASINLAB_DATA`) makes the name work too.

Every output is written to a temporary file and moved into place with os.replace, so an interrupted
or failed download never leaves a partial file that a later run would skip as "already there".
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import sys
import tempfile
import urllib.error
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent  # the default --out: this data/ folder


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a corpus comes from: a raw URL (one file), or hub parquet shards per split."""
    url: str | None = None
    repo: str | None = None                    # Hugging Face dataset repo
    revision: str | None = None                # None = main
    splits: tuple = ()                            # ((split, (shard, ...)), ...)
    rows_are_lines: bool = True                   # wikitext rows are lines; openwebtext rows are documents


_WT = "Salesforce/wikitext"
CORPORA = {
    "tinyshakespeare": Source(
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"),
    "wikitext-2": Source(repo=_WT, splits=tuple(
        (s, (f"wikitext-2-raw-v1/{s}-00000-of-00001.parquet",)) for s in ("train", "validation", "test"))),
    "wikitext-103": Source(repo=_WT, splits=(
        ("train", ("wikitext-103-raw-v1/train-00000-of-00002.parquet",
                   "wikitext-103-raw-v1/train-00001-of-00002.parquet")),
        ("validation", ("wikitext-103-raw-v1/validation-00000-of-00001.parquet",)),
        ("test", ("wikitext-103-raw-v1/test-00000-of-00001.parquet",)))),
    # stas/openwebtext-10k's main branch holds only a loading script; the hub's automatic parquet
    # conversion lives on refs/convert/parquet, as <config>/<split>/NNNN.parquet (name unconfirmed).
    "openwebtext-sample": Source(repo="stas/openwebtext-10k", revision="refs/convert/parquet",
                                 splits=(("train", ("plain_text/train/0000.parquet",)),), rows_are_lines=False),
}


class PrepareError(RuntimeError):
    """A corpus could not be prepared; the message says what was tried and how to fix it."""


def outputs(name: str, out: pathlib.Path) -> dict:
    """{split: path} of a corpus' output files (split None for a single-file corpus)."""
    if CORPORA[name].url:
        return {None: out / name / "input.txt"}
    return {split: out / name / f"{split}.txt" for split, _ in CORPORA[name].splits}


def normalize(text: str) -> str:
    """Drop a BOM and turn CRLF/CR into LF, so byte-level tokenizers see the same text on every OS."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def join_rows(texts, rows_are_lines: bool) -> str:
    """One string from a parquet "text" column. Wikitext rows are lines that keep their newline
    (blank lines are empty rows), so each row is ended by exactly one newline; documents are
    separated by a blank line."""
    texts = [str(t) for t in texts if t is not None]
    if rows_are_lines:
        return "".join(t if t.endswith("\n") else t + "\n" for t in texts)
    return "\n\n".join(t.strip("\n") for t in texts) + "\n"


def fetch_url(url: str) -> bytes:
    """The bytes at url, or a PrepareError naming the URL and the reason."""
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.read()
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise PrepareError(f"could not download {url} ({reason}); offline? Download it elsewhere and "
                           f"use --from FILE") from e


def read_parquet(path: str, column: str = "text") -> list:
    """One column of a parquet file (a function of its own so tests can stand in for pyarrow)."""
    import pandas
    return pandas.read_parquet(path, columns=[column])[column].tolist()


def hub_helpers():
    """basinlab's data package (its hub checks), imported only when a hub corpus is fetched."""
    try:
        from basinlab import data
    except ImportError:  # run from a checkout without `pip install -e .`
        sys.path.insert(0, str(HERE.parent))
        from basinlab import data
    return data


def fetch_parquet_texts(repo: str, filename: str, revision: str | None = None) -> list:
    """The "text" column of one hub parquet shard. The checks are basinlab.benchmarks.hub's
    rules (HF_HUB_OFFLINE, a parquet engine, a 3 s reachability probe) so an offline machine gets
    a clear PrepareError at once instead of sitting through the hub client's retries."""
    where = f"hf://datasets/{repo}/{filename}" + (f"@{revision}" if revision else "")
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise PrepareError(f"not downloading {where}: HF_HUB_OFFLINE is set")
    hub = hub_helpers()
    missing = hub.parquet_missing()
    if missing:
        raise PrepareError(f"not downloading {where}: {missing}")
    if not hub.hub_reachable():
        raise PrepareError(f"could not download {where}: the Hugging Face hub is unreachable (offline?); "
                           f"download the parquet file elsewhere and use --from FILE.parquet")
    try:
        import huggingface_hub
        local = huggingface_hub.hf_hub_download(repo_id=repo, filename=filename, repo_type="dataset",
                                                revision=revision)
    except Exception as e:  # hub errors come in many classes; all mean the same thing here
        raise PrepareError(f"could not download {where} ({type(e).__name__}: {str(e)[:200]})") from e
    return read_parquet(local)


def write_atomic(path: pathlib.Path, text: str) -> None:
    """Write text as UTF-8 via a temp file in the same folder + os.replace: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_local(file: pathlib.Path, rows_are_lines: bool = True) -> str:
    """A local .txt (any UTF-8 text) or .parquet (its "text" column) file, as normalized text."""
    if not file.is_file():
        raise PrepareError(f"--from {file}: no such file")
    if file.suffix == ".parquet":
        return normalize(join_rows(read_parquet(str(file)), rows_are_lines))
    try:
        return normalize(file.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise PrepareError(f"--from {file}: not UTF-8 text ({e})") from e


def prepare(name: str, out=None, force: bool = False, source=None, split: str | None = None) -> list:
    """Write corpus `name` under out/<name>/ and return the paths written or kept. Files that exist
    are kept unless force. source: local file(s) to import instead of downloading, into `split`
    (default train) of multi-split corpora. split alone: prepare only that split."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; valid names: {', '.join(CORPORA)}")
    src, out = CORPORA[name], pathlib.Path(out if out is not None else HERE).expanduser()
    targets = outputs(name, out)
    if source is not None or split is not None:  # one split only (--from fills one file)
        key = None if src.url and split is None else (split or "train")
        if key not in targets:
            raise ValueError(f"{name} has splits {[k for k in targets if k]}, not {split!r}")
        targets = {key: targets[key]}
    done = []
    for key, path in targets.items():
        if path.exists() and not force:
            print(f"{path} exists ({path.stat().st_size:,} bytes); kept (--force to redo)")
        else:
            if source is not None:  # several files (e.g. both wikitext-103 train shards) are concatenated
                files = [source] if isinstance(source, (str, os.PathLike)) else list(source)
                text = ("" if src.rows_are_lines else "\n").join(
                    read_local(pathlib.Path(f).expanduser(), src.rows_are_lines) for f in files)
            elif src.url:
                try:
                    text = normalize(fetch_url(src.url).decode("utf-8"))
                except UnicodeDecodeError as e:
                    raise PrepareError(f"{src.url} is not UTF-8 text ({e})") from e
            else:  # fetch every shard of the split before writing anything
                shards = dict(src.splits)[key]
                rows = [t for shard in shards for t in fetch_parquet_texts(src.repo, shard, src.revision)]
                text = normalize(join_rows(rows, src.rows_are_lines))
            write_atomic(path, text)
            print(f"wrote {path} ({len(text):,} characters)")
        done.append(path)
    return done


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("name", choices=list(CORPORA), help="corpus to prepare")
    p.add_argument("--out", default=str(HERE), help="root folder; files go to OUT/NAME/ (default: data/)")
    p.add_argument("--force", action="store_true", help="download again even if the output exists")
    p.add_argument("--from", dest="source", metavar="FILE", nargs="+",
                   help="import local .txt or .parquet file(s) instead of downloading (works offline)")
    p.add_argument("--split", help="only this split (multi-split corpora); --from fills train by default")
    a = p.parse_args(argv)
    try:
        prepare(a.name, a.out, a.force, a.source, a.split)
    except (PrepareError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
