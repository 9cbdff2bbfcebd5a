"""A secret inside a longer text (built by an expression, printed by a command) is
kept encrypted at rest, not only masked when shown; reading it back gives the
plain text again, so replay and redrive see what the workflow made."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza.encryption import SecretKey, write_key_file
from cadenza.engine.engine import Engine
from cadenza.model.secrets import MASK, mask
from cadenza.store.secrets_at_rest import KnownSecrets, sealed, unsealed
from cadenza.workers.registry import default_registry
from reliability.test_secrets_at_rest import open_keyed
from store.test_payload_blobs import raw_rows

SECRET = "hunter2-correct-horse"

#: Every table that keeps values of an execution.
TABLES = ["history", "inbox", "tasks", "executions", "blobs"]

WORKFLOW = """\
version: 1.0
input:
  - user
  - password
vars:
  - header: <% 'Bearer ' + ctx(password) %>
tasks:
  login:
    action: test.login user=<% ctx(user) %> header=<% ctx(header) %>
    next:
      - when: <% succeeded() %>
        publish:
          - greeting: <% result() %>
        do: echo
  echo:
    action: core.local
    input:
      cmd: 'echo "logged in with $PW, done"'
      env:
        PW: <% ctx(password) %>
    next:
      - when: <% succeeded() %>
        publish:
          - printed: <% result().stdout %>
output:
  - greeting: <% ctx(greeting) %>
  - printed: <% ctx(printed) %>
"""


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    write_key_file(tmp_path / "cadenza.key")
    return tmp_path / "cadenza.key"


@pytest.fixture
def headers() -> list[str]:
    return []


@pytest.fixture
def engine(store_url: str, key_file: Path, headers: list[str]) -> Iterator[Engine]:
    registry = default_registry()

    def login(user: str, header: str) -> str:
        headers.append(header)
        return f"{user} sent {header}"

    registry.register("test.login", login)
    running = Engine(open_keyed(store_url, key_file), registry=registry)
    yield running
    running.close()


def stored_texts(url: str) -> list[str]:
    """Every row of every table that keeps execution values, as text."""
    found: list[str] = []
    for table in TABLES:
        sql = (
            f"SELECT * FROM {table}"
            if url.startswith("sqlite:")
            else f"SELECT t::text FROM {table} t"
        )
        found += [repr(row) for row in raw_rows(url, sql)]
    return found


def test_texts_holding_a_secret_are_encrypted_at_rest_and_plain_when_read(
    engine: Engine, store_url: str, headers: list[str]
) -> None:
    definition = engine.register(WORKFLOW, kind="orquesta")
    execution_id = engine.start(definition, {"user": "ann", "password": {"$secret": SECRET}})
    done = engine.drive(execution_id, timeout=60)
    assert done.status == "succeeded", done.errors
    # The workflow and its actions worked with the plain texts.
    assert headers == [f"Bearer {SECRET}"]
    assert done.output == {
        "greeting": f"ann sent Bearer {SECRET}",
        "printed": f"logged in with {SECRET}, done",
    }
    # No row keeps the secret in clear, not even inside a longer text.
    rows = stored_texts(store_url)
    assert rows and not [row for row in rows if SECRET in row]
    assert any("fernet:" in row for row in rows)
    if store_url.startswith("sqlite:"):
        database = Path(store_url[len("sqlite:///") :])
        for file in database.parent.glob(database.name + "*"):
            assert SECRET.encode() not in file.read_bytes(), file
    # History read back holds the plain texts (what replay and redrive decide
    # with); views mask the secret inside them.
    completed = [
        r.event.payload()["result"]
        for r in engine.history(execution_id)
        if r.event.type == "TaskCompleted"
    ]
    assert completed[0] == f"ann sent Bearer {SECRET}"
    assert completed[1]["stdout"] == f"logged in with {SECRET}, done"
    shown = mask(completed, engine.secrets_of(execution_id))
    assert shown[0] == f"ann sent Bearer {MASK}"
    assert shown[1]["stdout"] == f"logged in with {MASK}, done"


def test_a_fresh_engine_rebuilds_the_execution_from_the_encrypted_rows(
    engine: Engine, store_url: str, key_file: Path
) -> None:
    definition = engine.register(WORKFLOW, kind="orquesta")
    done = engine.run(definition, {"user": "ann", "password": {"$secret": SECRET}}, timeout=60)
    assert done.status == "succeeded", done.errors
    again = Engine(open_keyed(store_url, key_file))
    try:
        view = again.describe(done.id)
        assert view.status == "succeeded"
        assert again.get(done.id).output == done.output
    finally:
        again.close()


def test_a_longer_text_carries_the_secrets_it_holds_to_the_reader() -> None:
    key = SecretKey.generate()
    value = {"cmd": f"login --password {SECRET} --quiet", "n": 12345678, "other": "plain"}
    import json

    sealed_value, paths = sealed(value, json.dumps(value), frozenset({SECRET, "12345678"}), key)
    assert sorted(paths) == [("cmd",), ("n",)]
    assert SECRET not in json.dumps(sealed_value) and "12345678" not in json.dumps(sealed_value)
    assert sealed_value["other"] == "plain"
    reader = KnownSecrets()
    opened = unsealed(sealed_value, paths, lambda: key, required=True, known=reader)
    assert opened == value
    # The reader learnt the secret itself, not only the text around it: the
    # next value it stores with the secret alone (a command's stdout) is sealed.
    assert SECRET in reader.current()
    _, again = sealed(["out: " + SECRET], json.dumps(["out: " + SECRET]), reader.current(), key)
    assert again == [(0,)]
