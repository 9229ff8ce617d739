"""`basinlab.widgets.SigmaExplorer` (and the other explorers): the short path the layout issue made
public, kept as a plain re-export of `basinlab.viz`'s widgets, and the live explorer, which runs the
model (`basinlab._live`)."""

from basinlab._live import LiveExplorer
from basinlab.viz import BoundExplorer, RunExplorer, SigmaExplorer

__all__ = ["BoundExplorer", "LiveExplorer", "RunExplorer", "SigmaExplorer"]
