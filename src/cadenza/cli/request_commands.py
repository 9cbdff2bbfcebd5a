"""``cadenza signal`` and ``cadenza request``: messages and operator requests
for one execution, on this machine's store or through ``--server``.

``signal ID NAME [--payload JSON]`` records ``SignalReceived``; the
execution's language decides what it means. ``request ID NAME --arg K=V
--reason TEXT`` records ``OperatorRequested``: one of the requests the
language offers (an unknown name lists them). Both say who asked (``--by``,
the OS user by default). A request or signal the execution refuses exits 2
with its reason.
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cadenza.cli.reports import EXIT_OK, masked, print_request
from cadenza.model.errors import InputError, OperationRefused

if TYPE_CHECKING:
    from cadenza.engine.engine import Engine

#: ``command(name, help, handler)`` of ``main._parser``: adds a subcommand
#: with the options every command has.
AddCommand = Callable[[str, str, Callable[[argparse.Namespace], int]], argparse.ArgumentParser]


def add_commands(command: AddCommand) -> None:
    """Add ``signal`` and ``request`` to the ``cadenza`` parser."""
    p = command("signal", "send a running execution a named signal", signal)
    p.add_argument("execution_id")
    # Not ``name``: options of other commands use that dest.
    p.add_argument(
        "signal_name", metavar="NAME", help="the signal's name (its language says which it takes)"
    )
    p.add_argument("--payload", default="null", metavar="JSON", help="what comes with it")
    p.add_argument(
        "--start",
        metavar="DEFINITION",
        help="signal-with-start: EXECUTION_ID is a workflow id; signal its open run, "
        "or start DEFINITION (name or id) under that id with --input",
    )
    p.add_argument(
        "--input", default="null", metavar="JSON", help="with --start: the input of a run it starts"
    )
    _who(p)
    p = command(
        "request",
        "ask an execution's language for an operator request (retry a stuck undo, ...)",
        request,
    )
    p.add_argument("execution_id")
    p.add_argument(
        "request_name", metavar="NAME", help="the request (an unknown name lists those offered)"
    )
    p.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an argument of the request; VALUE is read as JSON when it is JSON, else as text",
    )
    p.add_argument("--reason", required=True, metavar="TEXT", help="why, for the audit trail")
    _who(p)


def _who(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--by", metavar="WHO", help="who asks, for the audit trail (default: your user name)"
    )
    p.add_argument("--json", action="store_true", help="print the execution after it as JSON")


def _by(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def parse_args_option(given: list[str]) -> dict[str, Any]:
    """``--arg K=V`` options as a mapping; a value that is JSON is read as JSON."""
    found: dict[str, Any] = {}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--arg must be KEY=VALUE, not {item!r}")
        try:
            found[key] = json.loads(value)
        except ValueError:
            found[key] = value
    return found


def _payload(args: argparse.Namespace) -> Any:
    try:
        return json.loads(args.payload)
    except ValueError as exc:
        raise InputError(f"--payload is not valid JSON: {exc}") from exc


def engine_for_requests(args: argparse.Namespace) -> Engine:
    """An engine over ``--store`` that runs no activities: enough to record and
    decide a request, or to list and delete executions."""
    # Imported here: ``main`` builds the parser from this module for every command.
    from cadenza.cli.inputs import installed_front_ends
    from cadenza.engine.engine import Engine
    from cadenza.workers.registry import default_registry

    # Nothing runs here but the decision the request makes: no activities.
    return Engine(args.store, registry=default_registry(), front_ends=installed_front_ends(args))


def _refused(refusal: Any, execution_id: str) -> None:
    if refusal:
        message = refusal.get("message") if isinstance(refusal, dict) else refusal
        raise OperationRefused(str(message), execution_id=execution_id)


def _start_input(args: argparse.Namespace) -> Any:
    try:
        return json.loads(args.input)
    except ValueError as exc:
        raise InputError(f"--input is not valid JSON: {exc}") from exc


def signal(args: argparse.Namespace) -> int:
    data, by = _payload(args), _by(args)
    if args.server:
        from cadenza.cli.remote_commands import remote_for  # httpx only when asked

        with remote_for(args) as remote:
            if args.start:
                record, refusal = remote.signal_with_start(
                    args.start,
                    args.execution_id,
                    args.signal_name,
                    data,
                    input=_start_input(args),
                    by=by,
                )
            else:
                record, refusal = remote.signal(args.execution_id, args.signal_name, data, by=by)
        _refused(refusal, record.id)
        print_request(record, args)
        return EXIT_OK
    engine = engine_for_requests(args)
    try:
        execution_id = args.execution_id
        if args.start:
            given = _start_input(args)
            execution_id = engine.signal_with_start(
                args.start, execution_id, args.signal_name, data, input=given, by=by
            )
        else:
            engine.signal(execution_id, args.signal_name, data, by=by)
        _refused(engine.last_rejection(execution_id), execution_id)
        record = engine.get(execution_id)
        print_request(masked(record, engine.secrets_of(record.id)), args)
    finally:
        engine.close()
    return EXIT_OK


def request(args: argparse.Namespace) -> int:
    arguments, by = parse_args_option(args.arg), _by(args)
    if args.server:
        from cadenza.cli.remote_commands import remote_for  # httpx only when asked

        with remote_for(args) as remote:
            record, refusal = remote.operator_request(
                args.execution_id, args.request_name, arguments, by=by, reason=args.reason
            )
        _refused(refusal, args.execution_id)
        print_request(record, args)
        return EXIT_OK
    engine = engine_for_requests(args)
    try:
        engine.operator_request(
            args.execution_id, args.request_name, arguments, by=by, reason=args.reason
        )
        _refused(engine.last_rejection(args.execution_id), args.execution_id)
        record = engine.get(args.execution_id)
        print_request(masked(record, engine.secrets_of(record.id)), args)
    finally:
        engine.close()
    return EXIT_OK
