"""`basinlab.results.save` / `open_dataset`: the short path the layout issue made public, kept as a
plain re-export of `basinlab.save` and `basinlab.open_dataset`."""

from basinlab.landscape import open_dataset, save

__all__ = ["open_dataset", "save"]
