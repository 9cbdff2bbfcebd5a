"""Store upkeep on the command line: ``purge`` (retention) and ``db`` (migrations,
the schema version, sweeping blobs kept as files or objects)."""

from __future__ import annotations

import argparse

from cadenza.cli.reports import EXIT_OK
from cadenza.cli.request_commands import AddCommand
from cadenza.model.errors import InputError


def add_commands(command: AddCommand) -> None:
    """Add ``purge`` and ``db`` to the ``cadenza`` parser."""
    p = command(
        "purge",
        "delete finished executions older than a given age, with their histories",
        purge,
    )
    p.add_argument("--older-than", required=True, metavar="DURATION", help="30m, 2h, 7d, 1w...")
    p.add_argument(
        "--status", action="append", metavar="STATUS", help="only this final status (repeatable)"
    )
    p.add_argument("--kind", action="append", metavar="KIND", help="only this kind (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="count what would go; delete nothing")

    p = command(
        "db",
        "manage the store's schema; sweep-blobs deletes blobs kept as files or S3 objects "
        "that nothing refers to",
        db,
    )
    p.add_argument("action", choices=["upgrade", "version", "sweep-blobs"])
    p.add_argument(
        "--older-than",
        default="1h",
        metavar="DURATION",
        help="sweep-blobs: grace period; a blob nothing refers to is set aside once older "
        "than this, and deleted by a sweep this long after (default 1h; 30m, 2h, 7d...)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="sweep-blobs: count what would go; change nothing"
    )


def purge(args: argparse.Namespace) -> int:
    """Delete finished executions older than ``--older-than`` (retention)."""
    from cadenza.cli.inputs import parse_duration
    from cadenza.cli.request_commands import engine_for_requests
    from cadenza.model.statuses import FINAL_EXECUTION_STATUSES

    engine = engine_for_requests(args)
    cutoff = engine.clock.now() - parse_duration(args.older_than, "--older-than")
    statuses = sorted(set(args.status) if args.status else FINAL_EXECUTION_STATUSES)
    live = sorted(set(statuses) - FINAL_EXECUTION_STATUSES)
    if live:
        raise InputError(
            f"purge deletes only finished executions; {', '.join(live)} is not a final status"
        )
    kinds = args.kind or None
    deleted = 0
    before: tuple[float, str] | None = None
    while True:
        page = engine.store.list_executions(
            limit=500, statuses=statuses, kinds=kinds, until=cutoff, before=before
        )
        if not page:
            break
        if args.dry_run:
            deleted += len(page)
            before = (page[-1].created_at, page[-1].id)
        else:
            deleted += engine.store.delete_executions([r.id for r in page])
            before = (page[-1].created_at, page[-1].id)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {deleted} finished execution(s) started before {args.older_than} ago")
    return EXIT_OK


def db(args: argparse.Namespace) -> int:
    """``cadenza db``: apply the migrations a store lacks, show its version, or sweep
    the blobs it keeps outside the database."""
    from cadenza.store import open_store

    if args.action == "sweep-blobs":
        return _sweep_blobs(args)
    store = open_store(args.store)
    try:
        # Opening a store applies the migrations it lacks (one process at a time).
        print(f"schema version {store.schema_version()}")
    finally:
        store.close()
    return EXIT_OK


def _sweep_blobs(args: argparse.Namespace) -> int:
    """``cadenza db sweep-blobs``: delete blobs kept outside the database that
    nothing refers to (see ``cadenza.store.blob_sweep``)."""
    import time

    from cadenza.cli.inputs import parse_duration
    from cadenza.store import open_store
    from cadenza.store.blob_sweep import SweptStore, sweep_blobs

    grace = parse_duration(args.older_than, "--older-than")
    store = open_store(args.store)
    try:
        if not isinstance(store, SweptStore):
            raise InputError(f"{type(store).__name__} keeps no blobs to sweep")
        report = sweep_blobs(store, now=time.time(), grace=grace, dry_run=args.dry_run)
    finally:
        store.close()
    for line in report.summary():
        print(line)
    return EXIT_OK
