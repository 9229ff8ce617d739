"""experiments/tables.py: the README's marked tables equal what the stored results say (CI runs this)."""

import pathlib

import pytest
from scripts import load_script

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "tables.py"


tables = load_script("experiments/tables.py", "basinlab_tables")


def test_committed_tables_match_the_stored_results(capsys):
    assert tables.main([]) == 0, capsys.readouterr().out


def test_every_table_is_quoted_and_reads_a_tracked_file():
    text = (ROOT / "README.md").read_text()
    quoted = {m.group("name") for m in tables.MARK.finditer(text)}
    assert quoted == set(tables.TABLES), "a table in TABLES that no document quotes, or the reverse"


def test_a_number_edited_by_hand_is_found_and_rewritten():
    text = (ROOT / "README.md").read_text()
    m = next(m for m in tables.MARK.finditer(text) if m.group("name") == "go-matched")
    edited = text.replace(m.group("body"), m.group("body").replace("**1.42 [0.92, 1.91]**", "**1.52 [1.02, 1.91]**"))
    assert edited != text
    assert tables.render(edited) == text


def test_an_unknown_table_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"README.md: unknown table 'go-matchd'; valid names: basin-size, go-matched"):
        tables.render("<!-- table: go-matchd -->\nx\n<!-- /table -->\n")
