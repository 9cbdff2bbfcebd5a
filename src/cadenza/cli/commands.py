"""What each ``cadenza`` command does (the parser is in ``main.py``)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from cadenza.cli.render import (
    ProgressPrinter,
    age,
    history_lines,
    result_document,
    to_json,
)
from cadenza.engine.definitions import checked_input, compile_checked
from cadenza.engine.engine import Engine
from cadenza.engine.front_ends import FrontEnds
from cadenza.interpreters.protocol import FrontEndSettings, RerunRequest
from cadenza.model.errors import DefinitionError, InputError, OperationRefused
from cadenza.model.statuses import ExecutionStatus
from cadenza.store import open_store
from cadenza.store.records import ExecutionRecord
from cadenza.workers.loading import load_activities
from cadenza.workers.registry import ActivityRegistry, default_registry
from cadenza.workers.resources import load_resource_map, register_resources

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_PAUSED = 0, 1, 2, 3
EXIT_INTERRUPTED = 130


# --- commands -------------------------------------------------------------------------------


def _registry(args: argparse.Namespace) -> ActivityRegistry:
    registry = default_registry()
    for spec in getattr(args, "activities", []):
        load_activities(registry, spec)
    if getattr(args, "resources", None):
        register_resources(registry, load_resource_map(args.resources))
    return registry


def _front_ends(args: argparse.Namespace) -> FrontEnds:
    settings = FrontEndSettings(service_limits=getattr(args, "aws_limits", False))
    return FrontEnds.installed(settings)


def _engine(
    args: argparse.Namespace, registry: ActivityRegistry | None = None, **kwargs: Any
) -> Engine:
    return Engine(
        args.store, registry=registry or _registry(args), front_ends=_front_ends(args), **kwargs
    )


def _read_input(args: argparse.Namespace) -> Any:
    text, where = args.input, "--input"
    if args.input_file:
        where = args.input_file
        try:
            text = Path(args.input_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read {where}: {exc.strerror or exc}") from exc
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{where} is not valid JSON: {exc}") from exc
    return value


def _read_definition(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def run(args: argparse.Namespace) -> int:
    source = _read_definition(args.file)
    workflow_input = _read_input(args)
    registry = _registry(args)
    # Everything is checked before the store is opened: bad input leaves nothing.
    front_ends = _front_ends(args)
    kind, _ = compile_checked(front_ends, registry, source, kind=args.kind, origin=args.file)
    workflow_input = checked_input(
        front_ends.require(kind), workflow_input, args.input_file or "--input"
    )
    engine = Engine(args.store, registry=registry, front_ends=front_ends, lease=args.lease)
    definition = engine.register(source, kind=kind, origin=args.file)
    execution_id = engine.start(definition, workflow_input)
    if args.detach:
        print(execution_id)
        return EXIT_OK
    if not args.quiet:
        print(f"execution {execution_id}  ({definition.name})", file=sys.stderr)
        engine.add_listener(ProgressPrinter(execution_id))
    return _drive_and_report(engine, execution_id, args)


def _watch(engine: Engine, execution_id: str, args: argparse.Namespace) -> None:
    """Show progress from now on (call before a request, to see its first decision)."""
    if not getattr(args, "quiet", False):
        printer = ProgressPrinter(execution_id)
        printer.learn(engine.history(execution_id))
        engine.add_listener(printer)


def _drive_and_report(engine: Engine, execution_id: str, args: argparse.Namespace) -> int:
    stop = threading.Event()
    _stop_on_signals(stop)

    def settled() -> bool:
        return engine.is_settled(engine.get(execution_id))

    engine.serve(stop, until=settled, own=(execution_id,))
    record = engine.get(execution_id)
    if stop.is_set() and not settled():
        print(
            f"stopped; execution {execution_id} is {record.status} and continues "
            "with: cadenza worker",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return _report(engine, record, args)


def _report(engine: Engine, record: ExecutionRecord, args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        print(to_json(result_document(record)))
    else:
        if record.status == "paused":
            print(f"execution {record.id} is paused", file=sys.stderr)
        elif record.errors and record.status != "succeeded":
            print(f"execution {record.id} {record.status}:", file=sys.stderr)
            for error in record.errors:
                print(f"  - {_error_line(error)}", file=sys.stderr)
        print(to_json(record.output))
    if record.status == ExecutionStatus.SUCCEEDED:
        return EXIT_OK
    if engine.is_final(record):
        return EXIT_FAILED
    if engine.is_settled(record):
        return EXIT_PAUSED
    return EXIT_OK


def _error_line(error: Any) -> str:
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


def validate(args: argparse.Namespace) -> int:
    source = _read_definition(args.file)
    try:
        compile_checked(
            _front_ends(args), _registry(args), source, kind=args.kind, origin=args.file
        )
    except DefinitionError as exc:
        if args.json:
            print(to_json({"valid": False, **exc.to_dict()}))
        else:
            print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(to_json({"valid": True}) if args.json else f"{args.file}: valid")
    return EXIT_OK


def ps(args: argparse.Namespace) -> int:
    engine = _engine(args)
    records = engine.store.list_executions(limit=args.limit)
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
    now = engine.clock.now()
    print(f"{'EXECUTION':<36}  {'NAME':<24}  {'STATUS':<10}  AGE")
    for r in records:
        print(f"{r.id:<36}  {r.name[:24]:<24}  {r.status:<10}  {age(now - r.created_at)}")
    return EXIT_OK


def status(args: argparse.Namespace) -> int:
    engine = _engine(args)
    record = engine.get(args.execution_id)
    view = engine.describe(args.execution_id)
    tasks = [{"name": t.name, "key": t.key, "status": t.status} for t in view.tasks]
    if args.json:
        print(to_json({**result_document(record), "tasks": tasks}))
        return EXIT_OK
    print(f"execution {record.id}  ({record.name})  {record.status}")
    for t in tasks:
        key = f"[{t['key']}]" if t["key"] not in ("", "0") else ""
        print(f"  {t['status']:<10} {t['name']}{key}")
    if record.errors:
        print("errors:")
        for error in record.errors:
            print(f"  - {_error_line(error)}")
    print("output:", to_json(record.output))
    return EXIT_OK


def history(args: argparse.Namespace) -> int:
    engine = _engine(args)
    if args.view:
        print(to_json(engine.history_view(args.execution_id, args.view)))
        return EXIT_OK
    events = engine.history(args.execution_id)
    if args.json:
        print(
            to_json(
                [
                    {
                        "seq": e.seq,
                        "decision": e.decision,
                        "time": e.time,
                        "type": e.event.type,
                        **e.event.payload(),
                    }
                    for e in events
                ]
            )
        )
        return EXIT_OK
    print("\n".join(history_lines(events)))
    return EXIT_OK


def _refused(engine: Engine, execution_id: str) -> None:
    rejection = engine.last_rejection(execution_id)
    if rejection:
        message = rejection.get("message") if isinstance(rejection, dict) else str(rejection)
        raise OperationRefused(str(message), execution_id=execution_id)


def rerun(args: argparse.Namespace) -> int:
    engine = _engine(args)
    engine.get(args.execution_id)
    options = {"reset_items": True} if getattr(args, "reset_items", False) else {}
    request = RerunRequest(steps=tuple(getattr(args, "task", [])), options=options)
    if not args.no_wait:
        _watch(engine, args.execution_id, args)
    engine.rerun(args.execution_id, request)
    _refused(engine, args.execution_id)
    if args.no_wait:
        return EXIT_OK
    return _drive_and_report(engine, args.execution_id, args)


def respond(args: argparse.Namespace) -> int:
    try:
        result = json.loads(args.result)
    except ValueError as exc:
        raise InputError(f"--result is not valid JSON: {exc}") from exc
    engine = _engine(args)
    if not args.no_wait:
        _watch(engine, args.execution_id, args)
    engine.respond(args.execution_id, args.task, result, failed=args.failed)
    if args.no_wait:
        return EXIT_OK
    return _drive_and_report(engine, args.execution_id, args)


def request(args: argparse.Namespace) -> int:
    engine = _engine(args)
    engine.get(args.execution_id)
    if args.command == "resume" and not args.no_wait:
        _watch(engine, args.execution_id, args)
    getattr(engine, args.command)(args.execution_id)
    _refused(engine, args.execution_id)
    if args.command == "resume" and not args.no_wait:
        return _drive_and_report(engine, args.execution_id, args)
    record = engine.get(args.execution_id)
    if args.json:
        print(to_json(result_document(record)))
    else:
        print(f"execution {record.id}: {record.status}")
    return EXIT_OK


def worker(args: argparse.Namespace) -> int:
    engine = _engine(
        args,
        concurrency=args.concurrency,
        queues=args.queue or ("default",),
        lease=args.lease,
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    print(
        f"{args.command} {engine.owner} serving queues {', '.join(engine.queues)}",
        file=sys.stderr,
        flush=True,
    )

    # Statuses in which nothing happens on its own, by every installed front end;
    # executions of kinds this process cannot read are others' to finish.
    settled = sorted(engine.front_ends.settled_statuses())
    kinds = engine.front_ends.usable()

    def idle() -> bool:
        return not engine.store.list_executions(limit=1, excluding=settled, kinds=kinds)

    engine.serve(stop, until=idle if args.exit_when_idle else None)
    return EXIT_OK


def server(args: argparse.Namespace) -> int:
    from cadenza.api.server import ServerSettings, check_settings, parse_bind, serve_api

    host, port = parse_bind(args.bind)
    settings = ServerSettings(host=host, port=port, token=_api_token(args))
    check_settings(settings)  # before the store is opened: bad input leaves nothing
    engine = _engine(
        args, concurrency=args.concurrency, queues=args.queue or ("default",), lease=args.lease
    )
    stop = threading.Event()
    _stop_on_signals(stop)

    def listening(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        print(
            f"server {engine.owner} listening on http://{shown}:{port}, serving queues "
            f"{', '.join(engine.queues)}",
            file=sys.stderr,
            flush=True,
        )

    serve_api(engine, settings, stop, on_listening=listening)
    return EXIT_OK


def _api_token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"cannot read {args.token_file}: {exc.strerror or exc}") from exc
        if not token:
            raise InputError(f"{args.token_file} holds no token")
        return token
    return os.environ.get("CADENZA_API_TOKEN") or None


def db(args: argparse.Namespace) -> int:
    store = open_store(args.store)
    try:
        # Opening a store applies the migrations it lacks (one process at a time).
        print(f"schema version {store.schema_version()}")
    finally:
        store.close()
    return EXIT_OK


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
