"""``cadenza kv ...`` and ``cadenza keys ...``: StackStorm's datastore in the store.

* ``kv set KEY VALUE [--scope system|user] [--user NAME] [--encrypt]``
* ``kv get KEY [--decrypt]``, ``kv list [--prefix P]``, ``kv delete KEY``
* ``keys create FILE``: a new key file for ``--encrypt`` and ``--decrypt``

Workflows read the entries with ``st2kv`` (values recorded when an execution
starts). An encrypted value is kept encrypted with the key from ``--key-file``
or ``$CADENZA_KEY_FILE``; ``get`` and ``list`` show it as ``********`` unless
``--decrypt`` (which needs the key) is given.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from cadenza.cli.render import to_json
from cadenza.cli.reports import EXIT_OK
from cadenza.encryption import configured_key, write_key_file
from cadenza.engine.datastore_snapshot import default_user
from cadenza.model.errors import DatastoreKeyNotFound, EncryptionKeyError
from cadenza.model.secrets import MASK
from cadenza.store import open_store
from cadenza.store.datastore import SCOPES, SYSTEM_SCOPE, USER_SCOPE, DatastoreEntry
from cadenza.store.protocol import Store

#: ``command(name, help, handler)`` of ``cadenza.cli.main._parser``.
CommandMaker = Callable[[str, str, Any], argparse.ArgumentParser]


def add_commands(command: CommandMaker) -> None:
    """Add ``cadenza kv`` and ``cadenza keys`` with their subcommands."""
    parser = command("kv", "set, read and delete StackStorm datastore (st2kv) values", _dispatch)
    sub = parser.add_subparsers(dest="kv_command", metavar="SUBCOMMAND", required=True)

    def nested(name: str, text: str, handler: Callable[[argparse.Namespace], int]) -> Any:
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--store", default=argparse.SUPPRESS, help="store URL")
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(kv_handler=handler)
        return p

    p = nested("set", "set a value (replacing the one there)", kv_set)
    p.add_argument("key")
    p.add_argument("value")
    _place_options(p)
    p.add_argument("--encrypt", action="store_true", help="keep the value encrypted")
    _key_file_option(p)

    p = nested("get", "show a value", kv_get)
    p.add_argument("key")
    _place_options(p)
    p.add_argument("--decrypt", action="store_true", help="show an encrypted value in clear")
    _key_file_option(p)

    p = nested("list", "list values, by scope, user and key", kv_list)
    p.add_argument("--prefix", default="", help="only keys that start with this")
    p.add_argument("--scope", choices=SCOPES, help="only this scope (default: both)")
    p.add_argument("--user", help="the user whose user-scope values to list (default: yours)")
    p.add_argument("--decrypt", action="store_true", help="show encrypted values in clear")
    _key_file_option(p)

    p = nested("delete", "delete a value", kv_delete)
    p.add_argument("key")
    _place_options(p)

    parser = command("keys", "make the key that encrypts datastore values", _keys_dispatch)
    keys = parser.add_subparsers(dest="keys_command", metavar="SUBCOMMAND", required=True)
    p = keys.add_parser(
        "create",
        help="write a new key to a new file (readable by you only)",
        description="write a new key to a new file (readable by you only); "
        "give it with --key-file or $CADENZA_KEY_FILE",
    )
    p.add_argument("file")
    p.add_argument("--store", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _place_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scope", choices=SCOPES, default=SYSTEM_SCOPE, help="the scope (default: system)"
    )
    p.add_argument("--user", help="the user of a user-scope value (default: yours)")


def _key_file_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key-file", metavar="FILE", help="the key file (default: $CADENZA_KEY_FILE)")


def _dispatch(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = args.kv_handler
    return handler(args)


def _keys_dispatch(args: argparse.Namespace) -> int:
    write_key_file(args.file)
    print(
        f"wrote a new key to {args.file}; keep it safe: what it encrypts cannot be read without it",
        file=sys.stderr,
    )
    print(args.file)
    return EXIT_OK


def _user(args: argparse.Namespace) -> str:
    return str(args.user) if args.user else (default_user() if args.scope == USER_SCOPE else "")


def _store(args: argparse.Namespace) -> Store:
    return open_store(getattr(args, "store", None))


def _key(args: argparse.Namespace, purpose: str) -> Any:
    key = configured_key(args.key_file)
    if key is None:
        raise EncryptionKeyError(
            f"{purpose} needs the key: give --key-file FILE or set CADENZA_KEY_FILE "
            "(make one with `cadenza keys create FILE`)"
        )
    return key


def kv_set(args: argparse.Namespace) -> int:
    value = str(args.value)
    if args.encrypt:
        value = _key(args, "--encrypt").encrypt(value)
    entry = DatastoreEntry(
        scope=args.scope,
        key=args.key,
        value=value,
        encrypted=bool(args.encrypt),
        user=_user(args),
        updated_at=time.time(),
    )
    store = _store(args)
    try:
        store.kv_set(entry)
    finally:
        store.close()
    _show([entry], args, decrypt=None)
    return EXIT_OK


def kv_get(args: argparse.Namespace) -> int:
    decrypt = _key(args, "--decrypt").decrypt if args.decrypt else None
    store = _store(args)
    try:
        entry = store.kv_get(args.scope, args.key, _user(args))
    finally:
        store.close()
    if entry is None:
        whose = f" of user {_user(args)!r}" if args.scope == USER_SCOPE else ""
        raise DatastoreKeyNotFound(
            f"no datastore value with key {args.key!r} in the {args.scope} scope{whose}",
            key=args.key,
            scope=args.scope,
        )
    if args.json:
        print(to_json(_document(entry, decrypt)))
    else:
        print(_shown(entry, decrypt))
    return EXIT_OK


def kv_list(args: argparse.Namespace) -> int:
    decrypt = _key(args, "--decrypt").decrypt if args.decrypt else None
    user = args.user or default_user()
    store = _store(args)
    try:
        entries: list[DatastoreEntry] = []
        if args.scope in (None, SYSTEM_SCOPE):
            entries += store.kv_list(args.prefix, scope=SYSTEM_SCOPE)
        if args.scope in (None, USER_SCOPE):
            entries += store.kv_list(args.prefix, scope=USER_SCOPE, user=user)
    finally:
        store.close()
    _show(entries, args, decrypt)
    return EXIT_OK


def kv_delete(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        deleted = store.kv_delete(args.scope, args.key, _user(args))
    finally:
        store.close()
    if not deleted:
        raise DatastoreKeyNotFound(
            f"no datastore value with key {args.key!r} in the {args.scope} scope to delete",
            key=args.key,
            scope=args.scope,
        )
    if args.json:
        print(to_json({"deleted": True, "scope": args.scope, "key": args.key}))
    else:
        print(f"deleted {args.scope} {args.key}", file=sys.stderr)
    return EXIT_OK


def _shown(entry: DatastoreEntry, decrypt: Callable[[str], str] | None) -> str:
    if not entry.encrypted:
        return entry.value
    return decrypt(entry.value) if decrypt is not None else MASK


def _document(entry: DatastoreEntry, decrypt: Callable[[str], str] | None) -> dict[str, Any]:
    return {
        "scope": entry.scope,
        "key": entry.key,
        "user": entry.user or None,
        "value": _shown(entry, decrypt),
        "encrypted": entry.encrypted,
        "updated_at": entry.updated_at,
    }


def _show(
    entries: list[DatastoreEntry],
    args: argparse.Namespace,
    decrypt: Callable[[str], str] | None,
) -> None:
    if args.json:
        documents = [_document(e, decrypt) for e in entries]
        print(to_json(documents[0] if args.kv_command == "set" else documents))
        return
    if args.kv_command == "set":
        entry = entries[0]
        print(f"set {entry.scope} {entry.key}" + (" (encrypted)" if entry.encrypted else ""))
        return
    if not entries:
        print("no datastore values", file=sys.stderr)
        return
    width = max(len(e.key) for e in entries)
    for entry in entries:
        owner = f"user:{entry.user}" if entry.scope == USER_SCOPE else SYSTEM_SCOPE
        print(f"{owner:<16} {entry.key:<{width}}  {_shown(entry, decrypt)}")
