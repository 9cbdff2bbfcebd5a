"""The ``cadenza`` command.

Exit codes: 0 the workflow succeeded (or the command did what it was asked);
1 the workflow failed, was canceled or timed out; 2 bad input (an invalid
definition, malformed ``--input``, an unknown execution, a refused request);
3 the workflow is paused, waiting for an answer (``cadenza respond``);
4 the store cannot be used until it is fixed (its disk is full, it is read-only
for a command that writes, it is damaged or from a newer Cadenza);
130 interrupted (Ctrl-C or SIGTERM) before the workflow finished: it stays in
the store and ``cadenza worker`` carries it on.

``cadenza --server URL COMMAND`` (or ``CADENZA_SERVER``) makes the commands that
read or drive executions ask that ``cadenza server`` over HTTP instead of
opening a store; they print the same lines and exit with the same codes.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cadenza import __version__
from cadenza.cli.server_choice import choose_server
from cadenza.model.errors import (
    CadenzaError,
    DefinitionError,
    FrontEndError,
    InputError,
    NotFoundError,
    OperationRefused,
    PayloadTooLarge,
    SchemaMismatch,
    SecretError,
    StoreFault,
)

_BAD_INPUT = (
    DefinitionError,
    FrontEndError,
    InputError,
    NotFoundError,
    OperationRefused,
    PayloadTooLarge,
    SecretError,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Imported only now: ``--version`` and ``--help`` have exited by this point,
    # and what each command needs is imported by its handler (see ``_command``).
    from cadenza.cli import reports

    level = args.log_level or os.environ.get("CADENZA_LOG_LEVEL") or "warning"
    if level.upper() not in _LOG_LEVELS:
        print(
            f"error [input.invalid]: the log level must be one of "
            f"{', '.join(n.lower() for n in _LOG_LEVELS)}, not {level!r}",
            file=sys.stderr,
        )
        return reports.EXIT_BAD_INPUT
    logging.basicConfig(level=level.upper(), format="cadenza: %(message)s")
    if not getattr(args, "command", None):
        parser.print_help()
        return reports.EXIT_BAD_INPUT
    try:
        choose_server(args)
        with _key_file(getattr(args, "key_file", None)):
            code: int = args.handler(args)
        return code
    except (StoreFault, SchemaMismatch) as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        print("nothing stored was lost; fix the store and run the command again", file=sys.stderr)
        return reports.EXIT_STORE
    except CadenzaError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return reports.EXIT_BAD_INPUT if _bad_input(exc) else reports.EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return reports.EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``cadenza history ID | head``): not an error.
        sys.stderr.close()
        return reports.EXIT_OK


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@contextlib.contextmanager
def _key_file(path: str | None) -> Iterator[None]:
    """``--key-file`` for the command: the stores it opens encrypt secrets at rest
    with that key, as its front ends decrypt datastore values with it (both read
    ``CADENZA_KEY_FILE``); the variable is put back afterwards, for callers of
    ``main`` in a longer-lived process."""
    if not path:
        yield
        return
    before = os.environ.get("CADENZA_KEY_FILE")
    os.environ["CADENZA_KEY_FILE"] = path
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CADENZA_KEY_FILE", None)
        else:
            os.environ["CADENZA_KEY_FILE"] = before


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    """The handler ``cadenza.cli.commands.<name>``, imported when the command runs.

    Building the parser must not import the engine, the expression languages or the
    stores: ``cadenza --version`` would pay for all of them, and every command for
    the ones it does not use.
    """

    def handler(args: argparse.Namespace) -> int:
        from cadenza.cli import commands

        code: int = getattr(commands, name)(args)
        return code

    handler.__name__ = handler.__qualname__ = name
    return handler


def _bad_input(exc: CadenzaError) -> bool:
    """Whether an error is the user's to fix (exit 2): a server's 4xx answer is."""
    remote = sys.modules.get("cadenza.cli.remote")  # loaded only by --server commands
    if remote is not None and isinstance(exc, remote.RemoteError):
        return bool(exc.bad_input)
    return isinstance(exc, _BAD_INPUT)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cadenza", description="Run workflows durably (embedded SQLite by default)."
    )
    parser.add_argument("--version", action="version", version=f"cadenza {__version__}")
    parser.add_argument(
        "--log-level",
        metavar="LEVEL",
        help="debug, info, warning (the default) or error; also $CADENZA_LOG_LEVEL",
    )
    parser.add_argument(
        "--server",
        metavar="URL",
        help="talk to this cadenza server over HTTP instead of opening a store "
        "(default: $CADENZA_SERVER); for run, ps, status, history, cancel, pause, resume, "
        "respond, rerun and redrive",
    )
    parser.add_argument(
        "--token-file",
        dest="client_token_file",
        metavar="FILE",
        help="file holding the server's bearer token (default: $CADENZA_API_TOKEN)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--store",
            help="store URL (default: $CADENZA_STORE or sqlite:///cadenza.db)",
        )
        p.set_defaults(handler=handler)
        return p

    p = command("run", "run a workflow file to completion, showing progress", _command("run"))
    p.add_argument("file")
    _kind_option(p)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--input", help="workflow input as a JSON object")
    group.add_argument("--input-file", help="file holding the workflow input as JSON")
    p.add_argument(
        "--secret-path",
        action="append",
        default=[],
        metavar="PATH",
        help="the input value at this path ('$.password', '$.users[*].token') is secret: "
        "stored encrypted (with a key) and shown as ******** (repeatable)",
    )
    p.add_argument(
        "--secret-result",
        action="append",
        metavar="STATE:PATH",
        help="the value at PATH of the result of the state machine's state STATE "
        "('Login:$.token') is secret, like --secret-path's (repeatable)",
    )
    p.add_argument(
        "--secrets",
        metavar="FILE",
        help="secret paths declared beside the definition (YAML/JSON): "
        "input: [paths], results: {STATE: [paths]}",
    )
    p.add_argument(
        "--json", action="store_true", help="print {execution_id, status, output, errors}"
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--lease", type=float, help="task lease in seconds (default 30)")
    p.add_argument(
        "--queue",
        action="append",
        default=[],
        metavar="NAME",
        help="also run this execution's tasks on this task queue (default: only 'default')",
    )
    _running_options(p)
    p.add_argument(
        "--detach",
        action="store_true",
        help="only start the execution and print its id; servers and workers run it",
    )
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="tag the execution, key=value or a word, to find it by (repeatable)",
    )
    _start_options(p)

    p = command("validate", "check a workflow file and list every problem", _command("validate"))
    p.add_argument("file")
    _kind_option(p)
    _running_options(p)
    p.add_argument("--json", action="store_true")

    p = command("ps", "list executions, newest first", _command("ps"))
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--status", action="append", metavar="STATUS", help="only in this status (repeatable)"
    )
    p.add_argument("--kind", action="append", metavar="KIND", help="only of this kind (repeatable)")
    p.add_argument(
        "--needs-attention",
        action="store_true",
        help="only executions waiting for a person: paused for an answer, stuck, and so on",
    )
    p.add_argument("--since", metavar="DURATION", help="only started in the last 30m, 2h, 7d...")
    p.add_argument("--parent", metavar="ID", help="only the children of this execution")
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="only executions carrying this tag (repeatable: all of them)",
    )
    p.add_argument("--search", metavar="TEXT", help="only those with TEXT in their id or name")

    p = command(
        "status", "show an execution's status, tasks, output and errors", _command("status")
    )
    p.add_argument("execution_id")
    p.add_argument("--json", action="store_true")

    p = command("history", "show an execution's event history", _command("history"))
    p.add_argument("execution_id")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--view",
        metavar="NAME",
        help="a projection of the history that the execution's front end offers (JSON); "
        "an unknown name lists the offered ones",
    )

    p = command(
        "rerun", "run a finished execution again from failed (or named) tasks", _command("rerun")
    )
    p.add_argument("execution_id")
    p.add_argument("--task", action="append", default=[], metavar="NAME")
    p.add_argument(
        "--reset-items", action="store_true", help="rerun every item of with-items tasks"
    )
    p.add_argument(
        "--input",
        metavar="JSON",
        help="code workflows: the new input of the one --task (an activity) that reruns",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-wait", action="store_true", help="only record the request")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    _running_options(p)

    p = command(
        "redrive",
        "restart a failed, timed-out or aborted execution from the steps that failed",
        _command("rerun"),
    )
    p.add_argument("execution_id")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-wait", action="store_true", help="only record the request")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    _running_options(p)

    p = command(
        "respond", "answer a task that waits for an answer from a person", _command("respond")
    )
    p.add_argument("execution_id")
    p.add_argument("task")
    p.add_argument("--result", default="null", help="the answer as JSON")
    p.add_argument("--failed", action="store_true", help="answer with a failure")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-wait", action="store_true", help="only record the answer")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    _running_options(p)

    for name, text in (
        ("pause", "pause an execution (running tasks finish, nothing new starts)"),
        ("resume", "resume a paused execution and run it"),
        ("cancel", "cancel an execution (running tasks finish)"),
    ):
        p = command(name, text, _command("request"))
        p.add_argument("execution_id")
        p.add_argument("--json", action="store_true")
        p.add_argument("--no-wait", action="store_true", help="only record the request")
        p.add_argument("--quiet", action="store_true", help="no progress lines")
        _running_options(p)

    p = command(
        "terminate",
        "end an execution now without asking its workflow (its tasks are withdrawn; "
        "it ends canceled, with the reason in its error)",
        _command("terminate"),
    )
    p.add_argument("execution_id")
    p.add_argument("--reason", required=True, metavar="TEXT", help="why, kept in its error")
    p.add_argument("--by", default="", metavar="WHO", help="who asks, for the audit trail")
    p.add_argument("--json", action="store_true")

    from cadenza.cli.request_commands import add_commands as add_request_commands

    add_request_commands(command)

    p = command(
        "server",
        "serve the HTTP API and run the engine (decisions, timers, lease reaper) and "
        "workers until stopped",
        _command("server"),
    )
    _worker_options(p)
    p.add_argument(
        "--bind",
        default="127.0.0.1:8080",
        metavar="HOST:PORT",
        help="where the HTTP API listens (default 127.0.0.1:8080; port 0 picks a free one)",
    )
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help="file holding the API's bearer token (or set CADENZA_API_TOKEN); required "
        "to bind anything but loopback",
    )
    p.add_argument(
        "--aws-credentials",
        metavar="FILE",
        help="AWS credentials (access key id and secret) whose SigV4 signatures Step "
        "Functions requests must carry (or set CADENZA_AWS_ACCESS_KEY_ID and "
        "CADENZA_AWS_SECRET_ACCESS_KEY); required for the Step Functions API off loopback",
    )

    p = command("worker", "run decisions and activities until stopped", _command("worker"))
    _worker_options(p)

    from cadenza.cli.trigger_commands import add_commands as add_trigger_commands

    add_trigger_commands(command)

    from cadenza.cli.kv_commands import add_commands as add_kv_commands

    add_kv_commands(command)

    p = command(
        "inquiries",
        "list the tasks waiting for an answer from a person (cadenza respond answers them)",
        _command("inquiries"),
    )
    p.add_argument("--limit", type=int, default=1000, help="executions to look through")
    p.add_argument("--json", action="store_true")

    from cadenza.cli.store_commands import add_commands as add_store_commands

    add_store_commands(command)
    return parser


def _kind_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--kind",
        metavar="KIND",
        help="the definition's language: the kind of an installed front end "
        "(by default the front ends recognise it)",
    )


def _running_options(p: argparse.ArgumentParser) -> None:
    """Options of every command that runs activities."""
    p.add_argument(
        "--aws-limits",
        action="store_true",
        help="apply the limits of the service the language comes from (256 KiB payloads)",
    )
    p.add_argument(
        "--key-file",
        metavar="FILE",
        help="key file that decrypts encrypted datastore values (default: $CADENZA_KEY_FILE)",
    )
    p.add_argument(
        "--resources",
        metavar="FILE",
        help="resource map (YAML/JSON): resource ARN -> python/http/shell handler",
    )
    p.add_argument(
        "--limits",
        metavar="FILE",
        help="per-definition limits (YAML/JSON): definition name -> cpu_seconds, max_bytes, "
        "max_items, max_value_bytes, max_execution_bytes (only below the engine's)",
    )
    p.add_argument(
        "--activities",
        action="append",
        default=[],
        metavar="MODULE:NAME",
        help="load activities: NAME is an ActivityRegistry or a function taking one",
    )
    p.add_argument(
        "--pack",
        action="append",
        default=[],
        metavar="DIR",
        help="load a StackStorm pack directory: its actions (python-script, "
        "local-shell-cmd, local-shell-script) and workflows (orquesta), as pack.action",
    )
    p.add_argument(
        "--pack-configs",
        metavar="DIR",
        help="folder of pack configs named <pack>.yaml (default: config.yaml in the pack)",
    )


def _start_options(p: argparse.ArgumentParser) -> None:
    """Options of ``run`` that a front end applies to the execution it starts
    (its ``start_options``; the others refuse them)."""
    p.add_argument("--name", metavar="NAME", help="the execution's name (state machines)")
    p.add_argument(
        "--type",
        metavar="TYPE",
        help="STANDARD or EXPRESS: the state machine type the execution runs as",
    )
    p.add_argument("--role-arn", metavar="ARN", help="the role a state machine's execution reports")
    p.add_argument(
        "--mock-config",
        metavar="FILE",
        help="Step Functions Local mock configuration (MockConfigFile.json): mocked "
        "responses answer the Task states a test case names",
    )
    p.add_argument("--test-case", metavar="NAME", help="the test case of --mock-config to use")


def _worker_options(p: argparse.ArgumentParser) -> None:
    _running_options(p)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--queue", action="append", default=[], metavar="NAME")
    p.add_argument("--lease", type=float, default=30.0, help="task lease in seconds")
    p.add_argument(
        "--exit-when-idle",
        action="store_true",
        help="stop once no execution is left unfinished",
    )


if __name__ == "__main__":
    sys.exit(main())
