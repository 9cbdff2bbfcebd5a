"""Whether a command talks to a ``cadenza server`` (``--server URL`` or
``CADENZA_SERVER``) or opens a store on this machine, and the options that only
make sense on this machine, refused with a reason when a server is named."""

from __future__ import annotations

import argparse
import os
from typing import Any

from cadenza.model.errors import InputError

#: The commands that can talk to a server instead of opening a store.
CLIENT_COMMANDS = frozenset(
    {"run", "ps", "status", "history", "cancel", "pause", "resume", "respond", "rerun", "redrive"}
    | {"signal", "request", "terminate"}
)

#: Options that act on this machine, refused with --server, and why.
_LOCAL_ONLY = (
    ("store", "--store", "it opens a store on this machine"),
    ("activities", "--activities", "the server runs the activities it was started with"),
    ("resources", "--resources", "the server runs the activities it was started with"),
    ("pack", "--pack", "the server runs the packs it was started with"),
    ("pack_configs", "--pack-configs", "the server runs the packs it was started with"),
    ("lease", "--lease", "the server's workers hold the task leases"),
    ("aws_limits", "--aws-limits", "the server's own front-end settings apply"),
    ("mock_config", "--mock-config", "the file is on this machine"),
    ("test_case", "--test-case", "it goes with --mock-config"),
    ("name", "--name", "a server run does not take a name yet"),
    ("type", "--type", "a server run does not take a type yet"),
    ("role_arn", "--role-arn", "a server run does not take a role yet"),
)


def choose_server(args: argparse.Namespace) -> None:
    """Set ``args.server`` to the server this command talks to, or None to open a
    store; refuse options that would be ignored."""
    given, where = args.server, "--server"
    if given is None:
        given, where = os.environ.get("CADENZA_SERVER"), "CADENZA_SERVER"
    if args.command not in CLIENT_COMMANDS:
        if args.server or args.client_token_file:
            option = "--server" if args.server else "--token-file before the command"
            raise InputError(
                f"cadenza {args.command} works on this machine and talks to no server: "
                f"drop {option}"
            )
        args.server = None
        return
    args.server = given or None
    if args.server is None:
        if args.client_token_file:
            raise InputError("--token-file before the command is the token for --server")
        return
    if not args.server.startswith(("http://", "https://")):
        raise InputError(
            f"{where} must be an http:// or https:// URL, not {args.server!r}", server=args.server
        )
    refused = [
        f"{option} cannot be used with {where} {args.server}: {why}"
        for dest, option, why in _LOCAL_ONLY
        if _given(getattr(args, dest, None))
    ]
    if refused:
        raise InputError("; ".join(refused), server=args.server)


def _given(value: Any) -> bool:
    """Whether an option was given (its default is None, False or [])."""
    return value is not None and value is not False and value != []
