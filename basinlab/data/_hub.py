"""The Hugging Face hub as a last fallback for benchmark data: tried, never required.

``hub_rows(repo_id, filename)`` downloads a data set's parquet file with
``huggingface_hub.hf_hub_download(..., repo_type="dataset")`` and reads it with pandas (which needs
pyarrow or fastparquet). It is skipped, with the reason returned for the final error, when
HF_HUB_OFFLINE is set, when no parquet engine is installed, or when the hub host does not accept a
connection within 3 s (checked once per process, so that offline machines do not sit through the
hub client's retries).
"""

from __future__ import annotations

import functools
import os
import socket
import urllib.parse
from typing import Any

__all__ = ["hub_reachable", "hub_rows", "parquet_missing"]


@functools.cache
def hub_reachable() -> bool:
    """Whether the hub endpoint accepts a TCP connection within 3 s (checked once per process)."""
    try:
        from huggingface_hub import constants

        endpoint = constants.ENDPOINT
    except Exception:  # pragma: no cover - very old huggingface_hub
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urllib.parse.urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=3):
            return True
    except OSError:
        return False


def parquet_missing() -> str | None:
    """None if pandas can read parquet here, else why not."""
    try:
        import pandas  # noqa: F401
    except ImportError:
        return "pandas is not installed, so hub parquet files cannot be read (pip install pandas pyarrow)"
    for engine in ("pyarrow", "fastparquet"):
        try:
            __import__(engine)
            return None
        except ImportError:
            pass
    return "neither pyarrow nor fastparquet is installed, so hub parquet files cannot be read " \
           "(pip install pyarrow)"


def _read_parquet(path: str) -> list[dict[str, Any]]:
    import pandas

    return pandas.read_parquet(path).to_dict("records")


def hub_rows(repo_id: str, filename: str) -> tuple[list[dict[str, Any]] | None, str]:
    """(rows, source) from the hub's parquet file, or (None, why it was not used)."""
    from_hub = f"hf://datasets/{repo_id}/{filename}"
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return None, f"not tried for {from_hub}, HF_HUB_OFFLINE is set"
    missing = parquet_missing()
    if missing:
        return None, f"not tried for {from_hub}, {missing}"
    if not hub_reachable():
        return None, f"not tried for {from_hub}, the hub is unreachable (offline?)"
    try:
        import huggingface_hub

        local = huggingface_hub.hf_hub_download(repo_id=repo_id, filename=filename, repo_type="dataset")
        return _read_parquet(local), from_hub
    except Exception as e:  # any hub or parquet failure: report it, never require the hub
        msg = str(e).splitlines()[0][:200] if str(e) else ""
        return None, f"downloading {from_hub} failed ({type(e).__name__}: {msg})"
