"""Secrets of an execution's input are stored encrypted when a key is configured,
and the workflow still receives the plain value."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza.encryption import write_key_file
from cadenza.engine.engine import Engine
from cadenza.model.errors import EncryptionKeyError
from cadenza.model.events import ExecutionStarted
from cadenza.model.secrets import MASK, mask
from cadenza.store import open_store
from cadenza.store.postgres import PostgresStore
from cadenza.store.protocol import Store
from cadenza.store.sqlite import SQLiteStore
from cadenza.workers.registry import default_registry
from store.test_payload_blobs import raw_rows

SECRET = "hunter2-correct-horse"
LIKE = f"%{SECRET}%"

#: Every column that keeps a value of an execution.
COLUMNS = [
    ("history", "payload"),
    ("inbox", "payload"),
    ("tasks", "input"),
    ("executions", "snapshot"),
    ("executions", "output"),
]

WORKFLOW = """\
version: 1.0
input:
  - user
  - password
tasks:
  login:
    action: test.login user=<% ctx(user) %> password=<% ctx(password) %>
    next:
      - when: <% succeeded() %>
        publish:
          - answer: <% result() %>
output:
  - answer: <% ctx(answer) %>
"""


def open_keyed(url: str, key_file: Path | None) -> Store:
    """A store at ``url`` that encrypts with the key in ``key_file``."""
    where = None if key_file is None else str(key_file)
    if url.startswith("sqlite:"):
        return SQLiteStore(url[len("sqlite:///") :], key_file=where)
    return PostgresStore(url, key_file=where)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    write_key_file(tmp_path / "cadenza.key")
    return tmp_path / "cadenza.key"


@pytest.fixture
def seen() -> list[str]:
    return []


@pytest.fixture
def engine(store_url: str, key_file: Path, seen: list[str]) -> Iterator[Engine]:
    registry = default_registry()

    def login(user: str, password: str) -> str:
        seen.append(password)
        return f"welcome {user}"

    registry.register("test.login", login)
    running = Engine(open_keyed(store_url, key_file), registry=registry)
    yield running
    running.close()


def started_rows(url: str, execution_id: str) -> list[str]:
    """The stored payloads of the execution's ``ExecutionStarted`` (inbox and history)."""
    rows = raw_rows(
        url,
        "SELECT payload FROM history WHERE execution_id = ? AND type = 'ExecutionStarted' "
        "UNION ALL SELECT payload FROM inbox WHERE execution_id = ? AND type = 'ExecutionStarted'",
        execution_id,
        execution_id,
    )
    return [str(row[0]) for row in rows]


def test_the_row_holds_no_clear_text_and_the_workflow_gets_the_plain_value(
    engine: Engine, store_url: str, seen: list[str]
) -> None:
    definition = engine.register(WORKFLOW, kind="orquesta")
    execution_id = engine.start(definition, {"user": "ann", "password": {"$secret": SECRET}})
    # Waiting in the inbox, the secret is encrypted already.
    [waiting] = started_rows(store_url, execution_id)
    assert SECRET not in waiting and "fernet:" in waiting and "ann" in waiting
    engine.decide()  # the task is scheduled: its row holds the secret, encrypted
    [(task_input,)] = raw_rows(
        store_url, "SELECT input FROM tasks WHERE execution_id = ?", execution_id
    )
    assert SECRET not in task_input and "fernet:" in task_input
    done = engine.drive(execution_id, timeout=60)
    assert done.status == "succeeded", done.errors
    assert seen == [SECRET]  # the action got the plain value
    assert done.output == {"answer": "welcome ann"}
    [stored] = started_rows(store_url, execution_id)
    assert SECRET not in stored and "fernet:" in stored
    # Nor anywhere the workflow copied it: the action's input, the snapshot.
    for table, column in COLUMNS:
        found = raw_rows(store_url, f"SELECT COUNT(*) FROM {table} WHERE {column} LIKE ?", LIKE)
        assert found == [(0,)], (table, column)
    if store_url.startswith("sqlite:"):
        database = Path(store_url[len("sqlite:///") :])
        for file in database.parent.glob(database.name + "*"):
            assert SECRET.encode() not in file.read_bytes(), file

    # Read through the store, the event is whole again; views mask it as before.
    started = engine.history(execution_id)[0].event
    assert isinstance(started, ExecutionStarted)
    assert started.input == {"user": "ann", "password": SECRET}
    assert "secrets_at_rest" not in started.meta
    secrets = engine.secrets_of(execution_id)
    assert mask(started.input, secrets) == {"user": "ann", "password": MASK}


def test_without_the_key_views_see_ciphertext_and_deciding_is_refused(
    engine: Engine, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    definition = engine.register(WORKFLOW, kind="orquesta")
    decided = engine.run(definition, {"user": "ann", "password": {"$secret": SECRET}}, timeout=60)
    waiting = engine.start(definition, {"user": "bob", "password": {"$secret": SECRET}})
    monkeypatch.delenv("CADENZA_KEY_FILE", raising=False)
    keyless = Engine(open_keyed(store_url, None))
    try:
        started = keyless.history(decided.id)[0].event
        assert isinstance(started, ExecutionStarted)
        assert started.input["user"] == "ann"
        assert str(started.input["password"]).startswith("fernet:")
        with pytest.raises(EncryptionKeyError, match=waiting):
            keyless.decide()
    finally:
        keyless.close()
    assert engine.drive(waiting, timeout=60).status == "succeeded"


def test_without_a_key_secrets_are_stored_as_given(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CADENZA_KEY_FILE", raising=False)
    registry = default_registry()
    registry.register("test.login", lambda user, password: f"welcome {user}")
    engine = Engine(open_store(store_url), registry=registry)
    try:
        definition = engine.register(WORKFLOW, kind="orquesta")
        done = engine.run(definition, {"user": "ann", "password": {"$secret": SECRET}}, timeout=60)
        assert done.status == "succeeded"
        [stored] = started_rows(store_url, done.id)
        assert SECRET in stored
    finally:
        engine.close()


def test_the_command_line_key_file_encrypts_at_rest(
    store_url: str, key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cadenza.cli.main import main

    monkeypatch.delenv("CADENZA_KEY_FILE", raising=False)
    flow = tmp_path / "echo.yaml"
    flow.write_text(
        "version: 1.0\ninput: [password]\ntasks:\n  say:\n"
        "    action: core.echo message=<% ctx(password) %>\n"
    )
    given = '{"password": {"$secret": "' + SECRET + '"}}'
    argv = ["run", str(flow), "--input", given, "--store", store_url, "--quiet"]
    assert main([*argv, "--key-file", str(key_file)]) == 0
    assert os.environ.get("CADENZA_KEY_FILE") is None  # put back after the command
    store = open_keyed(store_url, key_file)
    try:
        (record,) = store.list_executions()
    finally:
        store.close()
    [stored] = started_rows(store_url, record.id)
    assert SECRET not in stored and "fernet:" in stored
