"""StackStorm's datastore (st2kv) kept in Cadenza's store, over both backends.

The store keeps the entries; ``cadenza kv`` manages them; an execution reads
the values recorded when it started, so a later change is not seen and a
replay reads the same values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cadenza.cli.main import main
from cadenza.encryption import SecretKey, write_key_file
from cadenza.engine.engine import Engine
from cadenza.engine.front_ends import FrontEnds
from cadenza.interpreters.orquesta.actions import ActionParameter, ActionSpec
from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.interpreters.protocol import FrontEndSettings
from cadenza.interpreters.replay import replay_state
from cadenza.model.events import ExecutionStarted
from cadenza.store import open_store
from cadenza.store.datastore import DatastoreEntry
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import ActivityRegistry, default_registry


@pytest.fixture
def kv_store(store: Store) -> Store:
    """The store, with no datastore entries left by another test."""
    for entry in store.kv_list():
        store.kv_delete(entry.scope, entry.key, entry.user)
    return store


def _engine(store: Store, **front_end: Any) -> tuple[Engine, ActivityRegistry]:
    registry = default_registry()
    # As the command line builds them: the key in the settings every front end gets.
    settings = FrontEndSettings(secret_key=front_end.get("secret_key"))
    front_ends = FrontEnds({"orquesta": OrquestaFrontEnd(**front_end)}, settings=settings)
    engine = Engine(store, registry=registry, clock=FakeClock(), front_ends=front_ends)
    return engine, registry


def _run(engine: Engine, source: str, context: dict[str, Any] | None = None) -> str:
    definition = engine.register(source, kind="orquesta", name="reader")
    execution_id = engine.start(definition, {}, context=context or {"st2": {"user": "alice"}})
    engine.run_until_idle()
    return execution_id


# --- the store ----------------------------------------------------------------------


def test_entries_are_kept_by_scope_and_user(kv_store: Store) -> None:
    kv_store.kv_set(DatastoreEntry("system", "region", "eu", updated_at=1.0))
    kv_store.kv_set(DatastoreEntry("system", "region", "us", updated_at=2.0))
    kv_store.kv_set(DatastoreEntry("user", "region", "ap", user="alice", updated_at=3.0))
    kv_store.kv_set(DatastoreEntry("user", "region", "sa", user="bob", updated_at=3.0))
    kv_store.kv_set(DatastoreEntry("system", "other", "x", updated_at=3.0))

    found = kv_store.kv_get("system", "region")
    assert found is not None and (found.value, found.updated_at) == ("us", 2.0)
    alice = kv_store.kv_get("user", "region", "alice")
    assert alice is not None and alice.value == "ap"
    assert kv_store.kv_get("user", "region", "carol") is None
    assert [e.key for e in kv_store.kv_list("reg", scope="system")] == ["region"]
    assert [e.value for e in kv_store.kv_list(scope="user", user="bob")] == ["sa"]
    assert kv_store.kv_delete("user", "region", "bob") is True
    assert kv_store.kv_delete("user", "region", "bob") is False
    assert [(e.scope, e.user) for e in kv_store.kv_list("region")] == [
        ("system", ""),
        ("user", "alice"),
    ]


def test_a_bad_scope_or_key_is_refused(kv_store: Store) -> None:
    from cadenza.model.errors import InputError

    with pytest.raises(InputError, match="scope must be system or user"):
        kv_store.kv_set(DatastoreEntry("global", "k", "v"))
    with pytest.raises(InputError, match="needs the user"):
        kv_store.kv_set(DatastoreEntry("user", "k", "v"))
    with pytest.raises(InputError, match="1 to 512 characters"):
        kv_store.kv_get("system", "")


# --- the command line ---------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_kv_commands_round_trip_and_keep_no_clear_text(
    kv_store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = str(tmp_path / "cadenza.key")
    assert _cli(capsys, "keys", "create", key_file)[0] == 0
    s = ["--store", store_url]

    assert _cli(capsys, "kv", "set", "region", "eu", *s)[0] == 0
    code, _, _ = _cli(
        capsys, "kv", "set", "token", "hunter2", "--encrypt", "--key-file", key_file, *s
    )
    assert code == 0
    assert _cli(capsys, "kv", "get", "region", *s)[1] == "eu\n"
    assert _cli(capsys, "kv", "get", "token", *s)[1] == "********\n"
    code, out, _ = _cli(capsys, "kv", "get", "token", "--decrypt", "--key-file", key_file, *s)
    assert (code, out) == (0, "hunter2\n")

    code, out, _ = _cli(capsys, "kv", "list", "--json", *s)
    listed = {d["key"]: d for d in json.loads(out)}
    assert listed["token"]["value"] == "********" and listed["token"]["encrypted"] is True
    assert listed["region"]["value"] == "eu"

    row = kv_store.kv_get("system", "token")
    assert row is not None and row.encrypted
    assert "hunter2" not in row.value and row.value.startswith("fernet:")
    assert SecretKey.from_file(key_file).decrypt(row.value) == "hunter2"

    code, _, err = _cli(capsys, "kv", "set", "x", "y", "--encrypt", *s)
    assert code != 0 and "secret.key_invalid" in err
    assert _cli(capsys, "kv", "delete", "region", *s)[0] == 0
    code, _, err = _cli(capsys, "kv", "get", "region", *s)
    assert code == 2 and "datastore.key_not_found" in err


# --- workflows ----------------------------------------------------------------------

READER = """
version: 1.0
output:
  - system: <% st2kv('system.region') %>
  - mine: "{{ st2kv('colour') }}"
  - secret: <% st2kv('token', decrypt => true) %>
  - sealed: <% st2kv('token') %>
  - fallback: <% st2kv('system.nope', default => 'none') %>
  - st2: <% ctx().st2 %>
tasks:
  t1:
    action: core.noop
"""


def test_a_workflow_reads_the_values_recorded_when_it_started(kv_store: Store) -> None:
    key = SecretKey.generate()
    kv_store.kv_set(DatastoreEntry("system", "region", "eu", updated_at=1.0))
    kv_store.kv_set(DatastoreEntry("user", "colour", "red", user="alice", updated_at=1.0))
    kv_store.kv_set(DatastoreEntry("user", "colour", "blue", user="bob", updated_at=1.0))
    kv_store.kv_set(
        DatastoreEntry("user", "token", key.encrypt("hunter2"), True, "alice", updated_at=1.0)
    )
    engine, _ = _engine(kv_store, secret_key=key)
    definition = engine.register(READER, kind="orquesta", name="reader")
    execution_id = engine.start(definition, {}, context={"st2": {"user": "alice"}})
    # Changed after the start: the running execution keeps what it recorded.
    kv_store.kv_set(DatastoreEntry("system", "region", "us", updated_at=2.0))
    engine.run_until_idle()

    record = engine.get(execution_id)
    assert record.status == "succeeded", record.errors
    output = record.output
    assert isinstance(output, dict)
    assert output["system"] == "eu"
    assert output["mine"] == "red"
    assert output["secret"] == "hunter2"
    assert str(output["sealed"]).startswith("fernet:")
    assert output["fallback"] == "none"
    assert output["st2"]["user"] == "alice"
    assert output["st2"]["action_execution_id"] == execution_id
    assert output["st2"]["workflow_execution_id"] == execution_id

    started = engine.history(execution_id)[0].event
    assert isinstance(started, ExecutionStarted)
    recorded = started.meta["datastore"]
    assert "hunter2" not in json.dumps(recorded)  # encrypted values stay encrypted
    assert "hunter2" in engine.secrets_of(execution_id)  # and a decrypted one is masked

    # A replay from history alone reads the same values, whatever the store says now.
    engine.forget_held()
    kv_store.forget_snapshots([execution_id])
    interpreter = engine.compile(READER, kind="orquesta")
    replayed = interpreter.describe(replay_state(interpreter, engine.history(execution_id)))
    assert replayed.output == output


def test_decrypting_without_a_key_fails_the_expression_clearly(kv_store: Store) -> None:
    key = SecretKey.generate()
    kv_store.kv_set(DatastoreEntry("system", "token", key.encrypt("hunter2"), True, updated_at=1.0))
    engine, _ = _engine(kv_store)
    source = """
version: 1.0
output:
  - secret: <% st2kv('system.token', decrypt => true) %>
tasks:
  t1:
    action: core.noop
"""
    record = engine.get(_run(engine, source))
    assert record.status == "failed"
    message = json.dumps(record.errors)
    assert "secret.key_invalid" in message and "no key is configured" in message
    assert "hunter2" not in message


def test_a_missing_key_without_default_fails_and_names_the_key(kv_store: Store) -> None:
    engine, _ = _engine(kv_store)
    source = """
version: 1.0
output:
  - v: <% st2kv('system.absent') %>
tasks:
  t1:
    action: core.noop
"""
    record = engine.get(_run(engine, source))
    assert record.status == "failed"
    assert 'The key \\"system.absent\\" does not exist' in json.dumps(record.errors)


def test_a_computed_key_reads_the_whole_scope(kv_store: Store) -> None:
    kv_store.kv_set(DatastoreEntry("system", "a", "1", updated_at=1.0))
    kv_store.kv_set(DatastoreEntry("system", "b", "2", updated_at=1.0))
    engine, _ = _engine(kv_store)
    source = """
version: 1.0
input:
  - name: b
output:
  - v: <% st2kv('system.' + ctx().name) %>
tasks:
  t1:
    action: core.noop
"""
    execution_id = _run(engine, source)
    assert engine.get(execution_id).output == {"v": "2"}
    started = engine.history(execution_id)[0].event
    assert isinstance(started, ExecutionStarted)
    assert started.meta["datastore"]["system"] == {"a": "1", "b": "2"}


def test_a_map_given_in_code_still_answers_first(kv_store: Store) -> None:
    kv_store.kv_set(DatastoreEntry("system", "region", "eu", updated_at=1.0))
    engine, _ = _engine(kv_store, datastore={"region": "given"})
    source = """
version: 1.0
output:
  - v: <% st2kv('system.region') %>
tasks:
  t1:
    action: core.noop
"""
    assert engine.get(_run(engine, source)).output == {"v": "given"}


def test_a_workflow_that_reads_nothing_records_nothing(kv_store: Store) -> None:
    engine, _ = _engine(kv_store)
    source = "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n"
    started = engine.history(_run(engine, source))[0].event
    assert isinstance(started, ExecutionStarted)
    assert "datastore" not in started.meta


# --- pack action parameter defaults -------------------------------------------------

SHOW = ActionSpec(
    ref="demo.show",
    runner_type="python-script",
    parameters=(
        ActionParameter("message", type="string", required=True),
        ActionParameter(
            "endpoint", type="string", has_default=True, default="{{ st2kv.system.endpoint }}"
        ),
        ActionParameter(
            "who",
            type="string",
            has_default=True,
            default="{{ action_context.user }} in {{ action_context.parent.execution_id }}",
        ),
        ActionParameter(
            "region", type="string", has_default=True, default="{{ config_context.region }}"
        ),
        ActionParameter("shout", type="string", has_default=True, default="{{ message | upper }}"),
    ),
    config={"region": "eu-west"},
)


def test_pack_action_defaults_render_datastore_action_and_config_context(
    kv_store: Store,
) -> None:
    kv_store.kv_set(DatastoreEntry("system", "endpoint", "https://api", updated_at=1.0))
    engine, registry = _engine(kv_store, actions=[SHOW])
    registry.register("demo.show", lambda **params: params)
    source = """
version: 1.0
output:
  - got: <% task(t1).result %>
tasks:
  t1:
    action: demo.show
    input:
      message: hi
"""
    execution_id = _run(engine, source)
    record = engine.get(execution_id)
    assert record.status == "succeeded", record.errors
    assert record.output == {
        "got": {
            "message": "hi",
            "endpoint": "https://api",
            "who": f"alice in {execution_id}",
            "region": "eu-west",
            "shout": "HI",
        }
    }


@pytest.fixture
def key_file(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "k.key")
    write_key_file(path)
    yield path


def test_run_with_a_store_reads_the_datastore(
    kv_store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kv_store.kv_set(DatastoreEntry("system", "greeting", "hello", updated_at=1.0))
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "version: 1.0\noutput:\n  - g: <% st2kv('system.greeting') %>\n"
        "tasks:\n  t1:\n    action: core.noop\n"
    )
    code, out, _ = _cli(capsys, "run", str(flow), "--json", "--quiet", "--store", store_url)
    assert code == 0
    assert json.loads(out)["output"] == {"g": "hello"}
    opened = open_store(store_url)
    opened.close()


def test_a_subworkflow_reads_what_its_parent_recorded(kv_store: Store) -> None:
    from cadenza.interpreters.orquesta.actions import workflow_action

    kv_store.kv_set(DatastoreEntry("system", "region", "eu", updated_at=1.0))
    engine, _ = _engine(kv_store, actions=[workflow_action("demo.child", "child")])
    engine.register(
        "version: 1.0\noutput:\n  - region: <% st2kv('system.region') %>\n"
        "tasks:\n  t1:\n    action: core.noop\n",
        kind="orquesta",
        name="child",
    )
    parent = """
version: 1.0
output:
  - got: <% task(call).result.output.region %>
tasks:
  call:
    action: demo.child
"""
    definition = engine.register(parent, kind="orquesta", name="parent")
    execution_id = engine.start(definition, {})
    kv_store.kv_set(DatastoreEntry("system", "region", "us", updated_at=2.0))
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded", record.errors
    assert record.output == {"got": "eu"}  # the parent's record, not today's value
    (child,) = kv_store.list_executions(parent_id=execution_id)
    started = engine.history(child.id)[0].event
    assert isinstance(started, ExecutionStarted)
    assert started.meta["datastore"]["system"] == {"region": "eu"}
    assert "datastore" not in started.meta["parent"]


def test_a_whole_scope_is_recorded_up_to_its_bound(
    kv_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cadenza.engine import datastore_snapshot

    monkeypatch.setattr(datastore_snapshot, "MAX_SCOPE_ENTRIES", 2)
    for name in ("a", "b", "c", "d"):
        kv_store.kv_set(DatastoreEntry("system", name, name.upper(), updated_at=1.0))
    engine, _ = _engine(kv_store)
    source = """
version: 1.0
input:
  - name: c
output:
  - named: <% st2kv('system.d') %>
  - computed: <% st2kv('system.' + ctx().name) %>
tasks:
  t1:
    action: core.noop
"""
    execution_id = _run(engine, source)
    started = engine.history(execution_id)[0].event
    assert isinstance(started, ExecutionStarted)
    recorded = started.meta["datastore"]
    # The first two by key, and the key named literally.
    assert recorded["system"] == {"a": "A", "b": "B", "d": "D"}
    assert recorded["partial"] == ["system"]
    record = engine.get(execution_id)
    assert record.status == "failed"
    assert "more entries than are recorded" in json.dumps(record.errors)


def test_without_a_named_user_an_execution_runs_as_the_os_user(kv_store: Store) -> None:
    from cadenza.engine.datastore_snapshot import default_user

    kv_store.kv_set(DatastoreEntry("user", "colour", "green", user=default_user()))
    kv_store.kv_set(DatastoreEntry("user", "colour", "red", user="someone-else"))
    engine, _ = _engine(kv_store)
    source = """
version: 1.0
output:
  - colour: <% st2kv('colour') %>
  - user: <% ctx().st2.user %>
tasks:
  t1:
    action: core.noop
"""
    definition = engine.register(source, kind="orquesta", name="reader")
    execution_id = engine.start(definition, {})
    engine.run_until_idle()
    assert engine.get(execution_id).output == {"colour": "green", "user": default_user()}


def test_decrypt_kv_in_a_parameter_default(kv_store: Store) -> None:
    key = SecretKey.generate()
    kv_store.kv_set(DatastoreEntry("system", "token", key.encrypt("hunter2"), True, updated_at=1.0))
    spec = ActionSpec(
        ref="demo.auth",
        runner_type="python-script",
        parameters=(
            ActionParameter(
                "token",
                type="string",
                has_default=True,
                default="{{ st2kv.system.token | decrypt_kv }}",
                secret=True,
            ),
        ),
    )
    engine, registry = _engine(kv_store, actions=[spec], secret_key=key)
    registry.register("demo.auth", lambda token: {"length": len(token), "ok": token == "hunter2"})
    source = """
version: 1.0
output:
  - r: <% task(t1).result %>
tasks:
  t1:
    action: demo.auth
"""
    record = engine.get(_run(engine, source))
    assert record.status == "succeeded", record.errors
    assert record.output == {"r": {"length": 7, "ok": True}}


def test_the_kv_command_in_its_own_process(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "CADENZA_STORE": f"sqlite:///{tmp_path / 'c.db'}"}
    env["CADENZA_KEY_FILE"] = str(tmp_path / "k.key")

    def cadenza(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cadenza.cli.main", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert cadenza("keys", "create", env["CADENZA_KEY_FILE"]).returncode == 0
    assert cadenza("kv", "set", "pw", "hunter2", "--encrypt", "--scope", "user").returncode == 0
    listed = cadenza("kv", "list")
    assert listed.returncode == 0 and "********" in listed.stdout and "hunter2" not in listed.stdout
    shown = cadenza("kv", "get", "pw", "--scope", "user", "--decrypt", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["value"] == "hunter2"
    again = cadenza("keys", "create", env["CADENZA_KEY_FILE"])
    assert again.returncode != 0 and "secret.key_invalid" in again.stderr
