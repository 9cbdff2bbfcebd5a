"""The claim-check's text format: any value comes back as it went in, however it
is cut, and no value of a user's is taken for a reference."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza.encryption import write_key_file
from cadenza.model.errors import EncryptionKeyError, HistoryCorrupt
from cadenza.model.events import JSON
from cadenza.store.blobs import SQLiteBlobs, payload_scope, store_options
from cadenza.store.claim_check import CLAIM_PREFIX, is_claim
from cadenza.store.codec import dumps, loads
from cadenza.store.payloads import PayloadLimits

MIGRATION = Path(__file__).parents[2] / "src/cadenza/store/migrations/sqlite/0006_blobs.sql"


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.executescript(MIGRATION.read_text())
    yield connection
    connection.close()


def round_trip(conn: sqlite3.Connection, value: JSON, inline: int = 100) -> tuple[str, JSON]:
    options = store_options(PayloadLimits(inline_bytes=inline))
    with payload_scope(SQLiteBlobs(conn), options):
        text = dumps(value)
        return text, loads(text)


@pytest.mark.parametrize(
    "value",
    [
        "é" * 400,  # more bytes than characters
        ["a" * 300, 1, None, {"k": "b" * 300}, [True, "c" * 500]],
        {"v": "x" * 300, "b": [["v"], "0" * 64]},  # looks like the claim's own shape
        {"$blob": "sha256:" + "0" * 64, "pad": "y" * 300},
        CLAIM_PREFIX + '{"v":null,"b":[]}' + "z" * 300,  # a string that starts like a claim
        {"many": [f"item {i}" for i in range(200)]},  # small items only: kept whole
        {"deep": [[[[[[[[[[["w" * 300]]]]]]]]]]]},
        {str(i): "q" * 150 for i in range(5)},
    ],
)
def test_values_come_back_whole(conn: sqlite3.Connection, value: JSON) -> None:
    text, back = round_trip(conn, value)
    assert is_claim(text)
    assert back == value


def test_small_values_are_plain_json_and_parts_are_kept_once(conn: sqlite3.Connection) -> None:
    text, back = round_trip(conn, {"a": 1})
    assert text == '{"a":1}' and back == {"a": 1}
    shared = "s" * 1000
    first, _ = round_trip(conn, {"one": shared, "two": shared, "small": 3})
    assert '"small":3' in first  # small parts stay in the row
    [(count,)] = conn.execute("SELECT COUNT(*) FROM blobs").fetchall()
    assert count == 1


def test_outside_a_store_operation_values_are_plain_and_references_are_refused(
    conn: sqlite3.Connection,
) -> None:
    assert dumps("x" * 10_000) == '"' + "x" * 10_000 + '"'
    text, _ = round_trip(conn, "x" * 1000)
    with pytest.raises(HistoryCorrupt, match="outside a store operation"):
        loads(text)


def test_a_missing_blob_is_history_corrupt_naming_it(conn: sqlite3.Connection) -> None:
    text, _ = round_trip(conn, "x" * 1000)
    conn.execute("DELETE FROM blobs")
    options = store_options(PayloadLimits(inline_bytes=100))
    with (
        payload_scope(SQLiteBlobs(conn), options),
        pytest.raises(HistoryCorrupt, match=r"blob sha256:[0-9a-f]{64} .* is missing"),
    ):
        loads(text)


def test_a_long_text_met_again_is_checked_in_the_table_not_trusted(
    conn: sqlite3.Connection,
) -> None:
    options = store_options(PayloadLimits(inline_bytes=100))
    value = "r" * 5000
    conn.execute("BEGIN")
    with payload_scope(SQLiteBlobs(conn), options):
        dumps([value])
    conn.execute("ROLLBACK")  # the blob went with the transaction; the digest is cached
    with payload_scope(SQLiteBlobs(conn), options):
        text = dumps([value])
        assert loads(text) == [value]


def test_whole_copies_of_a_known_secret_are_stored_encrypted(
    conn: sqlite3.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CADENZA_KEY_FILE", raising=False)
    write_key_file(tmp_path / "key")
    options = store_options(PayloadLimits(inline_bytes=10_000), key_file=tmp_path / "key")
    options.secrets.add(["s3cret-token"])
    value: JSON = {"env": {"TOKEN": "s3cret-token"}, "list": ["a", "s3cret-token"], "n": 1}
    with payload_scope(SQLiteBlobs(conn), options):
        text = dumps(value)
        assert "s3cret-token" not in text and "fernet:" in text
        assert loads(text) == value
    assert value["env"] == {"TOKEN": "s3cret-token"}  # the caller's value is not changed
    # Without the key: shown encrypted; used (deciding, running), refused.
    keyless = store_options(PayloadLimits(inline_bytes=10_000), key_file=None)
    with payload_scope(SQLiteBlobs(conn), keyless):
        shown = loads(text)
    assert isinstance(shown, dict) and str(shown["list"][1]).startswith("fernet:")
    with (
        payload_scope(SQLiteBlobs(conn), keyless, deciding=True),
        pytest.raises(EncryptionKeyError, match="no key is configured"),
    ):
        loads(text)
