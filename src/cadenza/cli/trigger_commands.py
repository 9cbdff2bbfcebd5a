"""``cadenza triggers ...``: run trigger workspaces and feed them from brokers.

* ``run FILE``: start a workspace (or DAG) and run it here (its event
  sources, decisions and activities) until it ends; print its output.
* ``listen ID``: feed a running workspace from its event sources (beside
  ``cadenza worker`` processes, or with ``--serve`` deciding here too), until
  it ends.
* ``publish URL``: publish CloudEvents to a Redis stream or a JetStream
  subject (for scripts, examples and tests).
* ``replay ID``: offer a workspace's dead letters again.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import uuid
from collections.abc import Callable
from typing import Any

from cadenza.model.errors import InputError

#: ``command(name, help, handler)`` of ``cadenza.cli.main._parser``.
CommandMaker = Callable[[str, str, Any], argparse.ArgumentParser]


def add_commands(command: CommandMaker) -> None:
    """Add ``cadenza triggers`` and its subcommands to the parser."""
    parser = command("triggers", "run trigger workspaces and feed them from brokers", _dispatch)
    sub = parser.add_subparsers(dest="triggers_command", metavar="SUBCOMMAND", required=True)

    def nested(name: str, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--store", default=argparse.SUPPRESS, help="store URL")
        return p

    p = nested("run", "start a workspace or DAG and run it here until it ends")
    p.add_argument("file")
    p.add_argument("--input", help="the input as JSON (the data of the __init__ event)")
    _activities_option(p)
    _max_batch_option(p)
    p = nested("listen", "feed a running workspace from its event sources")
    p.add_argument("execution_id")
    p.add_argument("--serve", action="store_true", help="also decide and run activities here")
    p.add_argument(
        "--consumer",
        help="this worker's name in Redis consumer groups (default: the host's name); "
        "give each worker of a workspace its own, and keep it across restarts",
    )
    _activities_option(p)
    _max_batch_option(p)
    p = nested("publish", "publish CloudEvents to a Redis stream or a NATS JetStream subject")
    p.add_argument("url", help="redis://HOST:PORT or nats://HOST:PORT")
    p.add_argument("--stream", required=True, help="the Redis stream or JetStream stream")
    p.add_argument("--subject", help="the JetStream subject (NATS only)")
    p.add_argument(
        "events",
        nargs="+",
        metavar="EVENT",
        help="a CloudEvent as JSON (id and specversion may be left out)",
    )
    p = nested("replay", "offer a workspace's dead letters again")
    p.add_argument("execution_id")
    p.add_argument("--subject")
    p.add_argument("--type")


def _activities_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--activities",
        action="append",
        default=[],
        metavar="MODULE:NAME",
        help="load activities: NAME is an ActivityRegistry or a function taking one",
    )


def _max_batch_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-batch",
        type=_positive_int,
        metavar="N",
        help="the most events a source reads at a time, for every source of the workspace "
        "(overrides max_batch in sources; a larger batch is lowered to it)",
    )


def _positive_int(text: str) -> int:
    """An argument that must be a whole number of at least 1 (argparse reports the error)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _dispatch(args: argparse.Namespace) -> int:
    handlers = {"run": _run, "listen": _listen, "publish": _publish, "replay": _replay}
    return handlers[args.triggers_command](args)


def _engine(args: argparse.Namespace) -> Any:
    from cadenza.engine.engine import Engine
    from cadenza.workers.loading import load_activities
    from cadenza.workers.registry import default_registry

    registry = default_registry()
    for spec in getattr(args, "activities", []):
        load_activities(registry, spec)
    return Engine(getattr(args, "store", None), registry=registry)


def _run(args: argparse.Namespace) -> int:
    from cadenza.cli.inputs import stop_on_signals
    from cadenza.triggers.worker import TriggerWorker, workspace_sources

    workflow_input = None if args.input is None else _json(args.input, "--input")
    engine = _engine(args)
    definition = engine.register_file(args.file, kind="triggers")
    execution_id = engine.start(definition, workflow_input)
    print(f"workspace {execution_id} started", file=sys.stderr, flush=True)
    sources = workspace_sources(engine, execution_id, max_batch=args.max_batch)
    worker = TriggerWorker(engine, execution_id, sources)
    stop = threading.Event()
    stop_on_signals(stop)
    worker.run(stop, serve=True, until=lambda: engine.is_final(engine.get(execution_id)))
    record = engine.get(execution_id)
    print(
        json.dumps(
            {
                "execution_id": execution_id,
                "status": record.status,
                "output": record.output,
                "errors": record.errors,
            }
        )
    )
    return 0 if record.status == "succeeded" else 1 if engine.is_final(record) else 130


def _listen(args: argparse.Namespace) -> int:
    from cadenza.cli.inputs import stop_on_signals
    from cadenza.triggers.worker import TriggerWorker, workspace_sources

    engine = _engine(args)
    sources = workspace_sources(engine, args.execution_id, args.consumer, args.max_batch)
    worker = TriggerWorker(engine, args.execution_id, sources)
    if not worker.sources:
        raise InputError(f"workspace {args.execution_id} declares no event sources")
    names = ", ".join(source.name for source in worker.sources)
    print(f"feeding {args.execution_id} from {names}", file=sys.stderr, flush=True)
    stop = threading.Event()
    stop_on_signals(stop)
    # A workspace that ended takes no more events: stop feeding it.
    worker.run(stop, serve=args.serve, until=lambda: engine.is_final(engine.get(args.execution_id)))
    return 0


def _publish(args: argparse.Namespace) -> int:
    events = []
    for i, text in enumerate(args.events):
        event = _json(text, f"event {i + 1}")
        if not isinstance(event, dict):
            raise InputError(f"event {i + 1} is not a JSON object")
        event.setdefault("specversion", "1.0")
        event.setdefault("id", str(uuid.uuid4()))
        events.append(event)
    if args.url.startswith("redis://"):
        import redis

        from cadenza.triggers.redis_streams import publish as publish_redis

        publish_redis(redis.Redis.from_url(args.url), args.stream, events)
    elif args.url.startswith("nats://"):
        from cadenza.triggers.nats_jetstream import publish as publish_nats

        if not args.subject:
            raise InputError("publishing to NATS needs --subject")
        publish_nats(args.url, args.stream, args.subject, events)
    else:
        raise InputError(f"the URL must start with redis:// or nats://, not {args.url!r}")
    print(f"published {len(events)} event(s)", file=sys.stderr)
    return 0


def _replay(args: argparse.Namespace) -> int:
    engine = _engine(args)
    selection = {k: v for k, v in (("subject", args.subject), ("type", args.type)) if v}
    engine.operator_request(args.execution_id, "replay-dead-letters", selection, by="cli")
    rejection = engine.last_rejection(args.execution_id)
    if rejection is not None:
        print(f"refused: {rejection.get('message')}", file=sys.stderr)
        return 2
    return 0


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"{where} is not valid JSON: {exc}") from exc
