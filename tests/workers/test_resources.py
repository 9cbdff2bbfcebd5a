"""The resource map: ARNs answered by Python callables, HTTP endpoints and shell commands."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from cadenza.model.errors import InputError
from cadenza.workers.attempt import run_activity
from cadenza.workers.context import ActivityContext
from cadenza.workers.registry import ActivityRegistry
from cadenza.workers.resources import load_resource_map, register_resources

FN = "arn:aws:lambda:us-east-1:111111111111:function:"
COUNT = "import json,sys; print(len(json.load(sys.stdin)))"


def call(registry: ActivityRegistry, arn: str, event: object) -> tuple[str, object]:
    outcome = run_activity(registry, arn, event, ActivityContext("e", "t"))
    return outcome.status.value, outcome.result if outcome.error is None else outcome.error.type


@pytest.fixture
def echo_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status = 500 if body == "boom" else 200
            payload = json.dumps({"got": body}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fn"
    server.shutdown()
    server.server_close()


def test_each_handler_kind_answers_with_the_whole_event(
    tmp_path: Path, echo_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handlers_for_test.py").write_text(
        "def double(event):\n    return [x * 2 for x in event]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    mapping = tmp_path / "resources.yaml"
    mapping.write_text(
        f"{FN}double:\n  python: handlers_for_test:double\n"
        f"{FN}web:\n  http: {echo_server}\n"
        f"{FN}count:\n  shell: {sys.executable} -c '{COUNT}'\n"
        f"{FN}fails:\n  shell: echo nope >&2; exit 3\n"
    )
    registry = ActivityRegistry()
    register_resources(registry, load_resource_map(mapping))
    assert call(registry, f"{FN}double", [1, 2]) == ("succeeded", [2, 4])
    assert call(registry, f"{FN}web", {"a": 1}) == ("succeeded", {"got": {"a": 1}})
    assert call(registry, f"{FN}web", "boom") == ("failed", "http.500")
    assert call(registry, f"{FN}count", [1, 2, 3]) == ("succeeded", 3)
    assert call(registry, f"{FN}fails", {}) == ("failed", "command.failed")
    assert call(registry, f"{FN}missing", {}) == ("failed", "action.not_found")


def test_a_bad_resource_map_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"{FN}x:\n  python: a:b\n  shell: c\n")
    with pytest.raises(InputError, match="exactly one of python, http, shell"):
        load_resource_map(bad)
    bad.write_text(f"{FN}x:\n  python: no_such_module_here:f\n")
    with pytest.raises(InputError, match="cannot load python handler"):
        register_resources(ActivityRegistry(), load_resource_map(bad))


def test_a_shell_handler_is_killed_at_its_timeout() -> None:
    from cadenza.model.errors import ActivityError

    arn = "arn:aws:lambda:us-east-1:111111111111:function:stuck"
    registry = ActivityRegistry()
    command = "sleep 30"  # without the timeout, the test would time out first
    register_resources(registry, {arn: {"shell": {"command": command, "timeout": 0.5}}})
    handler = registry.get(arn).fn
    with pytest.raises(ActivityError) as raised:
        handler({"n": 1})
    assert raised.value.type == "States.Timeout"
    assert "did not finish within 0.5 s" in raised.value.message


def test_a_resource_maps_s3_entry_is_checked_when_read(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("s3:\n  endpoint_url: http://127.0.0.1:9000\n  region: us-east-1\n")
    registry = ActivityRegistry()
    register_resources(registry, load_resource_map(good))
    assert "states.s3.read_items" in registry.names()
    bad = tmp_path / "bad.yaml"
    bad.write_text("s3:\n  endpoint: http://127.0.0.1:9000\n")
    with pytest.raises(InputError, match="unknown key"):
        load_resource_map(bad)
