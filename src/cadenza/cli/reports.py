"""What the commands print, and the exit code each outcome means."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from typing import Any

from cadenza.cli.render import age, history_lines, result_document, secrets_in, to_json
from cadenza.model.events import RecordedEvent
from cadenza.model.secrets import mask
from cadenza.model.statuses import ExecutionStatus
from cadenza.store.records import ExecutionRecord

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_PAUSED = 0, 1, 2, 3
#: The store cannot be used until it is fixed (full, read-only, damaged, too new).
EXIT_STORE = 4
EXIT_INTERRUPTED = 130


def report_record(
    record: ExecutionRecord, args: argparse.Namespace, *, final: bool, settled: bool
) -> int:
    if getattr(args, "json", False):
        print(to_json(result_document(record)))
    else:
        if record.status == "paused":
            print(f"execution {record.id} is paused", file=sys.stderr)
        elif record.errors and record.status != "succeeded":
            print(f"execution {record.id} {record.status}:", file=sys.stderr)
            for error in record.errors:
                print(f"  - {error_line(error)}", file=sys.stderr)
        print(to_json(record.output))
    if record.status == ExecutionStatus.SUCCEEDED:
        return EXIT_OK
    if final:
        return EXIT_FAILED
    if settled:
        return EXIT_PAUSED
    return EXIT_OK


def error_line(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    # The two error shapes front ends use: {type, message, task_id?, ...}, or
    # {error, cause} (names of the languages they come from).
    if "message" in error:
        where = error.get("task_id")
        text = str(error["message"])
    else:
        where = error.get("error")
        text = str(error.get("cause") or "")
    return f"{where}: {text}" if where and text else str(where or text)


def print_table(records: list[ExecutionRecord], now: float) -> None:
    # Whole names where the terminal has room; cut only what would not fit.
    room = shutil.get_terminal_size((120, 24)).columns - (36 + 2 + 2 + 10 + 2 + 8)
    width = max(4, min(max((len(r.name) for r in records), default=4), max(room, 24)))
    status_width = max(10, *(len(r.status) for r in records)) if records else 10
    print(f"{'EXECUTION':<36}  {'NAME':<{width}}  {'STATUS':<{status_width}}  AGE")
    for r in records:
        name = r.name if len(r.name) <= width else r.name[: width - 1] + "…"
        line = f"{r.id:<36}  {name:<{width}}  {r.status:<{status_width}}"
        print(f"{line}  {age(now - r.created_at)}")


def print_status(
    record: ExecutionRecord,
    tasks: list[dict[str, str]],
    children: list[ExecutionRecord] | None = None,
) -> None:
    print(f"execution {record.id}  ({record.name})  {record.status}")
    if record.parent_id:
        how = (
            f"as its task {record.parent_task_id}"
            if record.parent_task_id
            else "(detached: a continued run or an abandoned child)"
        )
        print(f"  started by {record.parent_id} {how}")
    for t in tasks:
        key = f"[{t['key']}]" if t["key"] not in ("", "0") else ""
        print(f"  {t['status']:<10} {t['name']}{key}")
    if children:
        print("children:")
        for child in children:
            task = child.parent_task_id or "detached"
            print(f"  {child.status:<10} {task}: {child.id}  ({child.name})")
    # A succeeded run's errors are failures its workflow handled: not errors to
    # a person reading the status (``--json`` keeps them, as recorded).
    if record.errors and record.status != ExecutionStatus.SUCCEEDED:
        print("errors:")
        for error in record.errors:
            print(f"  - {error_line(error)}")
    print("output:", to_json(record.output))


def print_history(
    events: list[RecordedEvent], args: argparse.Namespace, secrets: list[str] | None = None
) -> None:
    hidden = secrets_in(events) if secrets is None else secrets
    if args.json:
        print(
            to_json(
                [
                    {
                        "seq": e.seq,
                        "decision": e.decision,
                        "time": e.time,
                        "type": e.event.type,
                        **mask(e.event.payload(), hidden),
                    }
                    for e in events
                ]
            )
        )
        return
    print("\n".join(history_lines(events, hidden)))


def masked(record: ExecutionRecord, secrets: list[str]) -> ExecutionRecord:
    """``record`` with its secret values masked in its output and errors."""
    if not secrets:
        return record
    return dataclasses.replace(
        record, output=mask(record.output, secrets), errors=mask(record.errors, secrets)
    )


def print_request(record: ExecutionRecord, args: argparse.Namespace) -> None:
    if args.json:
        print(to_json(result_document(record)))
    else:
        print(f"execution {record.id}: {record.status}")
