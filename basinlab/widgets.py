"""`basinlab.widgets.SigmaExplorer` (and the other explorers): the short path the layout issue made
public, kept as a plain re-export of `basinlab.viz`'s widgets."""

from basinlab.viz import BoundExplorer, RunExplorer, SigmaExplorer

__all__ = ["BoundExplorer", "RunExplorer", "SigmaExplorer"]
