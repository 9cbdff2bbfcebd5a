"""``core.local``: run a command on the worker's machine.

``cmd`` is a shell command line (a string, run by ``/bin/sh -c``) or an
argument list (run as is, with no shell: the safe way to pass workflow
values, which then cannot be read as shell syntax).

The command gets a small environment, not the worker's: the variables in
``PASSED_ENVIRONMENT`` that the worker has, the names listed in the
worker's ``CADENZA_PASS_ENV`` (comma-separated), and the action's ``env``.
A worker's secrets (a database URL with its password, API tokens) never
reach a command by accident.

The command runs in a new session, so that it and every
process it starts share one process group: a timeout or a cancellation kills
the whole group with ``SIGKILL``, leaving no orphaned grandchildren behind.
SIGKILL rather than SIGTERM because a command that ignores SIGTERM must not
be able to hold a worker slot past its timeout.

The result has StackStorm's ``local-shell-cmd`` shape::

    {"stdout": str, "stderr": str, "return_code": int, "succeeded": bool, "failed": bool}

with one trailing newline (``\\n``, then ``\\r``) removed from each stream, as
StackStorm does. A killed command reports the signal as a negative return
code (``-9``). POSIX only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping

from cadenza.model.errors import ActivityError, InputError
from cadenza.model.events import JSON
from cadenza.workers.context import ActivityContext
from cadenza.workers.outcome import ActivityOutcome

#: Error type of a command that exited with a non-zero code.
COMMAND_FAILED = "command.failed"
#: Error type of a command that could not be started (bad ``cwd``, no shell).
COMMAND_NOT_STARTED = "command.not_started"

#: Default seconds a command may run, as in StackStorm.
DEFAULT_TIMEOUT = 60.0
#: Seconds between checks for cancellation and the deadline; bounds how late a kill is.
POLL_INTERVAL = 0.1
#: Seconds between heartbeats sent while the command runs.
HEARTBEAT_INTERVAL = 5.0
#: Seconds to collect output after a kill before giving up on the pipes (a process
#: that left the group may still hold them open).
DRAIN_TIMEOUT = 5.0


#: Worker environment variables every command gets (when the worker has them).
PASSED_ENVIRONMENT = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TERM",
    "PYTHONPATH",
    "VIRTUAL_ENV",
)


def command_environment(declared: Mapping[str, str]) -> dict[str, str]:
    """The environment a command runs with: the passed worker variables and the
    action's own ``env`` (which wins)."""
    names = set(PASSED_ENVIRONMENT)
    names.update(n.strip() for n in os.environ.get("CADENZA_PASS_ENV", "").split(",") if n.strip())
    passed = {name: os.environ[name] for name in sorted(names) if name in os.environ}
    return {**passed, **declared}


def local_shell(
    *,
    cmd: str | list[str],
    context: ActivityContext,
    cwd: str | None = None,
    env: Mapping[str, JSON] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> ActivityOutcome:
    """Run ``cmd`` (a shell command line, or an argument list run without a
    shell) and report its output and exit code.

    ``env`` is added to the small environment every command gets (see the
    module docstring). ``timeout`` (seconds,
    ``None`` for none) kills the command's process group and ends the attempt
    with status ``timeout``. A non-zero exit code gives status ``failed``
    with error type ``command.failed``; the result is reported either way.
    """
    env_vars = _check_input(cmd, env, timeout)
    try:
        proc = subprocess.Popen(
            cmd,
            shell=isinstance(cmd, str),
            cwd=cwd,
            env=command_environment(env_vars),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return ActivityOutcome.failed(COMMAND_NOT_STARTED, f"core.local: cannot start: {exc}")

    stopped, out, err = _wait(proc, context, timeout)
    code = proc.returncode
    result: dict[str, JSON] = {
        "stdout": _strip_newline(out.decode("utf-8", errors="replace")),
        "stderr": _strip_newline(err.decode("utf-8", errors="replace")),
        "return_code": code,
        "succeeded": code == 0 and stopped is None,
        "failed": code != 0 or stopped is not None,
    }
    if stopped == "timeout":
        return ActivityOutcome.timeout(
            f"core.local: the command did not finish within {timeout:g} seconds and was killed",
            result=result,
        )
    if stopped == "canceled":
        return ActivityOutcome.canceled("core.local: the command was cancelled", result=result)
    if code != 0:
        return ActivityOutcome.failed(
            COMMAND_FAILED, f"core.local: the command exited with code {code}", result=result
        )
    return ActivityOutcome.succeeded(result)


def _check_input(
    cmd: object, env: Mapping[str, JSON] | None, timeout: float | None
) -> dict[str, str]:
    def bad(why: str) -> ActivityError:
        return ActivityError(f"core.local: {why}", type=InputError.code, non_retryable=True)

    if isinstance(cmd, list):
        if not cmd or not all(isinstance(a, str) for a in cmd) or not cmd[0]:
            raise bad("cmd as a list must hold the program and its arguments, all strings")
    elif not isinstance(cmd, str) or not cmd.strip():
        raise bad("cmd must be a command line or a list of arguments")
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise bad(f"timeout must be a positive number of seconds, not {timeout!r}")
    env_vars: dict[str, str] = {}
    for key, value in (env or {}).items():
        # Numbers are accepted because YAML turns `PORT: 8080` into one.
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise bad(f"env[{key!r}] must be a string or a number, not {type(value).__name__}")
        env_vars[str(key)] = str(value)
    return env_vars


def _wait(
    proc: subprocess.Popen[bytes], context: ActivityContext, timeout: float | None
) -> tuple[str | None, bytes, bytes]:
    """Wait for ``proc``; return why it was stopped (None, "timeout", "canceled") and its output."""
    now = time.monotonic()
    deadline = None if timeout is None else now + timeout
    next_beat = now + HEARTBEAT_INTERVAL
    while True:
        wait = POLL_INTERVAL if deadline is None else min(POLL_INTERVAL, deadline - now)
        try:
            # communicate() may be called again after it times out; it keeps
            # what it has read so far, so no output is lost between polls.
            out, err = proc.communicate(timeout=max(wait, 0.0))
            return None, out, err
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if context.cancelled:
            return ("canceled", *_kill(proc))
        if deadline is not None and now >= deadline:
            return ("timeout", *_kill(proc))
        if now >= next_beat:
            context.heartbeat()
            next_beat = now + HEARTBEAT_INTERVAL


def _kill(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Kill the command's process group and collect what it wrote."""
    # The group id is the shell's pid (start_new_session). It outlives the
    # shell while any member lives, so this also reaches orphaned children.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        return proc.communicate(timeout=DRAIN_TIMEOUT)
    except subprocess.TimeoutExpired:
        # A process that left the group still holds our pipes; give up on them.
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
        return b"", b""


def _strip_newline(text: str) -> str:
    """Remove one trailing ``\\n`` and then one trailing ``\\r``."""
    text = text.removesuffix("\n")
    return text.removesuffix("\r")
