"""The scanner that finds the line of each key in a TOML text (tomllib gives no positions)."""

import tomllib

from frontdesk.config._locate import Locator, format_path

TEXT = '''\
# comment with [brackets] and key = "value"
title = "x"   # trailing comment

[flow]
greeting = "hello"
text = """
[not.a.table]
fake = 1
"""
literal = \'\'\'
also = "not a key"
\'\'\'

[flow.nodes.main_menu]
type = "menu"
options = { "2" = "a", "3" = "b", "*" = "c" }

[flow.nodes."with.dot"]
site.name = "dotted"

[[schedule.closures]]
from = 2026-12-24

[[schedule.closures]]
from = 2026-08-01
to = 2026-08-15

[[rehearse]]
keys = [
  "3",   # first
  # a comment line
  "1",
]
expect = "x"
'''


def line_of(fragment: str) -> int:
    return TEXT[: TEXT.index(fragment)].count("\n") + 1


def test_the_sample_is_valid_toml() -> None:
    tomllib.loads(TEXT)


def test_keys_of_tables_are_found_at_their_lines() -> None:
    where = Locator(TEXT)
    assert where.line(("title",)) == 2
    assert where.line(("flow",)) == line_of("[flow]")
    assert where.line(("flow", "greeting")) == line_of('greeting = "hello"')


def test_multiline_strings_do_not_look_like_tables_or_keys() -> None:
    where = Locator(TEXT)
    assert where.line(("flow", "literal")) == line_of("literal =")
    assert ("not", "a", "table") not in where.paths()
    assert ("flow", "fake") not in where.paths()
    assert ("flow", "also") not in where.paths()


def test_inline_table_keys_are_found_including_quoted_ones() -> None:
    where = Locator(TEXT)
    line = line_of("options = {")
    assert where.line(("flow", "nodes", "main_menu", "options", "3")) == line
    assert where.line(("flow", "nodes", "main_menu", "options", "*")) == line


def test_quoted_table_names_and_dotted_keys() -> None:
    where = Locator(TEXT)
    assert where.line(("flow", "nodes", "with.dot")) == line_of('[flow.nodes."with.dot"]')
    assert where.line(("flow", "nodes", "with.dot", "site", "name")) == line_of("site.name")


def test_arrays_of_tables_are_indexed() -> None:
    where = Locator(TEXT)
    assert where.line(("schedule", "closures", 0, "from")) == line_of("from = 2026-12-24")
    assert where.line(("schedule", "closures", 1, "from")) == line_of("from = 2026-08-01")
    assert where.line(("schedule", "closures", 1, "to")) == line_of("to = 2026-08-15")


def test_items_of_multiline_arrays_have_their_own_lines() -> None:
    where = Locator(TEXT)
    assert where.line(("rehearse", 0, "keys")) == line_of("keys = [")
    assert where.line(("rehearse", 0, "keys", 0)) == line_of('"3",')
    assert where.line(("rehearse", 0, "keys", 1)) == line_of('"1",')
    assert where.line(("rehearse", 0, "expect")) == line_of('expect = "x"')


def test_a_missing_key_points_at_its_nearest_written_table() -> None:
    where = Locator(TEXT)
    assert where.line(("schedule", "closures", 0, "to")) == line_of("from = 2026-12-24") - 1
    assert where.line(("flow", "nodes", "main_menu", "prompt")) == line_of("[flow.nodes.main_menu]")
    assert where.line(("nowhere",)) == 1


def test_paths_are_printed_with_quotes_and_indexes() -> None:
    assert format_path(("flow", "nodes", "main_menu", "options", "2")) == (
        'flow.nodes.main_menu.options."2"'
    )
    assert format_path(("schedule", "closures", 1, "from")) == "schedule.closures[1].from"
    assert format_path(("rehearse", 0, "keys")) == "rehearse[0].keys"
