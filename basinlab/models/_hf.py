"""transformers, imported without its advisory line about PyTorch.

basinlab uses transformers for configs and tokenizers only, which need no torch; without torch,
`import transformers` prints "PyTorch was not found. Models won't be available ...", which tells a
user something is missing when nothing is. Import it through `transformers()` instead.
"""

from __future__ import annotations

import os
import sys
import types

_QUIET = "TRANSFORMERS_NO_ADVISORY_WARNINGS"


def transformers() -> types.ModuleType:
    """The transformers module; its first import here runs with advisory warnings off."""
    if "transformers" in sys.modules:
        return sys.modules["transformers"]
    before = os.environ.get(_QUIET)
    os.environ[_QUIET] = "1"
    try:
        import transformers as module
    finally:
        if before is None:
            del os.environ[_QUIET]
        else:
            os.environ[_QUIET] = before
    return module
