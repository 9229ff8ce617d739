"""Type completeness of basinlab's public API: `pyright --verifytypes basinlab --ignoreexternal`, with
every diagnostic an error except the few whose cause is an untyped third-party base class.

    python tests/verify_types.py        # exit 0: clean; exit 1: prints each unexpected diagnostic

`make typecheck` runs it. pyright's own exit code cannot be used: the allowed diagnostics below keep
the completeness score under 100%, which it reports as a failure.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]

_WIDGETS = "basinlab.viz._widgets."
_BASE = ("Type of base class unknown", "Type of metaclass unknown")
# (symbol, message) pairs that are allowed, each caused by an untyped third-party base class (one
# that ships no py.typed and no stubs). Matched exactly, message lines joined by " / ", so a new class
# on such a base, or any other diagnostic on these symbols, still fails.
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    # ipywidgets: the three explorers subclass widgets.VBox ...
    [(_WIDGETS + name, msg) for name in ("SigmaExplorer", "BoundExplorer", "RunExplorer") for msg in _BASE]
    # ... so a method that returns a SigmaExplorer has a partially unknown return type.
    + [(_WIDGETS + "RunExplorer." + name, 'Return type is partially unknown / Return type is "SigmaExplorer"')
       for name in ("explorer", "select")]
    # ... and so does the live explorer (basinlab._live, above viz: it runs the model).
    + [("basinlab._live.LiveExplorer", msg) for msg in _BASE]
    # lm-eval: BasinlabLM subclasses lm_eval.api.model.TemplateLM, and evaluate() accepts one.
    + [("basinlab.lmeval._backend.BasinlabLM", msg) for msg in _BASE]
    + [("basinlab.lmeval.evaluate",
        'Type of parameter "model" is partially unknown / Parameter type is "Model | BasinlabLM"')]
)


def diagnostics() -> tuple[float, list[tuple[str, str]]]:
    """The completeness score and each (symbol, message) error pyright reports on basinlab."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "pyright", "--pythonpath", sys.executable,
           "--verifytypes", "basinlab", "--ignoreexternal", "--outputjson"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = None
    if report is None:
        raise SystemExit(f"pyright gave no JSON report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    completeness = report["typeCompleteness"]
    found = [(symbol["name"], diag["message"])
             for symbol in completeness["symbols"] for diag in symbol["diagnostics"] if diag["severity"] == "error"]
    # Diagnostics not tied to a symbol (e.g. a module that failed to import) are errors too.
    found += [("<report>", diag["message"]) for diag in report.get("generalDiagnostics", [])
              if diag.get("severity") == "error"]
    return completeness["completenessScore"], found


def unexpected(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The diagnostics whose (symbol, message) is not in ALLOWED."""
    return [(name, msg) for name, msg in found if (name, one_line(msg)) not in ALLOWED]


def one_line(message: str) -> str:
    return " / ".join(line.strip() for line in message.splitlines())


def main() -> int:
    score, found = diagnostics()
    bad = unexpected(found)
    for name, msg in bad:
        print(f"{name}: {msg}")
    print(f"verifytypes basinlab: completeness {score:.1%}, {len(found)} diagnostics, "
          f"{len(found) - len(bad)} allowed (untyped third-party bases), {len(bad)} not allowed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
