"""What each ``cadenza`` command does (the parser is in ``main.py``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadenza.cli.inputs import (
    api_token,
    exit_without_stray_threads,
    importable_here,
    installed_front_ends,
    keep_start_up_objects,
    parse_duration,
    read_input,
    read_secret_declaration,
    read_workflow,
    rerun_options,
    stop_on_signals,
)
from cadenza.cli.render import (
    ProgressPrinter,
    age,
    result_document,
    to_json,
)
from cadenza.engine.definitions import checked_input, compile_checked
from cadenza.engine.engine import Engine
from cadenza.engine.payload_ceilings import DefinitionLimits, read_definition_limits
from cadenza.interpreters.protocol import RerunRequest, start_settings_of, warnings_of
from cadenza.model.errors import DefinitionError, InputError, OperationRefused
from cadenza.model.secrets import mask
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.packs.command_line import load_packs, register_pack_workflows
from cadenza.store.records import ExecutionRecord
from cadenza.workers.loading import load_activities
from cadenza.workers.registry import ActivityRegistry, default_registry
from cadenza.workers.resources import load_resource_map, register_resources

if TYPE_CHECKING:
    pass

from cadenza.cli.reports import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    masked,
    print_history,
    print_request,
    print_status,
    print_table,
    report_record,
)

# --- commands -------------------------------------------------------------------------------


def _registry(args: argparse.Namespace) -> ActivityRegistry:
    registry = default_registry()
    if getattr(args, "activities", []):
        importable_here()  # modules next to the user's files, as ``python -m`` finds them
    for spec in getattr(args, "activities", []):
        load_activities(registry, spec)
    if getattr(args, "resources", None):
        register_resources(registry, load_resource_map(args.resources))
    return registry


def _engine(
    args: argparse.Namespace, registry: ActivityRegistry | None = None, **kwargs: Any
) -> Engine:
    registry = registry or _registry(args)
    front_ends = installed_front_ends(args)
    packs = load_packs(args, front_ends, registry)
    kwargs.setdefault("definition_limits", _definition_limits(args))
    engine = Engine(args.store, registry=registry, front_ends=front_ends, **kwargs)
    register_pack_workflows(engine, packs)
    return engine


def _definition_limits(args: argparse.Namespace) -> dict[str, DefinitionLimits]:
    """The limits of ``--limits FILE``, by definition name (none without it)."""
    path = getattr(args, "limits", None)
    return read_definition_limits(path) if path else {}


def run(args: argparse.Namespace) -> int:
    if args.server:
        from cadenza.cli import remote_commands  # httpx only when asked

        return remote_commands.run(args)
    source = read_workflow(args.file)
    workflow_input = read_input(args)
    registry = _registry(args)
    # Everything is checked before the store is opened: bad input leaves nothing.
    front_ends = installed_front_ends(args)
    packs = load_packs(args, front_ends, registry)
    kind, _ = compile_checked(front_ends, registry, source, kind=args.kind, origin=args.file)
    workflow_input = checked_input(
        front_ends.require(kind), workflow_input, args.input_file or "--input"
    )
    context, execution_id = _start_settings(front_ends.require(kind), args, source)
    lease = 30.0 if args.lease is None else args.lease
    queues = ("default", *(q for q in args.queue if q != "default"))
    engine = Engine(
        args.store,
        registry=registry,
        front_ends=front_ends,
        lease=lease,
        queues=queues,
        definition_limits=_definition_limits(args),
    )
    register_pack_workflows(engine, packs)
    definition = engine.register(source, kind=kind, origin=args.file)
    execution_id = engine.start(
        definition, workflow_input, context=context, execution_id=execution_id, tags=args.tag
    )
    if args.detach:
        print(execution_id)
        return EXIT_OK
    if not args.quiet:
        print(f"execution {execution_id}  ({definition.name})", file=sys.stderr)
        engine.add_listener(ProgressPrinter(execution_id))
    return _drive_and_report(engine, execution_id, args)


#: ``run`` options a front end applies through its ``start_settings`` (see main.py).
_START_OPTIONS = ("name", "type", "role_arn", "mock_config", "test_case")


def _start_settings(
    front_end: Any, args: argparse.Namespace, source: Any
) -> tuple[dict[str, Any], str | None]:
    """The start context and execution id the front end makes of ``run``'s options;
    a front end without ``start_settings`` refuses them all."""
    given = {k: v for k in _START_OPTIONS if (v := getattr(args, k, None)) is not None}
    declared = read_secret_declaration(args).results
    if declared:  # the front end checks the states and records them with the execution
        given["secret_result"] = json.dumps(declared)
    name = Path(args.file).stem  # the name ``register`` gives a definition from a file
    settings = start_settings_of(
        front_end, given, definition_name=name, source=source, origin=args.file
    )
    return dict(settings.context), settings.execution_id


def _watch(engine: Engine, execution_id: str, args: argparse.Namespace) -> None:
    """Show progress from now on (call before a request, to see its first decision)."""
    if not getattr(args, "quiet", False):
        printer = ProgressPrinter(execution_id)
        printer.learn(engine.history(execution_id))
        engine.add_listener(printer)


def _drive_and_report(engine: Engine, execution_id: str, args: argparse.Namespace) -> int:
    stop = threading.Event()
    stop_on_signals(stop, engine.let_go)

    settled = engine.settled_watch(execution_id)
    engine.add_listener(settled.observe)
    # ``run`` drives its own execution and the children it starts, nothing
    # else: everyone's work is ``cadenza worker``'s and ``server``'s job.
    engine.serve(stop, until=settled, own=(execution_id,), only_own=True)
    record = engine.get(execution_id)
    if stop.is_set() and not settled():
        print(
            f"stopped; execution {execution_id} is {record.status} and continues "
            "with: cadenza worker",
            file=sys.stderr,
        )
        return exit_without_stray_threads(EXIT_INTERRUPTED)
    return _report(engine, record, args)


def _report(engine: Engine, record: ExecutionRecord, args: argparse.Namespace) -> int:
    return report_record(
        masked(record, engine.secrets_of(record.id)),
        args,
        final=engine.is_final(record),
        settled=engine.is_settled(record),
    )


def validate(args: argparse.Namespace) -> int:
    source = read_workflow(args.file)
    front_ends, registry = installed_front_ends(args), _registry(args)
    try:
        packs = load_packs(args, front_ends, registry)
        # The pack workflows the definition calls are checked too, each in its file.
        # Packs bring Jinja and the shell runners: imported when a definition is checked.
        from cadenza.packs.workflow_calls import compile_with_called_workflows

        kind, _ = compile_with_called_workflows(
            packs, front_ends, registry, source, kind=args.kind, origin=args.file
        )
    except DefinitionError as exc:
        if args.json:
            print(to_json({"valid": False, **exc.to_dict()}))
        else:
            print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # A front end may list likely mistakes that do not make the definition invalid.
    warnings = warnings_of(front_ends.require(kind), source)
    if args.json:
        print(to_json({"valid": True, "warnings": [w.to_dict() for w in warnings]}))
        return EXIT_OK
    for warning in warnings:
        print(f"warning: {args.file}: {warning}", file=sys.stderr)
    print(f"{args.file}: valid")
    return EXIT_OK


def ps(args: argparse.Namespace) -> int:
    if args.server:
        from cadenza.cli import remote_commands  # httpx only when asked

        return remote_commands.ps(args)
    engine = _engine(args)
    filters = _ps_filters(args, engine)
    # --needs-attention when no installed kind ever waits for anyone: nothing to list.
    wanted = not (args.needs_attention and not filters["statuses"])
    records = engine.store.list_executions(limit=args.limit, **filters) if wanted else []
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
    print_table(records, engine.clock.now())
    return EXIT_OK


def status(args: argparse.Namespace) -> int:
    if args.server:
        from cadenza.cli import remote_commands  # httpx only when asked

        return remote_commands.status(args)
    engine = _engine(args)
    record = masked(engine.get(args.execution_id), engine.secrets_of(args.execution_id))
    view = engine.describe(args.execution_id)
    tasks = [{"name": t.name, "key": t.key, "status": t.status} for t in view.tasks]
    if args.json:
        print(to_json({**result_document(record), "tasks": tasks}))
        return EXIT_OK
    children = engine.store.list_executions(parent_id=record.id, limit=1000)[::-1]
    if not record.errors and view.errors and not engine.is_final(record):
        # A waiting execution (a saga stuck on an undo) keeps its errors in its
        # state until it ends: show why it waits.
        record = dataclasses.replace(record, errors=masked_errors(view.errors, engine, record))
    print_status(record, tasks, children)
    return EXIT_OK


def masked_errors(errors: list[Any], engine: Engine, record: ExecutionRecord) -> list[Any]:
    """``errors`` with the execution's secret values masked."""
    return masked(dataclasses.replace(record, errors=errors), engine.secrets_of(record.id)).errors


def inquiries(args: argparse.Namespace) -> int:
    """List the tasks waiting for an answer from a person, oldest execution first."""
    engine = _engine(args)
    final = sorted(FINAL_EXECUTION_STATUSES)
    waiting: list[dict[str, Any]] = []
    for record in reversed(engine.store.list_executions(limit=args.limit, excluding=final)):
        secrets = engine.secrets_of(record.id)
        for task in engine.store.waiting_tasks(record.id):
            question = masked(dataclasses.replace(record, output=task.input), secrets).output
            waiting.append(
                {
                    "execution_id": record.id,
                    "execution_name": record.name,
                    "task": task.name,
                    "task_id": task.task_id,
                    "question": question,
                    "waiting_since": task.available_at,
                    # A front end's deadline for the answer (an inquiry's ttl), if any.
                    "expires_at": task.meta.get("expires_at"),
                }
            )
    if args.json:
        print(to_json(waiting))
        return EXIT_OK
    if not waiting:
        print("no task is waiting for an answer")
        return EXIT_OK
    now = engine.clock.now()
    for row in waiting:
        expires = row["expires_at"]
        until = f", expires in {age(max(0.0, expires - now))}" if expires else ""
        print(
            f"{row['execution_id']}  {row['execution_name']}  {row['task']}  "
            f"waiting {age(now - row['waiting_since'])}{until}"
        )
    print("answer with: cadenza respond EXECUTION_ID TASK --result JSON", file=sys.stderr)
    return EXIT_OK


def _ps_filters(args: argparse.Namespace, engine: Engine) -> dict[str, Any]:
    """The store filters ``cadenza ps``'s options ask for."""
    statuses = list(args.status or [])
    if args.needs_attention:
        statuses += sorted(engine.front_ends.attention_statuses())
    since = None if args.since is None else engine.clock.now() - parse_duration(args.since)
    return {
        "statuses": statuses,
        "kinds": args.kind or None,
        "since": since,
        "parent_id": args.parent,
        "tags": args.tag,
        "text": args.search,
    }


def history(args: argparse.Namespace) -> int:
    if args.server:
        from cadenza.cli import remote_commands  # httpx only when asked

        return remote_commands.history(args)
    engine = _engine(args)
    # The engine's secrets: the input's, and those its tasks' metadata marks.
    secrets = engine.secrets_of(args.execution_id)
    if args.view:
        print(to_json(mask(engine.history_view(args.execution_id, args.view), secrets)))
        return EXIT_OK
    print_history(engine.history(args.execution_id), args, secrets)
    return EXIT_OK


def _refused(engine: Engine, execution_id: str) -> None:
    rejection = engine.last_rejection(execution_id)
    if rejection:
        message = rejection.get("message") if isinstance(rejection, dict) else str(rejection)
        raise OperationRefused(str(message), execution_id=execution_id)


#: Rounds ``rerun`` decides at most for a rerun to reach nested failed children.
_RELAY_ROUNDS = 8


def rerun(args: argparse.Namespace) -> int:
    if args.server:
        from cadenza.cli import remote_commands  # httpx only when asked

        return remote_commands.rerun(args)
    engine = _engine(args)
    engine.get(args.execution_id)
    request = RerunRequest(steps=tuple(getattr(args, "task", [])), options=rerun_options(args))
    if not args.no_wait:
        _watch(engine, args.execution_id, args)
    engine.rerun(args.execution_id, request)
    # A rerun relayed to a failed child (a subworkflow) reaches it a round later:
    # decide until it has, so the reopened child is driven below with its parent.
    for _ in range(_RELAY_ROUNDS):
        if not engine.decide():
            break
    _refused(engine, args.execution_id)
    if args.no_wait:
        return EXIT_OK
    return _drive_and_report(engine, args.execution_id, args)


def respond(args: argparse.Namespace) -> int:
    if args.server:
        from cadenza.cli import remote_commands  # httpx only when asked

        return remote_commands.respond(args)
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
    if args.server:
        from cadenza.cli import remote_commands  # httpx only when asked

        return remote_commands.request(args)
    engine = _engine(args)
    engine.get(args.execution_id)
    if args.command == "resume" and not args.no_wait:
        _watch(engine, args.execution_id, args)
    getattr(engine, args.command)(args.execution_id)
    _refused(engine, args.execution_id)
    if args.command == "resume" and not args.no_wait:
        return _drive_and_report(engine, args.execution_id, args)
    print_request(engine.get(args.execution_id), args)
    return EXIT_OK


def terminate(args: argparse.Namespace) -> int:
    if args.server:
        from cadenza.cli import remote_commands  # httpx only when asked

        with remote_commands.remote_for(args) as remote:
            record, _ = remote.terminate(args.execution_id, args.reason, by=args.by)
        print_request(record, args)
        return EXIT_OK
    # Nothing runs here but the decision that ends it: no activities.
    engine = Engine(args.store, registry=default_registry(), front_ends=installed_front_ends(args))
    try:
        engine.terminate(args.execution_id, args.reason, by=args.by)
        record = engine.get(args.execution_id)
        print_request(masked(record, engine.secrets_of(record.id)), args)
    finally:
        engine.close()
    return EXIT_OK


def worker(args: argparse.Namespace) -> int:
    engine = _engine(
        args,
        concurrency=args.concurrency,
        queues=args.queue or ("default",),
        lease=args.lease,
    )
    stop = threading.Event()
    stop_on_signals(stop, engine.let_go)
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

    keep_start_up_objects()
    engine.serve(stop, until=idle if args.exit_when_idle else None)
    return exit_without_stray_threads(EXIT_OK)


def server(args: argparse.Namespace) -> int:
    from cadenza.api.server import ServerSettings, check_settings, parse_bind, serve_api

    host, port = parse_bind(args.bind)
    settings = ServerSettings(host=host, port=port, token=api_token(args))
    if args.aws_credentials:
        from cadenza.api.aws_signature import load_credentials

        settings = dataclasses.replace(
            settings, aws_credentials=load_credentials(args.aws_credentials)
        )
    check_settings(settings)  # before the store is opened: bad input leaves nothing
    engine = _engine(
        args, concurrency=args.concurrency, queues=args.queue or ("default",), lease=args.lease
    )
    stop = threading.Event()
    stop_on_signals(stop, engine.let_go)

    def listening(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        print(
            f"server {engine.owner} listening on http://{shown}:{port}, serving queues "
            f"{', '.join(engine.queues)}",
            file=sys.stderr,
            flush=True,
        )

    keep_start_up_objects()
    serve_api(engine, settings, stop, on_listening=listening)
    return EXIT_OK
