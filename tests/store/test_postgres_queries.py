"""Loading the PostgreSQL backend's named statements (no server needed)."""

from __future__ import annotations

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[test]'")

from cadenza.store.postgres.queries import QUERIES
from cadenza.store.queries import parse_queries


def test_blocks_are_split_by_name_without_their_comments() -> None:
    text = "-- header\n-- name: one\n-- 100% sure\nSELECT 1;\n\n-- name: two\nSELECT %s;\n"
    assert parse_queries(text) == {"one": "SELECT 1", "two": "SELECT %s"}


@pytest.mark.parametrize(
    "text",
    ["-- name: one\nSELECT 1;\n-- name: one\nSELECT 2;\n", "-- name: empty\n-- nothing\n"],
)
def test_a_repeated_or_empty_block_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_queries(text)


def test_the_shipped_file_has_no_comment_left_in_any_statement() -> None:
    assert "claim_tasks" in QUERIES
    for name, statement in QUERIES.items():
        assert statement and not any(
            line.lstrip().startswith("--") for line in statement.splitlines()
        ), name
