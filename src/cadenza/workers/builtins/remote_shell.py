"""``core.remote`` and ``core.remote_sudo``: run a shell command on hosts over SSH.

The parameters are those of StackStorm's ``remote-shell-cmd`` runner, and
the result has its shape: one entry per host, keyed by host name (without
the port)::

    {"web1": {"stdout": ..., "stderr": ..., "return_code": 0,
              "succeeded": true, "failed": false}}

As in StackStorm, one trailing newline is removed from each stream and a
stream that is a JSON document is parsed (``result.web1.stdout.key`` works
on a command printing JSON). A host where the command could not run (no
connection, refused login, timeout) gets ``"error"`` (the reason) and
``"timeout"`` next to those keys, with ``return_code`` 255, or -9 after a
timeout.

The remote command is built as StackStorm builds it: ``export`` of ``env``,
then ``cd`` to ``cwd`` (``/tmp`` by default), then ``cmd``, all inside
``sudo -E -- bash -c '...'`` when ``sudo`` is set. Unlike StackStorm, a
timeout or a cancellation also stops the command on the host, with every
process it started (see :func:`_watched`).

Outcomes and error types:

=====================================  ==========  ========================
what happened                          status      error type
=====================================  ==========  ========================
every host exited with code 0          succeeded   none
some host exited non-zero or timed     failed      ``command.failed``
out (others may have succeeded)
only connection or login failures      failed      ``ssh.connection_failed``
every host timed out                   timeout     ``task.timeout``
cancelled                              canceled    ``task.canceled``
bad input (no hosts, bad port, ...)    failed      ``input.invalid``
=====================================  ==========  ========================

The result is reported with every outcome but the last. Host keys are not
checked, as StackStorm does not check them: pass ``known_hosts`` (a path to
an OpenSSH ``known_hosts`` file) to check them.
"""

from __future__ import annotations

import contextlib
import getpass
import inspect
import json
import re
import shlex
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cadenza.model.errors import ActivityError, InputError
from cadenza.model.events import JSON
from cadenza.workers.context import ActivityContext
from cadenza.workers.outcome import ActivityOutcome

if TYPE_CHECKING:
    import asyncssh

#: Error type of a command that exited non-zero, or timed out next to others that ran.
COMMAND_FAILED = "command.failed"
#: Error type when the command ran nowhere because no host could be reached or logged into.
CONNECTION_FAILED = "ssh.connection_failed"

#: Default seconds for each host (connecting and running), as in StackStorm.
DEFAULT_TIMEOUT = 60.0
#: Default port when neither ``port`` nor ``host:port`` gives one.
DEFAULT_PORT = 22
#: Default working directory on the remote host, as in StackStorm.
DEFAULT_CWD = "/tmp"
#: Return code reported for a host where the command could not run.
NOT_RUN_CODE = 255
#: Return code reported for a host whose command was stopped by the timeout.
TIMEOUT_CODE = -9
#: Seconds between checks for cancellation; bounds how late a cancel is noticed.
POLL_INTERVAL = 0.1
#: Seconds to wait for a stopped command's channel to close before dropping it.
STOP_GRACE = 5.0
#: Seconds between heartbeats sent while commands run.
HEARTBEAT_INTERVAL = 5.0

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class _Target:
    """One host to run on: the name it is reported under and where to connect."""

    name: str
    address: str
    port: int


@dataclass(frozen=True)
class _Login:
    """How to log in, the same for every host."""

    username: str
    password: str | None
    keys: list[asyncssh.SSHKey] | None
    known_hosts: str | None


@dataclass
class _HostRun:
    """How the command went on one host: ``kind`` is ok, exit, connect, timeout or canceled."""

    kind: str
    result: dict[str, JSON]


async def remote(
    *,
    hosts: str,
    cmd: str,
    context: ActivityContext,
    username: str | None = None,
    password: str | None = None,
    private_key: str | None = None,
    passphrase: str | None = None,
    port: int | None = None,
    cwd: str | None = DEFAULT_CWD,
    env: Mapping[str, JSON] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    parallel: bool = True,
    sudo: bool = False,
    sudo_password: str | None = None,
    known_hosts: str | None = None,
    bastion_host: str | None = None,
    dir: str | None = None,
    kwarg_op: str | None = None,
) -> ActivityOutcome:
    """Run ``cmd`` on every host of ``hosts`` over SSH and report each host's output.

    ``hosts`` is a comma-separated list (``web1,web2:2222,[::1]:22``).
    ``username`` defaults to the worker's user; ``private_key`` is a path to
    a key file or the key itself (``-----BEGIN ... PRIVATE KEY-----``), with
    ``passphrase`` if it is encrypted; ``password`` logs in by password.
    Without either, the worker's own SSH keys and agent are used. ``env`` is
    exported before ``cwd`` is entered; ``timeout`` (seconds) applies to each
    host; ``parallel`` runs the hosts at the same time (else one after
    another). ``sudo`` runs the command with ``sudo -E``, giving it
    ``sudo_password`` on standard input when set. ``dir`` and ``kwarg_op``
    are accepted for StackStorm metadata that sets them and mean nothing
    for a command; ``bastion_host`` is not supported.
    """
    targets, env_vars = _check_input(hosts, cmd, port, timeout, env, bastion_host)
    login = _Login(
        username=username or _worker_user(),
        password=password,
        keys=_load_keys(private_key, passphrase),
        known_hosts=known_hosts,
    )
    command = _full_command(cmd, cwd, env_vars, sudo, sudo_password)
    stdin = f"{sudo_password}\n" if sudo and sudo_password is not None else None
    runs = await _run_all(targets, login, command, stdin, float(timeout), bool(parallel), context)
    return _outcome(targets, runs)


async def remote_sudo(**params: Any) -> ActivityOutcome:
    """``core.remote`` with ``sudo`` always on (StackStorm's ``core.remote_sudo``)."""
    if params.get("sudo") is False:
        raise ActivityError(
            "core.remote_sudo: always runs with sudo; use core.remote for sudo: false",
            type=InputError.code,
            non_retryable=True,
        )
    params["sudo"] = True
    return await remote(**params)


# The registry reads the signature to pass the context and to check the input
# before the call: core.remote_sudo takes exactly the parameters of core.remote.
remote_sudo.__signature__ = inspect.signature(remote)  # type: ignore[attr-defined]


def _worker_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError) as exc:  # no USER variable and no passwd entry
        raise _bad(f"username is required: the worker's own user is unknown ({exc})") from exc


def _bad(why: str) -> ActivityError:
    return ActivityError(f"core.remote: {why}", type=InputError.code, non_retryable=True)


def _check_input(
    hosts: object,
    cmd: object,
    port: object,
    timeout: object,
    env: Mapping[str, JSON] | None,
    bastion_host: str | None,
) -> tuple[list[_Target], dict[str, str]]:
    if not isinstance(cmd, str) or not cmd.strip():
        raise _bad("cmd must be a non-empty string")
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
    ):
        raise _bad(f"port must be a number from 1 to 65535, not {port!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise _bad(f"timeout must be a positive number of seconds, not {timeout!r}")
    if bastion_host:
        raise _bad("bastion_host is not supported; reach the hosts directly")
    if not isinstance(hosts, str):
        raise _bad(f"hosts must be a comma-separated string, not {type(hosts).__name__}")
    targets = _parse_hosts(hosts, port if isinstance(port, int) else DEFAULT_PORT)
    env_vars: dict[str, str] = {}
    for key, value in (env or {}).items():
        if not _ENV_NAME.fullmatch(str(key)):
            raise _bad(f"env: {key!r} is not a valid environment variable name")
        # Numbers are accepted because YAML turns `PORT: 8080` into one.
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise _bad(f"env[{key!r}] must be a string or a number, not {type(value).__name__}")
        env_vars[str(key)] = str(value)
    return targets, env_vars


def _parse_hosts(hosts: str, default_port: int) -> list[_Target]:
    targets: list[_Target] = []
    for item in (part.strip() for part in hosts.split(",")):
        if not item:
            continue
        address, port_text = item, None
        if item.startswith("["):  # [IPv6]:port
            address, _, rest = item[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else None
        elif item.count(":") == 1:
            address, port_text = item.split(":")
        port = default_port
        if port_text is not None:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise _bad(f"hosts: bad port in {item!r}")
            port = int(port_text)
        targets.append(_Target(address, address, port))
    if not targets:
        raise _bad(f"hosts must name at least one host, not {hosts!r}")
    # StackStorm reports each host under its name alone; keep the port in the
    # name only where two entries would otherwise share one.
    names = [t.name for t in targets]
    return [
        _Target(f"{t.name}:{t.port}", t.address, t.port) if names.count(t.name) > 1 else t
        for t in targets
    ]


def load_asyncssh() -> ModuleType:
    """Import asyncssh, without the cryptography deprecation warnings it triggers.

    Imported on first use, not with this module: asyncssh and cryptography
    cost start-up time in every process, and most workers never run a
    remote command. asyncssh still imports DSA support, which cryptography
    deprecates with a warning that would reach every user's terminal.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="DSA is deprecated")
        import asyncssh
    return asyncssh


def _load_keys(private_key: str | None, passphrase: str | None) -> list[asyncssh.SSHKey] | None:
    if not private_key:
        return None
    asyncssh = load_asyncssh()

    try:
        if "PRIVATE KEY-----" in private_key:
            return [asyncssh.import_private_key(private_key, passphrase)]
        path = Path(private_key).expanduser()
        if not path.is_file():
            raise _bad(f"private_key: no key file at {private_key!r}")
        return [asyncssh.read_private_key(path, passphrase)]
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, OSError) as exc:
        raise _bad(f"private_key cannot be read: {exc}") from exc


def _full_command(
    cmd: str, cwd: str | None, env: Mapping[str, str], sudo: bool, sudo_password: str | None
) -> str:
    parts = []
    if env:
        parts.append("export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()))
    if cwd:
        parts.append(f"cd {shlex.quote(cwd)}")
    parts.append(cmd)
    command = " && ".join(parts)
    if not sudo:
        return _watched(command)
    # -E keeps the exported variables. The user's shell may not signal root's
    # processes, so the command under sudo kills its own group when sudo
    # relays the TERM the watcher sends it.
    inner = f"sudo -E -- bash -c {shlex.quote(_killed_on_term(command))}"
    if sudo_password is None:
        return _watched(inner)
    # The password is the first line of standard input; printf is a shell
    # built-in, so it never shows in the remote process list. -p '' keeps
    # sudo's prompt out of the command's stderr.
    inner = inner.replace("sudo -E", "sudo -S -p '' -E", 1)
    return _watched(f'printf "%s\\n" "$cadenza_pw" | {inner}', read_password=True)


def _watched(command: str, read_password: bool = False) -> str:
    """``command`` wrapped so that it is killed, with all it started, when the client leaves.

    sshd does not stop a command when its channel closes (there is no
    terminal to hang up), and OpenSSH refuses signals sent over the channel
    in some set-ups (a root login). What every sshd does is close the
    command's standard input when the channel closes. So the command runs in
    the background with ``/dev/null`` as input, and a watcher reads the
    channel's input until end of file: the client sends end of file to stop
    the command (timeout, cancel), and a client that vanishes closes the
    channel, which does the same. The watcher then signals the session's
    process group (sshd makes each session's shell a group leader): ``TERM``
    first, so that sudo can relay it, then ``KILL``.
    """
    read = "IFS= read -r cadenza_pw; " if read_password else ""
    watcher = "trap '' TERM; while read -r _; do :; done; kill -TERM 0; sleep 2; kill -KILL 0"
    return (
        f"{read}exec 3<&0; ( {command}\n) </dev/null & cadenza_cmd=$!; "
        f"( {watcher} ) <&3 >/dev/null 2>&1 & cadenza_watch=$!; "
        "wait $cadenza_cmd; cadenza_rc=$?; kill -KILL $cadenza_watch 2>/dev/null; exit $cadenza_rc"
    )


def _killed_on_term(command: str) -> str:
    """``command`` for ``bash -c`` under sudo: a ``TERM`` kills it and everything it started."""
    return f"trap 'kill -KILL 0' TERM; ( {command}\n) & wait $!"


async def _run_all(
    targets: list[_Target],
    login: _Login,
    command: str,
    stdin: str | None,
    timeout: float,
    parallel: bool,
    context: ActivityContext,
) -> dict[str, _HostRun]:
    import asyncio  # loaded already (this is a coroutine); not at module import

    async def all_hosts() -> dict[str, _HostRun]:
        if parallel:
            runs = await asyncio.gather(
                *(_run_on(t, login, command, stdin, timeout) for t in targets)
            )
            return {t.name: run for t, run in zip(targets, runs, strict=True)}
        return {t.name: await _run_on(t, login, command, stdin, timeout) for t in targets}

    work = asyncio.ensure_future(all_hosts())
    next_beat = time.monotonic() + HEARTBEAT_INTERVAL
    while not work.done():
        await asyncio.wait({work}, timeout=POLL_INTERVAL)
        if context.cancelled and not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            canceled = _HostRun("canceled", _not_run("the command was cancelled", timed_out=False))
            return {t.name: canceled for t in targets}
        if time.monotonic() >= next_beat:
            context.heartbeat()
            next_beat = time.monotonic() + HEARTBEAT_INTERVAL
    return work.result()


async def _run_on(
    target: _Target, login: _Login, command: str, stdin: str | None, timeout: float
) -> _HostRun:
    import asyncio  # loaded already (this is a coroutine); not at module import

    asyncssh = load_asyncssh()
    deadline = time.monotonic() + timeout
    where = f"{target.address}:{target.port}"
    options: dict[str, Any] = {
        "port": target.port,
        "username": login.username,
        "known_hosts": login.known_hosts,
        "connect_timeout": timeout,
    }
    if login.password is not None:
        options["password"] = login.password
    if login.keys is not None or login.password is not None:
        # Given credentials are the only ones tried, as in StackStorm: the
        # worker's own keys and agent must not log in in their place.
        options["client_keys"] = login.keys or ()
        options["agent_path"] = None
    try:
        async with asyncssh.connect(target.address, **options) as conn:
            process = await conn.create_process(command, errors="replace")
            try:
                if stdin is not None:
                    process.stdin.write(stdin)
                remaining = max(deadline - time.monotonic(), 0.001)
                done = await process.wait(check=False, timeout=remaining)
            except (asyncssh.TimeoutError, asyncio.CancelledError):
                # End of input tells the watcher (see _watched) to kill the command.
                with contextlib.suppress(asyncssh.Error, OSError, TimeoutError):
                    process.stdin.write_eof()
                    await asyncio.wait_for(process.wait_closed(), STOP_GRACE)
                raise
            finally:
                process.close()
    except asyncssh.TimeoutError as exc:
        message = f"the command did not finish within {timeout:g} seconds on {where}"
        return _HostRun("timeout", _not_run(message, True, exc.stdout, exc.stderr))
    except TimeoutError:
        message = f"cannot connect to {where} within {timeout:g} seconds"
        return _HostRun("timeout", _not_run(message, timed_out=True))
    except asyncssh.PermissionDenied as exc:
        message = f"login as {login.username!r} on {where} refused: {exc.reason}"
        return _HostRun("connect", _not_run(message, timed_out=False))
    except (OSError, asyncssh.Error) as exc:
        return _HostRun("connect", _not_run(f"cannot connect to {where}: {exc}", timed_out=False))
    code = done.returncode if done.returncode is not None else NOT_RUN_CODE
    result: dict[str, JSON] = {
        "stdout": _stream(done.stdout),
        "stderr": _stream(done.stderr),
        "return_code": code,
        "succeeded": code == 0,
        "failed": code != 0,
    }
    return _HostRun("ok" if code == 0 else "exit", result)


def _not_run(
    message: str, timed_out: bool, stdout: Any = None, stderr: Any = None
) -> dict[str, JSON]:
    return {
        "stdout": _stream(stdout),
        "stderr": _stream(stderr),
        "return_code": TIMEOUT_CODE if timed_out else NOT_RUN_CODE,
        "succeeded": False,
        "failed": True,
        "timeout": timed_out,
        "error": message,
    }


def _stream(data: Any) -> JSON:
    """A stream as StackStorm reports it: one trailing newline removed, JSON parsed."""
    if data is None:
        return ""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)
    text = text.removesuffix("\n").removesuffix("\r")
    try:
        parsed: JSON = json.loads(text)
    except ValueError:
        return text
    # Only documents: a bare number or word printed by a command stays text.
    return parsed if isinstance(parsed, dict | list) else text


def _outcome(targets: list[_Target], runs: dict[str, _HostRun]) -> ActivityOutcome:
    result: dict[str, JSON] = {name: run.result for name, run in runs.items()}
    kinds = [run.kind for run in runs.values()]
    if all(kind == "ok" for kind in kinds):
        return ActivityOutcome.succeeded(result)
    if "canceled" in kinds:
        return ActivityOutcome.canceled("core.remote: the command was cancelled", result=result)
    failing = [(name, run) for name, run in runs.items() if run.kind != "ok"]
    summary = "; ".join(f"{name} ({_why(run)})" for name, run in failing)
    message = f"core.remote: failed on {len(failing)} of {len(targets)} hosts: {summary}"
    if all(kind == "timeout" for kind in kinds):
        return ActivityOutcome.timeout(message, result=result)
    error_type = CONNECTION_FAILED if {"exit", "timeout"}.isdisjoint(kinds) else COMMAND_FAILED
    return ActivityOutcome.failed(error_type, message, result=result)


def _why(run: _HostRun) -> str:
    if run.kind == "exit":
        return f"exit code {run.result['return_code']}"
    return str(run.result.get("error", run.kind))
