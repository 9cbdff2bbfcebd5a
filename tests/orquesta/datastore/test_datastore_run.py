"""``cadenza run`` reads the datastore: the key file decrypts, and Jinja's
attribute form ``{{ st2kv.system.x }}`` works as StackStorm's does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cadenza.cli.main import main
from cadenza.store.protocol import Store

WORKFLOW = """
version: 1.0
tasks:
  nothing:
    action: core.noop
output:
  - region: "{{ st2kv.system.region }}"
  - token: "{{ st2kv('system.token', decrypt=true) }}"
  - missing: <% st2kv('system.nope', default => 'fallback') %>
"""


def test_run_decrypts_with_the_key_file_and_masks_what_it_decrypted(
    store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = str(tmp_path / "cadenza.key")
    s = ["--store", store_url]
    assert main(["keys", "create", key]) == 0
    assert main(["kv", "set", "region", "eu", *s]) == 0
    assert main(["kv", "set", "token", "hunter2", "--encrypt", "--key-file", key, *s]) == 0
    flow = tmp_path / "reader.yaml"
    flow.write_text(WORKFLOW)
    capsys.readouterr()

    assert main(["run", str(flow), "--key-file", key, "--json", *s]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "succeeded"
    # What the run shows masks the decrypted value; the workflow had it in clear.
    assert shown["output"] == {"region": "eu", "token": "********", "missing": "fallback"}
    (record,) = store.list_executions()
    assert record.output == {"region": "eu", "token": "hunter2", "missing": "fallback"}


def test_run_without_the_key_names_what_is_missing(
    store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = str(tmp_path / "cadenza.key")
    s = ["--store", store_url]
    assert main(["keys", "create", key]) == 0
    assert main(["kv", "set", "region", "eu", *s]) == 0
    assert main(["kv", "set", "token", "hunter2", "--encrypt", "--key-file", key, *s]) == 0
    flow = tmp_path / "reader.yaml"
    flow.write_text(WORKFLOW)
    capsys.readouterr()

    assert main(["run", str(flow), "--json", *s]) != 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "failed"
    assert "key" in json.dumps(shown["errors"]).lower()
