"""Readers of local benchmark files: JSON lines and CSV records with their line numbers, checked fields.

Malformed data is a ValueError naming the file and the 1-based line number (for CSV records that
span several lines, the line where the record starts); hub rows are named by their 1-based row
(unit="row").
"""

from __future__ import annotations

import csv
import gzip
import json
import pathlib
from collections.abc import Iterator, Sequence

__all__ = ["csv_records", "field", "jsonl_records", "malformed"]


def malformed(source: str, line: int, what: str, unit: str = "line") -> ValueError:
    """The ValueError for bad data at `line` (or row) of `source`."""
    return ValueError(f"malformed data in {source}, {unit} {line}: {what}")


def jsonl_records(path: pathlib.Path) -> Iterator[tuple[int, dict]]:
    """(1-based line number, object) for each non-blank line of a .jsonl or .jsonl.gz file."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise malformed(str(path), lineno, f"not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(record, dict):
                raise malformed(str(path), lineno, f"expected a JSON object, got {type(record).__name__}")
            yield lineno, record


def csv_records(path: pathlib.Path, header: Sequence[str]) -> Iterator[tuple[int, list]]:
    """(1-based line where the record starts, fields) for each CSV record with len(header) fields;
    a first line equal to `header` is skipped, blank lines are ignored."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        end = 0
        while True:
            start = end + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise malformed(str(path), start, f"unreadable CSV ({e})") from None
            end = reader.line_num
            if not row:
                continue
            if start == 1 and [c.strip().lower() for c in row] == list(header):
                continue
            if len(row) != len(header):
                raise malformed(str(path), start, f"expected {len(header)} columns ({','.join(header)}), "
                                                  f"got {len(row)}")
            yield start, row


def field(record: dict, key: str, source: str, line: int, unit: str = "line") -> str:
    """record[key], which must be a string; else the malformed-data error for that line."""
    if key not in record:
        raise malformed(source, line, f"missing field {key!r} (has {sorted(record)})", unit)
    value = record[key]
    if not isinstance(value, str):
        raise malformed(source, line, f"field {key!r} is {type(value).__name__}, expected a string", unit)
    return value
