"""What a plotly figure's legend shows against what it draws, read from the figure's dict.

Plotly draws a legend entry with the colour of the trace (or shape) that carries it, and the entry
stands for its whole ``legendgroup`` (clicking it hides them all). So an entry tells the truth only
when every member of its group is drawn in the entry's colour.
"""

from __future__ import annotations

import re

import plotly.graph_objects as go


def _hex(colour):
    """'#rrggbb' of an 'rgba(r,g,b,a)' / 'rgb(r,g,b)' colour (a fill's transparency is not its colour);
    other colours (hex, CSS names) as given, lower case."""
    m = re.fullmatch(r"rgba?\((\d+),\s*(\d+),\s*(\d+)(?:,\s*[\d.]+)?\)", str(colour).replace(" ", ""))
    return "#{:02x}{:02x}{:02x}".format(*(int(v) for v in m.groups())) if m else str(colour).lower()


def _colour(item: dict, default: str | None) -> str | None:
    line, marker = item.get("line") or {}, item.get("marker") or {}
    for c in (line.get("color"), marker.get("color"), item.get("fillcolor")):
        if isinstance(c, str):
            return _hex(c)
    return default


def members(fig: go.Figure) -> list[dict]:
    """One row per trace and per shape that can be in the legend: name, group, colour, shown."""
    full = fig.to_dict()
    colorway = (full["layout"].get("template", {}).get("layout", {}).get("colorway")
                or full["layout"].get("colorway") or [])
    rows = []
    for i, t in enumerate(full["data"]):
        default = _hex(colorway[i % len(colorway)]) if colorway else None  # plotly's colour for an uncoloured trace
        rows.append(dict(what=f"trace {i} {t.get('name')!r}", name=t.get("name"),
                         group=t.get("legendgroup") or f"#trace-{i}", colour=_colour(t, default),
                         shown=t.get("showlegend", True) is not False and bool(t.get("name"))))
    for i, s in enumerate(full["layout"].get("shapes", [])):
        if s.get("showlegend") or s.get("legendgroup"):
            rows.append(dict(what=f"shape {i} {s.get('name')!r}", name=s.get("name"),
                             group=s.get("legendgroup") or f"#shape-{i}", colour=_colour(s, None),
                             shown=bool(s.get("showlegend"))))
    return rows


def entries(fig: go.Figure) -> dict[str, str]:
    """{legend entry's name: its swatch colour}."""
    return {m["name"]: m["colour"] for m in members(fig) if m["shown"]}


def mismatches(fig: go.Figure) -> list[str]:
    """Each trace or shape drawn in another colour than the legend entry of its group, or of a group
    with two entries in different colours; [] when the legend matches the plot."""
    rows, out = members(fig), []
    for group in dict.fromkeys(m["group"] for m in rows):
        mine = [m for m in rows if m["group"] == group]
        shown = [m for m in mine if m["shown"]]
        for entry in shown:
            for m in mine:
                if m["colour"] != entry["colour"]:
                    out.append(f"legend entry {entry['name']!r} (group {group!r}) is {entry['colour']}, "
                               f"but its {m['what']} is drawn {m['colour']}")
    return out
