"""core.remote and core.remote_sudo against a real sshd started on 127.0.0.1.

The test starts Debian's ``/usr/sbin/sshd`` (package openssh-server) in the
foreground on a free port, with its own host key, authorized_keys and config
in a temporary folder, logging in as the current user. Without sshd the
tests skip (and fail under ``CADENZA_REQUIRE_ALL=1``, see tests/conftest.py).

A fake ``sudo`` first on the remote ``PATH`` records how it was called and
runs the command, so the sudo wrapping is checked the same way on machines
with and without a real sudo.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cadenza.workers import ActivityContext, ActivityRegistry, run_activity
from cadenza.workers.builtins.remote_shell import load_asyncssh

SSHD = Path("/usr/sbin/sshd")
#: Seconds to wait for sshd to accept connections.
START_DEADLINE = 20.0

FAKE_SUDO = """#!/bin/sh
# Records its arguments (and, with -S, the password line) on stderr, then runs
# the command after "--" as the real sudo would, as the same user.
echo "sudo-args: $*" >&2
case " $* " in *" -S "*) read -r secret; echo "sudo-password: $secret" >&2 ;; esac
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
exec "$@"
"""


@dataclass(frozen=True)
class SSHServer:
    """A running sshd: where it listens and how to log in."""

    port: int
    username: str
    key_path: Path
    key_material: str
    host_public_key: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"sshd exited with code {proc.returncode}: {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet, under a deadline
    raise RuntimeError(f"sshd did not listen on port {port} within {START_DEADLINE} s")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    if not SSHD.exists():
        pytest.skip(f"openssh-server is not installed ({SSHD} is missing)")
    if os.geteuid() == 0:
        # A root sshd needs its privilege separation folder, which the
        # service manager creates on a normal boot.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    asyncssh = load_asyncssh()
    home = tmp_path_factory.mktemp("sshd")
    host_key = home / "host_key"
    host_private = asyncssh.generate_private_key("ssh-ed25519")
    host_private.write_private_key(str(host_key))
    host_key.chmod(0o600)
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = home / "client_key"
    client_key.write_private_key(str(key_path))
    key_path.chmod(0o600)
    (home / "authorized_keys").write_bytes(client_key.export_public_key())
    fake_bin = home / "bin"
    fake_bin.mkdir()
    (fake_bin / "sudo").write_text(FAKE_SUDO)
    (fake_bin / "sudo").chmod(0o755)
    port = _free_port()
    config = home / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {home / 'authorized_keys'}",
                f"PidFile {home / 'sshd.pid'}",
                "StrictModes no",
                "UsePAM no",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication yes",
                "KbdInteractiveAuthentication no",
                f"SetEnv PATH={fake_bin}:/usr/local/bin:/usr/bin:/bin",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    proc = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(port, proc)
        yield SSHServer(
            port=port,
            username=getpass.getuser(),
            key_path=key_path,
            key_material=key_path.read_text(),
            host_public_key=host_private.export_public_key().decode().strip(),
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _params(server: SSHServer, **extra: object) -> dict[str, object]:
    return {
        "hosts": "127.0.0.1",
        "port": server.port,
        "username": server.username,
        "private_key": str(server.key_path),
        **extra,
    }


def test_runs_the_command_and_reports_per_host(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(
        registry, "core.remote", _params(sshd, cmd="echo hello; echo oops >&2"), context
    )
    assert outcome.status == "succeeded", outcome
    assert outcome.result == {
        "127.0.0.1": {
            "stdout": "hello",
            "stderr": "oops",
            "return_code": 0,
            "succeeded": True,
            "failed": False,
        }
    }


def test_key_material_cwd_and_env(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext, tmp_path: Path
) -> None:
    params = _params(
        sshd,
        private_key=sshd.key_material,
        cmd='pwd; echo "$GREETING $PORT_NO"',
        cwd=str(tmp_path),
        env={"GREETING": "it's a 'quoted' value", "PORT_NO": 8080},
    )
    outcome = run_activity(registry, "core.remote", params, context)
    assert outcome.status == "succeeded", outcome
    assert outcome.result["127.0.0.1"]["stdout"] == f"{tmp_path}\nit's a 'quoted' value 8080"


def test_default_cwd_is_tmp_and_json_output_is_parsed(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(
        registry, "core.remote", _params(sshd, cmd="pwd >&2; echo '{\"n\": [1, 2]}'"), context
    )
    host = outcome.result["127.0.0.1"]
    assert host["stdout"] == {"n": [1, 2]}  # StackStorm parses JSON output
    assert host["stderr"] == "/tmp"


def test_hosts_run_in_parallel(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext, tmp_path: Path
) -> None:
    # Both hosts are this sshd under two names. Each command leaves a marker
    # and waits (up to 20 s) for the other's: both see two markers only if
    # they run at the same time.
    markers = tmp_path / "markers"
    markers.mkdir()
    cmd = (
        f"touch {markers}/$$; for i in $(seq 200); do"
        f' [ "$(ls {markers} | wc -l)" -ge 2 ] && break; sleep 0.1; done;'
        f' [ "$(ls {markers} | wc -l)" -ge 2 ] && echo together'
    )
    outcome = run_activity(
        registry, "core.remote", _params(sshd, hosts="127.0.0.1, localhost", cmd=cmd), context
    )
    assert outcome.status == "succeeded", outcome
    assert set(outcome.result) == {"127.0.0.1", "localhost"}
    assert [r["stdout"] for r in outcome.result.values()] == ["together", "together"]


def test_a_host_that_cannot_be_reached_fails_the_action(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext
) -> None:
    closed = _free_port()
    outcome = run_activity(
        registry,
        "core.remote",
        _params(sshd, hosts=f"127.0.0.1,localhost:{closed}", cmd="echo fine"),
        context,
    )
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "ssh.connection_failed"
    assert "localhost" in outcome.error.message and "1 of 2" in outcome.error.message
    assert outcome.result["127.0.0.1"]["stdout"] == "fine"
    bad = outcome.result["localhost"]
    assert bad["failed"] is True and bad["succeeded"] is False
    assert bad["return_code"] == 255 and bad["timeout"] is False
    assert str(closed) in bad["error"]


def test_non_zero_exit_fails_with_the_output(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(
        registry, "core.remote", _params(sshd, cmd="echo partial; exit 3"), context
    )
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.type == "command.failed"
    assert "exit code 3" in outcome.error.message
    assert outcome.result == {
        "127.0.0.1": {
            "stdout": "partial",
            "stderr": "",
            "return_code": 3,
            "succeeded": False,
            "failed": True,
        }
    }


def test_wrong_password_is_a_connection_failure(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext
) -> None:
    params = _params(sshd, cmd="true", password="not-the-password")
    del params["private_key"]
    outcome = run_activity(registry, "core.remote", params, context)
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.type == "ssh.connection_failed"
    host = outcome.result["127.0.0.1"]
    assert host["return_code"] == 255
    assert "auth" in host["error"].lower() or "permission denied" in host["error"].lower()


def test_timeout_keeps_the_output_so_far(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(
        registry, "core.remote", _params(sshd, cmd="echo started; sleep 30", timeout=1), context
    )
    assert outcome.status == "timeout"
    host = outcome.result["127.0.0.1"]
    assert host["timeout"] is True and host["return_code"] == -9
    assert host["stdout"] == "started"
    assert "1 second" in host["error"]


def test_cancel_stops_the_command(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext
) -> None:
    threading.Timer(0.5, context.cancel).start()
    outcome = run_activity(registry, "core.remote", _params(sshd, cmd="sleep 30"), context)
    assert outcome.status == "canceled"


def test_known_hosts_checks_the_host_key(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {sshd.host_public_key}\n")
    trusted = run_activity(
        registry, "core.remote", _params(sshd, cmd="echo ok", known_hosts=str(known)), context
    )
    assert trusted.status == "succeeded", trusted
    stranger = load_asyncssh().generate_private_key("ssh-ed25519").export_public_key().decode()
    known.write_text(f"[127.0.0.1]:{sshd.port} {stranger.strip()}\n")
    refused = run_activity(
        registry, "core.remote", _params(sshd, cmd="echo ok", known_hosts=str(known)), context
    )
    assert refused.status == "failed"
    assert refused.error is not None and refused.error.type == "ssh.connection_failed"
    assert refused.result["127.0.0.1"]["stdout"] == ""


def test_sudo_wraps_the_command(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(
        registry,
        "core.remote_sudo",
        _params(sshd, cmd='echo "$X"; pwd', cwd="/", env={"X": "a b"}),
        context,
    )
    assert outcome.status == "succeeded", outcome
    host = outcome.result["127.0.0.1"]
    assert host["stdout"] == "a b\n/"
    assert host["stderr"].startswith("sudo-args: -E -- bash -c ")


def test_sudo_password_goes_to_sudo_on_stdin(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(
        registry,
        "core.remote",
        _params(sshd, cmd="echo ran", sudo=True, sudo_password="s3cret"),
        context,
    )
    assert outcome.status == "succeeded", outcome
    host = outcome.result["127.0.0.1"]
    assert host["stdout"] == "ran"
    assert "sudo-args: -S " in host["stderr"]
    assert "sudo-password: s3cret" in host["stderr"]


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"hosts": " , ", "cmd": "true"}, "hosts"),
        ({"hosts": "h", "cmd": "  "}, "cmd"),
        ({"hosts": "h", "cmd": "true", "port": 0}, "port"),
        ({"hosts": "h:x", "cmd": "true"}, "port"),
        ({"hosts": "h", "cmd": "true", "timeout": -1}, "timeout"),
        ({"hosts": "h", "cmd": "true", "env": {"A": [1]}}, "env"),
        ({"hosts": "h", "cmd": "true", "env": {"A B": "x"}}, "env"),
        ({"hosts": "h", "cmd": "true", "private_key": "/no/such/key"}, "private_key"),
        ({"hosts": "h", "cmd": "true", "bastion_host": "b"}, "bastion_host"),
    ],
)
def test_invalid_input_is_refused_before_connecting(
    registry: ActivityRegistry, context: ActivityContext, params: dict[str, object], problem: str
) -> None:
    outcome = run_activity(registry, "core.remote", params, context)
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "input.invalid" and outcome.error.non_retryable
    assert problem in outcome.error.message


def test_remote_sudo_refuses_sudo_false(
    registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(
        registry, "core.remote_sudo", {"hosts": "h", "cmd": "true", "sudo": False}, context
    )
    assert outcome.error is not None and outcome.error.type == "input.invalid"
    assert "core.remote_sudo" in outcome.error.message


def _gone(pid: int, within: float) -> bool:
    """Whether process ``pid`` (on this machine, where sshd runs) ends within ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)  # polling another process's end, under a deadline
    return False


def test_timeout_kills_the_remote_command(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(
        registry, "core.remote", _params(sshd, cmd="sleep 60 & echo $!; wait", timeout=1), context
    )
    assert outcome.status == "timeout"
    # The sleep is a child of the command's shell: it must die with it.
    assert _gone(int(outcome.result["127.0.0.1"]["stdout"]), within=10)


def test_cancel_kills_the_remote_command(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    cancel_when_started = threading.Thread(
        target=lambda: _wait_for_file(pid_file, within=20) and context.cancel()
    )
    cancel_when_started.start()
    outcome = run_activity(
        registry,
        "core.remote",
        _params(sshd, cmd=f"sleep 60 & echo $! > {pid_file}; wait"),
        context,
    )
    cancel_when_started.join()
    assert outcome.status == "canceled"
    assert _gone(int(pid_file.read_text()), within=10)


def test_sudo_command_is_killed_on_timeout(
    sshd: SSHServer, registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(
        registry,
        "core.remote_sudo",
        _params(sshd, cmd="sleep 60 & echo $!; wait", timeout=1, sudo_password="pw"),
        context,
    )
    assert outcome.status == "timeout"
    assert _gone(int(outcome.result["127.0.0.1"]["stdout"]), within=10)


def _wait_for_file(path: Path, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return True
        time.sleep(0.05)  # polling for the remote command to start, under a deadline
    return False


REMOTE_WORKFLOW = """
version: 1.0
input: [port, key]
tasks:
  check:
    action: core.remote
    input:
      hosts: 127.0.0.1
      port: <% ctx().port %>
      private_key: <% ctx().key %>
      cmd: "echo '{\\"answer\\": 42}'"
    next:
      - when: <% succeeded() %>
        publish:
          - answer: "{{ result()['127.0.0.1'].stdout.answer }}"
output:
  - answer: <% ctx().answer %>
"""


def test_an_orquesta_workflow_reads_the_per_host_result(sshd: SSHServer, tmp_path: Path) -> None:
    from cadenza.engine.engine import Engine

    engine = Engine(f"sqlite:///{tmp_path / 'cadenza.db'}")
    try:
        definition = engine.register(REMOTE_WORKFLOW, kind="orquesta")
        record = engine.run(definition, {"port": sshd.port, "key": str(sshd.key_path)}, timeout=60)
    finally:
        engine.close()
    assert record.status == "succeeded", record.errors
    assert record.output == {"answer": 42}
