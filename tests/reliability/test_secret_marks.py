"""Where actions mark their results secret: a code activity's ``secret_result``,
a pack action's ``output_schema``; and what the store learns from a marked
event so that it seals the secret wherever it is copied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cadenza.code import activity
from cadenza.encryption import SecretKey
from cadenza.model.errors import InputError
from cadenza.model.secrets import secret_meta
from cadenza.packs.metadata import read_pack
from cadenza.store.secrets_at_rest import KnownSecrets, learn


@activity(secret_result=["$.token", "$.keys[*]"])
def log_in(user: str) -> dict[str, object]:
    return {"user": user, "token": "tok-5150", "keys": ["k-1111", "k-2222"]}


@activity(secret_result=True)
def api_key() -> str:
    return "key-8086"


@activity
def plain() -> str:
    return "nothing to hide"


def test_secret_result_marks_what_the_activity_returns() -> None:
    marked = log_in.run_task({"args": ["ann"]})
    assert marked == {
        "user": "ann",
        "token": {"$secret": "tok-5150"},
        "keys": [{"$secret": "k-1111"}, {"$secret": "k-2222"}],
    }
    assert api_key.run_task({}) == {"$secret": "key-8086"}
    assert plain.run_task({}) == "nothing to hide"
    # What the worker records: the plain result, and where the secrets were.
    result, meta = secret_meta(marked)
    assert result == {"user": "ann", "token": "tok-5150", "keys": ["k-1111", "k-2222"]}
    assert meta == {"secret_paths": [["token"], ["keys", 0], ["keys", 1]]}
    assert secret_meta("nothing to hide") == ("nothing to hide", {})
    # Calling the function directly (a unit test of the activity) gives it unmarked.
    assert api_key() == "key-8086"


def test_a_mistyped_secret_result_path_fails_at_declaration() -> None:
    with pytest.raises(InputError, match="must start with"):
        activity(secret_result=["token"])(lambda: None)


def test_output_schema_secret_properties_become_result_paths(tmp_path: Path) -> None:
    actions = tmp_path / "vault" / "actions"
    actions.mkdir(parents=True)
    (tmp_path / "vault" / "pack.yaml").write_text("ref: vault\n")
    (actions / "issue.py").write_text("")
    (actions / "issue.yaml").write_text(
        "name: issue\nrunner_type: python-script\nentry_point: issue.py\n"
        "output_schema:\n  type: object\n  properties:\n"
        "    token: {type: string, secret: true}\n    user: {type: string}\n"
    )
    (actions / "shell.yaml").write_text(
        "name: shell\nrunner_type: local-shell-cmd\n"
        "output_schema:\n  password: {type: string, secret: true}\n"
    )
    found = {a.ref: a.secret_output for a in read_pack(tmp_path / "vault").actions}
    assert found == {
        "vault.issue": ('$.result["token"]',),
        "vault.shell": ('$.stdout["password"]',),
    }


def test_the_store_learns_the_secrets_a_task_result_marks() -> None:
    known = KnownSecrets()
    key = SecretKey.generate()
    payload = {"task_id": "t", "result": {"token": "tok-5150"}, "meta": secret_meta({})[1]}
    learn(payload, lambda: key, known)
    assert known.current() == frozenset()  # nothing marked: nothing learnt
    payload["meta"] = {"secret_paths": [["token"]]}
    learn(payload, lambda: None, known)
    assert known.current() == frozenset()  # no key: secrets are kept as given anyway
    learn(payload, lambda: key, known)
    assert known.current() == {"tok-5150"}
    scheduled = {
        "task_id": "u",
        "input": {"password": "pw-2600"},
        "meta": {"secret_paths": [["password"]]},
    }
    learn(json.loads(json.dumps(scheduled)), lambda: key, known)
    assert "pw-2600" in known.current()
