"""The commands of ``cadenza --server URL``: the same commands over a server's
HTTP API. The server runs the executions; this process follows them and prints
what the local commands print (``reports``)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from cadenza.cli.inputs import (
    api_token,
    installed_front_ends,
    parse_duration,
    read_definition,
    read_input,
    read_secret_declaration,
    rerun_options,
    stop_on_signals,
)
from cadenza.cli.remote import Remote
from cadenza.cli.render import ProgressPrinter, result_document, to_json
from cadenza.cli.reports import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    print_history,
    print_request,
    print_status,
    print_table,
    report_record,
)
from cadenza.model.errors import CadenzaError, InputError, OperationRefused
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES, ExecutionStatus
from cadenza.store.records import ExecutionRecord


def _remote(args: argparse.Namespace) -> Remote:
    from cadenza.cli.remote import Remote  # httpx only for the commands that use it

    return Remote(args.server, api_token(args, args.client_token_file))


def remote_for(args: argparse.Namespace) -> Remote:
    """A client of the server ``args.server``, with the token the options give."""
    return _remote(args)


def _remote_verdict(
    args: argparse.Namespace, remote: Remote
) -> Callable[[ExecutionRecord], tuple[bool, bool]]:
    """Whether a record is final, and whether it is settled (final or waiting for
    an operator): the server's word, else this machine's front ends' statuses."""
    front_ends = installed_front_ends(args)

    def verdict(record: ExecutionRecord) -> tuple[bool, bool]:
        told = remote.verdicts.get(record.id)
        if told is not None:
            return told
        try:
            front_end = front_ends.require(record.kind)
            final, waiting = front_end.final_statuses, front_end.waiting_statuses
        except CadenzaError:
            final = frozenset(FINAL_EXECUTION_STATUSES)
            waiting = frozenset({ExecutionStatus.PAUSED})
        return record.status in final, record.status in final | waiting

    return verdict


def _remote_watch(
    remote: Remote, execution_id: str, args: argparse.Namespace
) -> tuple[ProgressPrinter | None, int]:
    """A printer for what happens from now on, and the last event already seen."""
    if getattr(args, "quiet", False) or getattr(args, "no_wait", False):
        return None, 0
    events = remote.history(execution_id)
    printer = ProgressPrinter(execution_id)
    printer.learn(events)
    return printer, events[-1].seq if events else 0


def _remote_follow(
    remote: Remote,
    execution_id: str,
    args: argparse.Namespace,
    printer: ProgressPrinter | None,
    after_seq: int,
) -> int:
    stop = threading.Event()
    stop_on_signals(stop)
    verdict = _remote_verdict(args, remote)
    record, settled = remote.follow(
        execution_id,
        settled=lambda r: verdict(r)[1],
        stop=stop,
        printer=printer,
        after_seq=after_seq,
    )
    if not settled:
        print(
            f"stopped following; execution {execution_id} is {record.status} and continues "
            f"on {remote.url}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    final, settled = verdict(record)
    return report_record(record, args, final=final, settled=settled)


def _remote_refused(refused: Any, execution_id: str) -> None:
    if refused:
        message = refused.get("message") if isinstance(refused, dict) else str(refused)
        raise OperationRefused(str(message), execution_id=execution_id)


def run(args: argparse.Namespace) -> int:
    source = read_definition(args.file)
    workflow_input = read_input(args)
    with _remote(args) as remote:
        definition = remote.register(source, origin=args.file, kind=args.kind)
        record = remote.start(
            definition["id"],
            workflow_input,
            tags=args.tag or (),
            secret_results=read_secret_declaration(args).results,
        )
        if args.detach:
            print(record.id)
            return EXIT_OK
        printer = None
        if not args.quiet:
            print(f"execution {record.id}  ({definition['name']})", file=sys.stderr)
            printer = ProgressPrinter(record.id)
        return _remote_follow(remote, record.id, args, printer, 0)


def ps(args: argparse.Namespace) -> int:
    if args.parent:
        raise InputError("--parent cannot be used with --server yet: the API lists no children")
    statuses = list(args.status or [])
    if args.needs_attention:
        # The waiting statuses of the languages installed here (the server's are
        # the same when both run the same Cadenza).
        statuses += sorted(installed_front_ends(args).attention_statuses())
    since = None if args.since is None else time.time() - parse_duration(args.since)
    with _remote(args) as remote:
        records = remote.executions(
            args.limit,
            statuses=statuses,
            kinds=args.kind or [],
            since=since,
            tags=args.tag or (),
            text=args.search,
        )
    if args.json:
        print(
            to_json(
                [
                    {**result_document(r), "name": r.name, "created_at": r.created_at}
                    for r in records
                ]
            )
        )
        return EXIT_OK
    print_table(records, time.time())
    return EXIT_OK


def status(args: argparse.Namespace) -> int:
    with _remote(args) as remote:
        record = remote.execution(args.execution_id)
        tasks = remote.tasks(args.execution_id)
    if args.json:
        print(to_json({**result_document(record), "tasks": tasks}))
        return EXIT_OK
    print_status(record, tasks)
    return EXIT_OK


def history(args: argparse.Namespace) -> int:
    with _remote(args) as remote:
        if args.view:
            print(to_json(remote.view(args.execution_id, args.view)))
            return EXIT_OK
        remote.execution(args.execution_id)  # an unknown id is an error, not no events
        events = remote.history(args.execution_id)
    print_history(events, args)
    return EXIT_OK


def rerun(args: argparse.Namespace) -> int:
    options = rerun_options(args)
    steps = list(getattr(args, "task", []))
    with _remote(args) as remote:
        remote.execution(args.execution_id)
        printer, seen = _remote_watch(remote, args.execution_id, args)
        _, refused = remote.rerun(args.execution_id, steps, options)
        _remote_refused(refused, args.execution_id)
        if args.no_wait:
            return EXIT_OK
        return _remote_follow(remote, args.execution_id, args, printer, seen)


def respond(args: argparse.Namespace) -> int:
    try:
        result = json.loads(args.result)
    except ValueError as exc:
        raise InputError(f"--result is not valid JSON: {exc}") from exc
    with _remote(args) as remote:
        printer, seen = _remote_watch(remote, args.execution_id, args)
        remote.answer(args.execution_id, args.task, result, failed=args.failed)
        if args.no_wait:
            return EXIT_OK
        return _remote_follow(remote, args.execution_id, args, printer, seen)


def request(args: argparse.Namespace) -> int:
    follow = args.command == "resume" and not args.no_wait
    with _remote(args) as remote:
        remote.execution(args.execution_id)
        printer, seen = _remote_watch(remote, args.execution_id, args) if follow else (None, 0)
        record, refused = remote.request(args.execution_id, args.command)
        _remote_refused(refused, args.execution_id)
        if follow:
            return _remote_follow(remote, args.execution_id, args, printer, seen)
    print_request(record, args)
    return EXIT_OK
